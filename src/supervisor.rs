//! The event loop: one blocking wait for the next signal or deadline, one
//! decision about it. The loop is an explicit state machine (`Phase`); the
//! decisions that need no syscall (`decide`, `Policy::stops`, `restart::next`)
//! are plain functions.

use crate::cli::Restart;
use crate::diagnose::{self, Death, MemoryCounters};
use crate::error::Error;
use crate::restart::{self, Context, Next};
use crate::signals::{self, Name, Received, Rewrites, SignalSet};
use crate::{pidfile, reap, shutdown, spawn};
use libc::c_int;
use log::{Level, debug, error, info, log, log_enabled, warn};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How pidone and its child are set up.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// The child leads its own session and process group: signals go to the group.
    pub session: bool,
    /// pidone is not PID 1: it stops itself after forwarding TSTP/TTIN/TTOU, so
    /// that a shell's job control sees pidone and the workload as one job.
    pub job_control: bool,
    /// pidone is PID 1 or a subreaper: every descendant stays in its subtree.
    pub reaper: bool,
    pub self_pid: libc::pid_t,
}

/// What the user asked of the shutdown.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub rewrites: Rewrites,
    /// After a stop signal is forwarded, KILL everything if the main
    /// child is still there after this long. Also bounds the wait for leftovers.
    pub grace: Option<Duration>,
    /// Hold the first stop signal this long before forwarding it.
    pub stop_delay: Option<Duration>,
    /// The signals that ask the workload to end (`--stop-signals`): forwarding
    /// one starts the grace period and ends the restarts.
    pub stop_signals: Vec<c_int>,
    /// When the main child exits, wait for every other process instead of
    /// terminating them.
    pub wait_all: bool,
    /// Log each reaped zombie that is not the main child at warning level.
    pub warn_on_reap: bool,
    pub restart: Restart,
    pub pidfile: Option<PathBuf>,
}

impl Policy {
    /// Whether forwarding `signo` asks the workload to end.
    pub fn stops(&self, signo: c_int) -> bool {
        self.stop_signals.contains(&signo)
    }
}

/// How to start the workload (again).
#[derive(Clone, Debug)]
pub struct Launch {
    pub command: Vec<OsString>,
    pub setup: spawn::Setup,
}

/// What to do with one signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Reap,
    Forward(c_int),
    /// `-r SIG:0`, or a fault the kernel queued (not one a process sent).
    Drop,
    /// pidone's own write to a closed pipe or past RLIMIT_FSIZE: nothing to do,
    /// and nothing to log (a log line could raise it again).
    Mine,
}

