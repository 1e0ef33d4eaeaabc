//! Benchmark helper: the workload that does nothing. It says `ready` on stdout,
//! then sleeps until a signal's default action ends it (TERM, INT, ...), so the
//! init above it can be measured while idle (memory, wakeups).
//!
//! ```text
//! bench_sleeper
//! ```

use std::io::Write;

pub fn main() {
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
