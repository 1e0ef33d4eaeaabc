//! Instructions of `INIT -- /bin/true` under valgrind's callgrind, the init
//! process only (skipped with a note when valgrind is missing).

use crate::figures::{Figure, Stats};
use crate::inits::Init;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// Instructions of `INIT -- /bin/true` under callgrind, for the init process
/// only (from exec to exit, dynamic loader included): without
/// --trace-children the child runs natively once it execs /bin/true, and what
/// the forked child runs before its exec is not in the init's file.
pub fn bench(inits: &[Init], dir: &Path) -> Result<Vec<Figure>, String> {
    let mut fig = Figure::new("instructions_true", "instructions, INIT -- /bin/true");
    let ok = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("[7/8] instructions: valgrind is missing, skipped (apt-get install valgrind)");
        return Ok(vec![]);
    }
    eprintln!("[7/8] instructions: INIT -- /bin/true under callgrind (init process only)");
    // pidone-sigtimedwait would be pidone again: valgrind runs it outside its namespace.
    for init in inits.iter().filter(|i| i.mount_ns.is_none()) {
        let out = dir.join(format!("callgrind.{}", init.name));
        let _ = fs::remove_file(&out);
        let argv = init.argv(&["/bin/true".into()]);
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg("--trace-children=no")
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run valgrind: {e}"))?;
        let text = fs::read_to_string(&out).unwrap_or_default();
        let ir = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        match ir {
            Some(ir) if status.success() => fig.values.push((init.name, Stats::one(ir))),
            _ => eprintln!("note: callgrind gave no count for {} ({status})", init.name),
        }
        let _ = fs::remove_file(&out);
    }
    Ok(vec![fig])
}
