//! The event loop: one wait (`wait::Wait`) for the next signal, ready
//! descriptor or deadline, one reaction to it. The loop runs 1..N services (the
//! single workload is a list of one); what belongs to the container as a whole
//! lives here: the shutdown (`Phase`, an explicit state machine), the exit
//! status and the report. Children: `decide` (what a signal means, pure) and
//! `service` (one service's state between its runs).

mod decide;
mod service;

pub use decide::{Action, decide, is_terminal_stop};
pub use service::{Label, Launch, Main, Service, State};

use crate::config::Restart;
use crate::diagnose::{self, Death, Limits, MemoryCounters, TerminationLog};
use crate::error::Error;
use crate::relay::Relay;
use crate::restart::{self, Context, Next};
use crate::signals::{Name, Received, Rewrites, SignalSet};
use crate::wait::{Event, Wait};
use crate::{pidfile, reap, shutdown, spawn};
use libc::c_int;
use log::{Level, debug, error, info, log, log_enabled, warn};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

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
    /// Kubernetes' termination message file; `None`: off.
    pub termination_log: Option<PathBuf>,
}

impl Policy {
    /// Whether forwarding `signo` asks the workload to end.
    pub fn stops(&self, signo: c_int) -> bool {
        self.stop_signals.contains(&signo)
    }
}

/// Where the container's shutdown is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nobody asked the container to stop.
    Running,
    /// `--stop-delay`: the first stop signal waits until `until`.
    Holding { signo: c_int, until: Instant },
    /// The services were asked to stop; KILL at `kill_at`.
    Stopping { kill_at: Option<Instant> },
    /// No service runs; the leftovers were sent TERM (or, with `--wait-all`,
    /// are waited for); KILL at `kill_at`.
    Draining { kill_at: Option<Instant> },
    /// Everything was sent KILL; give up waiting at `give_up_at`.
    Killed { give_up_at: Instant },
}

