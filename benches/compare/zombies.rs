//! The zombie storm: N orphans, left on the init as PID 1 by an intermediate
//! process (`examples/bench_orphans.rs`), exit at once; how long until the init
//! has reaped them all, how many zombies piled up, and the init's CPU per orphan.
//! Exits and reaps are counted through one pidfd per orphan (a pidfd reports
//! the reap too since Linux 6.9; on older kernels the phase is skipped), held by
//! forked watcher processes so that RLIMIT_NOFILE is never in the way.

use crate::bench_receiver;
use crate::figures::{Figure, Stats};
use crate::inits::{Init, order, real};
use crate::options::Options;
use crate::process::{Running, wait_blocking};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The pids of the children of `pid` (zombies included), from /proc. Slow with
/// many children (the kernel walks its list): read once before the storm only.
fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// An edge-triggered epoll set of pidfds: EPOLLIN when the process exits,
/// EPOLLHUP when it is reaped (Linux 6.9 and later wake pidfd pollers on reap).
struct Watch {
    epoll: OwnedFd,
}

impl Watch {
    fn new() -> io::Result<Watch> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that we own.
        Ok(Watch {
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn add(&self, fd: &OwnedFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: both descriptors are live; ev is a live local.
        let r = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// (token, exited, reaped) for each event within `timeout_ms`.
    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> Vec<(u64, bool, bool)> {
        // SAFETY: events is a live buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        events[..n.max(0) as usize]
            .iter()
            .map(|e| {
                let bits = e.events as i32;
                let token = e.u64;
                (token, bits & libc::EPOLLIN != 0, bits & libc::EPOLLHUP != 0)
            })
            .collect()
    }
}

/// Whether this kernel tells pidfd pollers about a reap (not only an exit).
fn reap_is_visible() -> bool {
    // SAFETY: fork in the single-threaded bench; the child only _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) };
    }
    let (Ok(fd), Ok(watch)) = (pidfd_open(pid), Watch::new()) else {
        let _ = wait_blocking(pid);
        return false;
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let added = watch.add(&fd, 0).is_ok();
    let exited = added && !watch.wait(&mut events, 5000).is_empty();
    let _ = wait_blocking(pid);
    exited && watch.wait(&mut events, 1000).iter().any(|e| e.2)
}

/// How many pidfds one process may hold (RLIMIT_NOFILE, raised to its hard limit).
fn fd_budget() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a live local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(1 << 20);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    (lim.rlim_cur as usize).saturating_sub(64).max(64)
}

const MAX_WATCHERS: usize = 64;

/// Counters shared with the watcher processes (an anonymous shared mapping).
#[repr(C)]
struct Shared {
    ready: AtomicU64,
    failed: AtomicU64,
    exited: AtomicU64,
    reaped: AtomicU64,
    peak: AtomicU64,
    /// CLOCK_MONOTONIC of each watcher's last reap.
    last_reap: [AtomicU64; MAX_WATCHERS],
}

fn shared() -> Result<&'static Shared, String> {
    // SAFETY: a fresh anonymous shared mapping, zeroed by the kernel: all-zero
    // atomics are valid. It is never unmapped: one page per storm round.
    unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            std::mem::size_of::<Shared>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            return Err("cannot map shared memory".into());
        }
        Ok(&*map.cast::<Shared>())
    }
}

/// A forked watcher: holds a pidfd for each of `pids` and counts their exits
/// (EPOLLIN) and reaps (EPOLLHUP) into `shared`, until all are reaped. Watchers
/// exist because one process may hold only RLIMIT_NOFILE descriptors.
fn watcher(pids: &[libc::pid_t], slot: usize, shared: &Shared) -> ! {
    let code = (|| {
        let watch = Watch::new().ok()?;
        let mut fds = Vec::with_capacity(pids.len());
        for (i, &pid) in pids.iter().enumerate() {
            let fd = pidfd_open(pid).ok()?;
            watch.add(&fd, i as u64).ok()?;
            fds.push(fd);
        }
        shared.ready.fetch_add(1, SeqCst);
        let mut state = vec![0u8; pids.len()];
        let mut left = pids.len();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        let deadline = Instant::now() + Duration::from_secs(150);
        while left > 0 && Instant::now() < deadline {
            for (token, is_in, hup) in watch.wait(&mut events, 100) {
                let s = &mut state[token as usize];
                if (is_in || hup) && *s == 0 {
                    *s = 1;
                    shared.exited.fetch_add(1, SeqCst);
                }
                if hup && *s == 1 {
                    *s = 2;
                    left -= 1;
                    shared.reaped.fetch_add(1, SeqCst);
                    shared.last_reap[slot].store(bench_receiver::monotonic_ns(), SeqCst);
                }
            }
            let zombies = shared.exited.load(SeqCst) - shared.reaped.load(SeqCst);
            shared.peak.fetch_max(zombies, SeqCst);
        }
        (left == 0).then_some(0)
    })()
    .unwrap_or(1);
    if code != 0 {
        shared.failed.fetch_add(1, SeqCst);
    }
    // SAFETY: _exit skips the bench's atexit handlers and buffered output.
    unsafe { libc::_exit(code) }
}

