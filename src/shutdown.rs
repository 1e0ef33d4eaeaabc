//! The processes pidone is responsible for beyond its main child, and how they
//! are signalled at shutdown. As PID 1 that is every process of the namespace
//! (`kill(-1, …)`); otherwise it is pidone's descendants, found in /proc and
//! signalled through a pidfd, so that nothing outside pidone's subtree is hit.

use libc::{c_int, pid_t};
use std::collections::HashMap;
use std::fs;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// How long leftovers get after TERM when no `--grace-period` is set.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// How long pidone waits for processes to vanish after KILL before it gives up
/// (a process stuck in uninterruptible sleep cannot be waited for forever).
pub const KILL_WAIT: Duration = Duration::from_secs(2);

/// Sends `signo` to every process pidone is responsible for (except itself) and
/// returns how many there were, as far as /proc shows.
pub fn signal_all(self_pid: pid_t, signo: c_int) -> usize {
    if self_pid == 1 {
        let count = descendants(self_pid).len();
        // SAFETY: kill(-1) from PID 1 reaches every process of its namespace but itself.
        unsafe { libc::kill(-1, signo) };
        return count;
    }
    descendants(self_pid)
        .into_iter()
        .filter(|&pid| signal_descendant(self_pid, pid, signo))
        .count()
}

/// Sends `signo` to the processes pidone is responsible for that are in session
/// `sid` (a service's leftovers: its session outlives its leader, and the
/// kernel does not reuse the number while a member lives) and returns how many.
pub fn signal_session(self_pid: pid_t, sid: pid_t, signo: c_int) -> usize {
    in_session(self_pid, sid)
        .into_iter()
        .filter(|&pid| signal_descendant(self_pid, pid, signo))
        .count()
}

/// Whether a process of session `sid` is left among pidone's descendants.
pub fn session_left(self_pid: pid_t, sid: pid_t) -> bool {
    !in_session(self_pid, sid).is_empty()
}

fn in_session(self_pid: pid_t, sid: pid_t) -> Vec<pid_t> {
    descendants(self_pid)
        .into_iter()
        .filter(|&pid| session_of(pid) == Some(sid))
        .collect()
}

/// Every process below `root`: walks /proc/PID/task/TID/children from `root`
/// down (the subtree only, not every process of /proc); kernels without
/// CONFIG_PROC_CHILDREN fall back to one snapshot of all of /proc.
pub fn descendants(root: pid_t) -> Vec<pid_t> {
    if let Some(found) = descendants_by_children(root) {
        return found;
    }
    let mut children: HashMap<pid_t, Vec<pid_t>> = HashMap::new();
    for (pid, ppid) in processes() {
        children.entry(ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            found.push(child);
            todo.push(child);
        }
    }
    found
}

fn descendants_by_children(root: pid_t) -> Option<Vec<pid_t>> {
    let me = std::process::id() as pid_t;
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        // /proc/self: right even when /proc belongs to another PID namespace.
        let tasks = if pid == me {
            "/proc/self/task".to_owned()
        } else {
            format!("/proc/{pid}/task")
        };
        for task in fs::read_dir(tasks).into_iter().flatten().flatten() {
            let children = fs::read_to_string(task.path().join("children"));
            if pid == root && children.is_err() {
                return None; // no CONFIG_PROC_CHILDREN
            }
            for child in children
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
            {
                if !matches!(stat(child), Some(('Z', _, _))) {
                    found.push(child);
                }
                todo.push(child);
            }
        }
    }
    Some(found)
}

/// (pid, parent pid) of every live process in /proc: zombies are left out, they
/// only wait to be reaped.
fn processes() -> impl Iterator<Item = (pid_t, pid_t)> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<pid_t>().ok())
        .filter_map(|pid| match stat(pid)? {
            ('Z', _, _) => None,
            (_, ppid, _) => Some((pid, ppid)),
        })
}

/// State, parent pid and session from /proc/PID/stat: "pid (comm) state ppid
/// pgrp session ...", where comm may hold spaces and parentheses, so fields are
/// counted after the last ')'.
fn stat(pid: pid_t) -> Option<(char, pid_t, pid_t)> {
    use std::io::Read;
    // One read(2): state and ppid come right after comm, well within 512 bytes.
    let mut buf = [0u8; 512];
    let n = fs::File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read(&mut buf)
        .ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let mut fields = text.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let session = fields.nth(1)?.parse().ok()?;
    Some((state, ppid, session))
}

fn session_of(pid: pid_t) -> Option<pid_t> {
    stat(pid).map(|(_, _, session)| session)
}

pub(crate) fn parent_of(pid: pid_t) -> Option<pid_t> {
    stat(pid).map(|(_, ppid, _)| ppid)
}

fn descends_from(mut pid: pid_t, root: pid_t) -> bool {
    for _ in 0..4096 {
        match parent_of(pid) {
            Some(p) if p == root => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}

/// Signals `pid` only if it still descends from `root` once it is pinned by a
/// pidfd: a pid recycled after the /proc snapshot either fails the check or is
/// itself a descendant; one recycled after pidfd_open is not the pidfd's process.
fn signal_descendant(root: pid_t, pid: pid_t, signo: c_int) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // Kernels before 5.3: the same check, with kill() right after it.
        // SAFETY: kill(2) on a process just checked to descend from pidone.
        return descends_from(pid, root) && unsafe { libc::kill(pid, signo) } == 0;
    }
    // SAFETY: the descriptor was just returned to us and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    if !descends_from(pid, root) {
        return false;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a live pidfd, no siginfo, no flags.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signo,
            0usize,
            0u32,
        )
    };
    sent == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_descendants_and_nothing_else() {
        let me = std::process::id() as pid_t;
        let mut sleeper = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let child = sleeper.id() as pid_t;
        assert!(descendants(me).contains(&child));
        assert!(descends_from(child, me));
        assert!(!descends_from(me, child));
        assert!(!descendants(child).contains(&me));
        assert!(signal_descendant(me, child, libc::SIGKILL));
        sleeper.wait().unwrap();
    }
}
