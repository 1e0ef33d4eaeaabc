//! The death line: one line on a workload death nobody asked for (a signal pidone
//! did not forward, a core dump, the OOM killer), from the wait status and counters.
//!
//! Pure: the supervisor gathers the facts in a `Death` and logs what comes back.

use super::counters::MemoryCounters;
use super::text::{duration, one_line, quote, short, timestamp};
use log::Level;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// How the workload ended, as the supervisor saw it.
#[derive(Clone, Copy, Debug)]
pub struct Death<'a> {
    pub command: &'a [OsString],
    /// A Procfile service: its name and its command as written there.
    pub service: Option<(&'a str, &'a str)>,
    pub pid: i32,
    pub ran: Duration,
    /// The raw wait status.
    pub status: libc::c_int,
    /// The last signal pidone sent the workload (forwarded, or KILL at the end of
    /// the grace period), if any: a death by it was asked for.
    pub forwarded: Option<libc::c_int>,
    pub before: &'a MemoryCounters,
    pub after: &'a MemoryCounters,
}

/// One line about how the workload ended, and its level: `None` when nothing
/// needs saying (exit 0, or a death by a signal pidone sent).
pub fn death(report: &Death) -> Option<(Level, String)> {
    death_at(report, SystemTime::now())
}

/// `death`, with the clock as an argument.
pub fn death_at(report: &Death, now: SystemTime) -> Option<(Level, String)> {
    let status = report.status;
    let oom = moved(report.before.oom_kill, report.after.oom_kill);
    // Dead before pidone first read the counter: it is read now, with no baseline.
    let unread = match (report.before.oom_kill, report.after.oom_kill) {
        (None, Some(n)) if n > 0 => Some(n),
        _ => None,
    };
    let failed = moved(report.before.failcnt, report.after.failcnt);
    let cgroup = report
        .after
        .cgroup
        .as_deref()
        .or(report.before.cgroup.as_deref())
        .unwrap_or("?");
    let oom_counts = |(a, b): (u64, u64)| format!("oom_kill {a} → {b} in memory cgroup {cgroup}");
    let (level, verb, cause) = if libc::WIFSIGNALED(status) {
        let signo = libc::WTERMSIG(status);
        let mut cause = match oom {
            Some(counts) if signo == libc::SIGKILL => {
                format!("killed by the kernel OOM killer ({})", oom_counts(counts))
            }
            _ if report.forwarded == Some(signo) && oom.is_none() => return None,
            _ => match unread {
                Some(n) if signo == libc::SIGKILL => format!(
                    "killed by SIGKILL, likely by the kernel OOM killer (oom_kill {n} in memory cgroup {cgroup}, first read after the death)"
                ),
                _ => format!("killed by {}", signal_name(signo)),
            },
        };
        if libc::WCOREDUMP(status) {
            cause.push_str(" (core dumped)");
        }
        match (oom, failed) {
            (Some(counts), _) if signo != libc::SIGKILL => {
                let _ = write!(
                    cause,
                    "; the kernel OOM killer struck meanwhile ({})",
                    oom_counts(counts)
                );
            }
            (None, Some((a, b))) if signo == libc::SIGKILL => {
                let _ = write!(
                    cause,
                    "; memory cgroup {cgroup} hit its limit (failcnt {a} → {b}): likely the OOM killer"
                );
            }
            _ => {}
        }
        (Level::Warn, "died", cause)
    } else {
        let code = libc::WEXITSTATUS(status);
        let mut cause = format!("exited with status {code}");
        match oom {
            Some(counts) => {
                let _ = write!(
                    cause,
                    "; the kernel OOM killer struck meanwhile ({})",
                    oom_counts(counts)
                );
                (Level::Warn, "ended", cause)
            }
            None if code == 0 => return None,
            None => (Level::Info, "ended", cause),
        }
    };
    let who = match report.service {
        Some((name, line)) => format!(
            "the service '{}' ({}, pid {})",
            one_line(name),
            short(&one_line(line)),
            report.pid
        ),
        None => format!(
            "the workload '{}' (pid {})",
            quote(report.command),
            report.pid
        ),
    };
    let line = format!(
        "{}: {who} {verb} after {}: {cause}",
        timestamp(now),
        duration(report.ran),
    );
    Some((level, line))
}

/// `(before, after)` when a counter grew.
fn moved(before: Option<u64>, after: Option<u64>) -> Option<(u64, u64)> {
    match (before, after) {
        (Some(a), Some(b)) if b > a => Some((a, b)),
        _ => None,
    }
}

