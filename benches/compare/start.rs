//! Start+exit: `INIT -- /bin/true`, from the clone to the reaped exit, as a
//! plain child and as PID 1 of a new PID namespace, interleaved rounds (the
//! first five warm the page cache and are not counted); `direct` is /bin/true
//! alone.

use crate::figures::{Figure, Stats};
use crate::inits::{Init, order};
use crate::options::Options;
use crate::process::{Prepared, Stdio3, dev_null, spawn, wait_blocking};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub fn bench(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[1/8] start+exit: INIT -- /bin/true, {} interleaved rounds, as a plain child and as PID 1",
        opts.start_rounds
    );
    let null = dev_null()?;
    let fds = Stdio3 {
        stdin: null.as_raw_fd(),
        stdout: null.as_raw_fd(),
        stderr: null.as_raw_fd(),
        die_with_bench: false,
    };
    let true_args = vec!["/bin/true".to_string()];
    let cmds: Vec<(Prepared, CString)> = inits
        .iter()
        .map(|i| {
            let cmd = Prepared::for_init(i, &true_args)?;
            let program = cmd.args[0].clone();
            Ok((cmd, program))
        })
        .collect::<Result<_, String>>()?;
    let mut samples = vec![[Vec::new(), Vec::new()]; inits.len()];
    for round in 0..opts.start_rounds + 5 {
        for (mode, newpid) in [false, true].into_iter().enumerate() {
            for i in order(inits.len(), round) {
                let (cmd, program) = &cmds[i];
                let t0 = Instant::now();
                let pid = spawn(cmd, program, newpid, fds).map_err(|e| {
                    let how = if newpid {
                        " in a new PID namespace (run as root)"
                    } else {
                        ""
                    };
                    format!("cannot start {}{how}: {e}", inits[i].name)
                })?;
                let status = wait_blocking(pid).map_err(|e| e.to_string())?;
                // Entering the instance's mount namespace is the bench's doing.
                let dt = t0
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(cmd.setup_ns()));
                if status != 0 {
                    return Err(format!(
                        "{} -- /bin/true failed (wait status {status:#x})",
                        inits[i].name
                    ));
                }
                // The first rounds warm the page cache and are not counted.
                if round >= 5 {
                    samples[i][mode].push(dt.as_secs_f64() * 1e3);
                }
            }
        }
    }
    let mut plain = Figure::new("start_plain_ms", "start+exit, plain child (ms)");
    let mut pid1 = Figure::new("start_pid1_ms", "start+exit as PID 1, new PID ns (ms)");
    for (i, init) in inits.iter().enumerate() {
        plain.values.push((init.name, Stats::of(&samples[i][0])));
        pid1.values.push((init.name, Stats::of(&samples[i][1])));
    }
    Ok(vec![plain, pid1])
}
