//! The OOM counters of pidone's memory cgroup (`oom_kill`, v1 `failcnt`), read
//! before the workload starts and again when it dies, for the death line.
//!
//! The files stay open between the two reads; nothing here decides what a change means.

use super::cgroup::Cgroup;
use super::text::keyed;
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
