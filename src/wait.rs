//! The one place pidone sleeps: until a signal is pending, one of the few
//! descriptors it watches is ready, or a deadline passes. Nothing else in
//! pidone ever blocks.
//!
//! The wait is `sigtimedwait`, as it was when pidone watched signals alone: a
//! descriptor that supports it (inotify, a pipe, a terminal, a socket) is set to
//! raise SIGIO when it becomes ready (`O_ASYNC`, `F_SETOWN` pidone, `F_SETSIG`
//! SIGIO), and a SIGIO with a `POLL_*` code (which only the kernel can set) is
//! that readiness, not a signal to forward. SIGIO is a standard signal: events
//! that come while one is pending fold into it, so `Ready` means "look at every
//! descriptor", and each is read until it has nothing more. One that comes while
//! a SIGIO someone sent is pending folds into that one, so the supervisor looks
//! at its descriptors on every SIGIO; and a SIGIO sent while a readiness one is
//! pending is folded away, as any standard signal sent twice.
//!
//! A descriptor that cannot raise SIGIO (cgroup v1's eventfd) is polled
//! instead: once there is one, the wait is a `ppoll` over a signalfd of the
//! same signals and those descriptors, and a signal is then taken with
//! `sigtimedwait` at once, so that it reads the same. Measured in the bench:
//! `sigtimedwait` alone costs no more than before per signal; the poll costs a
//! little more (benches/README).

use crate::signals::{self, Received, SignalSet};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// fcntl's F_SETSIG (Linux; the libc crate has no name for it).
const F_SETSIG: libc::c_int = 10;

/// What ended the wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Signal(Received),
    /// A watched descriptor is ready: look at all of them.
    Ready,
    /// The deadline passed.
    Timeout,
}

/// `si_code` of a SIGIO raised for a ready descriptor: POLL_IN (1) to POLL_HUP (6).
fn readiness(sig: &Received) -> bool {
    sig.signo == libc::SIGIO && (1..=6).contains(&sig.code)
}

pub struct Wait {
    signals: SignalSet,
    /// Descriptors that cannot raise SIGIO, and the signalfd that joins them.
    polled: Vec<RawFd>,
    signalfd: Option<OwnedFd>,
}

impl Wait {
    pub fn new(signals: SignalSet) -> Self {
        Wait {
            signals,
            polled: Vec::new(),
            signalfd: None,
        }
    }

    /// Makes `fd` (a description of pidone's own) raise SIGIO when it becomes
    /// ready (`on`), or stop doing so. Some kinds of file ignore `O_ASYNC`
    /// silently (an eventfd): those must be `poll`ed.
    pub fn notify(fd: BorrowedFd, on: bool) -> Result<(), Errno> {
        let fd = fd.as_raw_fd();
        // SAFETY: fcntl on a live descriptor; F_SETOWN/F_SETSIG/F_SETFL take ints.
        unsafe {
            let flags = Errno::result(libc::fcntl(fd, libc::F_GETFL))?;
            if on {
                Errno::result(libc::fcntl(fd, libc::F_SETOWN, libc::getpid()))?;
                Errno::result(libc::fcntl(fd, F_SETSIG, libc::SIGIO))?;
                Errno::result(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC))?;
            } else {
                Errno::result(libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_ASYNC))?;
            }
        }
        Ok(())
    }

    /// Watches `fd` by polling it in the wait (it cannot raise SIGIO). It must
    /// stay open as long as the wait lives.
    pub fn poll(&mut self, fd: RawFd) -> Result<(), Errno> {
        if self.signalfd.is_none() {
            let flags = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;
            // SAFETY: signalfd(-1) makes a new descriptor for a valid sigset_t.
            let sfd = unsafe { libc::signalfd(-1, self.signals.as_ptr(), flags) };
            let sfd = Errno::result(sfd)?;
            // SAFETY: the descriptor was just returned to us and is owned by nothing else.
            self.signalfd = Some(unsafe { OwnedFd::from_raw_fd(sfd) });
        }
        self.polled.push(fd);
        Ok(())
    }

    /// Sleeps until the next event, or `deadline`. With no deadline and nothing
    /// happening, it stays in the kernel: no wakeups.
    pub fn next(&mut self, deadline: Option<Instant>) -> Result<Event, Errno> {
        let Some(signalfd) = &self.signalfd else {
            return Ok(match signals::wait(&self.signals, deadline)? {
                Some(sig) if readiness(&sig) => Event::Ready,
                Some(sig) => Event::Signal(sig),
                None => Event::Timeout,
            });
        };
        let mut fds: Vec<libc::pollfd> = std::iter::once(signalfd.as_raw_fd())
            .chain(self.polled.iter().copied())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        loop {
            let timeout =
                deadline.map(|d| signals::timespec(d.saturating_duration_since(Instant::now())));
            let ts = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: fds is a live array of fds.len() pollfds; ts is null or a
            // live local; a null sigmask leaves the mask as it is.
            let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as _, ts, std::ptr::null()) };
            match Errno::result(n) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(0) => return Ok(Event::Timeout),
                Ok(_) => {}
            }
            if fds[0].revents != 0 {
                match signals::take_pending(&self.signals)? {
                    Some(sig) if readiness(&sig) => return Ok(Event::Ready),
                    Some(sig) => return Ok(Event::Signal(sig)),
                    // Taken by nobody else; a spurious wakeup at worst.
                    None => {}
                }
            }
            if fds[1..].iter().any(|p| p.revents != 0) {
                return Ok(Event::Ready);
            }
        }
    }
}
