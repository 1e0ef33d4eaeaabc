//! What a run says about itself (date, machine, the sources measured, the
//! peers' versions) and its output: every figure's table, the summary, the
//! change against the previous results, the JSON file. It measures nothing.

use crate::figures::{Figure, print_figure, summary};
use crate::inits::{Init, PEERS};
use crate::json;
use crate::options::Options;
use crate::process::output_text;
use crate::supervisors;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// UTC date and time of now, `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The git commit of the pidone sources measured, `-dirty` with local changes
/// to src/, Cargo.lock, build.rs or .cargo/ (the static build's flags); Cargo.toml
/// is left out: this bench's own entry is there.
fn source_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=7", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "src",
                "Cargo.lock",
                "build.rs",
                ".cargo",
            ])
            .is_some_and(|s| !s.is_empty());
            format!("commit {commit}{}", if dirty { "-dirty" } else { "" })
        }
        None => "commit unknown".into(),
    }
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

/// `tini 0.19.0, dumb-init 1.2.5, ...` as the peers print their versions.
fn peer_versions(inits: &[Init]) -> String {
    let mut out = Vec::new();
    for init in inits.iter().filter(|i| PEERS.contains(&i.name)) {
        let Some(path) = init.path() else { continue };
        let text = output_text(path, &["--version"]);
        let version = text
            .split_whitespace()
            .find(|w| {
                w.trim_start_matches('v')
                    .starts_with(|c: char| c.is_ascii_digit())
            })
            .unwrap_or("?")
            .trim_start_matches('v')
            .split('_') // catatonit: "tini version 0.1.7_catatonit"
            .next()
            .unwrap_or("?");
        out.push(format!("{} {version}", init.name));
    }
    out.join(", ")
}

/// What the run says about itself, gathered before the phases: the sources as
/// built (not as edited meanwhile) and the peers' versions.
pub struct Run {
    pidone: String,
    version: String,
    peers: String,
    /// Which cpu cgroup the bench ran in (`cgroup::leave_autogroup`).
    pub scheduling: String,
    /// Where pidone and pidone-sigtimedwait sleep (`nocgroup::check`).
    pub wait: Option<String>,
    /// The supervisors' versions, when that phase runs.
    supervisors: Option<String>,
}

impl Run {
    pub fn begin(opts: &Options, inits: &[Init]) -> Run {
        let pidone = opts.pidone.display().to_string();
        let release = opts
            .pidone
            .components()
            .any(|c| c.as_os_str().as_bytes() == b"release");
        eprintln!(
            "pidone: {pidone}{}",
            if release {
                ""
            } else {
                "  (WARNING: not in a release/ directory)"
            }
        );
        Run {
            pidone,
            version: source_version(),
            peers: peer_versions(inits),
            scheduling: String::new(),
            wait: None,
            supervisors: opts.wants("supervisors").then(supervisors::versions),
        }
    }

    /// Prints every figure, the summary and the change since the previous run,
    /// and writes the JSON.
    pub fn finish(
        self,
        opts: &Options,
        inits: &[Init],
        figures: &[Figure],
        took: Duration,
    ) -> Result<(), String> {
        let names: Vec<&'static str> = inits.iter().map(|i| i.name).collect();
        let mut command = String::from("cargo bench --bench compare");
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        if !args.is_empty() {
            command = format!("{command} -- {}", args.join(" "));
        }
        let mut meta = vec![
            ("date", utc_now()),
            ("machine", machine()),
            ("command", command),
            ("pidone", format!("{} ({})", self.pidone, self.version)),
            ("peers", self.peers),
            ("scheduling", self.scheduling),
            ("duration_s", format!("{:.0}", took.as_secs_f64())),
        ];
        if let Some(wait) = self.wait {
            meta.insert(6, ("wait", wait));
        }
        if let Some(versions) = self.supervisors {
            meta.insert(5, ("supervisors", versions));
        }
        let mut out = String::new();
        let _ = writeln!(out, "# pidone against its peers\n");
        for (k, v) in &meta {
            let _ = writeln!(out, "- {k}: {v}");
        }
        for f in figures {
            out.push_str(&print_figure(
                f,
                f.key.starts_with("start_") || f.key == "instructions_true",
            ));
        }
        // The supervisors have columns of their own.
        let (sup, init): (Vec<&Figure>, Vec<&Figure>) = figures
            .iter()
            .partition(|f| f.key.starts_with(supervisors::KEY_PREFIX));
        let _ = writeln!(out, "\n## Summary (medians)\n");
        if !init.is_empty() {
            out.push_str(&summary(&init, &names));
        }
        if !sup.is_empty() {
            let names: Vec<&'static str> = std::iter::once("pidone")
                .chain(supervisors::PEERS)
                .filter(|n| sup.iter().any(|f| f.get(n).is_some()))
                .collect();
            let _ = writeln!(
                out,
                "\nSupervisors, {} services each:\n",
                supervisors::SERVICES
            );
            out.push_str(&summary(&sup, &names));
        }
        let default_json =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.json");
        let previous_path = opts.json.clone().unwrap_or(default_json);
        if let Ok(previous) = fs::read_to_string(&previous_path) {
            if previous.contains(&format!("\"quick\": {}", opts.quick)) {
                out.push_str(&json::compare(&previous, figures));
            } else {
                let _ = writeln!(
                    out,
                    "\n(the previous results were of the other mode, quick or full: no comparison)"
                );
            }
        }
        print!("{out}");
        let _ = io::stdout().flush();
        if let Some(path) = &opts.json {
            if let Some(parent) = path.parent() {
                let _ = fs::create_dir_all(parent);
            }
            fs::write(path, json::to_json(&meta, opts.quick, figures))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("results written to {}", path.display());
        }
        Ok(())
    }
}