impl Phase {
    fn deadline(self) -> Option<Instant> {
        match self {
            Phase::Running => None,
            Phase::Holding { until, .. } => Some(until),
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

/// Watches the services and the processes they leave, restarts them per
/// policy, and returns pidone's exit code.
pub struct Supervisor {
    mode: Mode,
    policy: Policy,
    wait: Wait,
    services: Vec<Service>,
    phase: Phase,
    /// A stop signal was forwarded, or a service ended the container: no more
    /// restarts.
    shutdown: bool,
    /// The service that ended first (without a restart) and its wait status:
    /// pidone exits with it.
    first_end: Option<(usize, c_int)>,
    /// No child of pidone was left at the last reap.
    none_left: bool,
    /// `--prefix`: the services' output, line by line.
    relay: Option<Relay>,
    /// The memory and pids cgroups' events, watched from the first wakeup on.
    limits: Watch,
    /// v1's failed forks, which no event tells (`diagnose::ForkFailures`).
    forks: diagnose::ForkFailures,
    termination: TerminationLog,
    report: Report,
}

/// Whether the limits are watched.
enum Watch {
    /// Not yet: set up at the first wakeup, not on the start path.
    NotYet,
    On(Limits),
    /// Nothing to watch here.
    Off,
}

impl Supervisor {
    /// `services` are started (a service that could not be, `Service::failed`,
    /// is restarted per policy or ends the container).
    pub fn new(
        mode: Mode,
        policy: Policy,
        signals: SignalSet,
        services: Vec<Service>,
        relay: Option<Relay>,
    ) -> Self {
        let mut supervisor = Supervisor {
            mode,
            policy,
            wait: Wait::new(signals),
            services,
            phase: Phase::Running,
            shutdown: false,
            first_end: None,
            none_left: false,
            relay,
            limits: Watch::NotYet,
            forks: diagnose::ForkFailures::default(),
            termination: TerminationLog::new(None),
            report: Report::default(),
        };
        supervisor.termination = TerminationLog::new(supervisor.policy.termination_log.take());
        for i in 0..supervisor.services.len() {
            if let (State::Ended, Some(status)) =
                (&supervisor.services[i].state, supervisor.services[i].status)
            {
                supervisor.not_started(i, status);
            }
        }
        supervisor
    }

    pub fn run(mut self) -> Result<i32, Error> {
        if let Some(code) = self.settle() {
            return Ok(self.exit(code));
        }
        loop {
            let deadline = self.deadline();
            let event = self.wait.next(deadline).map_err(|errno| Error::Sys {
                op: "wait for signals",
                errno,
            })?;
            // Before any signal is forwarded (the workload may act on it), but not
            // after a SIGCHLD, which may be the main process's own death.
            if !matches!(event, Event::Signal(sig) if sig.signo == libc::SIGCHLD) {
                self.take_baseline();
            }
            let done = match event {
                Event::Signal(sig) => {
                    // A SIGIO someone sent may have folded a readiness SIGIO into
                    // itself (a standard signal is pending once): look anyway.
                    if sig.signo == libc::SIGIO {
                        self.pump();
                        self.check_limits();
                    }
                    self.on_signal(sig)
                }
                Event::Ready => {
                    self.pump();
                    self.check_limits();
                    None
                }
                Event::Timeout => self.on_deadline(),
            };
            let done = done.or_else(|| self.settle());
            if let Some(code) = done {
                return Ok(self.exit(code));
            }
            self.take_baseline();
        }
    }

    /// What is left to do before pidone exits with `code`: the services' last
    /// output, the limit events the storm limit held, and the line that
    /// explains the exit.
    fn exit(&mut self, code: i32) -> i32 {
        self.pump();
        self.tell_limits(true);
        self.tell_forks("at exit");
        self.explain(code);
        code
    }

    /// Moves the services' output along, if it is relayed.
    fn pump(&mut self) {
        if let Some(relay) = &mut self.relay {
            relay.pump();
        }
    }

    /// The earliest moment something is due: the shutdown's, or a service's.
    fn deadline(&self) -> Option<Instant> {
        let services = self.services.iter().filter_map(Service::deadline);
        let relay = self.relay.as_ref().and_then(Relay::deadline);
        let limits = match &self.limits {
            Watch::On(limits) => limits.deadline(),
            _ => None,
        };
        let others = relay.into_iter().chain(limits);
        self.phase
            .deadline()
            .into_iter()
            .chain(services)
            .chain(others)
            .min()
    }

    /// Tells every limit event that is due: one warning line each, also the
    /// termination message, at once (a later kill may take pidone too).
    fn check_limits(&mut self) {
        self.tell_limits(false);
    }

    /// `check_limits`, or with `last` what the storm limit still holds.
    fn tell_limits(&mut self, last: bool) {
        let Watch::On(limits) = &mut self.limits else {
            return;
        };
        // Stamped when the check began, as the storm limit counts: reading /proc
        // under memory pressure can take a while.
        let stamp = diagnose::timestamp(SystemTime::now());
        let lines = if last {
            limits.last()
        } else {
            limits.check(Instant::now())
        };
        for line in lines {
            let line = format!("{stamp}: {line}");
            warn!("{line}");
            self.termination.write(&line);
        }
    }

    fn running(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| s.main().is_some())
    }

    /// The exit code so far: the status of the service that ended first, or of
    /// any that has one, 128+KILL if none is known.
    fn code(&self) -> i32 {
        let last = || self.services.iter().find_map(|s| s.status);
        self.first_end
            .map(|(_, status)| status)
            .or_else(last)
            .map_or(128 + libc::SIGKILL, reap::exit_code)
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
        if self.running().next().is_none() {
            return self.between_runs(sig, signo);
        }
        if Some(sig.signo) == self.policy.restart.signal {
            info!("received {}: restarting every service", Name(sig.signo));
            self.restart_all();
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
                    self.phase = self.stopping(self.policy.grace);
                }
                Phase::Running => self.phase = self.stopping(self.policy.grace),
                _ => {}
            }
        }
        self.forward(signo);
        None
    }

    /// A signal while no service runs: leftovers (draining, cleaning or
    /// --wait-all) get it; a stop signal ends any restarting (`settle` then
    /// exits at once if nothing is left).
    fn between_runs(&mut self, sig: Received, signo: c_int) -> Option<i32> {
        if self.policy.stops(signo) {
            self.report.cause = Some(sig);
            if !self.shutdown
                && self
                    .services
                    .iter()
                    .any(|s| matches!(s.state, State::BackOff { .. }))
            {
                info!(
                    "received {} during the restart delay: exiting",
                    Name(sig.signo)
                );
            }
            self.shutdown = true;
        }
        shutdown::signal_all(self.mode.self_pid, signo);
        None
    }

