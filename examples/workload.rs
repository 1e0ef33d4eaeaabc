//! A toolbox of small workloads for trying pidone by hand and for its tests.
//!
//! ```text
//! workload exit CODE                 exit with CODE
//! workload raise SIGNAL              die of SIGNAL (default action: TERM, KILL, SEGV, ...)
//! workload record DIR [--grandchild] log each signal received to DIR/child.log (and a
//!                                    grandchild in the same process group to
//!                                    DIR/grandchild.log); exit 0 on TERM or QUIT
//! workload stubborn DIR              the same, but only KILL ends it
//! workload named DIR ROLE            record, as ROLE (DIR/ROLE.log, .pid, .ready)
//! workload lines N TAG               write N lines "TAG i" (i = 1..N) to stdout, exit 0
//! workload leave DIR                 leave three processes behind and exit 3: "polite"
//!                                    (ends on TERM), "stubborn" (needs KILL) and a
//!                                    setsid'd, double-forked "daemon" (needs KILL)
//! workload daemon DIR [CODE]         double-fork a setsid'd "daemon" that records
//!                                    signals (exits 5 on TERM), then exit CODE (7)
//! workload segv-once DIR             die of SEGV the first time, then record as "child"
//! workload orphans N [REAPER]        leave N orphans that exit at once, then wait until
//!                                    REAPER (default: our parent) has reaped them all
//! workload forks N DIR               try to fork N children that sleep until killed,
//!                                    write how many forks failed to DIR/forks.failed
//!                                    (a pids.max reached), then record as "child"
//! workload workers N DIR CMD [ARG...] start N workers running CMD at once, write
//!                                    DIR/workers.ready, then their statuses (exit code,
//!                                    or 128+signal), one a line, to DIR/workers.status
//!                                    once all ended, then record as "child": a master
//!                                    that lives on when its workers die
//! ```
//! Each mode writes `DIR/ROLE.pid` and then `DIR/ROLE.ready` once it is set up.

use pidone::signals::{self, Name, SignalSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| usage());
    match arg(0) {
        "exit" => exit(arg(1).parse().unwrap_or_else(|_| usage())),
        "raise" => raise(signals::parse(arg(1)).unwrap_or_else(|e| die(&e))),
        "record" => {
            let grandchild = args.get(2).is_some_and(|a| a == "--grandchild");
            // SAFETY: single-threaded; the child only continues this program.
            let role = if grandchild && unsafe { libc::fork() } == 0 {
                "grandchild"
            } else {
                "child"
            };
            record(Path::new(arg(1)), role, false)
        }
        "stubborn" => record(Path::new(arg(1)), "child", true),
        "named" => record(Path::new(arg(1)), arg(2), false),
        "lines" => lines(arg(1).parse().unwrap_or_else(|_| usage()), arg(2)),
        "leave" => leave(Path::new(arg(1))),
        "daemon" => {
            spawn(Path::new(arg(1)), "daemon", false, true);
            exit(args.get(2).and_then(|c| c.parse().ok()).unwrap_or(7))
        }
        "segv-once" => {
            let dir = Path::new(arg(1));
            if !dir.join("crashed").exists() {
                let _ = fs::write(dir.join("crashed"), "");
                raise(libc::SIGSEGV)
            }
            record(dir, "child", false)
        }
        "orphans" => orphans(
            arg(1).parse().unwrap_or_else(|_| usage()),
            args.get(2).and_then(|r| r.parse().ok()),
        ),
        "forks" => forks(
            arg(1).parse().unwrap_or_else(|_| usage()),
            Path::new(arg(2)),
        ),
        "workers" => workers(
            arg(1).parse().unwrap_or_else(|_| usage()),
            Path::new(arg(2)),
            args.get(3..)
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| usage()),
        ),
        _ => usage(),
    }
}

fn usage() -> ! {
    die(
        "usage: workload exit CODE | raise SIGNAL | record DIR [--grandchild] | stubborn DIR | named DIR ROLE | lines N TAG | leave DIR | daemon DIR [CODE] | segv-once DIR | orphans N [REAPER] | forks N DIR | workers N DIR CMD [ARG...]",
    )
}

fn die(msg: &str) -> ! {
    eprintln!("workload: {msg}");
    exit(100)
}

/// Writes `n` numbered lines to stdout, through a buffer (as a real service's
/// log would), then exits 0.
fn lines(n: u64, tag: &str) -> ! {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for i in 1..=n {
        if writeln!(out, "{tag} {i}").is_err() {
            exit(1);
        }
    }
    let _ = out.flush();
    exit(0)
}

/// Writes `DIR/ROLE.pid`, then `DIR/ROLE.ready`, so a test never reads a half-set-up state.
fn ready(dir: &Path, role: &str) {
    let file = |ext: &str| -> PathBuf { dir.join(format!("{role}.{ext}")) };
    fs::write(file("pid"), std::process::id().to_string()).unwrap_or_else(|e| die(&e.to_string()));
    fs::write(file("ready"), "").unwrap_or_else(|e| die(&e.to_string()));
}

fn raise(signo: i32) -> ! {
    // SAFETY: plain syscalls on our own process; the signal's default action ends it.
    unsafe {
        libc::signal(signo, libc::SIG_DFL);
        libc::kill(libc::getpid(), signo);
    }
    die("the signal did not kill me")
}

