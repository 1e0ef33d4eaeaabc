//! The OOM counters of pidone's memory cgroup (`oom_kill`, v1 `failcnt`), read
//! before the workload starts and again when it dies, for the death line; and
//! the failed forks of its v1 pids cgroup (`pids.events` `max`), which the kernel
//! counts without notifying anyone, read when a main process ends and at exit.
//!
//! The files stay open between the reads; nothing here decides what a change means.

use super::cgroup::Cgroup;
use super::fork::pids_limit;
use super::text::keyed;
use super::top;
use std::fs;
use std::os::unix::fs::FileExt as _;
use std::rc::Rc;

/// Counters read before the workload starts and after it dies.
#[derive(Clone, Debug, Default)]
pub struct MemoryCounters {
    /// pidone's memory cgroup as /proc/self/cgroup names it (`/docker/abc`).
    pub cgroup: Option<String>,
    /// Processes the OOM killer killed in it: v2 `memory.events` or v1
    /// `memory.oom_control`, line `oom_kill` (v1 since Linux 4.13).
    pub oom_kill: Option<u64>,
    /// v1 `memory.failcnt`: how often the usage hit the limit (read only when
    /// there is no `oom_kill`, before Linux 4.13).
    pub failcnt: Option<u64>,
    /// Where they were read, kept open so that `again` costs a pread per file:
    /// it runs when the workload has died, between its exit and pidone's.
    pub(super) files: Option<Rc<CounterFiles>>,
}

#[derive(Debug)]
pub(super) struct CounterFiles {
    /// v2 `memory.events`, or v1 `memory.oom_control`.
    events: fs::File,
    /// v1 `memory.failcnt`, before Linux 4.13.
    failcnt: Option<fs::File>,
}

impl MemoryCounters {
    /// The counters of pidone's own memory cgroup; what cannot be read is `None`.
    pub fn read() -> Self {
        let events_of = |group: &Cgroup| {
            let name = if group.v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            fs::File::open(group.dir.join(name)).ok()
        };
        let mut events = None;
        let found = Cgroup::find_where("memory", |group| {
            events = events_of(group);
            events.is_some()
        });
        let Some(group) = found else {
            return Self::default();
        };
        let Some(events) = events.or_else(|| events_of(&group)) else {
            return Self::default();
        };
        let oom_kill = read_counter(&events, |text| keyed(text, "oom_kill"));
        // Before Linux 4.13, v1 counted no OOM kill: how often the usage hit the
        // limit hints at one.
        let failcnt = (oom_kill.is_none() && !group.v2)
            .then(|| fs::File::open(group.dir.join("memory.failcnt")).ok())
            .flatten();
        MemoryCounters {
            oom_kill,
            failcnt: failcnt
                .as_ref()
                .and_then(|file| read_counter(file, number_in)),
            cgroup: Some(group.name),
            files: Some(Rc::new(CounterFiles { events, failcnt })),
        }
    }

    /// The same counters read again, from the files `read` opened.
    pub fn again(&self) -> Self {
        Self::read_from(self.cgroup.clone(), self.files.clone())
    }

    fn read_from(cgroup: Option<String>, files: Option<Rc<CounterFiles>>) -> Self {
        let (oom_kill, failcnt) = files.as_deref().map_or((None, None), |f| {
            let failcnt = f.failcnt.as_ref();
            (
                read_counter(&f.events, |text| keyed(text, "oom_kill")),
                failcnt.and_then(|file| read_counter(file, number_in)),
            )
        });
        MemoryCounters {
            cgroup,
            oom_kill,
            failcnt,
            files,
        }
    }
}

/// The forks that failed at `pids.max` in pidone's pids cgroup on cgroup v1,
/// where `pids.events` is not notified (v2's is watched by `events`): read
/// when a service's main process ends and when pidone exits, one line each
/// time it moved. Counted from 0, the cgroup's creation (a container's cgroup
/// is its own): a baseline read after the start would miss a workload whose
/// first forks fail, and the start path reads no file.
#[derive(Debug, Default)]
pub struct ForkFailures(Pids);

#[derive(Debug, Default)]
enum Pids {
    /// Not opened yet: at the first `tell`.
    #[default]
    NotYet,
    /// v2, no pids cgroup, or no `pids.events` (the root cgroup has none).
    Off,
    On {
        file: fs::File,
        dir: std::path::PathBuf,
        /// The count at the last line.
        told: u64,
    },
}

