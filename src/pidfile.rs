//! Following a workload that daemonizes ("fork off and die": nginx without
//! `daemon off`, php-fpm without `-F`): once the launcher exits 0, the daemon's
//! pid is read from its pidfile. The daemon must be pidone's child (re-parented
//! to pidone as PID 1 or subreaper) for its exit status to be observed.

use crate::shutdown;
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long pidone waits for the pidfile to name a pid.
pub const WAIT: Duration = Duration::from_secs(5);

/// Reads the daemon's pid from `path`, waiting up to `WAIT` for it to appear.
pub fn follow(path: &Path, self_pid: libc::pid_t) -> Result<Pid, String> {
    let deadline = Instant::now() + WAIT;
    let shown = path.display();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(pid) = text.trim().parse::<libc::pid_t>() {
            if pid <= 0 {
                return Err(format!("{shown} holds an invalid pid: {pid}"));
            }
            return match shutdown::parent_of(pid) {
                Some(parent) if parent == self_pid => Ok(Pid::from_raw(pid)),
                Some(_) => Err(format!(
                    "pid {pid} from {shown} is not a child of pidone: run pidone as PID 1 or with -s"
                )),
                None => Err(format!("pid {pid} from {shown} is gone")),
            };
        }
        if Instant::now() > deadline {
            return Err(format!("{shown} named no pid within {WAIT:?}"));
        }
        // A bounded wait at start-up only, while the daemon writes its pidfile.
        std::thread::sleep(Duration::from_millis(10));
    }
}
