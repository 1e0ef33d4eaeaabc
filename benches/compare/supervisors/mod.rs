//! Several services under one supervisor: pidone `--procfile` against
//! supervisord, s6 (s6-svscan and one s6-supervise per service), runit
//! (runsvdir and one runsv per service) and honcho, each as PID 1 of a new PID
//! namespace over three sleeping services (`examples/bench_sleeper.rs`, which
//! reports its pid and start time on a FIFO, whatever the supervisor does with
//! its output). Measured, in interleaved rounds over fresh instances: the time
//! from the clone until every service runs; the memory of the supervising
//! processes (every process of the tree but the services: VmRSS and Pss
//! summed); their context switches over an idle window (every thread); the
//! restart latency (kill -KILL of a service's process until its successor
//! runs); the time from TERM until the whole tree is gone; and, for the two
//! that relay output with a name prefix (pidone `--prefix`, honcho), the lines
//! per second read from the supervisor's stdout with two services writing.
//!
//! - `peers`: which supervisors are here and how each is configured.
//! - `instance`: one supervisor started, its services killed, stopped.
//! - `relay`: the relay's lines per second.
//! - `tree`: the supervisor's process tree and its costs, from /proc.
//!
//! pidone's side needs `--procfile`: a pidone that refuses it (exit status 1
//! or 2 before any service runs) is reported as missing, not as a failure.

mod instance;
mod peers;
mod relay;
mod tree;

use crate::figures::{Figure, Stats};
use crate::inits::order;
use crate::options::Options;
use crate::process::dev_null;
use instance::{Instance, Start};
pub use peers::PEERS;
use peers::{Mode, Service, Supervisor};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Every key of this phase starts so: the report gives them a summary of their own.
pub const KEY_PREFIX: &str = "supervisors_";

/// The sleeping services of every supervisor.
pub const SERVICES: usize = 3;
/// The services writing lines in the relay figure.
const WRITERS: usize = 2;
/// Between two kills of the same service: s6-supervise and runsv wait until a
/// second has passed since the last start before they start a service again.
const KILL_SPACING: Duration = Duration::from_millis(400);