    /// `--restart-signal`: every running service gets TERM and, after the grace
    /// period (or 2 s), KILL, and starts again at once; one in its back-off
    /// starts now.
    fn restart_all(&mut self) {
        let kill_at = Instant::now() + self.policy.grace.unwrap_or(shutdown::DEFAULT_GRACE);
        for service in &mut self.services {
            match &mut service.state {
                State::Running(main) => {
                    main.kill_at = Some(kill_at);
                    service.restart_now = true;
                    service.forward(libc::SIGTERM);
                }
                State::BackOff { until } => {
                    *until = Instant::now();
                    service.restart_now = true;
                }
                _ => {}
            }
        }
    }

    fn forward(&mut self, signo: c_int) {
        for service in &mut self.services {
            service.forward(signo);
        }
    }

    fn on_deadline(&mut self) -> Option<i32> {
        let now = Instant::now();
        if let Watch::On(limits) = &self.limits
            && limits.deadline().is_some_and(|d| d <= now)
        {
            self.check_limits();
        }
        if self
            .relay
            .as_ref()
            .and_then(Relay::deadline)
            .is_some_and(|d| d <= now)
        {
            self.pump();
        }
        for i in 0..self.services.len() {
            if self.services[i].deadline().is_some_and(|d| d <= now) {
                self.service_due(i, now);
            }
        }
        if self.phase.deadline().is_none_or(|d| d > now) {
            return None;
        }
        match self.phase {
            Phase::Running => None,
            Phase::Holding { signo, .. } => {
                self.forward(signo);
                self.phase = self.stopping(self.policy.grace);
                None
            }
            Phase::Stopping { .. } | Phase::Draining { .. } => {
                self.report.killed += shutdown::signal_all(self.mode.self_pid, libc::SIGKILL);
                // The groups too, for members that left pidone's subtree (plain mode).
                self.forward(libc::SIGKILL);
                self.phase = Phase::Killed {
                    give_up_at: now + shutdown::KILL_WAIT,
                };
                self.reap()
            }
            Phase::Killed { .. } => {
                warn!(
                    "processes survived SIGKILL for {:?}; going on without them",
                    shutdown::KILL_WAIT
                );
                Some(self.code())
            }
        }
    }

    /// What is due for service `i` at `now`: its restart-signal KILL, the end
    /// of its cleaning, or of its back-off.
    fn service_due(&mut self, i: usize, now: Instant) {
        let service = &mut self.services[i];
        match &mut service.state {
            State::Running(main) => {
                if main.kill_at.is_some_and(|k| k <= now) {
                    main.kill_at = None;
                    let sid = main.pid;
                    service.forward(libc::SIGKILL);
                    self.report.killed += self.signal_leftovers(i, sid, libc::SIGKILL);
                }
            }
            State::Cleaning {
                killed: false,
                sid,
                kill_at,
                ..
            } => {
                let sid = *sid;
                *kill_at = now + shutdown::KILL_WAIT;
                if let State::Cleaning { killed, .. } = &mut service.state {
                    *killed = true;
                }
                self.report.killed += self.signal_leftovers(i, sid, libc::SIGKILL);
            }
            State::Cleaning { killed: true, .. } => {
                warn!(
                    "processes survived SIGKILL for {:?}; going on without them",
                    shutdown::KILL_WAIT
                );
                self.cleaned(i);
            }
            State::BackOff { .. } => self.start(i),
            State::Ended => {}
        }
    }

    /// Sends `signo` to what service `i` (whose session is `sid`) left: its
    /// session, or everything pidone is responsible for when it is the only
    /// service. Returns how many processes got it.
    fn signal_leftovers(&self, i: usize, sid: Pid, signo: c_int) -> usize {
        if self.services.len() == 1 {
            shutdown::signal_all(self.mode.self_pid, signo)
        } else if self.services[i].launch.setup.session {
            shutdown::signal_session(self.mode.self_pid, sid.as_raw(), signo)
        } else {
            0 // -c: the service shares pidone's session, its leftovers are not told apart
        }
    }

    /// Whether anything service `i` (session `sid`) left is still there.
    fn leftovers_left(&self, i: usize, sid: Pid) -> bool {
        if self.services.len() == 1 {
            !self.none_left
        } else {
            self.services[i].launch.setup.session
                && shutdown::session_left(self.mode.self_pid, sid.as_raw())
        }
    }

