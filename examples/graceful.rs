//! A worker that stops gracefully: it works until TERM or INT, finishes the job in
//! hand, says so and exits 0. Under pidone, `docker stop` ends it at once with 0.
//!
//! ```text
//! graceful        print "graceful: ready", wait for TERM or INT, exit 0
//! ```

use nix::sys::signal::{SigSet, Signal};
use std::process::exit;
use std::time::Duration;

fn main() {
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    // Blocked, so the signal waits for `wait` below instead of killing us.
    if let Err(e) = stop.thread_block() {
        eprintln!("graceful: cannot block TERM and INT: {e}");
        exit(1);
    }
    println!("graceful: ready (pid {})", std::process::id());
    match stop.wait() {
        Ok(signal) => println!("graceful: got {}, finishing the job", signal.as_str()),
        Err(e) => {
            eprintln!("graceful: cannot wait for a signal: {e}");
            exit(1);
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    println!("graceful: done, exit 0");
}
