//! Limit events as they happen: the container's memory and pids cgroups
//! (pidone's own) watched through what the kernel notifies, never by polling.
//!
//! - cgroup v2: `memory.events` (`high`, `max`, `oom`, `oom_kill`) and
//!   `pids.events` (`max`), whose changes the kernel reports to inotify
//!   (IN_MODIFY); the inotify descriptor raises SIGIO into pidone's one wait.
//! - cgroup v1: `memory.oom_control` through `cgroup.event_control` and an
//!   eventfd, which the kernel signals when the cgroup runs out of memory, just
//!   before the OOM killer picks its victim; an eventfd cannot raise SIGIO, so
//!   it is polled in the wait (`wait::Wait::poll`). v1's `pids.events` counts,
//!   but is not notified (checked on Linux 6.18): it is not watched.
//!
//! Each counter that moved gives one line: what happened, the counters before
//! and after, usage against the limit, and the cgroup's largest processes at
//! that moment. A storm gives at most one line per second per counter, with the
//! totals: a line due less than a second after the last is held until then.
//! Where no cgroup or file is reachable, nothing is watched and nothing said.

use super::cgroup::Cgroup;
use super::text::{bytes, keyed, read_text};
use super::top;
use crate::wait::Wait;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// At most one line per counter this often.
const EVERY: Duration = Duration::from_secs(1);

/// What a counter counts, and how its line reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// v2 `memory.events high`: usage went over memory.high (throttled).
    High,
    /// v2 `memory.events max`: usage was about to go over memory.max.
    Max,
    /// v2 `memory.events oom`: the cgroup ran out of memory.
    Oom,
    /// `oom_kill`: the OOM killer killed a process (v2 memory.events, v1 memory.oom_control).
    OomKill,
    /// v1: the eventfd said the cgroup ran out of memory.
    UnderOom,
    /// v2 `pids.events max`: a fork failed at pids.max.
    Pids,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::High => "high",
            Kind::Max | Kind::Pids => "max",
            Kind::Oom => "oom",
            Kind::OomKill | Kind::UnderOom => "oom_kill",
        }
    }
}

/// One counter: its value at the last line, when that line was, and whether a
/// line is held back for the storm limit.
#[derive(Debug)]
struct Counter {
    kind: Kind,
    told: u64,
    told_at: Option<Instant>,
    held: bool,
}

/// A watched cgroup file and its counters.
#[derive(Debug)]
struct Watched {
    file: fs::File,
    dir: PathBuf,
    /// Usage and limit files (`memory.current`/`memory.max`, ...).
    usage: (&'static str, &'static str),
    counters: Vec<Counter>,
}

/// What pidone watches, and what it holds for it.
#[derive(Debug)]
pub struct Limits {
    watched: Vec<Watched>,
    /// The descriptor the kernel notifies: inotify (v2) or an eventfd (v1).
    notify: OwnedFd,
    v1: bool,
}

impl Limits {
    /// Starts watching pidone's memory and pids cgroups, and registers the
    /// descriptor with `wait`. `None` when there is nothing to watch.
    pub fn watch(wait: &mut Wait) -> Option<Limits> {
        let memory = Cgroup::find("memory");
        if let Some(group) = memory.as_ref().filter(|g| !g.v2) {
            return Self::watch_v1(group, wait);
        }
        // SAFETY: inotify_init1 returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the descriptor was just returned to us and is owned by nothing else.
        let notify = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut watched = Vec::new();
        let memory_kinds = [Kind::High, Kind::Max, Kind::Oom, Kind::OomKill];
        let usage = ("memory.current", "memory.max");
        if let Some(w) = memory.and_then(|g| add(&notify, g, "memory.events", usage, &memory_kinds))
        {
            watched.push(w);
        }
        let pids = Cgroup::find("pids").filter(|g| g.v2);
        let usage = ("pids.current", "pids.max");
        if let Some(w) = pids.and_then(|g| add(&notify, g, "pids.events", usage, &[Kind::Pids])) {
            watched.push(w);
        }
        if watched.is_empty() || Wait::notify(notify.as_fd(), true).is_err() {
            return None;
        }
        Some(Limits {
            watched,
            notify,
            v1: false,
        })
    }