    /// The leftovers of service `i` are gone: it backs off, or ends when the
    /// container is stopping.
    fn cleaned(&mut self, i: usize) {
        let service = &mut self.services[i];
        let State::Cleaning { delay, .. } = service.state else {
            return;
        };
        if self.shutdown {
            service.state = State::Ended;
            return;
        }
        info!("restarting {} in {delay:?}", service.title());
        service.state = State::BackOff {
            until: Instant::now() + delay,
        };
    }

    /// The phase after the services were asked to stop: KILL after `grace`, if set.
    fn stopping(&self, grace: Option<Duration>) -> Phase {
        Phase::Stopping {
            kill_at: grace.map(|g| Instant::now() + g),
        }
    }

    /// Reaps every zombie. When a main process goes, decides what follows for
    /// its service.
    fn reap(&mut self) -> Option<i32> {
        let mains: Vec<Pid> = self
            .running()
            .filter_map(|s| s.main().map(|m| m.pid))
            .collect();
        // Without a reaper role, a group's members left pidone's subtree when its
        // leader died: they are reached through the group, signalled while the
        // zombie still holds the group id (so that no recycled group is hit).
        let look_first = self.mode.session && !self.mode.reaper;
        let reaped = reap::reap_all(
            &mains,
            look_first,
            self.policy.warn_on_reap,
            |pid, status| {
                if self.ends_leftovers(self.decide_next(self.service_of(pid), status)) {
                    // SAFETY: kill(2) on the group of our unreaped (zombie) child.
                    unsafe { libc::kill(-pid.as_raw(), libc::SIGTERM) };
                }
            },
        );
        self.none_left = reaped.none_left;
        for (pid, status) in reaped.mains {
            let i = self.service_of(pid);
            self.on_exit(i, status);
        }
        for i in 0..self.services.len() {
            if let State::Cleaning { sid, .. } = self.services[i].state
                && !self.leftovers_left(i, sid)
            {
                self.cleaned(i);
            }
        }
        None
    }

    /// The service whose main process is `pid` (one of them: `reap` only asks
    /// about mains).
    fn service_of(&self, pid: Pid) -> usize {
        self.services
            .iter()
            .position(|s| s.main().is_some_and(|m| m.pid == pid))
            .unwrap_or(0)
    }

    /// Service `i`'s main process ended with `status`.
    fn on_exit(&mut self, i: usize, status: c_int) {
        let next = self.decide_next(i, status);
        let State::Running(main) = std::mem::replace(&mut self.services[i].state, State::Ended)
        else {
            return;
        };
        let service = &mut self.services[i];
        service.status = Some(status);
        service.streak =
            restart::streak_after(&self.policy.restart, service.streak, main.started.elapsed());
        self.tell_death(i, &main, status);
        match next {
            Next::Follow => self.follow(i),
            Next::Restart { delay } => {
                // Without a reaper role, the group got TERM in the last rites.
                if self.mode.reaper {
                    self.report.termed += self.signal_leftovers(i, main.pid, libc::SIGTERM);
                }
                let grace = self.policy.grace.unwrap_or(shutdown::DEFAULT_GRACE);
                self.services[i].state = State::Cleaning {
                    sid: main.pid,
                    delay,
                    kill_at: Instant::now() + grace,
                    killed: false,
                };
            }
            Next::Exit => {
                self.first_end.get_or_insert((i, status));
            }
        }
    }

    /// After each event: what the services' states mean for the container. A
    /// service that ended stops the others (unless --wait-all); once no service
    /// runs or will run again, the leftovers get TERM and, once none is left,
    /// pidone exits.
    fn settle(&mut self) -> Option<i32> {
        if self.first_end.is_some() && !self.policy.wait_all && !self.shutdown {
            self.shutdown = true;
            if self.running().next().is_some() {
                self.stop_the_others();
            }
        }
        if self.shutdown {
            for (i, service) in self.services.iter_mut().enumerate() {
                if let State::BackOff { .. } = service.state {
                    service.state = State::Ended;
                    if let Some(status) = service.status {
                        self.first_end.get_or_insert((i, status));
                    }
                }
            }
        }
        let busy = |s: &Service| !matches!(s.state, State::Ended);
        if self.services.iter().any(busy) {
            return None;
        }
        match self.phase {
            Phase::Draining { .. } | Phase::Killed { .. } => {}
            _ if self.none_left => {}
            _ => {
                if !self.policy.wait_all {
                    self.report.termed += shutdown::signal_all(self.mode.self_pid, libc::SIGTERM);
                }
                self.phase = self.draining();
            }
        }
        self.none_left.then(|| self.code())
    }