impl ForkFailures {
    /// A v1 `pids.events` to count in: pidone's pids cgroup's, kept open.
    fn open() -> Pids {
        // A directory there without the file (the root cgroup has none) is
        // enough: mountinfo, costly on a busy host, is not read on the exit path.
        let mut file = None;
        let found = Cgroup::find_where("pids", |group| {
            file = (!group.v2)
                .then(|| fs::File::open(group.dir.join("pids.events")).ok())
                .flatten();
            file.is_some() || group.dir.is_dir()
        });
        let Some(group) = found.filter(|g| !g.v2) else {
            return Pids::Off;
        };
        match file.or_else(|| fs::File::open(group.dir.join("pids.events")).ok()) {
            Some(file) => Pids::On {
                file,
                dir: group.dir,
                told: 0,
            },
            None => Pids::Off,
        }
    }

    /// The line for the forks that failed since the last one, if any: `when`
    /// says when it was read (`when the service 'web' ended`, `at exit`).
    pub fn tell(&mut self, when: &str) -> Option<String> {
        if let Pids::NotYet = self.0 {
            self.0 = Self::open();
        }
        let Pids::On { file, dir, told } = &mut self.0 else {
            return None;
        };
        let after = read_counter(file, |text| keyed(text, "max"))?;
        let before = std::mem::replace(told, after);
        if after <= before {
            return None;
        }
        let me = std::process::id() as i32;
        let processes: Vec<top::Process> = top::processes(dir)
            .into_iter()
            .filter(|p| p.pid != me)
            .collect();
        let limit = pids_limit().unwrap_or_default();
        Some(fork_failures_line(
            before,
            after,
            when,
            &limit,
            &top::most_tasks(&processes, 3),
        ))
    }
}

/// The words of the failed-forks line (pure); `before` 0: the first line.
fn fork_failures_line(before: u64, after: u64, when: &str, limit: &str, most: &str) -> String {
    let n = after.saturating_sub(before);
    let counts = match before {
        0 => format!("pids.events max {after}"),
        _ => format!("pids.events max {before} → {after}"),
    };
    let mut line = format!(
        "pids.max reached: {n} fork{} failed in the container ({counts}, read {when}: cgroup v1 does not notify it)",
        if n == 1 { "" } else { "s" }
    );
    if !limit.is_empty() {
        line.push_str("; ");
        line.push_str(limit);
    }
    if !most.is_empty() {
        line.push_str("; most tasks: ");
        line.push_str(most);
    }
    line
}

fn number_in(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A small counter file, read whole from its start (a cgroup file regenerates
/// its text on each read at offset 0).
fn read_counter<T>(file: &fs::File, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let mut buf = [0u8; 512];
    let n = file.read_at(&mut buf, 0).ok()?;
    parse(std::str::from_utf8(&buf[..n]).ok()?)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_forks_line_reads_plainly() {
        assert_eq!(
            fork_failures_line(
                0,
                3,
                "when the service 'web' ended",
                "pids cgroup /x: pids.current 2 of pids.max 5",
                "php-fpm (pid 7) 2"
            ),
            "pids.max reached: 3 forks failed in the container (pids.events max 3, read when the service 'web' ended: cgroup v1 does not notify it); pids cgroup /x: pids.current 2 of pids.max 5; most tasks: php-fpm (pid 7) 2"
        );
        assert_eq!(
            fork_failures_line(3, 4, "at exit", "", ""),
            "pids.max reached: 1 fork failed in the container (pids.events max 3 → 4, read at exit: cgroup v1 does not notify it)"
        );
    }

    #[test]
    fn counting_failed_forks_here_never_fails() {
        let mut forks = ForkFailures::default();
        let first = forks.tell("at exit");
        assert!(first.is_none_or(|l| l.starts_with("pids.max reached: ")));
        // Nothing failed since (or pidone's cgroup has no pids.events).
        assert_eq!(forks.tell("at exit"), None);
    }

    #[test]
    fn reading_this_machine_never_fails() {
        let counters = MemoryCounters::read();
        assert!(counters.cgroup.is_some() || (counters.oom_kill, counters.failcnt) == (None, None));
        // Read again through the files kept open, the counters are still there.
        if counters.files.is_some() {
            assert_eq!(counters.again().oom_kill, counters.oom_kill);
            assert_eq!(
                counters.again().failcnt.is_some(),
                counters.failcnt.is_some()
            );
        }
    }
}