    /// v1: an eventfd for `memory.oom_control`, registered in cgroup.event_control.
    fn watch_v1(group: &Cgroup, wait: &mut Wait) -> Option<Limits> {
        let file = fs::File::open(group.dir.join("memory.oom_control")).ok()?;
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the descriptor was just returned to us and is owned by nothing else.
        let notify = unsafe { OwnedFd::from_raw_fd(fd) };
        let line = format!("{} {}", notify.as_raw_fd(), file.as_raw_fd());
        fs::write(group.dir.join("cgroup.event_control"), line).ok()?;
        wait.poll(notify.as_raw_fd()).ok()?;
        let told = read_counter(&file, "oom_kill").unwrap_or(0);
        let counters = vec![Counter {
            kind: Kind::UnderOom,
            told,
            told_at: None,
            held: false,
        }];
        Some(Limits {
            watched: vec![Watched {
                file,
                dir: group.dir.clone(),
                usage: ("memory.usage_in_bytes", "memory.limit_in_bytes"),
                counters,
            }],
            notify,
            v1: true,
        })
    }

    /// A line held back by the storm limit is due at this moment.
    pub fn deadline(&self) -> Option<Instant> {
        let counters = self.watched.iter().flat_map(|w| &w.counters);
        counters
            .filter(|c| c.held)
            .filter_map(|c| c.told_at)
            .map(|t| t + EVERY)
            .min()
    }

    /// What is held for the storm limit, told now: pidone is about to exit.
    pub fn last(&mut self) -> Vec<String> {
        let far = self
            .watched
            .iter()
            .flat_map(|w| &w.counters)
            .filter_map(|c| c.told_at)
            .max()
            .map_or_else(Instant::now, |t| t + EVERY);
        // Not the OOM kills: the death lines, written next, count them (every
        // service's death line says when the OOM counter moved in its life).
        self.drain();
        self.tell(far.max(Instant::now()), false, false)
    }

    /// Reads what the kernel notified and the counters; returns one line for
    /// each counter that moved and may be told now.
    pub fn check(&mut self, now: Instant) -> Vec<String> {
        let notified = self.drain() && self.v1;
        self.tell(now, notified, true)
    }

