//! Whether the workload starts again after its main process exits, and after how
//! long. Pure decisions with no syscalls: the supervisor carries them out.

use crate::config::{Restart, RestartPolicy as Policy};
use libc::c_int;
use std::time::Duration;

/// What follows the main child's exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Terminate what is left and exit with the workload's status.
    Exit,
    /// Clean up what is left, wait `delay`, start the workload again.
    Restart { delay: Duration },
    /// The main child daemonized: supervise the pid its pidfile names.
    Follow,
}

/// What pidone knows about the exit beyond its status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// A stop signal was forwarded: somebody wants the workload to end.
    pub shutdown: bool,
    /// The restart signal was received: start again at once.
    pub restart_now: bool,
    /// The last signal pidone forwarded to this process.
    pub forwarded: Option<c_int>,
    /// A pidfile is set and this process is the launcher, not the daemon.
    pub may_follow: bool,
    /// Restarts so far (the restart signal's do not count).
    pub restarts: u32,
    /// Quick failures in a row, for the back-off.
    pub streak: u32,
}

pub fn next(status: c_int, ctx: &Context, restart: &Restart) -> Next {
    if ctx.shutdown {
        return Next::Exit;
    }
    if ctx.restart_now {
        return Next::Restart {
            delay: Duration::ZERO,
        };
    }
    let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if ctx.may_follow && clean {
        return Next::Follow;
    }
    let failed = if libc::WIFSIGNALED(status) {
        Some(libc::WTERMSIG(status)) != ctx.forwarded
    } else {
        !clean
    };
    let wanted = match restart.policy {
        Policy::No => false,
        Policy::OnFailure => failed,
        Policy::Always => true,
    };
    if !wanted || restart.max_restarts.is_some_and(|max| ctx.restarts >= max) {
        return Next::Exit;
    }
    Next::Restart {
        delay: backoff(restart, ctx.streak),
    }
}

/// The first delay doubled `streak` times, at most the longest delay.
pub fn backoff(restart: &Restart, streak: u32) -> Duration {
    let factor = 2u32.saturating_pow(streak.min(31));
    restart.delay.saturating_mul(factor).min(restart.max_delay)
}

/// The streak after a run of `ran`: a run as long as the longest delay resets it.
pub fn streak_after(restart: &Restart, streak: u32, ran: Duration) -> u32 {
    if ran >= restart.max_delay { 0 } else { streak }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXIT_0: c_int = 0;
    const EXIT_3: c_int = 3 << 8;
    const KILLED_BY_TERM: c_int = libc::SIGTERM;
    const SEGV_CORE: c_int = libc::SIGSEGV | 0x80;

    fn policy(policy: Policy) -> Restart {
        Restart {
            policy,
            ..Restart::default()
        }
    }

    fn restarts(status: c_int, ctx: Context, restart: Restart) -> bool {
        matches!(next(status, &ctx, &restart), Next::Restart { .. })
    }

    #[test]
    fn policies() {
        let ctx = Context::default();
        for status in [EXIT_0, EXIT_3, SEGV_CORE] {
            assert!(!restarts(status, ctx, policy(Policy::No)));
            assert!(restarts(status, ctx, policy(Policy::Always)));
        }
        assert!(!restarts(EXIT_0, ctx, policy(Policy::OnFailure)));
        assert!(restarts(EXIT_3, ctx, policy(Policy::OnFailure)));
        assert!(restarts(SEGV_CORE, ctx, policy(Policy::OnFailure)));
        // Death by a signal pidone forwarded is not a failure.
        let forwarded = Context {
            forwarded: Some(libc::SIGTERM),
            ..ctx
        };
        assert!(!restarts(
            KILLED_BY_TERM,
            forwarded,
            policy(Policy::OnFailure)
        ));
        assert!(restarts(KILLED_BY_TERM, ctx, policy(Policy::OnFailure)));
    }

    #[test]
    fn shutdown_stops_restarting_and_the_restart_signal_forces_it() {
        let always = policy(Policy::Always);
        let shutdown = Context {
            shutdown: true,
            restart_now: true,
            ..Context::default()
        };
        assert_eq!(next(EXIT_3, &shutdown, &always), Next::Exit);
        let now = Context {
            restart_now: true,
            restarts: 9,
            ..Context::default()
        };
        let limited = Restart {
            max_restarts: Some(1),
            ..policy(Policy::No)
        };
        assert_eq!(
            next(EXIT_0, &now, &limited),
            Next::Restart {
                delay: Duration::ZERO
            }
        );
    }

    #[test]
    fn max_restarts_gives_up() {
        let limited = Restart {
            max_restarts: Some(2),
            ..policy(Policy::Always)
        };
        let ctx = |restarts| Context {
            restarts,
            ..Context::default()
        };
        assert!(restarts(EXIT_3, ctx(1), limited));
        assert_eq!(next(EXIT_3, &ctx(2), &limited), Next::Exit);
    }

    #[test]
    fn a_clean_exit_of_the_launcher_is_followed() {
        let ctx = Context {
            may_follow: true,
            ..Context::default()
        };
        assert_eq!(next(EXIT_0, &ctx, &policy(Policy::No)), Next::Follow);
        assert_eq!(next(EXIT_3, &ctx, &policy(Policy::No)), Next::Exit);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_resets_after_a_long_run() {
        let r = Restart::default();
        let delays: Vec<u128> = (0..12).map(|s| backoff(&r, s).as_millis()).collect();
        assert_eq!(&delays[..5], [100, 200, 400, 800, 1600]);
        assert_eq!(delays[11], 30_000);
        assert_eq!(backoff(&r, u32::MAX), r.max_delay);
        assert_eq!(streak_after(&r, 5, Duration::from_secs(1)), 5);
        assert_eq!(streak_after(&r, 5, Duration::from_secs(30)), 0);
    }
}
