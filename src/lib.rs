//! pidone: a small PID 1 for containers. It starts one workload, forwards the
//! signals it receives to the workload's process group, reaps every zombie that
//! lands on it, and exits with the workload's status.
//!
//! Modules, one concern each: `cli` (arguments → `Config`), `signals` (sets,
//! names, the blocking wait), `terminal` (who gets the tty), `spawn` (fork/exec),
//! `reap` (waitpid, exit codes), `supervisor` (the event loop), `logging`.

pub mod cli;
pub mod error;
pub mod logging;
pub mod reap;
pub mod signals;
pub mod spawn;
pub mod supervisor;
pub mod terminal;

pub use cli::Config;
pub use error::Error;

use log::warn;
use nix::unistd::getpid;
use signals::SignalSet;
use supervisor::{Mode, Supervisor};

/// Blocks every catchable signal. `main` calls this before anything else, so a
/// signal sent to pidone at any later moment waits in the pending set until the
/// event loop takes it: nothing is lost before or during the spawn.
pub fn take_signals() -> Result<SignalSet, Error> {
    let set = SignalSet::catchable();
    set.set_mask().map_err(|errno| Error::Sys {
        op: "block signals",
        errno,
    })?;
    Ok(set)
}

/// Runs the workload under pidone and returns the exit code pidone should exit with.
pub fn run(config: &Config, signals: SignalSet) -> Result<i32, Error> {
    let self_pid = getpid().as_raw();
    if config.subreaper {
        nix::sys::prctl::set_child_subreaper(true).map_err(|errno| Error::Sys {
            op: "become a child subreaper",
            errno,
        })?;
    } else if self_pid != 1 {
        warn!(
            "not running as PID 1 and not a subreaper (-s): orphans of the workload will not be reaped by pidone"
        );
    }
    let session = !config.single_child;
    let terminal = terminal::prepare(session);
    let child = spawn::spawn(&config.command, spawn::Setup { session, terminal })?;
    spawn::let_go();
    let job_control = terminal.pidone_keeps_it && self_pid != 1;
    let mode = Mode {
        session,
        job_control,
        self_pid,
    };
    Supervisor {
        mode,
        child,
        signals,
        warn_on_reap: config.warn_on_reap,
    }
    .run()
}