    /// A service ended the container: the others are asked to stop as `docker
    /// stop` would (TERM, after -r), with the grace period (or 2 s) before KILL.
    fn stop_the_others(&mut self) {
        if let Some((i, _)) = self.first_end {
            info!(
                "{} ended: stopping the other services",
                self.services[i].title()
            );
        }
        let grace = self.policy.grace.unwrap_or(shutdown::DEFAULT_GRACE);
        match self.policy.rewrites.get(libc::SIGTERM) {
            Some(0) => {}
            Some(signo) => self.forward(signo),
            None => self.forward(libc::SIGTERM),
        }
        self.phase = self.stopping(Some(grace));
    }

    /// At the first wakeup: starts watching the limits. Then, and after each
    /// start: reads the running services' OOM counters if they are still to be read.
    fn take_baseline(&mut self) {
        if let Watch::NotYet = self.limits {
            self.limits = Limits::watch(&mut self.wait).map_or(Watch::Off, Watch::On);
        }
        let mut read: Option<MemoryCounters> = None;
        for service in &mut self.services {
            if let Some(main) = service.main_mut().filter(|m| m.memory.is_none()) {
                main.memory = Some(read.get_or_insert_with(MemoryCounters::read).clone());
            }
        }
    }

    /// The line on a death nobody asked for (or a non-zero exit, at info level).
    fn tell_death(&mut self, i: usize, main: &Main, status: c_int) {
        let unread = MemoryCounters::default();
        let (before, after) = match &main.memory {
            Some(before) => (before, before.again()),
            // Dead before the first read: only a KILL makes the counter worth reading now.
            None if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL => {
                (&unread, MemoryCounters::read())
            }
            None => (&unread, MemoryCounters::default()),
        };
        let service = &self.services[i];
        let label = service.label.as_ref();
        let death = Death {
            command: &service.launch.command,
            service: label.map(|l| (l.name.as_str(), l.line.as_str())),
            pid: main.pid.as_raw(),
            ran: main.started.elapsed(),
            status,
            forwarded: main.forwarded,
            before,
            after: &after,
        };
        match diagnose::death(&death) {
            Some((level, line)) => {
                log::log!(level, "{line}");
                self.termination.write(&line);
            }
            None => debug!(
                "{} (pid {}) ended: status {}",
                service.title(),
                main.pid,
                reap::exit_code(status)
            ),
        }
        self.tell_forks(&format!("when {} ended", self.services[i].title()));
    }

    /// The forks that failed at pids.max since the last look (cgroup v1 does
    /// not notify them): a warning line, and the termination message.
    fn tell_forks(&mut self, when: &str) {
        if let Some(line) = self.forks.tell(when) {
            let line = format!("{}: {line}", diagnose::timestamp(SystemTime::now()));
            warn!("{line}");
            self.termination.write(&line);
        }
    }

    /// Whether what a main process leaves gets TERM once it is gone: not when a
    /// daemon is to be followed, nor with --wait-all, nor after the KILL.
    fn ends_leftovers(&self, next: Next) -> bool {
        next != Next::Follow && !(self.policy.wait_all && next == Next::Exit) && !self.killed()
    }

    fn killed(&self) -> bool {
        matches!(self.phase, Phase::Killed { .. })
    }

    fn decide_next(&self, i: usize, status: c_int) -> Next {
        let service = &self.services[i];
        let main = service.main();
        let ctx = Context {
            shutdown: self.shutdown,
            restart_now: service.restart_now,
            forwarded: main.and_then(|m| m.forwarded),
            may_follow: self.policy.pidfile.is_some() && !main.is_some_and(|m| m.followed),
            restarts: service.restarts,
            streak: service.streak,
        };
        restart::next(status, &ctx, &self.policy.restart)
    }

    /// How long leftovers get once no service runs.
    fn draining(&self) -> Phase {
        let grace = self.policy.grace;
        if self.policy.wait_all {
            info!("the workload exited; waiting for the other processes (--wait-all)");
            return Phase::Draining {
                kill_at: grace.map(|g| Instant::now() + g),
            };
        }
        Phase::Draining {
            kill_at: Some(Instant::now() + grace.unwrap_or(shutdown::DEFAULT_GRACE)),
        }
    }

