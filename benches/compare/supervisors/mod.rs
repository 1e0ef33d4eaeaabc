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
//! - `tree`: the supervisor's process tree and its costs, from /proc.
//!
//! pidone's side needs `--procfile`: a pidone that refuses it (exit status 1
//! or 2 before any service runs) is reported as missing, not as a failure.

mod peers;
mod tree;

use crate::HELPER_VAR;
use crate::bench_receiver::monotonic_ns;
use crate::figures::{Figure, Stats};
use crate::inits::order;
use crate::options::Options;
use crate::process::{Lines, Prepared, Stdio3, dev_null, kill_and_reap, pipe, wait_or_kill};
pub use peers::PEERS;
use peers::{Mode, Service, Supervisor};
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
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

const NOTIFY_VAR: &str = "PIDONE_BENCH_NOTIFY";

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
            let rate = relay_rate(sup, &writers, &dir.join(sup.name), opts.relay_lines)?;
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
                    fig.notes
                        .push((sup.name, format!("{} processes", self.processes[i])));
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
        match Instance::start(sup, &dir.join(sup.name), services, "bench_sleeper", &null) {
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

enum Start {
    /// The supervisor exited with status 1 or 2 (a usage error) before any
    /// service ran: e.g. a pidone without `--procfile`.
    Refused(String),
    Failed(String),
}

impl From<String> for Start {
    fn from(e: String) -> Start {
        Start::Failed(e)
    }
}

/// A supervisor running as PID 1 of its own PID namespace, and the pids of its
/// services as they reported themselves on the FIFO.
struct Instance<'a> {
    sup: &'a Supervisor,
    pid: libc::pid_t,
    notify: Lines,
    services: Vec<libc::pid_t>,
    stderr: std::path::PathBuf,
}

impl<'a> Instance<'a> {
    /// Starts `sup` over `services` (run in the `helper` role) with `stdout`
    /// as its stdout; with sleepers, waits until each has reported and returns
    /// the time from the clone until the last one ran.
    fn start(
        sup: &'a Supervisor,
        dir: &Path,
        services: &[Service],
        helper: &str,
        stdout: &impl AsRawFd,
    ) -> Result<(Instance<'a>, f64), Start> {
        let mode = if helper == "bench_lines" {
            Mode::Relay
        } else {
            Mode::Supervise
        };
        let argv = sup.configure(dir, services, mode)?;
        let fifo = dir.join("notify");
        let notify = open_fifo(&fifo)?;
        let stderr = dir.join("stderr");
        let err = fs::File::create(&stderr)
            .map_err(|e| format!("cannot create {}: {e}", stderr.display()))?;
        let mut cmd = Prepared::of(&argv)?;
        cmd.set_env(HELPER_VAR, helper)?;
        cmd.set_env(NOTIFY_VAR, &fifo.to_string_lossy())?;
        let program = cmd.args[0].clone();
        let null = dev_null()?;
        let fds = Stdio3 {
            stdin: null.as_raw_fd(),
            stdout: stdout.as_raw_fd(),
            stderr: err.as_raw_fd(),
            die_with_bench: true,
        };
        let t0 = monotonic_ns();
        let pid = crate::process::spawn(&cmd, &program, true, fds)
            .map_err(|e| format!("cannot start {} in a new PID namespace: {e}", sup.name))?;
        let mut inst = Instance {
            sup,
            pid,
            notify: Lines {
                fd: notify,
                buf: Vec::new(),
            },
            services: Vec::new(),
            stderr,
        };
        if mode == Mode::Relay {
            return Ok((inst, f64::NAN));
        }
        let mut last = t0;
        while inst.services.len() < services.len() {
            let (pid, at) = inst.next_start(&[], Duration::from_secs(60))?;
            inst.services.push(pid);
            last = last.max(at);
        }
        Ok((inst, (last.saturating_sub(t0)) as f64 / 1e6))
    }

