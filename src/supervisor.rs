//! The event loop: one blocking wait for the next signal or deadline, one
//! decision about it. The loop is an explicit state machine (`Phase`); the
//! decisions that need no syscall (`decide`, `is_terminating`) are plain functions.

use crate::error::Error;
use crate::reap;
use crate::shutdown;
use crate::signals::{self, Name, Received, Rewrites, SignalSet};
use libc::c_int;
use log::{debug, info, warn};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// How pidone and its child are set up.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// The child leads its own session and process group: signals go to the group.
    pub session: bool,
    /// pidone shares an interactive shell's terminal: stop itself on TSTP/TTIN/TTOU.
    pub job_control: bool,
    /// pidone is PID 1 or a subreaper: every descendant stays in its subtree.
    pub reaper: bool,
    pub self_pid: libc::pid_t,
}

/// What the user asked of the shutdown.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub rewrites: Rewrites,
    /// After a terminating signal is forwarded, KILL everything if the main
    /// child is still there after this long. Also bounds the wait for leftovers.
    pub grace: Option<Duration>,
    /// Hold the first terminating signal this long before forwarding it.
    pub stop_delay: Option<Duration>,
    /// When the main child exits, wait for every other process instead of
    /// terminating them.
    pub wait_all: bool,
    /// Log each reaped zombie that is not the main child at warning level.
    pub warn_on_reap: bool,
}

/// What to do with one signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Reap,
    Forward { signo: c_int, then_stop: bool },
    Ignore,
}

