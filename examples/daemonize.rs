//! Daemonizes the classic way: the parent exits 0 at once; the child calls
//! `setsid` and forks the daemon, which prints a line every second. pidone follows
//! the process it started: when that parent exits, pidone exits 0 and, as PID 1,
//! takes the container down with the daemon in it. Under pidone, run servers in
//! the foreground (`php-fpm -F`, `nginx -g 'daemon off;'`).
//!
//! ```text
//! daemonize       leave a daemon printing "daemonize: daemon PID alive", exit 0
//! ```

use nix::unistd::{ForkResult, fork, setsid};
use std::process::exit;
use std::time::Duration;

fn main() {
    // SAFETY: this program is single-threaded, so the children may run any code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            println!("daemonize: forked {child}, parent exits 0");
            return;
        }
        Ok(ForkResult::Child) => {}
        Err(e) => fail("fork", e),
    }
    if let Err(e) = setsid() {
        fail("setsid", e);
    }
    // SAFETY: as above; the session leader exits so the daemon can never get a tty.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => exit(0),
        Ok(ForkResult::Child) => {}
        Err(e) => fail("fork", e),
    }
    loop {
        println!("daemonize: daemon {} alive", std::process::id());
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn fail(op: &str, e: nix::errno::Errno) -> ! {
    eprintln!("daemonize: cannot {op}: {e}");
    exit(1)
}