    /// The next service start reported on the FIFO, by a pid not in `old`:
    /// (pid, CLOCK_MONOTONIC at its start). Fails when the supervisor exits.
    fn next_start(
        &mut self,
        old: &[libc::pid_t],
        timeout: Duration,
    ) -> Result<(libc::pid_t, u64), Start> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(line) = self.notify.next(Duration::from_millis(100)) {
                let mut f = line.split_whitespace().map(|x| x.parse::<u64>().ok());
                let (Some(Some(pid)), Some(Some(at))) = (f.next(), f.next()) else {
                    return Err(Start::Failed(format!(
                        "{}: bad line '{line}'",
                        self.sup.name
                    )));
                };
                let pid = pid as libc::pid_t;
                if !old.contains(&pid) {
                    return Ok((pid, at));
                }
                continue;
            }
            let mut status = 0;
            // SAFETY: waitpid on our own child into a live local.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.pid = 0;
                let said = fs::read_to_string(&self.stderr).unwrap_or_default();
                let said = said
                    .lines()
                    .next()
                    .unwrap_or("nothing on stderr")
                    .to_string();
                let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
                return Err(match code {
                    Some(1 | 2) if self.services.is_empty() => Start::Refused(said),
                    _ => Start::Failed(format!(
                        "{} exited (wait status {status:#x}): {said}",
                        self.sup.name
                    )),
                });
            }
            if Instant::now() > deadline {
                return Err(Start::Failed(format!(
                    "{}: no service start within {} s",
                    self.sup.name,
                    timeout.as_secs()
                )));
            }
        }
    }

    /// Every process of the tree but the services.
    fn supervising(&self) -> Vec<libc::pid_t> {
        let mut pids = tree::tree(self.pid);
        pids.retain(|p| !self.services.contains(p));
        pids
    }

    /// Kills service `which` with SIGKILL; the time until its successor ran, in ms.
    fn restart(&mut self, which: usize) -> Result<f64, String> {
        let victim = self.services[which];
        let t0 = monotonic_ns();
        // SAFETY: kill(2) on a pid that reported itself as one of our services.
        if unsafe { libc::kill(victim, libc::SIGKILL) } != 0 {
            return Err(format!("{}: cannot kill service {victim}", self.sup.name));
        }
        let old = self.services.clone();
        let (pid, at) = self
            .next_start(&old, Duration::from_secs(30))
            .map_err(|e| match e {
                Start::Refused(s) | Start::Failed(s) => format!("{}: restart: {s}", self.sup.name),
            })?;
        self.services[which] = pid;
        Ok(at.saturating_sub(t0) as f64 / 1e6)
    }

    /// TERM, then the time until the supervisor's PID namespace is empty (the
    /// kernel reports the exit of a namespace's PID 1 once every process in it
    /// is gone), in ms; NaN if it had to be killed after 30 s.
    fn stop(mut self) -> f64 {
        let pid = std::mem::replace(&mut self.pid, 0);
        let t0 = Instant::now();
        // SAFETY: kill on our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        match wait_or_kill(pid, Duration::from_secs(30)) {
            Some(_) => t0.elapsed().as_secs_f64() * 1e3,
            None => {
                eprintln!(
                    "note: {} did not stop within 30 s of TERM: killed",
                    self.sup.name
                );
                f64::NAN
            }
        }
    }
}

/// A supervisor not stopped (a failure half-way) is killed with its namespace.
impl Drop for Instance<'_> {
    fn drop(&mut self) {
        if self.pid > 0 {
            kill_and_reap(self.pid);
        }
    }
}

/// Makes the FIFO at `path` and opens it for reading (and writing, so that
/// it never reads as closed between two services' writes).
fn open_fifo(path: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: mkfifo and open on a live NUL-terminated path.
    let fd = unsafe {
        libc::mkfifo(c.as_ptr(), 0o600);
        libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
    };
    if fd < 0 {
        return Err(format!(
            "cannot open the FIFO {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Lines per second that `sup` relays from `writers`, each writing `lines`
/// lines at once: counted on the supervisor's stdout from the first relayed
/// line to the last.
fn relay_rate(
    sup: &Supervisor,
    writers: &[Service],
    dir: &Path,
    lines: usize,
) -> Result<f64, String> {
    let (out_r, out_w) = pipe().map_err(|e| e.to_string())?;
    let inst = match Instance::start(sup, dir, writers, "bench_lines", &out_w) {
        Ok((inst, _)) => inst,
        Err(Start::Refused(s) | Start::Failed(s)) => return Err(format!("{}: {s}", sup.name)),
    };
    drop(out_w);
    let want = lines * writers.len();
    // The rate runs from the first chunk read to the last: the first chunk's
    // lines arrived before the clock started.
    let (mut seen, mut first, mut last, mut before) = (0, None, Instant::now(), 0);
    let mut partial = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen < want {
        if Instant::now() > deadline {
            return Err(format!("{}: {seen} of {want} lines within 300 s", sup.name));
        }
        let mut pfd = libc::pollfd {
            fd: out_r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 1000) } <= 0 {
            continue;
        }
        // SAFETY: read into a live buffer of its length.
        let n = unsafe { libc::read(out_r.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            return Err(format!(
                "{}: its stdout closed after {seen} of {want} lines",
                sup.name
            ));
        }
        let now = Instant::now();
        partial.extend_from_slice(&chunk[..n as usize]);
        let end = partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |e| e + 1);
        let got = partial[..end]
            .split(|&b| b == b'\n')
            .filter(|l| l.windows(11).any(|w| w == b"bench-line "))
            .count();
        partial.drain(..end);
        if got > 0 {
            if first.is_none() {
                first = Some(now);
                before = got;
            }
            last = now;
            seen += got;
        }
    }
    inst.stop();
    let took = last.duration_since(first.unwrap_or(last)).as_secs_f64();
    Ok(if took > 0.0 {
        (want - before) as f64 / took
    } else {
        f64::NAN
    })
}