pub fn bench(opts: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let pidone = opts.pidone.to_string_lossy().into_owned();
    let sups = peers::find(&pidone, true);
    eprintln!(
        "[8/8] supervisors: {SERVICES} sleeping services under each as PID 1 ({}), {} interleaved \
         round(s): start, memory, idle wakeups over {} s, {} restarts each, TERM; then the \
         relay of {WRITERS} × {} lines, {} round(s)",
        sups.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        opts.supervisor_rounds,
        opts.idle.as_secs(),
        opts.supervisor_rounds * opts.supervisor_kills,
        opts.relay_lines,
        opts.relay_rounds,
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let exe = exe.to_string_lossy().into_owned();
    let services: Vec<Service> = (1..=SERVICES)
        .map(|i| Service {
            name: format!("sleeper{i}"),
            argv: vec![exe.clone()],
        })
        .collect();
    let dir = dir.join("supervisors");
    let mut samples = Samples::new(sups.len());
    let mut missing = vec![false; sups.len()];
    for round in 0..opts.supervisor_rounds {
        supervise_round(
            opts,
            &sups,
            &services,
            &dir,
            round,
            &mut samples,
            &mut missing,
        )?;
    }
    for sup in sups.iter().filter(|s| !s.restarts()) {
        eprintln!(
            "note: {} restarts nothing (when one service ends it stops them all): no restart figure",
            sup.name
        );
    }
    let mut relay = vec![Vec::new(); sups.len()];
    let writers: Vec<Service> = (1..=WRITERS)
        .map(|i| Service {
            name: format!("writer{i}"),
            argv: vec![exe.clone(), opts.relay_lines.to_string()],
        })
        .collect();
    for round in 0..opts.relay_rounds {
        for i in order(sups.len(), round) {
            let sup = &sups[i];
            if missing[i] || !sup.relays() {
                continue;
            }
            let rate = relay::rate(sup, &writers, &dir.join(sup.name), opts.relay_lines)?;
            relay[i].push(rate);
        }
    }
    Ok(samples.figures(&sups, &missing, relay))
}

/// `supervisord 4.2.5-1, s6 2.11.3.2-1, ...` for the peers found here.
pub fn versions() -> String {
    let found = peers::find("", false);
    let v: Vec<String> = found.iter().skip(1).map(Supervisor::version).collect();
    v.join(", ")
}

/// Per supervisor, in the order of `peers::find`.
struct Samples {
    start_ms: Vec<Vec<f64>>,
    rss: Vec<Vec<f64>>,
    pss: Vec<Vec<f64>>,
    processes: Vec<usize>,
    wakeups: Vec<Vec<f64>>,
    restart_ms: Vec<Vec<f64>>,
    stop_ms: Vec<Vec<f64>>,
}

impl Samples {
    fn new(n: usize) -> Samples {
        let v = || vec![Vec::new(); n];
        Samples {
            start_ms: v(),
            rss: v(),
            pss: v(),
            processes: vec![0; n],
            wakeups: v(),
            restart_ms: v(),
            stop_ms: v(),
        }
    }

    fn figures(self, sups: &[Supervisor], missing: &[bool], relay: Vec<Vec<f64>>) -> Vec<Figure> {
        let mut out = Vec::new();
        for (key, name, samples, higher) in [
            (
                "start_ms",
                "supervisors: start until 3 services run (ms)",
                &self.start_ms,
                false,
            ),
            (
                "rss_kib",
                "supervisors: VmRSS of the supervising processes (KiB)",
                &self.rss,
                false,
            ),
            (
                "pss_kib",
                "supervisors: Pss of the supervising processes (KiB)",
                &self.pss,
                false,
            ),
            (
                "wakeups_per_10s",
                "supervisors: idle wakeups per 10 s (all their threads)",
                &self.wakeups,
                false,
            ),
            (
                "restart_ms",
                "supervisors: kill -KILL of a service until it runs again (ms)",
                &self.restart_ms,
                false,
            ),
            (
                "stop_ms",
                "supervisors: TERM until every process is gone (ms)",
                &self.stop_ms,
                false,
            ),
            (
                "relay_lines_per_s",
                "supervisors: relayed lines per second, 2 services writing",
                &relay,
                true,
            ),
        ] {
            let key: &'static str = Box::leak(format!("{KEY_PREFIX}{key}").into_boxed_str());
            let mut fig = Figure::new(key, name);
            fig.lower_is_better = !higher;
            for (i, sup) in sups.iter().enumerate() {
                if missing[i] || samples[i].is_empty() {
                    continue;
                }
                fig.values.push((sup.name, Stats::of(&samples[i])));
                if key.ends_with("rss_kib") || key.ends_with("pss_kib") {
                    let n = self.processes[i];
                    let what = if n == 1 { "process" } else { "processes" };
                    fig.notes.push((sup.name, format!("{n} {what}")));
                }
            }
            if !fig.values.is_empty() {
                out.push(fig);
            }
        }
        out
    }
}

/// One round: every supervisor started (shuffled order), settled, measured
/// idle, its services killed one at a time, then stopped with TERM.
fn supervise_round(
    opts: &Options,
    sups: &[Supervisor],
    services: &[Service],
    dir: &Path,
    round: usize,
    s: &mut Samples,
    missing: &mut [bool],
) -> Result<(), String> {
    let mut running: Vec<Option<Instance>> = sups.iter().map(|_| None).collect();
    for i in order(sups.len(), round) {
        if missing[i] {
            continue;
        }
        let sup = &sups[i];
        let null = dev_null()?;
        match Instance::start(sup, &dir.join(sup.name), services, Mode::Supervise, &null) {
            Ok((inst, ms)) => {
                s.start_ms[i].push(ms);
                running[i] = Some(inst);
            }
            Err(Start::Refused(why)) => {
                eprintln!(
                    "note: {} refused its configuration ({why}): its figures are missing",
                    sup.name
                );
                missing[i] = true;
            }
            Err(Start::Failed(why)) => return Err(why),
        }
    }
    // Past every supervisor's set-up, and past s6's and runit's one second
    // between two starts of a service.
    sleep(Duration::from_millis(1500));
    for (i, inst) in running.iter().enumerate() {
        let Some(inst) = inst else { continue };
        let pids = inst.supervising();
        s.rss[i].push(tree::sum_field(&pids, "status", "VmRSS:"));
        s.pss[i].push(tree::sum_field(&pids, "smaps_rollup", "Pss:"));
        s.processes[i] = pids.len();
    }
    if round == 0 {
        let before: Vec<_> = running
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|r| (r.supervising(), tree::wakeups(&r.supervising())))
            })
            .collect();
        let t0 = Instant::now();
        sleep(opts.idle);
        let window = t0.elapsed().as_secs_f64();
        for (i, b) in before.into_iter().enumerate() {
            let Some((pids, Some(b))) = b else { continue };
            let n = tree::wakeups(&pids).map_or(f64::NAN, |a| (a - b) * 10.0 / window);
            s.wakeups[i].push(n);
        }
    }
    for k in 0..opts.supervisor_kills {
        for i in order(sups.len(), round * opts.supervisor_kills + k) {
            let Some(inst) = running[i].as_mut() else {
                continue;
            };
            if inst.sup.restarts() {
                s.restart_ms[i].push(inst.restart(k % services.len())?);
            }
        }
        sleep(KILL_SPACING);
    }
    for i in order(sups.len(), round + 1) {
        if let Some(inst) = running[i].take() {
            s.stop_ms[i].push(inst.stop());
        }
    }
    Ok(())
}