/// Logs every signal but CHLD to DIR/ROLE.log; exits 0 on TERM or QUIT unless stubborn.
fn record(dir: &Path, role: &str, stubborn: bool) -> ! {
    let set = SignalSet::catchable();
    set.set_mask().unwrap_or_else(|e| die(e.desc()));
    ready(dir, role);
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{role}.log")))
        .unwrap_or_else(|e| die(&e.to_string()));
    loop {
        let Ok(Some(sig)) = signals::wait(&set, None) else {
            continue;
        };
        if sig.signo == libc::SIGCHLD {
            continue;
        }
        let _ = writeln!(log, "{}", Name(sig.signo));
        if !stubborn && matches!(sig.signo, libc::SIGTERM | libc::SIGQUIT) {
            // The daemon's own status, so that a test can tell it from its launcher's.
            exit(if role == "daemon" { 5 } else { 0 });
        }
    }
}

/// Starts a recorder in a new process (setsid'd and double-forked if `daemon`)
/// and waits until it is ready.
fn spawn(dir: &Path, role: &str, stubborn: bool, daemon: bool) {
    let ready = dir.join(format!("{role}.ready"));
    let _ = fs::remove_file(&ready); // a restarted workload must not see the last run's
    // SAFETY: single-threaded; children only continue this program.
    unsafe {
        if libc::fork() == 0 {
            if daemon && (libc::setsid() < 0 || libc::fork() != 0) {
                libc::_exit(0);
            }
            record(dir, role, stubborn);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn leave(dir: &Path) -> ! {
    spawn(dir, "polite", false, false);
    spawn(dir, "stubborn", true, false);
    spawn(dir, "daemon", true, true);
    exit(3)
}

/// Leaves `n` orphans behind: an intermediate process forks them and exits; they
/// all exit together once it is gone, so they land on pidone as a burst. One of
/// them reports who its parent is then. Exits 0 once no child of our parent but
/// us is left in /proc (zombie or not), 1 if some remain after 30 s, 2 if the
/// orphans were re-parented to another process than `reaper` (default: our parent;
/// 1 when injected into a namespace from outside, where our parent is invisible).
fn orphans(n: usize, reaper: Option<i32>) -> ! {
    let (gate_r, gate_w) = nix::unistd::pipe().unwrap_or_else(|e| die(e.desc()));
    let (report_r, report_w) = nix::unistd::pipe().unwrap_or_else(|e| die(e.desc()));
    // SAFETY: single-threaded; the children only make raw syscalls and _exit.
    unsafe {
        if libc::fork() == 0 {
            let intermediate = libc::getpid();
            for i in 0..n {
                if libc::fork() == 0 {
                    libc::close(gate_w.as_raw_fd()); // the gate opens when the intermediate exits
                    let mut byte = [0u8; 1];
                    let _ = nix::unistd::read(&gate_r, &mut byte);
                    if i == 0 {
                        // The gate opens when the intermediate closes its files,
                        // a moment before the kernel re-parents us (or after:
                        // hence its pid from before the fork, not getppid now).
                        for _ in 0..10_000 {
                            if libc::getppid() != intermediate {
                                break;
                            }
                            libc::usleep(1000);
                        }
                        let _ = nix::unistd::write(&report_w, &libc::getppid().to_ne_bytes());
                    }
                    libc::_exit(0);
                }
            }
            libc::_exit(0);
        }
    }
    drop((gate_w, report_w));
    let _ = nix::sys::wait::wait();
    let mut buf = [0u8; 4];
    let _ = nix::unistd::read(&report_r, &mut buf);
    let got = i32::from_ne_bytes(buf);
    // SAFETY: getppid cannot fail.
    let parent = reaper.unwrap_or_else(|| unsafe { libc::getppid() });
    if got != parent {
        eprintln!("workload: orphans were re-parented to {got}, not to {parent}");
        exit(2);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = children_of(parent);
        if left == 0 {
            println!("all {n} orphans reaped");
            exit(0);
        }
        if Instant::now() > deadline {
            eprintln!("workload: {left} processes (zombies included) still wait for {parent}");
            exit(1);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Tries `n` forks and goes on when they fail, as a pre-forking server does at
/// pids.max; the children sleep until a signal kills them.
fn forks(n: usize, dir: &Path) -> ! {
    let mut failed = 0;
    for _ in 0..n {
        // SAFETY: single-threaded; the child only calls pause until it is killed.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: pause has no arguments and touches no memory.
                unsafe { libc::pause() };
            },
            -1 => failed += 1,
            _ => {}
        }
    }
    fs::write(dir.join("forks.failed"), failed.to_string()).unwrap_or_else(|e| die(&e.to_string()));
    record(dir, "child", false)
}

/// Starts `n` workers running `cmd` at once and waits for them all, as a
/// master whose workers may die (OOM-killed) while it lives on.
fn workers(n: usize, dir: &Path, cmd: &[String]) -> ! {
    let mut children = Vec::new();
    for _ in 0..n {
        let child = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .spawn()
            .unwrap_or_else(|e| die(&format!("cannot start {}: {e}", cmd[0])));
        children.push(child);
    }
    // Each has exec'd CMD by now (spawn returns after the exec).
    fs::write(dir.join("workers.ready"), "").unwrap_or_else(|e| die(&e.to_string()));
    let statuses: Vec<String> = children
        .iter_mut()
        .map(|c| {
            use std::os::unix::process::ExitStatusExt as _;
            let status = c.wait().unwrap_or_else(|e| die(&e.to_string()));
            let code = status.code().or(status.signal().map(|s| 128 + s));
            code.map_or("?".into(), |c| c.to_string())
        })
        .collect();
    fs::write(dir.join("workers.status"), statuses.join("\n") + "\n")
        .unwrap_or_else(|e| die(&e.to_string()));
    record(dir, "child", false)
}

/// Processes in /proc whose parent is `parent`, apart from ourselves.
fn children_of(parent: i32) -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()) && n != me)
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(parent)
        })
        .count()
}
