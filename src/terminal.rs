//! Who gets the terminal. When pidone leads the session that owns its stdin
//! terminal (PID 1 of `docker run -t`), it lets go of it so that the workload,
//! leader of its own session, can take it as its controlling terminal and get
//! Ctrl-C, Ctrl-Z and job control directly. When the terminal belongs to a shell's
//! session, pidone keeps out of the way (the supervisor shares the shell's job
//! control with the workload whenever pidone is not PID 1).

use crate::signals::{self, SignalSet};
use log::{debug, warn};
use nix::unistd::{getpid, isatty};
use std::os::fd::BorrowedFd;

/// What the terminal situation means for the spawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    /// The child should take stdin as its controlling terminal (TIOCSCTTY).
    pub child_takes_it: bool,
}

/// Looks at stdin and, if pidone leads the session that controls it, releases it.
/// `session` is false in single-child mode, where the child stays in pidone's
/// session and process group and needs nothing done.
pub fn prepare(session: bool) -> Terminal {
    if !isatty(stdin()).unwrap_or(false) {
        return Terminal::default();
    }
    let owner = nix::sys::termios::tcgetsid(stdin()).ok();
    match owner {
        // Not our controlling terminal: the child may be able to take it.
        None => Terminal {
            child_takes_it: session,
        },
        Some(sid) if session && sid == getpid() => {
            release();
            Terminal {
                child_takes_it: true,
            }
        }
        Some(_) => Terminal::default(),
    }
}

/// Descriptor 0, without `std::io::stdin()` (whose first use allocates an 8 KiB
/// read buffer that would stay resident for pidone's whole life).
fn stdin() -> BorrowedFd<'static> {
    // SAFETY: 0 is open for pidone's whole life: `main` opens /dev/null on it if
    // it was closed, and `spawn::let_go` replaces it with dup2, never closes it.
    unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) }
}

/// TIOCNOTTY in a session leader makes the kernel send HUP and CONT to the
/// terminal's foreground group, which is pidone's own: those two are taken out of
/// the pending set again; a HUP or CONT someone else sent meanwhile is re-raised.
fn release() {
    // SAFETY: TIOCNOTTY takes no argument and only acts on the calling process.
    if unsafe { libc::ioctl(libc::STDIN_FILENO, libc::TIOCNOTTY) } != 0 {
        warn!(
            "cannot release the terminal: {}",
            crate::error::describe(nix::errno::Errno::last())
        );
        return;
    }
    let set = SignalSet::of(&[libc::SIGHUP, libc::SIGCONT]);
    let mut replay = Vec::new();
    while let Ok(Some(sig)) = signals::take_pending(&set) {
        // The kernel sends them as if pidone itself had called kill().
        if sig.sender != getpid().as_raw() && sig.code != libc::SI_KERNEL {
            replay.push(sig.signo);
        }
    }
    for signo in replay {
        // SAFETY: kill on our own pid with a valid signal number.
        unsafe { libc::kill(getpid().as_raw(), signo) };
    }
    debug!("released the terminal for the workload");
}
