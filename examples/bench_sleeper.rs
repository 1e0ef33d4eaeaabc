//! Benchmark helper: the workload that does nothing. It says `ready` on stdout,
//! then sleeps until a signal's default action ends it (TERM, INT, ...), so the
//! init above it can be measured while idle (memory, wakeups).
//!
//! With `PIDONE_BENCH_NOTIFY=PATH` in its environment it first writes one line
//! `PID NANOS` to PATH (a FIFO the bench reads): its pid as the /proc mount
//! sees it and CLOCK_MONOTONIC at its start, so that the bench learns when a
//! supervisor has started (or restarted) it, whatever the supervisor does with
//! its stdout.
//!
//! ```text
//! bench_sleeper
//! ```

use std::io::Write;

pub fn main() {
    if let Some(path) = std::env::var_os("PIDONE_BENCH_NOTIFY") {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into a live local.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let now = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        // /proc/self names us as the /proc mount's PID namespace sees us.
        let me = std::fs::read_link("/proc/self")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into());
        // One write of a short line: atomic on a FIFO shared by every service.
        let told = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{me} {now}\n").as_bytes()));
        if let Err(e) = told {
            eprintln!("bench_sleeper: cannot write to {}: {e}", path.display());
            std::process::exit(100);
        }
    }
    let mut out = std::io::stdout();
    let said = writeln!(out, "ready").and_then(|()| out.flush());
    if let Err(e) = said {
        eprintln!("bench_sleeper: cannot write to stdout: {e}");
        std::process::exit(100);
    }
    loop {
        // SAFETY: pause(2) only sleeps; with default dispositions a signal ends us.
        unsafe { libc::pause() };
    }
}
