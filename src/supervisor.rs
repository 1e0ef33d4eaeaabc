//! The event loop: one blocking wait for the next signal, one decision about what
//! it means. The decision (`decide`) is a pure function; the syscalls that carry it
//! out (kill, waitpid) live in the loop around it.

use crate::error::Error;
use crate::reap;
use crate::signals::{self, Name, Received, SignalSet};
use libc::c_int;
use log::debug;
use nix::unistd::Pid;

/// What the loop needs to know to decide about a signal.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// The child leads its own session and process group: signals go to the group.
    pub session: bool,
    /// pidone shares an interactive shell's terminal: stop itself on TSTP/TTIN/TTOU.
    pub job_control: bool,
    pub self_pid: libc::pid_t,
}

/// What to do with one signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Reap,
    Forward { signo: c_int, then_stop: bool },
    Ignore,
}

/// The signals a terminal sends to stop a job.
fn is_terminal_stop(signo: c_int) -> bool {
    matches!(signo, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

pub fn decide(sig: &Received, mode: &Mode) -> Action {
    match sig.signo {
        libc::SIGCHLD => Action::Reap,
        // pidone's own write to a closed pipe or past RLIMIT_FSIZE: meant for pidone.
        libc::SIGPIPE | libc::SIGXFSZ if sig.sender == mode.self_pid => Action::Ignore,
        // A group in a session of its own is orphaned, and the kernel discards
        // TSTP/TTIN/TTOU sent to an orphaned group: STOP is what stops it (dumb-init's way).
        s if is_terminal_stop(s) => Action::Forward {
            signo: if mode.session { libc::SIGSTOP } else { s },
            then_stop: mode.job_control,
        },
        s => Action::Forward {
            signo: s,
            then_stop: false,
        },
    }
}

/// Watches the main child until it exits, and returns pidone's exit code.
pub struct Supervisor {
    pub mode: Mode,
    pub child: Pid,
    pub signals: SignalSet,
    /// Log each reaped zombie that is not the main child at warning level.
    pub warn_on_reap: bool,
}

impl Supervisor {
    pub fn run(self) -> Result<i32, Error> {
        loop {
            let sig = signals::wait(&self.signals, None).map_err(|errno| Error::Sys {
                op: "wait for signals",
                errno,
            })?;
            let Some(sig) = sig else { continue };
            match decide(&sig, &self.mode) {
                Action::Reap => {
                    if let Some(code) = self.reap() {
                        return Ok(code);
                    }
                }
                Action::Forward { signo, then_stop } => {
                    debug!("received {} from pid {}", Name(sig.signo), sig.sender);
                    self.forward(signo);
                    if then_stop {
                        // SAFETY: kill on our own pid; we are not PID 1 here (job_control).
                        unsafe { libc::kill(self.mode.self_pid, libc::SIGSTOP) };
                    }
                }
                Action::Ignore => debug!("ignored {} from pid {}", Name(sig.signo), sig.sender),
            }
        }
    }

    /// Sends `signo` to the child's process group, or to the child alone in
    /// single-child mode. Only called while the child is unreaped, so its pid
    /// (and group id) cannot have been recycled.
    fn forward(&self, signo: c_int) {
        let target = if self.mode.session {
            -self.child.as_raw()
        } else {
            self.child.as_raw()
        };
        // SAFETY: kill(2) with a valid signal; target is our unreaped child or its group.
        if unsafe { libc::kill(target, signo) } == 0 {
            debug!("forwarded {} to {target}", Name(signo));
        } else {
            debug!(
                "cannot forward {} to {target}: {}",
                Name(signo),
                nix::errno::Errno::last().desc()
            );
        }
    }

    /// Reaps every zombie and returns the main child's exit code once it is
    /// reaped. Just before that, TERM goes to what remains of its process group.
    fn reap(&self) -> Option<i32> {
        let last_rites = || {
            if self.mode.session {
                self.forward(libc::SIGTERM);
            }
        };
        reap::reap_all(Some(self.child), self.warn_on_reap, last_rites).main
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
            self_pid: SELF,
        }
    }

    #[test]
    fn ordinary_signals_are_forwarded_as_they_are() {
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGWINCH,
            libc::SIGCONT,
        ] {
            assert_eq!(
                decide(&sig(s, 99), &mode(true, false)),
                Action::Forward {
                    signo: s,
                    then_stop: false
                }
            );
        }
    }

    #[test]
    fn sigchld_reaps_and_self_inflicted_pipe_is_ignored() {
        assert_eq!(
            decide(&sig(libc::SIGCHLD, 5), &mode(true, false)),
            Action::Reap
        );
        assert_eq!(
            decide(&sig(libc::SIGPIPE, SELF), &mode(true, false)),
            Action::Ignore
        );
        let from_user = decide(&sig(libc::SIGPIPE, 99), &mode(true, false));
        assert_eq!(
            from_user,
            Action::Forward {
                signo: libc::SIGPIPE,
                then_stop: false
            }
        );
    }

    #[test]
    fn terminal_stops_become_stop_for_a_session_and_stop_pidone_under_a_shell() {
        let tstp = sig(libc::SIGTSTP, 0);
        assert_eq!(
            decide(&tstp, &mode(true, true)),
            Action::Forward {
                signo: libc::SIGSTOP,
                then_stop: true
            }
        );
        assert_eq!(
            decide(&tstp, &mode(false, false)),
            Action::Forward {
                signo: libc::SIGTSTP,
                then_stop: false
            }
        );
    }
}
