//! The bench's command line (`--quick`, `--pidone`, `--dynamic`, `--also`,
//! `--only`, `--json`), the sizes of a run, and the build of the shipped pidone.

use std::path::{Path, PathBuf};
use std::process::{Command, exit};
use std::time::Duration;

/// The dynamic release build that `cargo bench` made: `<target dir>/release/pidone`.
const PIDONE: &str = env!("CARGO_BIN_EXE_pidone");
/// Where `cargo build-static` puts the shipped build, under the same target dir.
const STATIC_TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// Sizes of one run: `--quick` trades spread for time.
pub struct Options {
    pub quick: bool,
    pub pidone: PathBuf,
    /// Build the shipped static pidone first and measure it (no --pidone, --dynamic).
    pub build_static: bool,
    /// Where to write the results; `None` with `--only` and no `--json`.
    pub json: Option<PathBuf>,
    /// Phases to run (all when empty).
    pub only: Vec<String>,
    /// More pidone builds to measure, as NAME=PATH: e.g. a static build.
    pub also: Vec<(String, PathBuf)>,
    /// No `pidone-sigtimedwait` instance on a cgroup v1 host (`nocgroup`).
    pub no_sigtimedwait: bool,
    pub start_rounds: usize,
    pub idle: Duration,
    pub latency_signals: usize,
    /// Fresh instances of each init in the latency and storm phases.
    pub instances: usize,
    pub storm_batches: usize,
    pub storm_batch: usize,
    pub zombie_rounds: usize,
    pub orphans: usize,
    /// Rounds of the supervisors' phase, each over fresh instances.
    pub supervisor_rounds: usize,
    /// Services killed (one at a time) per supervisor and round.
    pub supervisor_kills: usize,
    /// Lines each writing service writes in the relay figure.
    pub relay_lines: usize,
    pub relay_rounds: usize,
    /// Limit events (OOM kills) per round, and rounds, each on a fresh pidone.
    pub events: usize,
    pub event_rounds: usize,
}

impl Options {
    /// Whether `phase` runs: every phase without `--only`.
    pub fn wants(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }

    pub fn parse() -> Options {
        let mut quick = false;
        let mut pidone = PathBuf::from(PIDONE);
        let mut build_static = true;
        let mut json = None;
        let mut only = Vec::new();
        let mut also = Vec::new();
        let mut no_sigtimedwait = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--pidone" => {
                    pidone = args.next().map(PathBuf::from).unwrap_or_else(|| usage());
                    build_static = false;
                }
                "--dynamic" => build_static = false,
                "--json" => json = Some(args.next().map(PathBuf::from).unwrap_or_else(|| usage())),
                "--only" => {
                    let list = args.next().unwrap_or_else(|| usage());
                    for phase in list.split(',') {
                        if !PHASES.contains(&phase) {
                            usage();
                        }
                        only.push(phase.to_string());
                    }
                }
                "--also" => {
                    let spec = args.next().unwrap_or_else(|| usage());
                    let Some((name, path)) = spec.split_once('=') else {
                        usage()
                    };
                    also.push((name.to_string(), PathBuf::from(path)));
                }
                "--no-sigtimedwait" => no_sigtimedwait = true,
                "--bench" => {} // cargo bench adds it
                "-h" | "--help" => {
                    println!("{USAGE}");
                    exit(0)
                }
                _ => usage(),
            }
        }
        let pick = |full, fast| if quick { fast } else { full };
        if json.is_none() && only.is_empty() {
            json = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.json"));
        }
        Options {
            quick,
            pidone,
            build_static,
            json,
            only,
            also,
            no_sigtimedwait,
            start_rounds: pick(300, 50),
            idle: Duration::from_secs(if quick { 2 } else { 10 }),
            latency_signals: pick(1000, 200),
            instances: pick(5, 2),
            storm_batches: pick(20, 4),
            storm_batch: 5000,
            zombie_rounds: pick(5, 2),
            orphans: pick(20_000, 5000),
            supervisor_rounds: pick(5, 2),
            supervisor_kills: pick(4, 3),
            relay_lines: pick(100_000, 20_000),
            relay_rounds: pick(3, 1),
            events: pick(6, 3),
            event_rounds: pick(3, 1),
        }
    }
}

const USAGE: &str = "usage: cargo bench --bench compare [-- OPTIONS]
  --quick            fewer rounds, 5 000 orphans, a 2 s idle window, 20 000 relayed
                     lines per service (about a minute)
  --pidone PATH      measure this pidone binary instead of the shipped static build
  --dynamic          measure the dynamic release build cargo bench made (target/release)
  --also NAME=PATH   measure another pidone build too (e.g. a static one); repeatable
  --no-sigtimedwait  no pidone-sigtimedwait instance (on a cgroup v1 host, the same
                     pidone with /sys/fs/cgroup covered: plain sigtimedwait)
  --only LIST        run only these phases, comma-separated: start, idle, zombies,
                     latency, storms, events, instructions, supervisors (then no
                     JSON unless --json)
  --json PATH        where to write the results (default benches/results/latest.json)";

const PHASES: [&str; 8] = [
    "start",
    "idle",
    "zombies",
    "latency",
    "storms",
    "events",
    "instructions",
    "supervisors",
];

/// Builds the shipped pidone with `cargo build-static` into the target directory
/// that `cargo bench` uses, and points `opts.pidone` at it.
pub fn build_static(opts: &mut Options) -> Result<(), String> {
    if !opts.build_static {
        return Ok(());
    }
    let target_dir = Path::new(PIDONE)
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("cannot find the target directory of {PIDONE}"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the shipped pidone: cargo build-static");
    let status = Command::new(cargo)
        .arg("build-static")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo build-static: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build-static failed ({status})"));
    }
    opts.pidone = target_dir.join(STATIC_TRIPLE).join("release/pidone");
    Ok(())
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    exit(2)
}
