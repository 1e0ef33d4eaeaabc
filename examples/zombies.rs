//! A zombie factory: leaves N orphans (default 50) that exit 100 ms later, then
//! sleeps until a signal ends it. The orphans are re-parented to PID 1: under
//! pidone they are reaped, while a PID 1 that never calls `wait()` (this very
//! program, run as PID 1 without pidone) keeps N zombies (`Z` in `ps`) forever.
//!
//! ```text
//! zombies [N]     leave N orphans, print "zombies: left N orphans", sleep
//! ```

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, pause};
use std::process::exit;
use std::time::Duration;

fn main() {
    let n: u32 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 50,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("zombies: usage: zombies [N]");
            exit(2);
        }
    };
    for _ in 0..n {
        // SAFETY: this program is single-threaded, so the child may run any code.
        match unsafe { fork() } {
            // The middle process forks the orphan-to-be and exits at once.
            Ok(ForkResult::Child) => {
                // SAFETY: as above, still single-threaded.
                if let Ok(ForkResult::Child) = unsafe { fork() } {
                    std::thread::sleep(Duration::from_millis(100));
                }
                // SAFETY: _exit ends this process without running the parent's exit handlers.
                unsafe { libc::_exit(0) }
            }
            Ok(ForkResult::Parent { child }) => drop(waitpid(child, None)),
            Err(e) => {
                eprintln!("zombies: cannot fork: {e}");
                exit(1);
            }
        }
    }
    println!("zombies: left {n} orphans (pid {})", std::process::id());
    loop {
        pause();
    }
}
