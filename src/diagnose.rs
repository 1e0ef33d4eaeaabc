//! Why did it die? One line on a workload death nobody asked for (a signal pidone
//! did not forward, a core dump, the OOM killer), and the limit a failed fork hit.
//!
//! It reads what the kernel already keeps (the memory and pids cgroups of pidone,
//! RLIMIT_NPROC, /proc) and decides nothing: the supervisor logs the line, `error`
//! puts the limits in its message. A file that cannot be read is simply left out.

use log::Level;
use nix::errno::Errno;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    files: Option<Rc<CounterFiles>>,
}

#[derive(Debug)]
struct CounterFiles {
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

/// How the workload ended, as the supervisor saw it.
#[derive(Clone, Copy, Debug)]
pub struct Death<'a> {
    pub command: &'a [OsString],
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
    let line = format!(
        "{}: the workload '{}' (pid {}) {verb} after {}: {cause}",
        timestamp(now),
        quote(report.command),
        report.pid,
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

/// UTC, ISO 8601: `2026-11-23T17:20:05Z`.
pub fn timestamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let (hh, mm, ss) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Days since 1970-01-01 → (year, month, day) of the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `250ms`, `3.2s`, `2m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let secs = d.as_secs();
    if ms < 1000 {
        format!("{ms}ms")
    } else if secs < 60 {
        format!("{:.1}s", (ms / 100) as f64 / 10.0)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// The command as one short line: arguments joined by spaces, at most 80 characters.
fn quote(command: &[OsString]) -> String {
    const MAX: usize = 80;
    let joined = command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let line = one_line(&joined);
    if line.chars().count() <= MAX {
        return line;
    }
    let mut short: String = line.chars().take(MAX - 1).collect();
    short.push('…');
    short
}

/// Control characters (a newline in an argument or a cgroup name) shown escaped,
/// so that a message stays one line.
fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

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
fn pids_limit() -> Option<String> {
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

/// `512 B`, `64.0 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A file holding one number.
fn number(path: &Path) -> Option<u64> {
    read_text(path)?.trim().parse().ok()
}

/// A small file of /proc or a cgroup, read without asking its size (a /proc
/// file has none) into a buffer of one size, so that each read reuses the
/// chunk the last one freed (it stays in malloc's per-size cache).
/// `fs::read_to_string` grows a buffer from 32 bytes, and each chunk freed on
/// the way stays cached, and resident, for pidone's whole life.
fn read_text(path: impl AsRef<Path>) -> Option<String> {
    let mut text = String::with_capacity(256);
    let file = fs::File::open(path).ok()?;
    file.take(1 << 16).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of `key` in a flat-keyed file (`oom_kill 3`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(key))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// One controller's cgroup of this process, and where it is in the file system
/// (public for the benchmark, which moves itself out of the root cpu cgroup).
#[derive(Debug, PartialEq, Eq)]
pub struct Cgroup {
    /// As /proc/self/cgroup names it: `/docker/abc`.
    pub name: String,
    /// The cgroup's directory.
    pub dir: PathBuf,
    /// The directory the hierarchy is mounted on (an ancestor of `dir`, or `dir`).
    pub top: PathBuf,
    pub v2: bool,
}

impl Cgroup {
    /// pidone's cgroup for `controller`: the v1 hierarchy that has it, else the v2 one.
    /// The usual mount point (/sys/fs/cgroup, /sys/fs/cgroup/CONTROLLER) is
    /// tried first; /proc/self/mountinfo, long on a busy host and costly to
    /// generate, is read only when the cgroup's directory is not there (a v1
    /// hierarchy mounted elsewhere, or mounted from a cgroup below the root, as
    /// Docker does without a cgroup namespace).
    pub fn find(controller: &str) -> Option<Cgroup> {
        Self::find_where(controller, |group| group.dir.is_dir())
    }

    /// `find`, where `usable` tells whether the cgroup found at the usual mount
    /// point is there (and may open what it needs from it on the way).
    fn find_where(controller: &str, usable: impl FnOnce(&Cgroup) -> bool) -> Option<Cgroup> {
        let cgroups = read_text("/proc/self/cgroup")?;
        locate(&cgroups, "", controller)
            .filter(|group| usable(group))
            .or_else(|| {
                let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                locate(&cgroups, &mountinfo, controller)
            })
    }

    /// `(name, dir)` of this cgroup and each ancestor up to the hierarchy's top.
    fn ancestry(&self) -> Vec<(String, PathBuf)> {
        let mut levels = Vec::new();
        let mut name = self.name.as_str();
        let mut dir = self.dir.as_path();
        loop {
            levels.push((name.to_owned(), dir.to_path_buf()));
            if dir == self.top {
                return levels;
            }
            match (dir.parent(), name.rsplit_once('/')) {
                (Some(up), Some((parent, _))) => {
                    dir = up;
                    name = if parent.is_empty() { "/" } else { parent };
                }
                _ => return levels,
            }
        }
    }
}

/// Finds `controller`'s cgroup from the texts of /proc/self/cgroup and
/// /proc/self/mountinfo (the usual /sys/fs/cgroup paths when mountinfo lacks it).
fn locate(cgroups: &str, mountinfo: &str, controller: &str) -> Option<Cgroup> {
    let v1 = cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    });
    let (v2, name) = match v1 {
        Some(path) => (false, path),
        None => (true, cgroups.lines().find_map(|l| l.strip_prefix("0::"))?),
    };
    let want = (!v2).then_some(controller);
    let (root, top) = mount_of(mountinfo, want).unwrap_or_else(|| {
        let top = match want {
            Some(c) => format!("/sys/fs/cgroup/{c}"),
            None => "/sys/fs/cgroup".to_owned(),
        };
        ("/".to_owned(), PathBuf::from(top))
    });
    // A cgroup outside the mount's root (another cgroup namespace) is out of reach.
    let inside = if root == "/" {
        name
    } else {
        name.strip_prefix(root.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))?
    };
    let inside = inside.trim_start_matches('/');
    if inside.split('/').any(|part| part == "..") {
        return None;
    }
    let dir = if inside.is_empty() {
        top.clone()
    } else {
        top.join(inside)
    };
    Some(Cgroup {
        name: name.to_owned(),
        dir,
        top,
        v2,
    })
}

