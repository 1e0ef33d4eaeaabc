//! Benchmark helper: the workload that records the signals its init forwards.
//! It blocks every catchable signal and takes them with `sigwaitinfo`, so a
//! signal is counted exactly once and no handler runs. Lines on stdout:
//!
//! ```text
//! ready                  once it is set up
//! t NANOS                per USR1, with `echo`: CLOCK_MONOTONIC right after receipt
//! c USR1 RT              on SIGRTMIN+2: USR1 and SIGRTMIN+1 received since the last report
//! ```
//! It exits 0 on TERM. Usage: `bench_receiver echo|count`.

use std::io::Write;
use std::process::exit;

pub fn main() {
    let echo = match std::env::args().nth(1).as_deref() {
        Some("echo") => true,
        Some("count") => false,
        _ => die("usage: bench_receiver echo|count"),
    };
    // glibc's SIGRTMIN, as the bench computes it: both are glibc programs.
    let (rt, report) = (libc::SIGRTMIN() + 1, libc::SIGRTMIN() + 2);
    // SAFETY: the set is a live local initialised by sigfillset before use.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        set
    };
    // SAFETY: plain sigprocmask on this single-threaded process.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        die("cannot block signals");
    }
    let mut out = std::io::stdout().lock();
    say(&mut out, format_args!("ready"));
    let (mut usr1, mut rts) = (0u64, 0u64);
    loop {
        // SAFETY: set is initialised; a null siginfo pointer is allowed.
        let signo = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if signo == libc::SIGUSR1 {
            usr1 += 1;
            if echo {
                say(&mut out, format_args!("t {}", monotonic_ns()));
            }
        } else if signo == rt {
            rts += 1;
        } else if signo == report {
            say(&mut out, format_args!("c {usr1} {rts}"));
            (usr1, rts) = (0, 0);
        } else if signo == libc::SIGTERM {
            exit(0);
        }
    }
}

fn say(out: &mut impl Write, line: std::fmt::Arguments) {
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        die("cannot write to stdout");
    }
}

/// CLOCK_MONOTONIC in nanoseconds (the bench uses it too, for the send time).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a live local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn die(msg: &str) -> ! {
    eprintln!("bench_receiver: {msg}");
    exit(100)
}
