//! Benchmark helper: a service that writes N lines to stdout as fast as the
//! pipe takes them, then sleeps until a signal ends it (it does not exit: under
//! honcho, one service that ends stops them all). The bench reads the lines
//! through the supervisor's relay (`pidone --prefix`, honcho) to measure its
//! throughput. Each line is 64 bytes with the newline: `bench-line NNNNNNNN`
//! and padding.
//!
//! ```text
//! bench_lines N
//! ```

use std::io::Write;

pub fn main() {
    let Some(n) = std::env::args().nth(1).and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: bench_lines N");
        std::process::exit(100)
    };
    let mut out = std::io::BufWriter::with_capacity(8192, std::io::stdout().lock());
    for i in 0..n {
        if writeln!(out, "bench-line {i:08} {:.<43}", "").is_err() {
            eprintln!("bench_lines: cannot write to stdout");
            std::process::exit(100);
        }
    }
    if out.flush().is_err() {
        eprintln!("bench_lines: cannot write to stdout");
        std::process::exit(100);
    }
    loop {
        // SAFETY: pause(2) only sleeps; with default dispositions a signal ends us.
        unsafe { libc::pause() };
    }
}
