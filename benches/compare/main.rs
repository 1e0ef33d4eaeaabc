//! pidone against the other container inits: direct exec (no init), tini,
//! tini-static, dumb-init and catatonit, interleaved in one run (in a new
//! shuffled order in every iteration) so that machine noise hits all alike.
//! The signal figures come from several fresh instances of each init, and
//! the latency is measured on two CPUs and again with everything on one. The
//! bench runs in a cpu cgroup of its own, as a container does (`cgroup`).
//!
//! ```text
//! sudo cargo bench --bench compare [-- --quick] [-- --pidone PATH] [-- --json PATH]
//! ```
//!
//! The pidone measured is the one that ships: the static build, made first with
//! `cargo build-static` (.cargo/config.toml) in the same target directory, at
//! `target/x86_64-unknown-linux-gnu/release/pidone` (its path is printed).
//! `--dynamic` measures the dynamic release build that `cargo bench` itself makes
//! (`target/release/pidone`, the `bench` profile inherits `release`), and
//! `--pidone PATH` any other build. Run it as root: most figures run the init as
//! PID 1 of a fresh PID namespace, made with `clone(CLONE_NEWPID)` straight from
//! this process (no `unshare` binary in the timings). The peers come from
//! `apt-get install tini dumb-init catatonit` (tini-static comes with tini); a
//! missing peer is skipped with a note. Instructions are counted with valgrind's
//! callgrind when valgrind is installed.
//!
//! The helper workloads are `examples/bench_*.rs`; this binary carries them too
//! and runs them by re-executing itself with `PIDONE_BENCH_HELPER=NAME` in the
//! environment, so the one command builds everything. Results: a table on
//! stdout, `benches/results/latest.json`, and the change against the previous
//! `latest.json` when there is one.
//!
//! The modules, one per figure family and the helpers they share:
//!
//! - `options`: the command line, the sizes of a run, the static build.
//! - `inits`: the inits under test (pidone, its `--also` builds, the peers
//!   found on the machine), their copies, the shuffled order of a round.
//! - `nocgroup`: `pidone-sigtimedwait`, the same pidone with its cgroup files
//!   out of reach (plain sigtimedwait), on a cgroup v1 host, and the check of
//!   where each instance sleeps.
//! - `process`: clone/exec, pipes, a running init with its workload, /proc reads.
//! - `figures`: samples to statistics, a figure's table, the summary.
//! - `start`: start+exit time, as a plain child and as PID 1.
//! - `idle`: memory, binary size and idle wakeups over a sleeping workload.
//! - `zombies`: the zombie storm (orphans reaped).
//! - `signals`: signal latency and signal storms through the init.
//! - `events`: pidone's CPU per limit event (OOM kills in a v1 memory cgroup).
//! - `instructions`: instructions of `INIT -- /bin/true` under callgrind.
//! - `supervisors`: pidone `--procfile` against supervisord, s6, runit and
//!   honcho, over three services (its own folder).
//! - `json`: the results file and the change against the previous one.
//! - `report`: what the run says about itself (date, machine, versions) and the output.
//! - `cgroup`: the bench's own cpu cgroup.

#[path = "../../examples/bench_lines.rs"]
mod bench_lines;
#[path = "../../examples/bench_oom.rs"]
mod bench_oom;
#[path = "../../examples/bench_orphans.rs"]
mod bench_orphans;
#[path = "../../examples/bench_receiver.rs"]
mod bench_receiver;
#[path = "../../examples/bench_sleeper.rs"]
mod bench_sleeper;
mod cgroup;
mod events;
mod figures;
#[path = "../../examples/hog.rs"]
mod hog;
mod idle;
mod inits;
mod instructions;
mod json;
mod nocgroup;
mod options;
mod process;
mod report;
mod signals;
mod start;
mod supervisors;
mod zombies;

use options::Options;
use std::fs;
use std::process::exit;
use std::time::Instant;

/// Names the helper role of a re-executed bench binary.
pub const HELPER_VAR: &str = "PIDONE_BENCH_HELPER";

fn main() {
    match std::env::var(HELPER_VAR).as_deref() {
        Ok("bench_sleeper") => return bench_sleeper::main(),
        Ok("bench_receiver") => return bench_receiver::main(),
        Ok("bench_orphans") => return bench_orphans::main(),
        Ok("bench_lines") => return bench_lines::main(),
        Ok("bench_oom") => return bench_oom::main(),
        Ok("hog") => return hog::main(),
        _ => {}
    }
    let mut opts = Options::parse();
    if let Err(e) = options::build_static(&mut opts).and_then(|()| run(&opts)) {
        eprintln!("compare: {e}");
        exit(1);
    }
}

fn run(opts: &Options) -> Result<(), String> {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "run as root: the inits run as PID 1 of new PID namespaces (clone(CLONE_NEWPID))"
                .into(),
        );
    }
    let inits = inits::inits(opts)?;
    // Before the phases: the sources as built (not as edited meanwhile), and the
    // peers' copies, which are removed with the scratch directory.
    let mut run = report::Run::begin(opts, &inits);
    let dir = inits::scratch_dir();
    let (_cgroup, scheduling) = cgroup::leave_autogroup();
    eprintln!("scheduling: {scheduling}");
    run.scheduling = scheduling;
    run.wait = nocgroup::check(&inits)?;
    let started = Instant::now();
    // In this order; `--only` picks some (`options::PHASES` names them all).
    type Phase<'a> = &'a dyn Fn() -> Result<Vec<figures::Figure>, String>;
    let phases: [(&str, Phase); 8] = [
        ("start", &|| start::bench(opts, &inits)),
        ("idle", &|| idle::bench(opts, &inits)),
        ("zombies", &|| zombies::bench(opts, &inits)),
        ("latency", &|| signals::bench_latency(opts, &inits)),
        ("storms", &|| signals::bench_storms(opts, &inits)),
        ("events", &|| events::bench(opts, &inits)),
        ("instructions", &|| instructions::bench(&inits, &dir)),
        ("supervisors", &|| supervisors::bench(opts, &dir)),
    ];
    let mut figures = Vec::new();
    let result = phases
        .iter()
        .filter(|(name, _)| opts.wants(name))
        .try_for_each(|(_, bench)| bench().map(|f| figures.extend(f)));
    let _ = fs::remove_dir_all(&dir);
    result?;
    run.finish(opts, &inits, &figures, started.elapsed())
}