fn is_terminal_stop(signo: c_int) -> bool {
    matches!(signo, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

/// The signals that ask the workload to end: forwarding one starts the grace period.
pub fn is_terminating(signo: c_int) -> bool {
    matches!(
        signo,
        libc::SIGTERM | libc::SIGINT | libc::SIGQUIT | libc::SIGHUP
    )
}

pub fn decide(sig: &Received, mode: &Mode, rewrites: &Rewrites) -> Action {
    let then_stop = mode.job_control && is_terminal_stop(sig.signo);
    match sig.signo {
        libc::SIGCHLD => Action::Reap,
        // pidone's own write to a closed pipe or past RLIMIT_FSIZE: meant for pidone.
        libc::SIGPIPE | libc::SIGXFSZ if sig.sender == mode.self_pid => Action::Ignore,
        s => match rewrites.get(s) {
            Some(0) => Action::Ignore,
            Some(to) => Action::Forward {
                signo: to,
                then_stop,
            },
            // A group in a session of its own is orphaned, and the kernel discards
            // TSTP/TTIN/TTOU sent to an orphaned group: STOP is what stops it (dumb-init's way).
            None if mode.session && is_terminal_stop(s) => Action::Forward {
                signo: libc::SIGSTOP,
                then_stop,
            },
            None => Action::Forward {
                signo: s,
                then_stop,
            },
        },
    }
}

/// Where the shutdown is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The main child runs and nobody asked it to stop.
    Running,
    /// `--stop-delay`: the first terminating signal waits until `until`.
    Holding { signo: c_int, until: Instant },
    /// A terminating signal was forwarded; KILL at `kill_at` (with `--grace-period`).
    Stopping { kill_at: Option<Instant> },
    /// The main child is gone; the others were sent TERM (or, with `--wait-all`,
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
    cause: Option<Received>,
    termed: usize,
    killed: usize,
}

/// Watches the main child and the processes it leaves, and returns pidone's exit code.
pub struct Supervisor {
    mode: Mode,
    policy: Policy,
    signals: SignalSet,
    /// The main child while it is unreaped: only then may it or its group be signalled.
    child: Option<Pid>,
    /// The main child's exit code once it is reaped.
    code: Option<i32>,
    phase: Phase,
    report: Report,
}

impl Supervisor {
    pub fn new(mode: Mode, policy: Policy, signals: SignalSet, child: Pid) -> Self {
        let (code, phase, report) = (None, Phase::Running, Report::default());
        Supervisor {
            mode,
            policy,
            signals,
            child: Some(child),
            code,
            phase,
            report,
        }
    }

    pub fn run(mut self) -> Result<i32, Error> {
        loop {
            let sig = signals::wait(&self.signals, self.phase.deadline()).map_err(|errno| {
                Error::Sys {
                    op: "wait for signals",
                    errno,
                }
            })?;
            let done = match sig {
                Some(sig) => self.on_signal(sig),
                None => self.on_deadline(),
            };
            if let Some(code) = done {
                self.explain(code);
                return Ok(code);
            }
        }
    }

    fn on_signal(&mut self, sig: Received) -> Option<i32> {
        let (signo, then_stop) = match decide(&sig, &self.mode, &self.policy.rewrites) {
            Action::Reap => return self.reap(),
            Action::Ignore => {
                debug!("ignored {} from pid {}", Name(sig.signo), sig.sender);
                return None;
            }
            Action::Forward { signo, then_stop } => (signo, then_stop),
        };
        debug!("received {} from pid {}", Name(sig.signo), sig.sender);
        if self.child.is_none() {
            // --wait-all, or leftovers draining: they get what the workload would have.
            shutdown::signal_all(self.mode.self_pid, signo);
            return None;
        }
        if is_terminating(signo) {
            self.report.cause.get_or_insert(sig);
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
        if then_stop {
            // SAFETY: kill on our own pid; job control is never on for PID 1.
            unsafe { libc::kill(self.mode.self_pid, libc::SIGSTOP) };
        }
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
                if let Some(child) = self.child {
                    // The group too, for members that left pidone's subtree (plain mode).
                    self.forward_to(child, libc::SIGKILL);
                }
                self.phase = Phase::Killed {
                    give_up_at: Instant::now() + shutdown::KILL_WAIT,
                };
                self.reap()
            }
            Phase::Killed { .. } => {
                warn!(
                    "processes survived SIGKILL for {:?}; exiting without them",
                    shutdown::KILL_WAIT
                );
                Some(self.code.unwrap_or(128 + libc::SIGKILL))
            }
        }
    }

    /// The phase after a terminating signal is forwarded: KILL after the grace period, if set.
    fn stopping(&self) -> Phase {
        Phase::Stopping {
            kill_at: self.policy.grace.map(|g| Instant::now() + g),
        }
    }

    /// Sends `signo` to the main child's process group, or to the child alone in
    /// single-child mode.
    fn forward(&self, signo: c_int) {
        if let Some(child) = self.child {
            self.forward_to(child, signo);
        }
    }

    /// `child` must be unreaped, so that its pid (and group id) cannot have been recycled.
    fn forward_to(&self, child: Pid, signo: c_int) {
        let target = if self.mode.session {
            -child.as_raw()
        } else {
            child.as_raw()
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

    /// Reaps every zombie. When the main child goes, what it leaves gets TERM
    /// (unless --wait-all); once no process is left, returns the exit code.
    fn reap(&mut self) -> Option<i32> {
        let terminate = !self.policy.wait_all && !matches!(self.phase, Phase::Killed { .. });
        let (mode, child) = (self.mode, self.child);
        let mut termed = None;
        // Runs while the main child is an unreaped zombie, which holds its pid
        // and process group id: no recycled pid can be hit.
        let last_rites = || {
            if terminate {
                termed = Some(shutdown::signal_all(mode.self_pid, libc::SIGTERM));
                // Without a reaper role, the group's members left pidone's subtree
                // when the workload died: they are reached through the group.
                if let (true, false, Some(child)) = (mode.session, mode.reaper, child) {
                    // SAFETY: kill(2) on the group of our unreaped (zombie) child.
                    unsafe { libc::kill(-child.as_raw(), libc::SIGTERM) };
                }
            }
        };
        let reaped = reap::reap_all(self.child, self.policy.warn_on_reap, last_rites);
        if let Some(code) = reaped.main {
            self.child = None;
            self.code = Some(code);
            self.report.termed = termed.unwrap_or(0);
            if !reaped.none_left && terminate {
                let grace = self.policy.grace.unwrap_or(shutdown::DEFAULT_GRACE);
                self.phase = Phase::Draining {
                    kill_at: Some(Instant::now() + grace),
                };
            } else if !reaped.none_left && self.policy.wait_all {
                info!("the workload exited; waiting for the other processes (--wait-all)");
                self.phase = Phase::Draining {
                    kill_at: self.policy.grace.map(|g| Instant::now() + g),
                };
            }
        }
        if reaped.none_left { self.code } else { None }
    }

    /// One line on how it ended: at info level, or warning when KILL was needed.
    fn explain(&self, code: i32) {
        let main = match self.code {
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
        let Report { termed, killed, .. } = self.report;
        let line = format!(
            "exiting with status {code}: {main}{cause}; {termed} leftover process(es) got TERM, {killed} process(es) needed KILL"
        );
        if killed > 0 {
            warn!("{line}")
        } else {
            info!("{line}")
        }
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

    fn forward(signo: c_int) -> Action {
        Action::Forward {
            signo,
            then_stop: false,
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
            assert_eq!(decide(&sig(s, 99), &mode(true, false), &none), forward(s));
        }
    }

    #[test]
    fn sigchld_reaps_and_self_inflicted_pipe_is_ignored() {
        let none = Rewrites::default();
        assert_eq!(
            decide(&sig(libc::SIGCHLD, 5), &mode(true, false), &none),
            Action::Reap
        );
        assert_eq!(
            decide(&sig(libc::SIGPIPE, SELF), &mode(true, false), &none),
            Action::Ignore
        );
        assert_eq!(
            decide(&sig(libc::SIGPIPE, 99), &mode(true, false), &none),
            forward(libc::SIGPIPE)
        );
    }

    #[test]
    fn terminal_stops_become_stop_for_a_session_and_stop_pidone_under_a_shell() {
        let none = Rewrites::default();
        let tstp = sig(libc::SIGTSTP, 0);
        let stop_both = Action::Forward {
            signo: libc::SIGSTOP,
            then_stop: true,
        };
        assert_eq!(decide(&tstp, &mode(true, true), &none), stop_both);
        assert_eq!(
            decide(&tstp, &mode(false, false), &none),
            forward(libc::SIGTSTP)
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
            forward(libc::SIGQUIT)
        );
        assert_eq!(decide(&sig(libc::SIGUSR1, 9), &m, &rules), Action::Ignore);
        assert_eq!(
            decide(&sig(libc::SIGTSTP, 9), &m, &rules),
            forward(libc::SIGUSR2)
        );
        assert_eq!(decide(&sig(libc::SIGCHLD, 9), &m, &rules), Action::Reap);
    }

    #[test]
    fn terminating_signals_are_the_ones_that_ask_to_end() {
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP] {
            assert!(is_terminating(s));
        }
        for s in [libc::SIGUSR1, libc::SIGWINCH, libc::SIGCONT, libc::SIGKILL] {
            assert!(!is_terminating(s));
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
