//! The container's largest processes at a limit event: the members of a cgroup
//! with their name, resident memory and task count, from /proc/PID/stat.
//!
//! Read only when an event is reported, bounded (`MAX_PIDS`); it lists the
//! cgroup's own members, not those of its child cgroups.

use super::text::{bytes, one_line};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::path::Path;

/// At most this many pids are read from `cgroup.procs` (and as many stat files):
/// the line names a few, and an event in a fork bomb must not cost a second.
const MAX_PIDS: usize = 4096;

/// One process of the cgroup, as /proc/PID/stat described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    /// `comm`, escaped to one line.
    pub name: String,
    /// Resident memory, in bytes.
    pub rss: u64,
    /// Its tasks (threads), each one of pids.max.
    pub tasks: u64,
}

/// The processes of the cgroup whose directory is `dir` (its `cgroup.procs`, pids as
/// pidone's PID namespace sees them), with their name, resident memory and task count.
/// A process that is gone by the time its stat is read is left out; so is a pid of
/// another PID namespace (v2 shows it as 0).
pub fn processes(dir: &Path) -> Vec<Process> {
    // SAFETY: sysconf reads a constant of the system and touches no memory.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => 4096,
    };
    pids(dir)
        .into_iter()
        .filter_map(|pid| {
            let (name, tasks, pages) = read_stat(pid)?;
            Some(Process {
                pid,
                name,
                rss: pages.saturating_mul(page),
                tasks,
            })
        })
        .collect()
}

/// The first `MAX_PIDS` pids of `dir/cgroup.procs`, read in chunks through a
/// buffer on the stack.
fn pids(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(mut file) = fs::File::open(dir.join("cgroup.procs")) else {
        return pids;
    };
    let mut buf = [0u8; 4096];
    // The digits so far, saturating: a number past i32 is no pid, not a wrapped one.
    let mut digits: Option<u64> = None;
    let end = |digits: &mut Option<u64>, pids: &mut Vec<i32>| {
        if let Some(pid) = digits.take().and_then(|d| i32::try_from(d).ok()) {
            // 0: a process of another PID namespace (v2).
            if pid > 0 && pids.len() < MAX_PIDS {
                pids.push(pid);
            }
        }
    };
    while pids.len() < MAX_PIDS {
        let n = match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b.is_ascii_digit() {
                let d = digits.unwrap_or(0);
                digits = Some(d.saturating_mul(10).saturating_add(u64::from(b - b'0')));
            } else {
                end(&mut digits, &mut pids);
            }
        }
    }
    end(&mut digits, &mut pids);
    pids
}

/// `(name, num_threads, rss in pages)` of /proc/PID/stat, read at once: the
/// kernel writes the whole line in one read, and the fields wanted come early.
fn read_stat(pid: i32) -> Option<(String, u64, u64)> {
    let mut file = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 1024];
    let n = file.read(&mut buf).ok()?;
    parse_stat(&buf[..n])
}

/// The comm is between the first '(' and the last ')' (it may hold both, and
/// spaces); after it come field 3 (state) and on: num_threads is field 20, rss
/// field 24 (proc(5)).
fn parse_stat(stat: &[u8]) -> Option<(String, u64, u64)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let field =
        |fields: &mut std::str::SplitAsciiWhitespace, skip| fields.nth(skip)?.parse::<u64>().ok();
    let threads = field(&mut fields, 20 - 3)?;
    let rss = field(&mut fields, 24 - 20 - 1)?;
    Some((one_line(&String::from_utf8_lossy(comm)), threads, rss))
}

