//! A toolbox of small workloads for trying pidone by hand and for its tests.
//!
//! ```text
//! workload exit CODE                 exit with CODE
//! workload raise SIGNAL              die of SIGNAL (default action: TERM, KILL, SEGV, ...)
//! workload record DIR [--grandchild] log each signal received to DIR/child.log (and a
//!                                    grandchild in the same process group to
//!                                    DIR/grandchild.log); exit 0 on TERM
//! workload orphans N                 leave N orphans that exit at once, then wait until
//!                                    pidone (the parent) has reaped every one of them
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
        "record" => record(
            Path::new(arg(1)),
            args.get(2).is_some_and(|a| a == "--grandchild"),
        ),
        "orphans" => orphans(arg(1).parse().unwrap_or_else(|_| usage())),
        _ => usage(),
    }
}

fn usage() -> ! {
    die("usage: workload exit CODE | raise SIGNAL | record DIR [--grandchild] | orphans N")
}

fn die(msg: &str) -> ! {
    eprintln!("workload: {msg}");
    exit(100)
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

fn record(dir: &Path, grandchild: bool) -> ! {
    let set = SignalSet::catchable();
    set.set_mask().unwrap_or_else(|e| die(e.desc()));
    // SAFETY: this example is single-threaded; the child only continues this function.
    let role = if grandchild && unsafe { libc::fork() } == 0 {
        "grandchild"
    } else {
        "child"
    };
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
        if sig.signo == libc::SIGTERM {
            exit(0);
        }
    }
}

/// Leaves `n` orphans behind: an intermediate process forks them and exits; they
/// all exit together once it is gone, so they land on pidone as a burst. One of
/// them reports who its parent is then. Exits 0 once no child of our parent but
/// us is left in /proc (zombie or not), 1 if some remain after 30 s, 2 if the
/// orphans were re-parented to some other process than our parent.
fn orphans(n: usize) -> ! {
    let (gate_r, gate_w) = nix::unistd::pipe().unwrap_or_else(|e| die(e.desc()));
    let (report_r, report_w) = nix::unistd::pipe().unwrap_or_else(|e| die(e.desc()));
    // SAFETY: single-threaded; the children only make raw syscalls and _exit.
    unsafe {
        if libc::fork() == 0 {
            for i in 0..n {
                if libc::fork() == 0 {
                    libc::close(gate_w.as_raw_fd()); // the gate opens when the intermediate exits
                    let mut byte = [0u8; 1];
                    let _ = nix::unistd::read(&gate_r, &mut byte);
                    if i == 0 {
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
    let reaper = i32::from_ne_bytes(buf);
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    if reaper != parent {
        eprintln!("workload: orphans were re-parented to {reaper}, not to my parent {parent}");
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