/// TSTP, TTIN and TTOU: a job-control stop, which pidone shares with its workload
/// when it is not PID 1 (dumb-init's way).
pub fn is_terminal_stop(signo: c_int) -> bool {
    matches!(signo, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

/// Sent by a process (`kill`, `sigqueue`, `tgkill`), not raised by the kernel.
fn sent(sig: &Received) -> bool {
    matches!(sig.code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL)
}

pub fn decide(sig: &Received, mode: &Mode, rewrites: &Rewrites) -> Action {
    match sig.signo {
        libc::SIGCHLD => Action::Reap,
        libc::SIGPIPE | libc::SIGXFSZ if sig.sender == mode.self_pid => Action::Mine,
        s if signals::FAULTS.contains(&s) && !sent(sig) => Action::Drop,
        s => match rewrites.get(s) {
            Some(0) => Action::Drop,
            Some(to) => Action::Forward(to),
            // A group in a session of its own is orphaned, and the kernel discards
            // TSTP/TTIN/TTOU sent to an orphaned group: STOP is what stops it (dumb-init's way).
            None if mode.session && is_terminal_stop(s) => Action::Forward(libc::SIGSTOP),
            None => Action::Forward(s),
        },
    }
}

/// Where the supervision is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The workload runs and nobody asked it to stop.
    Running,
    /// `--stop-delay`: the first stop signal waits until `until`.
    Holding { signo: c_int, until: Instant },
    /// A stop (or the restart) signal was forwarded; KILL at `kill_at`.
    Stopping { kill_at: Option<Instant> },
    /// The main process is gone; the others were sent TERM (or, with
    /// `--wait-all`, are waited for); KILL at `kill_at`. Then `Supervisor::next`.
    Draining { kill_at: Option<Instant> },
    /// Everything was sent KILL; give up waiting at `give_up_at`.
    Killed { give_up_at: Instant },
    /// Nothing runs; the workload starts again at `until`.
    BackOff { until: Instant },
}

impl Phase {
    fn deadline(self) -> Option<Instant> {
        match self {
            Phase::Running => None,
            Phase::Holding { until, .. } | Phase::BackOff { until } => Some(until),
            Phase::Stopping { kill_at } | Phase::Draining { kill_at } => kill_at,
            Phase::Killed { give_up_at } => Some(give_up_at),
        }
    }
}

/// What happened, for the one line that explains pidone's exit.
#[derive(Debug, Default)]
struct Report {
    /// The last stop signal received (the one that ended it, when several came).
    cause: Option<Received>,
    termed: usize,
    killed: usize,
}

/// The workload's main process while it is unreaped: only then may it, or its
/// process group, be signalled.
#[derive(Clone, Debug)]
struct Main {
    pid: Pid,
    /// Signals go to its process group (not with -c, nor to a followed daemon).
    group: bool,
    /// A daemon found through --pidfile, not a process pidone started.
    followed: bool,
    started: Instant,
    /// The last signal forwarded to it.
    forwarded: Option<c_int>,
    /// Its memory cgroup's OOM counters when it started, or (first start) at
    /// pidone's first wakeup after it: `None` until read.
    memory: Option<MemoryCounters>,
}

/// The first start leaves the OOM counters to pidone's first wakeup, at the latest
/// this long after it: a fresh process's first read of /proc/self costs tens of
/// microseconds, a large part of an init's whole start, and the workload is
/// starting meanwhile.
const BASELINE_AFTER: Duration = Duration::from_millis(10);

impl Main {
    /// When its OOM counters must be read, if they have not been.
    fn baseline_due(&self) -> Option<Instant> {
        self.memory.is_none().then(|| self.started + BASELINE_AFTER)
    }

    fn new(pid: Pid, group: bool, followed: bool, memory: Option<MemoryCounters>) -> Self {
        Main {
            pid,
            group,
            followed,
            started: Instant::now(),
            forwarded: None,
            memory,
        }
    }
}

/// Watches the workload and the processes it leaves, restarts it per policy, and
/// returns pidone's exit code.
pub struct Supervisor {
    mode: Mode,
    policy: Policy,
    launch: Launch,
    signals: SignalSet,
    main: Option<Main>,
    /// The wait status of the last main process to exit.
    status: Option<c_int>,
    /// What follows once the leftovers of the last main process are gone.
    next: Next,
    phase: Phase,
    /// A stop signal was forwarded: no more restarts.
    shutdown: bool,
    /// The restart signal was received.
    restart_now: bool,
    restarts: u32,
    streak: u32,
    report: Report,
}

impl Supervisor {
    pub fn new(mode: Mode, policy: Policy, launch: Launch, signals: SignalSet, child: Pid) -> Self {
        let main = Main::new(child, mode.session, false, None);
        Supervisor {
            mode,
            policy,
            launch,
            signals,
            main: Some(main),
            status: None,
            next: Next::Exit,
            phase: Phase::Running,
            shutdown: false,
            restart_now: false,
            restarts: 0,
            streak: 0,
            report: Report::default(),
        }
    }

    pub fn run(mut self) -> Result<i32, Error> {
        loop {
            let baseline_due = self.main.as_ref().and_then(Main::baseline_due);
            let deadline = self.phase.deadline().into_iter().chain(baseline_due).min();
            let sig = signals::wait(&self.signals, deadline).map_err(|errno| Error::Sys {
                op: "wait for signals",
                errno,
            })?;
            // Before any signal is forwarded (the workload may act on it), but not
            // after a SIGCHLD, which may be the main process's own death.
            if sig.is_none_or(|sig| sig.signo != libc::SIGCHLD) {
                self.take_baseline();
            }
            let done = match sig {
                Some(sig) => self.on_signal(sig),
                None if self.phase.deadline().is_some_and(|d| d <= Instant::now()) => {
                    self.on_deadline()
                }
                None => None,
            };
            self.take_baseline();
            if let Some(code) = done {
                self.explain(code);
                return Ok(code);
            }
        }
    }

    /// The exit code so far: the last main process's status, 128+KILL if unknown.
    fn code(&self) -> i32 {
        self.status.map_or(128 + libc::SIGKILL, reap::exit_code)
    }

    fn on_signal(&mut self, sig: Received) -> Option<i32> {
        let done = match decide(&sig, &self.mode, &self.policy.rewrites) {
            Action::Reap => return self.reap(),
            Action::Mine => return None,
            Action::Drop => {
                debug!("ignored {} from pid {}", Name(sig.signo), sig.sender);
                None
            }
            Action::Forward(signo) => {
                debug!("received {} from pid {}", Name(sig.signo), sig.sender);
                self.on_forward(sig, signo)
            }
        };
        if self.mode.job_control && is_terminal_stop(sig.signo) {
            // SAFETY: kill on our own pid; job control is never on for PID 1.
            unsafe { libc::kill(self.mode.self_pid, libc::SIGSTOP) };
        }
        done
    }

    /// A signal to pass on as `signo`: forwarded, or held, or the restart.
    fn on_forward(&mut self, sig: Received, signo: c_int) -> Option<i32> {
        if self.main.is_none() {
            return self.between_workloads(sig, signo);
        }
        if Some(sig.signo) == self.policy.restart.signal {
            info!("received {}: restarting the workload", Name(sig.signo));
            self.restart_now = true;
            self.forward(libc::SIGTERM);
            let grace = self.policy.grace.unwrap_or(shutdown::DEFAULT_GRACE);
            self.phase = Phase::Stopping {
                kill_at: Some(Instant::now() + grace),
            };
            return None;
        }
        if self.policy.stops(signo) {
            self.report.cause = Some(sig);
            self.shutdown = true;
            match self.phase {
                Phase::Running if self.policy.stop_delay.is_some() => {
                    let until = Instant::now() + self.policy.stop_delay.unwrap_or_default();
                    info!("holding {} for the stop delay", Name(signo));
                    self.phase = Phase::Holding { signo, until };
                    return None;
                }
                Phase::Holding { signo: held, .. } => {
                    if held != signo {
                        self.forward(held);
                    }
                    self.phase = self.stopping();
                }
                Phase::Running => self.phase = self.stopping(),
                _ => {}
            }
        }
        self.forward(signo);
        None
    }

    /// A signal while no main process runs: leftovers (draining or --wait-all)
    /// get it; a terminating one ends any restarting, and a back-off at once.
    fn between_workloads(&mut self, sig: Received, signo: c_int) -> Option<i32> {
        if self.policy.stops(signo) {
            self.report.cause = Some(sig);
            self.shutdown = true;
            self.next = Next::Exit;
            if let Phase::BackOff { .. } = self.phase {
                info!(
                    "received {} during the restart delay: exiting",
                    Name(sig.signo)
                );
                return Some(self.code());
            }
        }
        shutdown::signal_all(self.mode.self_pid, signo);
        None
    }

    fn on_deadline(&mut self) -> Option<i32> {
        match self.phase {
            Phase::Running => None,
            Phase::Holding { signo, .. } => {
                self.forward(signo);
                self.phase = self.stopping();
                None
            }
            Phase::Stopping { .. } | Phase::Draining { .. } => {
                self.report.killed += shutdown::signal_all(self.mode.self_pid, libc::SIGKILL);
                // The group too, for members that left pidone's subtree (plain mode).
                self.forward(libc::SIGKILL);
                self.phase = Phase::Killed {
                    give_up_at: Instant::now() + shutdown::KILL_WAIT,
                };
                self.reap()
            }
            Phase::Killed { .. } => {
                warn!(
                    "processes survived SIGKILL for {:?}; going on without them",
                    shutdown::KILL_WAIT
                );
                self.main = None;
                self.drained()
            }
            Phase::BackOff { .. } => self.start(),
        }
    }

    /// The phase after a terminating signal is forwarded: KILL after the grace period, if set.
    fn stopping(&self) -> Phase {
        Phase::Stopping {
            kill_at: self.policy.grace.map(|g| Instant::now() + g),
        }
    }

    /// Sends `signo` to the main process's group (or to it alone, with -c or
    /// when it is a followed daemon). It is unreaped, so its pid and group id
    /// cannot have been recycled.
    fn forward(&mut self, signo: c_int) {
        let Some(main) = self.main.as_mut() else {
            return;
        };
        main.forwarded = Some(signo);
        let target = if main.group {
            -main.pid.as_raw()
        } else {
            main.pid.as_raw()
        };
        // SAFETY: kill(2) with a valid signal; target is our unreaped child or its group.
        if unsafe { libc::kill(target, signo) } == 0 {
            debug!("forwarded {} to {target}", Name(signo));
        } else {
            debug!(
                "cannot forward {} to {target}: {}",
                Name(signo),
                crate::error::describe(nix::errno::Errno::last())
            );
        }
    }

    /// Reaps every zombie. When the main process goes, decides what follows and,
    /// unless a daemon is to be followed or --wait-all asks to wait, sends TERM to
    /// what it leaves: nothing to do when it left no process at all.
    fn reap(&mut self) -> Option<i32> {
        let main = self.main.clone();
        // Without a reaper role, the group's members left pidone's subtree when the
        // workload died: they are reached through its group, signalled while the
        // zombie still holds the group id (so that no recycled group is hit).
        let look_first = main.as_ref().is_some_and(|m| m.group) && !self.mode.reaper;
        let mut next = None;
        let reaped = reap::reap_all(
            main.as_ref().map(|m| m.pid),
            look_first,
            self.policy.warn_on_reap,
            |status| {
                let decided = self.decide_next(status);
                if let Some(Main { pid, .. }) =
                    main.as_ref().filter(|_| self.ends_leftovers(decided))
                {
                    // SAFETY: kill(2) on the group of our unreaped (zombie) child.
                    unsafe { libc::kill(-pid.as_raw(), libc::SIGTERM) };
                }
                next = Some(decided);
            },
        );
        if let (Some(status), Some(main)) = (reaped.main, main) {
            self.next = next.unwrap_or_else(|| self.decide_next(status));
            if self.ends_leftovers(self.next) && !reaped.none_left {
                self.report.termed += shutdown::signal_all(self.mode.self_pid, libc::SIGTERM);
            }
            self.main = None;
            self.status = Some(status);
            self.streak =
                restart::streak_after(&self.policy.restart, self.streak, main.started.elapsed());
            self.tell_death(&main, status);
            if self.next == Next::Follow {
                return self.follow();
            }
            if !reaped.none_left && !self.killed() {
                self.phase = self.draining();
            }
        }
        // A back-off has nothing left to wait for: only late zombies get here.
        let waiting = !matches!(self.phase, Phase::BackOff { .. });
        if reaped.none_left && self.main.is_none() && waiting {
            self.drained()
        } else {
            None
        }
    }

    /// Reads the main process's OOM counters if they are still to be read.
    fn take_baseline(&mut self) {
        if let Some(main) = self.main.as_mut().filter(|m| m.memory.is_none()) {
            main.memory = Some(MemoryCounters::read());
        }
    }

    /// The line on a death nobody asked for (or a non-zero exit, at info level).
    fn tell_death(&self, main: &Main, status: c_int) {
        let unread = MemoryCounters::default();
        let (before, after) = match &main.memory {
            Some(before) => (before, before.again()),
            // Dead before the first read: only a KILL makes the counter worth reading now.
            None if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL => {
                (&unread, MemoryCounters::read())
            }
            None => (&unread, MemoryCounters::default()),
        };
        let death = Death {
            command: &self.launch.command,
            pid: main.pid.as_raw(),
            ran: main.started.elapsed(),
            status,
            forwarded: main.forwarded,
            before,
            after: &after,
        };
        match diagnose::death(&death) {
            Some((level, line)) => log::log!(level, "{line}"),
            None => debug!(
                "the workload (pid {}) ended: status {}",
                main.pid,
                reap::exit_code(status)
            ),
        }
    }

    /// Whether what the main process leaves gets TERM once it is gone: not when a
    /// daemon is to be followed, nor with --wait-all, nor after the KILL.
    fn ends_leftovers(&self, next: Next) -> bool {
        next != Next::Follow && !(self.policy.wait_all && next == Next::Exit) && !self.killed()
    }

    fn killed(&self) -> bool {
        matches!(self.phase, Phase::Killed { .. })
    }

    fn decide_next(&self, status: c_int) -> Next {
        let main = self.main.as_ref();
        let ctx = Context {
            shutdown: self.shutdown,
            restart_now: self.restart_now,
            forwarded: main.and_then(|m| m.forwarded),
            may_follow: self.policy.pidfile.is_some() && !main.is_some_and(|m| m.followed),
            restarts: self.restarts,
            streak: self.streak,
        };
        restart::next(status, &ctx, &self.policy.restart)
    }

    /// How long leftovers get after the main process is gone.
    fn draining(&self) -> Phase {
        let grace = self.policy.grace;
        if self.policy.wait_all && self.next == Next::Exit {
            info!("the workload exited; waiting for the other processes (--wait-all)");
            return Phase::Draining {
                kill_at: grace.map(|g| Instant::now() + g),
            };
        }
        Phase::Draining {
            kill_at: Some(Instant::now() + grace.unwrap_or(shutdown::DEFAULT_GRACE)),
        }
    }

    /// No process is left: exit, or wait and start the workload again.
    fn drained(&mut self) -> Option<i32> {
        match self.next {
            Next::Restart { delay } => {
                info!("restarting the workload in {delay:?}");
                self.phase = Phase::BackOff {
                    until: Instant::now() + delay,
                };
                None
            }
            _ => Some(self.code()),
        }
    }

    /// The launcher exited 0: supervise the daemon its pidfile names.
    fn follow(&mut self) -> Option<i32> {
        let path = self.policy.pidfile.clone().unwrap_or_default();
        match pidfile::follow(&path, self.mode.self_pid) {
            Ok(pid) => {
                info!("following the daemon {pid} from {}", path.display());
                self.main = Some(Main::new(pid, false, true, Some(MemoryCounters::read())));
                self.phase = Phase::Running;
                None
            }
            Err(e) => {
                error!("{e}");
                self.status = Some(1 << 8);
                self.next = Next::Exit;
                self.phase = self.draining();
                shutdown::signal_all(self.mode.self_pid, libc::SIGTERM);
                None
            }
        }
    }

    /// Starts the workload again after the back-off.
    fn start(&mut self) -> Option<i32> {
        let counted = !std::mem::take(&mut self.restart_now);
        match spawn::spawn(&self.launch.command, self.launch.setup) {
            Ok(pid) => {
                if counted {
                    self.restarts += 1;
                    self.streak += 1;
                }
                info!(
                    "restarted the workload (pid {pid}, restart {})",
                    self.restarts
                );
                let group = self.mode.session;
                self.main = Some(Main::new(pid, group, false, Some(MemoryCounters::read())));
                self.phase = Phase::Running;
                None
            }
            Err(e) => {
                // As if the workload had exited with the status pidone would exit with.
                error!("{e}");
                self.restarts += 1;
                self.streak += 1;
                let status = (e.exit_code() & 0xff) << 8;
                self.status = Some(status);
                self.next = self.decide_next(status);
                self.drained()
            }
        }
    }

    /// One line on how it ended: at info level, or warning when KILL was needed.
    /// Not even formatted when the level is off (the default, for an exit).
    fn explain(&self, code: i32) {
        let Report { termed, killed, .. } = self.report;
        let level = if killed > 0 { Level::Warn } else { Level::Info };
        if !log_enabled!(level) {
            return;
        }
        let main = match self.status.map(reap::exit_code) {
            Some(c) if c > 128 => format!("the workload was killed by {}", Name(c - 128)),
            Some(c) => format!("the workload exited with {c}"),
            None => "the workload's status is unknown".to_string(),
        };
        let cause = self
            .report
            .cause
            .map(|s| {
                format!(
                    "; shutdown started by {} from pid {}",
                    Name(s.signo),
                    s.sender
                )
            })
            .unwrap_or_default();
        let restarts = match self.restarts {
            0 => String::new(),
            n => format!(" after {n} restart(s)"),
        };
        log!(
            level,
            "exiting with status {code}: {main}{restarts}{cause}; {termed} leftover process(es) got TERM, {killed} process(es) needed KILL"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELF: libc::pid_t = 1;

    fn sig(signo: c_int, sender: libc::pid_t) -> Received {
        Received {
            signo,
            sender,
            code: libc::SI_USER,
        }
    }

    fn mode(session: bool, job_control: bool) -> Mode {
        Mode {
            session,
            job_control,
            reaper: true,
            self_pid: SELF,
        }
    }

    #[test]
    fn ordinary_signals_are_forwarded_as_they_are() {
        let none = Rewrites::default();
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGWINCH,
            libc::SIGCONT,
        ] {
            assert_eq!(
                decide(&sig(s, 99), &mode(true, false), &none),
                Action::Forward(s)
            );
        }
    }

    #[test]
    fn sigchld_reaps_and_self_inflicted_pipe_is_mine() {
        let none = Rewrites::default();
        let m = mode(true, false);
        assert_eq!(decide(&sig(libc::SIGCHLD, 5), &m, &none), Action::Reap);
        assert_eq!(decide(&sig(libc::SIGPIPE, SELF), &m, &none), Action::Mine);
        assert_eq!(decide(&sig(libc::SIGXFSZ, SELF), &m, &none), Action::Mine);
        assert_eq!(
            decide(&sig(libc::SIGPIPE, 99), &m, &none),
            Action::Forward(libc::SIGPIPE)
        );
    }

    #[test]
    fn faults_a_process_sent_are_forwarded_and_the_kernels_are_not() {
        let none = Rewrites::default();
        let m = mode(true, false);
        for signo in signals::FAULTS {
            for code in [libc::SI_USER, libc::SI_QUEUE, libc::SI_TKILL] {
                let sent = Received {
                    signo,
                    sender: 99,
                    code,
                };
                assert_eq!(decide(&sent, &m, &none), Action::Forward(signo));
            }
            let raised = Received {
                signo,
                sender: 0,
                code: 1, // SEGV_MAPERR, BUS_ADRALN, ...: the kernel's codes are positive
            };
            assert_eq!(decide(&raised, &m, &none), Action::Drop);
        }
        let swap = Rewrites(vec![
            (libc::SIGHUP, libc::SIGSYS),
            (libc::SIGSYS, libc::SIGHUP),
        ]);
        assert_eq!(
            decide(&sig(libc::SIGSYS, 9), &m, &swap),
            Action::Forward(libc::SIGHUP)
        );
    }

    #[test]
    fn terminal_stops_become_stop_for_a_session() {
        let none = Rewrites::default();
        let tstp = sig(libc::SIGTSTP, 0);
        assert_eq!(
            decide(&tstp, &mode(true, true), &none),
            Action::Forward(libc::SIGSTOP)
        );
        assert_eq!(
            decide(&tstp, &mode(false, false), &none),
            Action::Forward(libc::SIGTSTP)
        );
    }

    #[test]
    fn rewrites_change_or_drop_signals_and_override_the_stop_default() {
        let rules = Rewrites(vec![
            (libc::SIGTERM, libc::SIGQUIT),
            (libc::SIGUSR1, 0),
            (libc::SIGTSTP, libc::SIGUSR2),
        ]);
        let m = mode(true, false);
        assert_eq!(
            decide(&sig(libc::SIGTERM, 9), &m, &rules),
            Action::Forward(libc::SIGQUIT)
        );
        assert_eq!(decide(&sig(libc::SIGUSR1, 9), &m, &rules), Action::Drop);
        assert_eq!(
            decide(&sig(libc::SIGTSTP, 9), &m, &rules),
            Action::Forward(libc::SIGUSR2)
        );
        assert_eq!(decide(&sig(libc::SIGCHLD, 9), &m, &rules), Action::Reap);
    }

    #[test]
    fn the_stop_signals_are_the_ones_that_ask_to_end() {
        let policy = Policy {
            stop_signals: crate::cli::STOP_SIGNALS.to_vec(),
            ..Policy::default()
        };
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
            assert!(policy.stops(s));
        }
        for s in [libc::SIGHUP, libc::SIGUSR2, libc::SIGWINCH, libc::SIGKILL] {
            assert!(!policy.stops(s));
        }
    }

    #[test]
    fn phases_wait_for_their_deadline() {
        let t = Instant::now();
        assert_eq!(Phase::Running.deadline(), None);
        assert_eq!(
            Phase::Holding {
                signo: 15,
                until: t
            }
            .deadline(),
            Some(t)
        );
        assert_eq!(Phase::Stopping { kill_at: None }.deadline(), None);
        assert_eq!(Phase::Draining { kill_at: Some(t) }.deadline(), Some(t));
        assert_eq!(Phase::Killed { give_up_at: t }.deadline(), Some(t));
    }
}