/// `node (pid 12) 380.0 MiB, php-fpm (pid 7) 96.0 MiB`: the `n` largest by RSS, one
/// per process (the lower pid first among equals).
pub fn largest(procs: &[Process], n: usize) -> String {
    let mut by_rss: Vec<&Process> = procs.iter().collect();
    by_rss.sort_by_key(|p| (std::cmp::Reverse(p.rss), p.pid));
    by_rss
        .iter()
        .take(n)
        .map(|p| format!("{} (pid {}) {}", p.name, p.pid, bytes(p.rss)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `php-fpm (pid 7) 92, node (pid 12) 6`: tasks summed per process name (the lowest
/// pid of that name shown), the `n` names with the most tasks (the lower pid first
/// among equals).
pub fn most_tasks(procs: &[Process], n: usize) -> String {
    let mut by_name: BTreeMap<&str, (i32, u64)> = BTreeMap::new();
    for p in procs {
        let (pid, tasks) = by_name.entry(&p.name).or_insert((p.pid, 0));
        *pid = (*pid).min(p.pid);
        *tasks += p.tasks;
    }
    let mut names: Vec<(&str, i32, u64)> = by_name
        .into_iter()
        .map(|(name, (pid, tasks))| (name, pid, tasks))
        .collect();
    names.sort_by_key(|&(_, pid, tasks)| (std::cmp::Reverse(tasks), pid));
    names
        .iter()
        .take(n)
        .map(|(name, pid, tasks)| format!("{name} (pid {pid}) {tasks}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Cgroup;

    fn process(pid: i32, name: &str, mib: u64, tasks: u64) -> Process {
        Process {
            pid,
            name: name.to_owned(),
            rss: mib << 20,
            tasks,
        }
    }

    fn container() -> Vec<Process> {
        vec![
            process(1, "pidone", 1, 1),
            process(7, "php-fpm", 96, 1),
            process(12, "node", 380, 6),
            process(8, "php-fpm", 40, 1),
            process(9, "php-fpm", 40, 90),
        ]
    }

    #[test]
    fn the_largest_by_rss_one_per_process() {
        let procs = container();
        assert_eq!(
            largest(&procs, 2),
            "node (pid 12) 380.0 MiB, php-fpm (pid 7) 96.0 MiB"
        );
        // Equal sizes: the lower pid first.
        assert_eq!(
            largest(&procs, 4),
            "node (pid 12) 380.0 MiB, php-fpm (pid 7) 96.0 MiB, php-fpm (pid 8) 40.0 MiB, php-fpm (pid 9) 40.0 MiB"
        );
        assert_eq!(largest(&procs, 10).matches("(pid").count(), 5);
        assert_eq!(largest(&procs, 0), "");
        assert_eq!(largest(&[], 3), "");
    }

    #[test]
    fn the_most_tasks_summed_per_name() {
        let procs = container();
        assert_eq!(most_tasks(&procs, 2), "php-fpm (pid 7) 92, node (pid 12) 6");
        assert_eq!(
            most_tasks(&procs, 10),
            "php-fpm (pid 7) 92, node (pid 12) 6, pidone (pid 1) 1"
        );
        // Equal totals: the lower pid first.
        let tie = [
            process(5, "b", 0, 3),
            process(4, "a", 0, 3),
            process(3, "c", 0, 1),
        ];
        assert_eq!(most_tasks(&tie, 2), "a (pid 4) 3, b (pid 5) 3");
        assert_eq!(most_tasks(&[], 3), "");
    }

    #[test]
    fn stat_lines_parse_whatever_the_comm() {
        let fields = "S 1 7 7 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 12345 10000000 250 18446744073709551615";
        let stat = format!("7 (php-fpm: pool) www) {fields} 1 1 0\n");
        assert_eq!(
            parse_stat(stat.as_bytes()),
            Some(("php-fpm: pool) www".to_owned(), 3, 250))
        );
        let odd = format!("8 ((a\nb) {fields}\n");
        assert_eq!(
            parse_stat(odd.as_bytes()),
            Some(("(a\\nb".to_owned(), 3, 250))
        );
        assert_eq!(parse_stat(b"9 (cut) S 1 2 3"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn cgroup_procs_are_read_up_to_the_bound() {
        let dir = std::env::temp_dir().join(format!("pidone-top-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // 0 (another PID namespace) and a number past i32 are no pids.
        fs::write(dir.join("cgroup.procs"), "12\n0\n99999999999\n7").unwrap();
        assert_eq!(pids(&dir), [12, 7]);
        let many: String = (1..=MAX_PIDS + 10).map(|p| format!("{p}\n")).collect();
        fs::write(dir.join("cgroup.procs"), many).unwrap();
        let read = pids(&dir);
        assert_eq!(read.len(), MAX_PIDS);
        assert_eq!(read.last(), Some(&(MAX_PIDS as i32)));
        let _ = fs::remove_dir_all(&dir);
        assert!(pids(&dir).is_empty());
    }

    #[test]
    fn this_machine_s_memory_cgroup_lists_this_process() {
        let Some(group) = Cgroup::find("memory") else {
            return;
        };
        let procs = processes(&group.dir);
        let me = std::process::id() as i32;
        let mine = procs.iter().find(|p| p.pid == me);
        let mine = mine.unwrap_or_else(|| panic!("pid {me} not in {:?}: {procs:?}", group.dir));
        assert!(mine.rss > 0 && mine.tasks >= 1, "{mine:?}");
        assert!(largest(&procs, 3).contains("(pid "));
        assert!(most_tasks(&procs, 3).contains("(pid "));
    }
}