/// `SIGSEGV`, `SIGRTMIN+3`, or `signal 99`.
fn signal_name(signo: libc::c_int) -> String {
    let name = crate::signals::Name(signo).to_string();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("signal {name}")
    } else {
        format!("SIG{name}")
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn counters(oom_kill: u64, failcnt: u64) -> MemoryCounters {
        MemoryCounters {
            cgroup: Some("/docker/abc".into()),
            oom_kill: Some(oom_kill),
            failcnt: Some(failcnt),
            files: None,
        }
    }

    /// The line for `status`, with the timestamp and prefix checked and cut off.
    fn line(
        status: i32,
        forwarded: Option<i32>,
        before: &MemoryCounters,
        after: &MemoryCounters,
    ) -> Option<(Level, String)> {
        let command = [OsString::from("php-fpm"), OsString::from("-F")];
        let death = Death {
            command: &command,
            service: None,
            pid: 7,
            ran: Duration::from_millis(3200),
            status,
            forwarded,
            before,
            after,
        };
        let (level, line) = death_at(&death, at(1_795_454_405))?;
        let rest = line
            .strip_prefix("2026-11-23T17:20:05Z: the workload 'php-fpm -F' (pid 7) ")
            .unwrap_or_else(|| panic!("{line}"));
        Some((level, rest.to_owned()))
    }

    const CORE: i32 = 0x80;

    #[test]
    fn signal_deaths_nobody_asked_for_are_warnings() {
        let none = MemoryCounters::default();
        assert_eq!(
            line(libc::SIGSEGV | CORE, None, &none, &none),
            Some((
                Level::Warn,
                "died after 3.2s: killed by SIGSEGV (core dumped)".into()
            ))
        );
        assert_eq!(
            line(libc::SIGSEGV, Some(libc::SIGTERM), &none, &none),
            Some((Level::Warn, "died after 3.2s: killed by SIGSEGV".into()))
        );
        assert_eq!(
            line(libc::SIGRTMIN() + 2, None, &none, &none),
            Some((Level::Warn, "died after 3.2s: killed by SIGRTMIN+2".into()))
        );
        // Forwarded (or sent at the end of the grace period): expected, nothing to say.
        assert_eq!(line(libc::SIGTERM, Some(libc::SIGTERM), &none, &none), None);
        assert_eq!(line(libc::SIGKILL, Some(libc::SIGKILL), &none, &none), None);
    }

    #[test]
    fn exits_are_quiet_or_info() {
        let none = MemoryCounters::default();
        assert_eq!(line(0, None, &none, &none), None);
        assert_eq!(line(0, Some(libc::SIGTERM), &none, &none), None);
        assert_eq!(
            line(3 << 8, None, &none, &none),
            Some((Level::Info, "ended after 3.2s: exited with status 3".into()))
        );
    }

    #[test]
    fn a_kill_before_the_first_read_names_the_counter_as_read_at_the_death() {
        let unread = MemoryCounters::default();
        let at_death = |n| MemoryCounters {
            failcnt: None,
            ..counters(n, 0)
        };
        assert_eq!(
            line(libc::SIGKILL, None, &unread, &at_death(2)),
            Some((
                Level::Warn,
                "died after 3.2s: killed by SIGKILL, likely by the kernel OOM killer (oom_kill 2 in memory cgroup /docker/abc, first read after the death)"
                    .into()
            ))
        );
        // A zero counter clears the OOM killer; other signals and exits read nothing.
        assert_eq!(
            line(libc::SIGKILL, None, &unread, &at_death(0)),
            Some((Level::Warn, "died after 3.2s: killed by SIGKILL".into()))
        );
        assert_eq!(
            line(libc::SIGSEGV, None, &unread, &at_death(2)),
            Some((Level::Warn, "died after 3.2s: killed by SIGSEGV".into()))
        );
        assert_eq!(
            line(libc::SIGKILL, Some(libc::SIGKILL), &unread, &at_death(2)),
            None
        );
    }

    #[test]
    fn the_oom_killer_is_named_when_its_counter_moved() {
        let (before, after) = (counters(0, 5), counters(1, 9));
        assert_eq!(
            line(libc::SIGKILL, None, &before, &after),
            Some((
                Level::Warn,
                "died after 3.2s: killed by the kernel OOM killer (oom_kill 0 → 1 in memory cgroup /docker/abc)"
                    .into()
            ))
        );
        // Even when pidone had sent KILL itself: the kernel was first.
        assert!(
            line(libc::SIGKILL, Some(libc::SIGKILL), &before, &after)
                .is_some_and(|(_, l)| l.contains("OOM killer"))
        );
        // A child of the workload was killed, and the workload exited.
        assert_eq!(
            line(1 << 8, None, &before, &after),
            Some((
                Level::Warn,
                "ended after 3.2s: exited with status 1; the kernel OOM killer struck meanwhile (oom_kill 0 → 1 in memory cgroup /docker/abc)"
                    .into()
            ))
        );
        assert!(line(0, None, &before, &after).is_some_and(|(l, _)| l == Level::Warn));
        // Without oom_kill (before 4.13), failcnt hints at it.
        let old = |f| MemoryCounters {
            oom_kill: None,
            ..counters(0, f)
        };
        assert_eq!(
            line(libc::SIGKILL, None, &old(0), &old(3)),
            Some((
                Level::Warn,
                "died after 3.2s: killed by SIGKILL; memory cgroup /docker/abc hit its limit (failcnt 0 → 3): likely the OOM killer"
                    .into()
            ))
        );
        // Unchanged counters say nothing.
        assert_eq!(
            line(libc::SIGKILL, Some(libc::SIGKILL), &after, &after),
            None
        );
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(
            signal_name(libc::SIGRTMAX()),
            format!("SIGRTMIN+{}", libc::SIGRTMAX() - libc::SIGRTMIN())
        );
        assert_eq!(signal_name(99), "signal 99");
    }
}