struct StormResult {
    wall_us_per_orphan: f64,
    peak_zombies: f64,
    cpu_us_per_orphan: f64,
}

/// One storm: `n` orphans on `init` as PID 1 exit at once. Every orphan is
/// watched through a pidfd, so exits and reaps are counted as they happen,
/// without polling /proc (reading a 20 000-entry children list costs ~40 ms).
fn zombie_round(init: &Init, n: usize, budget: usize) -> Result<StormResult, String> {
    let fail = |what: &str| format!("{}: {what}", init.name);
    let n_arg = n.to_string();
    let mut r = Running::start(init, "bench_orphans", &[&n_arg])?;
    let armed = r.expect("armed", Duration::from_secs(300))?;
    let helper: libc::pid_t = armed[6..].trim().parse().unwrap_or(0);
    let orphans: Vec<libc::pid_t> = children(r.pid)
        .into_iter()
        .filter(|&p| p != helper)
        .collect();
    if orphans.len() != n {
        return Err(fail(&format!(
            "{} orphans landed on the init, expected {n}",
            orphans.len()
        )));
    }
    let shared = shared()?;
    let chunks: Vec<&[libc::pid_t]> = orphans.chunks(budget).collect();
    if chunks.len() > MAX_WATCHERS {
        return Err(fail("too many orphans for RLIMIT_NOFILE"));
    }
    let mut watchers = Vec::new();
    for (slot, chunk) in chunks.iter().enumerate() {
        // SAFETY: the bench is single-threaded; the watcher runs plain Rust and _exits.
        match unsafe { libc::fork() } {
            0 => watcher(chunk, slot, shared),
            pid if pid > 0 => watchers.push(pid),
            _ => return Err(fail("cannot fork a watcher")),
        }
    }
    let ready_by = Instant::now() + Duration::from_secs(60);
    while shared.ready.load(SeqCst) < watchers.len() as u64 {
        if shared.failed.load(SeqCst) > 0 || Instant::now() > ready_by {
            return Err(fail("a watcher could not open the pidfds"));
        }
        sleep(Duration::from_millis(1));
    }
    let cpu0 = r.cpu_ns()?;
    let t0 = bench_receiver::monotonic_ns();
    let go = r.input.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: write one byte from a live buffer to the helper's stdin pipe.
    if unsafe { libc::write(go, b"g".as_ptr().cast(), 1) } != 1 {
        return Err(fail("cannot release the orphans"));
    }
    for pid in watchers {
        let _ = wait_blocking(pid);
    }
    let cpu1 = r.cpu_ns()?;
    if shared.failed.load(SeqCst) > 0 || shared.reaped.load(SeqCst) != n as u64 {
        return Err(fail(&format!(
            "{} of {n} orphans reaped within 150 s",
            shared.reaped.load(SeqCst)
        )));
    }
    let end = shared
        .last_reap
        .iter()
        .map(|t| t.load(SeqCst))
        .max()
        .unwrap_or(t0);
    r.stop(false)?;
    Ok(StormResult {
        wall_us_per_orphan: end.saturating_sub(t0) as f64 / 1e3 / n as f64,
        peak_zombies: shared.peak.load(SeqCst) as f64,
        cpu_us_per_orphan: (cpu1 - cpu0) as f64 / 1e3 / n as f64,
    })
}

pub fn bench(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[4/8] zombie storm: {} orphans exit at once on the init as PID 1, {} interleaved round(s)",
        opts.orphans, opts.zombie_rounds
    );
    if !reap_is_visible() {
        eprintln!(
            "note: this kernel does not wake pidfd pollers on reap (Linux 6.9+ does): zombie storm skipped"
        );
        return Ok(vec![]);
    }
    let budget = fd_budget();
    let list: Vec<&Init> = real(inits).collect();
    let mut results: Vec<Vec<StormResult>> = list.iter().map(|_| Vec::new()).collect();
    for round in 0..opts.zombie_rounds {
        for i in order(list.len(), round) {
            results[i].push(zombie_round(list[i], opts.orphans, budget)?);
        }
    }
    let mut wall = Figure::new(
        "reap_wall_us_per_orphan",
        "zombie storm: wall per orphan (µs)",
    );
    let mut peak = Figure::new("reap_peak_zombies", "zombie storm: peak zombies");
    let mut cpu = Figure::new(
        "reap_cpu_us_per_orphan",
        "zombie storm: init CPU per orphan (µs)",
    );
    for (init, res) in list.iter().zip(&results) {
        let col = |f: fn(&StormResult) -> f64| Stats::of(&res.iter().map(f).collect::<Vec<_>>());
        wall.values.push((init.name, col(|r| r.wall_us_per_orphan)));
        peak.values.push((init.name, col(|r| r.peak_zombies)));
        cpu.values.push((init.name, col(|r| r.cpu_us_per_orphan)));
    }
    Ok(vec![wall, peak, cpu])
}
