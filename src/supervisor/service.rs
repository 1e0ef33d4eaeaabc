//! One service: how it is started, its main process while it runs, and where it
//! is between runs. The single workload is the one service of a list of one,
//! with no name; a Procfile gives several, each with its own back-off and
//! restart counters. What belongs to the container as a whole (the shutdown,
//! the exit status, the report) is the supervisor's.

use crate::diagnose::MemoryCounters;
use crate::signals::Name;
use crate::spawn;
use libc::c_int;
use log::debug;
use nix::unistd::Pid;
use std::ffi::OsString;
use std::time::{Duration, Instant};

/// How to start a service (again).
#[derive(Clone, Debug)]
pub struct Launch {
    pub command: Vec<OsString>,
    pub setup: spawn::Setup,
}

/// A service's main process while it is unreaped: only then may it, or its
/// process group, be signalled.
#[derive(Clone, Debug)]
pub struct Main {
    pub pid: Pid,
    /// Signals go to its process group (not with -c, nor to a followed daemon).
    pub group: bool,
    /// A daemon found through --pidfile, not a process pidone started.
    pub followed: bool,
    pub started: Instant,
    /// The last signal forwarded to it.
    pub forwarded: Option<c_int>,
    /// Its memory cgroup's OOM counters when it started, or (first start) at
    /// pidone's first wakeup after it: `None` until read.
    pub memory: Option<MemoryCounters>,
    /// `--restart-signal`: it was sent TERM, and gets KILL at this moment.
    pub kill_at: Option<Instant>,
}

/// The first start leaves the OOM counters to pidone's first wakeup, at the latest
/// this long after it: a fresh process's first read of /proc/self costs tens of
/// microseconds, a large part of an init's whole start, and the workload is
/// starting meanwhile.
const BASELINE_AFTER: Duration = Duration::from_millis(10);

impl Main {
    pub fn new(pid: Pid, group: bool, followed: bool, memory: Option<MemoryCounters>) -> Self {
        Main {
            pid,
            group,
            followed,
            started: Instant::now(),
            forwarded: None,
            memory,
            kill_at: None,
        }
    }

    /// When its OOM counters must be read, if they have not been.
    fn baseline_due(&self) -> Option<Instant> {
        self.memory.is_none().then(|| self.started + BASELINE_AFTER)
    }
}

/// Where a service is.
#[derive(Clone, Debug)]
pub enum State {
    Running(Main),
    /// Its main process (`sid`, the leader of its session) is gone and it will
    /// start again: what it left got TERM; once none of it is left (or at
    /// `kill_at`: KILL, then `KILL_WAIT` more) it backs off for `delay`.
    Cleaning {
        sid: Pid,
        delay: Duration,
        kill_at: Instant,
        killed: bool,
    },
    /// Nothing of it runs; it starts again at `until`.
    BackOff {
        until: Instant,
    },
    /// It will not run again.
    Ended,
}

/// A Procfile service's name and its command as written there.
#[derive(Clone, Debug)]
pub struct Label {
    pub name: String,
    pub line: String,
}

pub struct Service {
    /// `None` for the single workload.
    pub label: Option<Label>,
    pub launch: Launch,
    pub state: State,
    /// The wait status of its last main process.
    pub status: Option<c_int>,
    /// Restarts so far (the restart signal's do not count).
    pub restarts: u32,
    /// Quick failures in a row, for the back-off.
    pub streak: u32,
    /// The restart signal was received: start again at once, uncounted.
    pub restart_now: bool,
}

impl Service {
    pub fn new(label: Option<Label>, launch: Launch, pid: Pid) -> Self {
        let group = launch.setup.session;
        Service {
            label,
            launch,
            state: State::Running(Main::new(pid, group, false, None)),
            status: None,
            restarts: 0,
            streak: 0,
            restart_now: false,
        }
    }

    /// A service that could not be started: as if it had ended with `status`.
    pub fn failed(label: Option<Label>, launch: Launch, status: c_int) -> Self {
        Service {
            label,
            launch,
            state: State::Ended,
            status: Some(status),
            restarts: 0,
            streak: 0,
            restart_now: false,
        }
    }

    pub fn main(&self) -> Option<&Main> {
        match &self.state {
            State::Running(main) => Some(main),
            _ => None,
        }
    }

    pub fn main_mut(&mut self) -> Option<&mut Main> {
        match &mut self.state {
            State::Running(main) => Some(main),
            _ => None,
        }
    }

    /// The next moment something is due for it.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Running(main) => main.baseline_due().into_iter().chain(main.kill_at).min(),
            State::Cleaning { kill_at, .. } => Some(*kill_at),
            State::BackOff { until } => Some(*until),
            State::Ended => None,
        }
    }

    /// `the workload 'cmd'` or `the service 'web'`, for log lines.
    pub fn title(&self) -> String {
        match &self.label {
            Some(label) => format!("the service '{}'", label.name),
            None => "the workload".to_string(),
        }
    }

    /// Sends `signo` to the main process's group (or to it alone, with -c or
    /// when it is a followed daemon). It is unreaped, so its pid and group id
    /// cannot have been recycled.
    pub fn forward(&mut self, signo: c_int) {
        let Some(main) = self.main_mut() else {
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
}