    /// Reads what the notify descriptor holds, so that the next change notifies
    /// again (inotify events, or the eventfd's count); whether it held anything.
    fn drain(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let mut any = false;
        // SAFETY: read into a live buffer of its length.
        while unsafe { libc::read(self.notify.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0
        {
            any = true;
        }
        any
    }

    /// The lines due at `now`. `notified`: a v1 notification came, an event of
    /// its own (the kernel signals it just before the kill), unless one was told
    /// less than a second ago (tasks that hit the limit together notify once
    /// each). `kills`: the OOM kill counters are told too.
    fn tell(&mut self, now: Instant, notified: bool, kills: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for watched in &mut self.watched {
            let Some(text) = read_all(&watched.file) else {
                continue;
            };
            let value = |c: &Counter| keyed(&text, c.kind.key()).unwrap_or(c.told);
            let killed =
                (watched.counters.iter()).any(|c| c.kind == Kind::OomKill && value(c) > c.told);
            for counter in &mut watched.counters {
                if !kills && matches!(counter.kind, Kind::OomKill | Kind::UnderOom) {
                    continue;
                }
                let after = value(counter);
                let fresh = counter.told_at.is_none_or(|t| now >= t + EVERY);
                let moved = after > counter.told || counter.held || (notified && fresh);
                counter.held = false;
                if !moved {
                    continue;
                }
                if counter.told_at.is_some_and(|t| now < t + EVERY) {
                    counter.held = true;
                    continue;
                }
                let before = std::mem::replace(&mut counter.told, after);
                counter.told_at = Some(now);
                // The kill's line says it all: the oom and max that led to it
                // are counted without a line of their own.
                if killed && matches!(counter.kind, Kind::Oom | Kind::Max) {
                    continue;
                }
                let line = describe(counter.kind, before, after, &watched.dir, watched.usage);
                lines.push(line);
            }
        }
        lines
    }
}

/// Opens `name` in `group`, watches it with `notify` and reads its counters' baseline.
fn add(
    notify: &OwnedFd,
    group: Cgroup,
    name: &str,
    usage: (&'static str, &'static str),
    kinds: &[Kind],
) -> Option<Watched> {
    let path = group.dir.join(name);
    let file = fs::File::open(&path).ok()?;
    let text = read_all(&file)?;
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: a live inotify descriptor and a NUL-terminated path.
    let wd =
        unsafe { libc::inotify_add_watch(notify.as_raw_fd(), c_path.as_ptr(), libc::IN_MODIFY) };
    if wd < 0 {
        return None;
    }
    let counters = kinds
        .iter()
        .map(|&kind| Counter {
            kind,
            told: keyed(&text, kind.key()).unwrap_or(0),
            told_at: None,
            held: false,
        })
        .collect();
    Some(Watched {
        file,
        dir: group.dir,
        usage,
        counters,
    })
}

/// A cgroup file read whole from its start (it regenerates its text on each read).
fn read_all(file: &fs::File) -> Option<String> {
    let mut buf = [0u8; 1024];
    let n = file.read_at(&mut buf, 0).ok()?;
    Some(std::str::from_utf8(&buf[..n]).ok()?.to_owned())
}

fn read_counter(file: &fs::File, key: &str) -> Option<u64> {
    keyed(&read_all(file)?, key)
}

/// The line for `kind` moving from `before` to `after`, with usage and the top
/// processes read now from `dir`.
fn describe(
    kind: Kind,
    before: u64,
    after: u64,
    dir: &std::path::Path,
    (usage, limit): (&str, &str),
) -> String {
    let read = |name: &str| read_text(dir.join(name)).map(|t| t.trim().to_owned());
    let (used, max) = (
        read(usage).unwrap_or_default(),
        read(limit).unwrap_or_default(),
    );
    // pidone itself and a victim already gone (0 B) are not what is eating
    // the container's memory or tasks.
    let me = std::process::id() as i32;
    let processes: Vec<top::Process> = top::processes(dir)
        .into_iter()
        .filter(|p| p.pid != me && (kind == Kind::Pids || p.rss > 0))
        .collect();
    let top = match kind {
        Kind::Pids => top::most_tasks(&processes, 3),
        _ => top::largest(&processes, 3),
    };
    line(kind, before, after, &used, &max, &top)
}

/// The words of the line (pure): `used` and `max` as the cgroup files say them.
fn line(kind: Kind, before: u64, after: u64, used: &str, max: &str, top: &str) -> String {
    let size = |text: &str| match text.parse::<u64>() {
        Ok(n) if n < 1 << 62 => bytes(n),
        Ok(_) => "no limit".into(),
        Err(_) => text.to_owned(),
    };
    let memory = format!("memory {} of {}", size(used), size(max));
    let listed = |head: &str| {
        if top.is_empty() {
            String::new()
        } else {
            format!("; {head}: {top}")
        }
    };
    let n = after.saturating_sub(before);
    let times = if n == 1 {
        "once".to_string()
    } else {
        format!("{n} times")
    };
    match kind {
        Kind::OomKill => format!(
            "the kernel OOM killer killed {} in the container (oom_kill {before} → {after}; {memory}){}",
            if n == 1 {
                "a process".to_string()
            } else {
                format!("{n} processes")
            },
            listed("largest now")
        ),
        Kind::UnderOom => format!(
            "the container ran out of memory: the kernel OOM killer is at work (memory.oom_control, oom_kill {before} → {after}; {memory}){}",
            listed("largest now")
        ),
        Kind::Oom => format!(
            "the container ran out of memory {times} (memory.events oom {before} → {after}; {memory}){}",
            listed("largest now")
        ),
        Kind::Max => format!(
            "memory.max reached {times}: the kernel reclaimed memory to stay under it (memory.events max {before} → {after}; {memory}){}",
            listed("largest now")
        ),
        Kind::High => format!(
            "memory.high exceeded {times}: the container is throttled (memory.events high {before} → {after}; {memory}){}",
            listed("largest now")
        ),
        Kind::Pids => format!(
            "pids.max reached: {n} fork{} failed in the container (pids.events max {before} → {after}, pids.current {used} of {max}){}",
            if n == 1 { "" } else { "s" },
            listed("most tasks")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_the_issue_says() {
        assert_eq!(
            line(
                Kind::Pids,
                0,
                3,
                "100",
                "100",
                "php-fpm (pid 7) 92, node (pid 12) 6"
            ),
            "pids.max reached: 3 forks failed in the container (pids.events max 0 → 3, pids.current 100 of 100); most tasks: php-fpm (pid 7) 92, node (pid 12) 6"
        );
        assert_eq!(
            line(
                Kind::OomKill,
                0,
                1,
                "535822336",
                "536870912",
                "node (pid 12) 380.0 MiB"
            ),
            "the kernel OOM killer killed a process in the container (oom_kill 0 → 1; memory 511.0 MiB of 512.0 MiB); largest now: node (pid 12) 380.0 MiB"
        );
        assert!(line(Kind::OomKill, 1, 4, "1", "max", "").contains("killed 3 processes"));
        assert!(line(Kind::OomKill, 1, 4, "1", "max", "").contains("of max)"));
        assert!(line(Kind::Max, 2, 3, "1024", "9223372036854771712", "").contains("reached once"));
        assert!(line(Kind::Max, 2, 3, "1024", "9223372036854771712", "").contains("of no limit"));
        assert!(
            line(Kind::High, 0, 190, "1", "2", "").starts_with("memory.high exceeded 190 times")
        );
        assert!(line(Kind::Pids, 5, 6, "4", "4", "").contains("1 fork failed"));
    }

    /// A watched "events" file that the test rewrites, and a notify descriptor
    /// with nothing to read.
    fn watched(dir: &std::path::Path, text: &str) -> Limits {
        let path = dir.join("pids.events");
        fs::write(&path, text).unwrap();
        // SAFETY: eventfd returns a new descriptor or -1 (checked below).
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(fd >= 0);
        Limits {
            watched: vec![Watched {
                file: fs::File::open(&path).unwrap(),
                dir: dir.to_path_buf(),
                usage: ("pids.current", "pids.max"),
                counters: vec![Counter {
                    kind: Kind::Pids,
                    told: 0,
                    told_at: None,
                    held: false,
                }],
            }],
            // SAFETY: the descriptor was just returned to us.
            notify: unsafe { OwnedFd::from_raw_fd(fd) },
            v1: false,
        }
    }

    #[test]
    fn a_storm_gives_one_line_a_second_with_the_totals() {
        let dir = std::env::temp_dir().join(format!("pidone-events-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("pids.current"), "8\n").unwrap();
        fs::write(dir.join("pids.max"), "8\n").unwrap();
        let mut limits = watched(&dir, "max 0\n");
        let t = Instant::now();
        assert!(limits.check(t).is_empty(), "nothing moved");
        fs::write(dir.join("pids.events"), "max 2\n").unwrap();
        let first = limits.check(t);
        assert_eq!(first.len(), 1);
        assert!(first[0].contains("2 forks failed") && first[0].contains("max 0 → 2"));
        fs::write(dir.join("pids.events"), "max 5\n").unwrap();
        assert!(
            limits.check(t + Duration::from_millis(300)).is_empty(),
            "held"
        );
        fs::write(dir.join("pids.events"), "max 9\n").unwrap();
        assert!(
            limits.check(t + Duration::from_millis(600)).is_empty(),
            "held"
        );
        assert_eq!(limits.deadline(), Some(t + EVERY));
        let later = limits.check(t + EVERY);
        assert_eq!(later.len(), 1);
        assert!(
            later[0].contains("7 forks failed") && later[0].contains("max 2 → 9"),
            "{}",
            later[0]
        );
        assert_eq!(limits.deadline(), None);
        // Held when pidone exits: told then.
        fs::write(dir.join("pids.events"), "max 12\n").unwrap();
        assert!(limits.check(t + EVERY + EVERY / 10).is_empty(), "held");
        let last = limits.last();
        assert_eq!(last.len(), 1);
        assert!(last[0].contains("max 9 → 12"), "{}", last[0]);
        let _ = fs::remove_dir_all(&dir);
    }
}
