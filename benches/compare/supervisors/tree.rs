//! A supervisor's process tree, from /proc: the supervisor and its
//! descendants, and what they cost together (resident memory, context
//! switches summed over every thread).

use crate::process::{proc_field, proc_file, switches};
use std::fs;

/// `root` and every descendant of it, root first.
pub fn tree(root: libc::pid_t) -> Vec<libc::pid_t> {
    let links: Vec<(libc::pid_t, libc::pid_t)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: libc::pid_t = e.file_name().to_str()?.parse().ok()?;
            Some((pid, parent(pid)?))
        })
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(links.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// The parent's pid, from /proc/PID/stat (the field after the command's `)`).
fn parent(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = proc_file(pid, "stat")?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Sums a `Key: N kB` field of /proc/PID/`file` over `pids`: NaN if one is gone.
pub fn sum_field(pids: &[libc::pid_t], file: &str, key: &str) -> f64 {
    pids.iter()
        .map(|&p| proc_file(p, file).and_then(|t| proc_field(&t, key)))
        .sum::<Option<f64>>()
        .unwrap_or(f64::NAN)
}

/// Context switches (voluntary and not) of every thread of every process in
/// `pids`: the wakeups of a Python supervisor's helper threads count too.
pub fn wakeups(pids: &[libc::pid_t]) -> Option<f64> {
    let mut total = 0.0;
    for &pid in pids {
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for task in tasks.flatten() {
            total += switches(&fs::read_to_string(task.path().join("status")).ok()?)?;
        }
    }
    Some(total)
}