/// The root and mount point of the v1 hierarchy holding `controller`, or of
/// the v2 hierarchy when `controller` is `None`.
fn mount_of(mountinfo: &str, controller: Option<&str>) -> Option<(String, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mount: Vec<&str> = mount.split(' ').collect();
        let fs: Vec<&str> = fs.split(' ').collect();
        let (root, point) = (mount.get(3)?, mount.get(4)?);
        let (fstype, options) = (*fs.first()?, fs.get(2).copied().unwrap_or(""));
        let found = match controller {
            Some(c) => fstype == "cgroup" && options.split(',').any(|o| o == c),
            None => fstype == "cgroup2",
        };
        found.then(|| (unescape(root), PathBuf::from(unescape(point))))
    })
}

/// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn timestamps_are_utc_iso_8601() {
        assert_eq!(timestamp(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(at(1_709_251_199)), "2024-02-29T23:59:59Z");
        assert_eq!(timestamp(at(1_795_454_405)), "2026-11-23T17:20:05Z");
        assert_eq!(timestamp(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn civil_from_days_round_trips_the_calendar() {
        // Walk day by day from 1970 to 2400 and check it against a naive calendar.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..157_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[m as usize - 1] {
                (d, m) = (1, m + 1);
                if m > 12 {
                    (m, y) = (1, y + 1);
                }
            }
        }
    }

    #[test]
    fn durations_read_like_a_human_wrote_them() {
        let ms = Duration::from_millis;
        assert_eq!(duration(ms(0)), "0ms");
        assert_eq!(duration(ms(999)), "999ms");
        assert_eq!(duration(ms(1000)), "1.0s");
        assert_eq!(duration(ms(3250)), "3.2s");
        assert_eq!(duration(ms(59_999)), "59.9s");
        assert_eq!(duration(ms(65_000)), "1m05s");
        assert_eq!(duration(ms(3_599_000)), "59m59s");
        assert_eq!(duration(ms(3_720_000)), "1h02m");
        assert_eq!(duration(Duration::from_secs(90_000)), "25h00m");
    }

    #[test]
    fn commands_are_one_short_line() {
        let cmd = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(quote(&cmd(&["php-fpm", "-F"])), "php-fpm -F");
        assert_eq!(quote(&cmd(&["echo", "a\nb"])), "echo a\\nb");
        let long = quote(&cmd(&["x", &"é".repeat(200)]));
        assert_eq!(long.chars().count(), 80);
        assert!(long.ends_with('…'), "{long}");
        use std::os::unix::ffi::OsStringExt;
        let bad = vec![OsString::from_vec(vec![b'a', 0xff])];
        assert_eq!(quote(&bad), "a\u{fffd}");
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

    #[test]
    fn nproc_and_sizes_read_plainly() {
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
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn proc_files_parse() {
        let status = "Name:\tsleep\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t4\n";
        assert_eq!(uid_and_threads(status), Some((1000, 4)));
        assert_eq!(uid_and_threads("Name: x\n"), None);
        let control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(keyed(control, "oom_kill"), Some(2));
        assert_eq!(keyed(control, "under_oom"), Some(0));
        let events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "nope"), None);
        assert!(host_root("         0          0 4294967295\n"));
        assert!(!host_root("         0     100000      65536\n"));
        assert!(!host_root(""));
        assert!(is_pid("123") && !is_pid("self") && !is_pid(""));
        assert_eq!(unescape(r"/a\040b\\x"), r"/a b\\x");
        assert_eq!(unescape(r"/a\134b"), r"/a\b");
    }

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn cgroups_are_found_in_v1_v2_and_hybrid() {
        let cgroups =
            "8:pids:/docker/abc\n4:memory:/docker/abc\n2:cpu,cpuacct:/\n0::/system.slice\n";
        let memory = locate(cgroups, MOUNTINFO, "memory").unwrap();
        assert_eq!(memory.name, "/docker/abc");
        // The memory hierarchy is mounted from /docker/abc (a container's view).
        assert_eq!(memory.dir, Path::new("/sys/fs/cgroup/memory"));
        assert!(!memory.v2);
        let pids = locate(cgroups, MOUNTINFO, "pids").unwrap();
        assert_eq!(pids.dir, Path::new("/sys/fs/cgroup/pids/docker/abc"));
        let names: Vec<String> = pids.ancestry().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["/docker/abc", "/docker", "/"]);
        assert_eq!(pids.ancestry()[2].1, Path::new("/sys/fs/cgroup/pids"));
        let cpu = locate(cgroups, MOUNTINFO, "cpuacct").unwrap();
        assert_eq!(cpu.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // Hybrid: a controller v1 lacks falls to the unified hierarchy.
        let io = locate(cgroups, MOUNTINFO, "io").unwrap();
        assert!(io.v2);
        assert_eq!(io.dir, Path::new("/sys/fs/cgroup/unified/system.slice"));
        // Pure v2, with no mountinfo: the usual place.
        let v2 = locate("0::/kubepods/pod1\n", "", "memory").unwrap();
        assert_eq!(v2.dir, Path::new("/sys/fs/cgroup/kubepods/pod1"));
        assert_eq!(v2.ancestry().len(), 3);
        // Out of the mount's reach (another cgroup namespace).
        assert_eq!(locate("4:memory:/other\n", MOUNTINFO, "memory"), None);
        assert_eq!(locate("0::/../x\n", "", "memory"), None);
        assert_eq!(locate("", MOUNTINFO, "memory"), None);
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
        assert!(fork_limits(Errno::EAGAIN).contains("RLIMIT_NPROC"));
        assert_eq!(fork_limits(Errno::EPERM), "");
        let _ = fork_limits(Errno::ENOMEM);
    }
}
