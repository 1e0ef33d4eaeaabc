//! What one received signal means, as a pure decision: reap, forward (as what),
//! drop, or nothing at all. The supervisor carries it out.

use super::Mode;
use crate::signals::{self, Received, Rewrites};
use libc::c_int;

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
}
