//! Pause mode, for the sandbox process of a pod: no workload. pidone sleeps in
//! the kernel, reaps every orphan that lands on it (other containers of the pod
//! share its PID namespace) and exits 0 on INT or TERM. Nothing else stops it.

use crate::error::Error;
use crate::reap;
use crate::signals::{self, Name, SignalSet};
use log::{debug, info};

pub fn run(signals: &SignalSet, warn_on_reap: bool) -> Result<i32, Error> {
    let self_pid = nix::unistd::getpid().as_raw();
    loop {
        let sig = signals::wait(signals, None).map_err(|errno| Error::Sys {
            op: "wait for signals",
            errno,
        })?;
        match sig.map(|s| (s.signo, s.sender)) {
            Some((libc::SIGCHLD, _)) => {
                reap::reap_all(&[], false, warn_on_reap, |_, _| {});
            }
            Some((signo @ (libc::SIGINT | libc::SIGTERM), sender)) => {
                info!("received {} from pid {sender}: exiting", Name(signo));
                return Ok(0);
            }
            // pidone's own broken pipe: a log line about it could raise it again.
            Some((libc::SIGPIPE | libc::SIGXFSZ, sender)) if sender == self_pid => {}
            Some((signo, sender)) => debug!("ignored {} from pid {sender}", Name(signo)),
            None => {}
        }
    }
}
