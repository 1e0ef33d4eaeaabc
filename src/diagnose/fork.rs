//! The limit a failed fork most likely hit, for the error message: RLIMIT_NPROC and
//! the processes of our uid, the pids cgroup, the memory cgroup.
//!
//! It is read only when a fork has failed; what cannot be read is left out.

use super::cgroup::Cgroup;
use super::text::{bytes, number, one_line};
use nix::errno::Errno;
use std::fs;

/// What limit a failed fork (or exec) most likely hit, for the error message:
/// for EAGAIN the RLIMIT_NPROC values with the count of processes of our uid, and
/// the pids cgroup; for ENOMEM the memory cgroup. Empty when nothing is known.
pub fn fork_limits(errno: Errno) -> String {
    let parts = match errno {
        Errno::EAGAIN => vec![nproc_limit(), pids_limit()],
        Errno::ENOMEM => vec![memory_limit()],
        _ => vec![],
    };
    parts.into_iter().flatten().collect::<Vec<_>>().join("; ")
}

/// `RLIMIT_NPROC 10/20 with 10 processes for uid 1000`. The kernel counts the
/// threads of every process of the real uid, and so does this.
fn nproc_limit() -> Option<String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a live local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } != 0 {
        return None;
    }
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    let text = nproc_text(limit.rlim_cur, limit.rlim_max, tasks_of(uid), uid);
    let uid_map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    if uid == 0 && host_root(&uid_map) {
        // The kernel exempts the init user namespace's root from the limit.
        return Some(format!("{text} (not enforced for root)"));
    }
    Some(text)
}

/// Whether uid 0 here is uid 0 of the init user namespace, by /proc/self/uid_map.
fn host_root(uid_map: &str) -> bool {
    uid_map.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.first() == Some(&"0") && fields.get(1) == Some(&"0")
    })
}

fn nproc_text(soft: libc::rlim_t, hard: libc::rlim_t, count: Option<u64>, uid: u32) -> String {
    let value = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let limits = if soft == libc::RLIM_INFINITY && hard == libc::RLIM_INFINITY {
        value(soft)
    } else {
        format!("{}/{}", value(soft), value(hard))
    };
    match count {
        Some(n) => format!(
            "RLIMIT_NPROC {limits} with {n} process{} for uid {uid}",
            if n == 1 { "" } else { "es" }
        ),
        None => format!("RLIMIT_NPROC {limits} for uid {uid}"),
    }
}

/// The tasks (threads included) of the processes in /proc whose real uid is `uid`.
fn tasks_of(uid: u32) -> Option<u64> {
    let dir = fs::read_dir("/proc").ok()?;
    let total = dir
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_pid))
        .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
        .filter_map(|status| uid_and_threads(&status))
        .filter(|&(u, _)| u == uid)
        .map(|(_, threads)| threads)
        .sum();
    Some(total)
}

fn is_pid(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// The real uid (first field of `Uid:`) and `Threads:` of a /proc/PID/status.
fn uid_and_threads(status: &str) -> Option<(u32, u64)> {
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let uid = u32::try_from(field("Uid:")?).ok()?;
    Some((uid, field("Threads:").unwrap_or(1)))
}

/// `pids cgroup /x: pids.current 5 of pids.max 5`, for the cgroup (pidone's or an
/// ancestor's) whose limit is reached, else the nearest that has one.
pub(super) fn pids_limit() -> Option<String> {
    let group = Cgroup::find("pids")?;
    let levels: Vec<(String, String, String)> = group
        .ancestry()
        .into_iter()
        .filter_map(|(name, dir)| {
            let max = fs::read_to_string(dir.join("pids.max")).ok()?;
            let current = fs::read_to_string(dir.join("pids.current")).ok()?;
            Some((name, current.trim().to_owned(), max.trim().to_owned()))
        })
        .collect();
    let full = |(_, c, m): &&(String, String, String)| match (c.parse::<u64>(), m.parse::<u64>()) {
        (Ok(c), Ok(m)) => c >= m,
        _ => false,
    };
    let limited = |(_, _, m): &&(String, String, String)| m != "max";
    let (name, current, max) = levels
        .iter()
        .find(full)
        .or_else(|| levels.iter().find(limited))
        .or(levels.first())?;
    Some(format!(
        "pids cgroup {}: pids.current {current} of pids.max {max}",
        one_line(name)
    ))
}

/// `memory cgroup /x: usage 64.0 MiB of limit 64.0 MiB`, for the nearest cgroup
/// (pidone's or an ancestor's) with a limit, else pidone's own.
fn memory_limit() -> Option<String> {
    let group = Cgroup::find("memory")?;
    let (usage_file, limit_file) = if group.v2 {
        ("memory.current", "memory.max")
    } else {
        ("memory.usage_in_bytes", "memory.limit_in_bytes")
    };
    let levels: Vec<(String, u64, Option<u64>)> = group
        .ancestry()
        .into_iter()
        .filter_map(|(name, dir)| {
            let usage = number(&dir.join(usage_file))?;
            // v2 says "max", v1 a number near 2^63: no limit either way.
            let limit = number(&dir.join(limit_file)).filter(|&l| l < 1 << 62);
            Some((name, usage, limit))
        })
        .collect();
    let (name, usage, limit) = levels
        .iter()
        .find(|(_, _, limit)| limit.is_some())
        .or(levels.first())?;
    let name = one_line(name);
    Some(match limit {
        Some(limit) => format!(
            "memory cgroup {name}: usage {} of limit {}",
            bytes(*usage),
            bytes(*limit)
        ),
        None => format!("memory cgroup {name}: usage {}, no limit", bytes(*usage)),
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nproc_reads_plainly() {
        let inf = libc::RLIM_INFINITY;
        assert_eq!(
            nproc_text(10, 20, Some(10), 1000),
            "RLIMIT_NPROC 10/20 with 10 processes for uid 1000"
        );
        assert_eq!(
            nproc_text(1, 1, Some(1), 65000),
            "RLIMIT_NPROC 1/1 with 1 process for uid 65000"
        );
        assert_eq!(
            nproc_text(inf, inf, Some(3), 0),
            "RLIMIT_NPROC unlimited with 3 processes for uid 0"
        );
        assert_eq!(
            nproc_text(5, inf, None, 0),
            "RLIMIT_NPROC 5/unlimited for uid 0"
        );
    }

    #[test]
    fn proc_files_parse() {
        let status = "Name:\tsleep\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t4\n";
        assert_eq!(uid_and_threads(status), Some((1000, 4)));
        assert_eq!(uid_and_threads("Name: x\n"), None);
        assert!(host_root("         0          0 4294967295\n"));
        assert!(!host_root("         0     100000      65536\n"));
        assert!(!host_root(""));
        assert!(is_pid("123") && !is_pid("self") && !is_pid(""));
    }

    #[test]
    fn reading_this_machine_never_fails() {
        assert!(fork_limits(Errno::EAGAIN).contains("RLIMIT_NPROC"));
        assert_eq!(fork_limits(Errno::EPERM), "");
        let _ = fork_limits(Errno::ENOMEM);
    }
}
