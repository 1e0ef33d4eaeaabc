//! A program that ignores TERM, as many do by accident. pidone forwards TERM, but
//! it cannot make a program quit: `docker stop -t N` then waits N seconds and the
//! engine kills the container (status 137). Fix the program, or turn TERM into a
//! signal it obeys (`pidone -r TERM:INT`).
//!
//! ```text
//! ignore_term     print "ignore_term: ready", ignore TERM, sleep until killed
//! ```

use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::pause;
use std::process::exit;

fn main() {
    // SAFETY: SIG_IGN installs no handler code; nothing else handles TERM here.
    if let Err(e) = unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) } {
        eprintln!("ignore_term: cannot ignore TERM: {e}");
        exit(1);
    }
    println!(
        "ignore_term: ready (pid {}), ignoring TERM",
        std::process::id()
    );
    loop {
        pause();
    }
}