    /// The launcher of service `i` exited 0: supervise the daemon its pidfile names.
    fn follow(&mut self, i: usize) {
        let path = self.policy.pidfile.clone().unwrap_or_default();
        match pidfile::follow(&path, self.mode.self_pid) {
            Ok(pid) => {
                info!("following the daemon {pid} from {}", path.display());
                let main = Main::new(pid, false, true, Some(MemoryCounters::read()));
                self.services[i].state = State::Running(main);
            }
            Err(e) => {
                error!("{e}");
                self.services[i].status = Some(1 << 8);
                self.first_end.get_or_insert((i, 1 << 8));
            }
        }
    }

    /// Starts service `i` again after its back-off.
    fn start(&mut self, i: usize) {
        let pipes = match self.relay.as_mut().map(|r| r.pipes(i)).transpose() {
            Ok(pipes) => pipes,
            Err(errno) => {
                error!("cannot create a pipe: {}", crate::error::describe(errno));
                None
            }
        };
        let stdio = pipes.as_ref().map(|[o, e]| [o.as_raw_fd(), e.as_raw_fd()]);
        let service = &mut self.services[i];
        let counted = !std::mem::take(&mut service.restart_now);
        let setup = spawn::Setup {
            stdio,
            ..service.launch.setup
        };
        match spawn::spawn(&service.launch.command, setup) {
            Ok(pid) => {
                if counted {
                    service.restarts += 1;
                    service.streak += 1;
                }
                info!(
                    "restarted {} (pid {pid}, restart {})",
                    service.title(),
                    service.restarts
                );
                let group = service.launch.setup.session;
                let main = Main::new(pid, group, false, Some(MemoryCounters::read()));
                service.state = State::Running(main);
            }
            Err(e) => {
                // As if the service had exited with the status pidone would exit with.
                match &service.label {
                    Some(label) => error!("the service '{}': {e}", label.name),
                    None => error!("{e}"),
                }
                service.restarts += 1;
                service.streak += 1;
                let status = (e.exit_code() & 0xff) << 8;
                service.status = Some(status);
                service.state = State::Ended;
                self.not_started(i, status);
            }
        }
    }

    /// Service `i` could not be started (its status says why): it backs off
    /// and tries again, or ends.
    fn not_started(&mut self, i: usize, status: c_int) {
        match self.decide_next(i, status) {
            Next::Restart { delay } => {
                self.services[i].state = State::BackOff {
                    until: Instant::now() + delay,
                };
            }
            _ => {
                self.first_end.get_or_insert((i, status));
            }
        }
    }

    /// One line on how it ended: at info level, or warning when KILL was needed;
    /// the termination message too, when no death line or limit event was
    /// written there. Not even formatted when neither wants it (the default).
    fn explain(&mut self, code: i32) {
        let Report { termed, killed, .. } = self.report;
        let level = if killed > 0 { Level::Warn } else { Level::Info };
        let tell = !self.termination.written() && self.termination.wanted();
        if !log_enabled!(level) && !tell {
            return;
        }
        let (title, status) = match self.first_end {
            Some((i, status)) => (self.services[i].title(), Some(status)),
            None => (
                "the workload".to_string(),
                self.services.iter().find_map(|s| s.status),
            ),
        };
        let main = match status.map(reap::exit_code) {
            Some(c) if c > 128 => format!("{title} was killed by {}", Name(c - 128)),
            Some(c) => format!("{title} exited with {c}"),
            None => format!("{title}'s status is unknown"),
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
        // Each service's own restarts, named (the single workload's: "after N").
        let restarted: Vec<String> = (self.services.iter())
            .filter(|s| s.restarts > 0)
            .map(|s| match &s.label {
                Some(label) => format!("{} {}", label.name, s.restarts),
                None => s.restarts.to_string(),
            })
            .collect();
        let restarts = match (&self.services[..], restarted.is_empty()) {
            (_, true) => String::new(),
            ([_], false) => format!(" after {} restart(s)", restarted.join("")),
            _ => format!("; restarts: {}", restarted.join(", ")),
        };
        let line = format!(
            "exiting with status {code}: {main}{restarts}{cause}; {termed} leftover process(es) got TERM, {killed} process(es) needed KILL"
        );
        log!(level, "{line}");
        if tell {
            let stamped = format!("{}: {line}", diagnose::timestamp(SystemTime::now()));
            self.termination.write(&stamped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
