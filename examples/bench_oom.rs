//! Benchmark helper: the workload whose children run out of memory, one at a
//! time, while it lives on (the OOM killer takes the child, the largest). Lines
//! on stdout:
//!
//! ```text
//! ready                  once started; it then waits for a line on stdin
//! oom SIGNAL             per child, the signal that ended it (9: the OOM killer)
//! done KILLED            after COUNT children, how many SIGKILL ended
//! ```
//! Each child is `PROGRAM ARGS` with `PIDONE_BENCH_HELPER=hog` in its
//! environment (the bench's binary is `examples/hog.rs` too), started
//! INTERVAL_MS after the previous one ended. Then it sleeps until TERM.
//! Usage: `bench_oom COUNT INTERVAL_MS PROGRAM [ARGS...]`.

use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, exit};
use std::time::Duration;

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(count), Some(interval), Some(program)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1).and_then(|a| a.parse::<u64>().ok()),
        args.get(2),
    ) else {
        eprintln!("usage: bench_oom COUNT INTERVAL_MS PROGRAM [ARGS...]");
        exit(2)
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    let mut killed = 0;
    for i in 0..count {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(interval));
        }
        let signal = Command::new(program)
            .args(&args[3..])
            .env("PIDONE_BENCH_HELPER", "hog")
            .status()
            .map_or(0, |s| s.signal().unwrap_or(0));
        killed += usize::from(signal == libc::SIGKILL);
        let _ = writeln!(out, "oom {signal}");
        let _ = out.flush();
    }
    let _ = writeln!(out, "done {killed}");
    let _ = out.flush();
    loop {
        // SAFETY: pause has no arguments; TERM's default action ends us.
        unsafe { libc::pause() };
    }
}
