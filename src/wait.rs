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
//! instead: once there is one, the wait is an `epoll_pwait` over a signalfd of
//! the same signals and those descriptors, and a signal is then read from the
//! signalfd: two system calls per signal instead of one. Measured in the bench
//! (benches/README, "The wait"): `sigtimedwait` alone costs what it did before
//! per signal; the poll costs more, on cgroup v1 hosts only.

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
    /// With a descriptor that cannot raise SIGIO: an epoll instance over a
    /// signalfd of the same signals and those descriptors, and the signalfd.
    polled: Option<Polled>,
}

struct Polled {
    epoll: OwnedFd,
    signalfd: OwnedFd,
}

impl Wait {
    pub fn new(signals: SignalSet) -> Self {
        Wait {
            signals,
            polled: None,
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
        if self.polled.is_none() {
            let flags = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;
            // SAFETY: signalfd(-1) makes a new descriptor for a valid sigset_t.
            let sfd = Errno::result(unsafe { libc::signalfd(-1, self.signals.as_ptr(), flags) })?;
            // SAFETY: the descriptor was just returned to us and is owned by nothing else.
            let signalfd = unsafe { OwnedFd::from_raw_fd(sfd) };
            // SAFETY: epoll_create1 returns a new descriptor or -1.
            let efd = Errno::result(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
            // SAFETY: as above.
            let epoll = unsafe { OwnedFd::from_raw_fd(efd) };
            add(&epoll, signalfd.as_raw_fd())?;
            self.polled = Some(Polled { epoll, signalfd });
        }
        match &self.polled {
            Some(polled) => add(&polled.epoll, fd),
            None => Err(Errno::EINVAL),
        }
    }

    /// Sleeps until the next event, or `deadline`. With no deadline and nothing
    /// happening, it stays in the kernel: no wakeups.
    pub fn next(&mut self, deadline: Option<Instant>) -> Result<Event, Errno> {
        let Some(polled) = &self.polled else {
            return Ok(match signals::wait(&self.signals, deadline)? {
                Some(sig) if readiness(&sig) => Event::Ready,
                Some(sig) => Event::Signal(sig),
                None => Event::Timeout,
            });
        };
        let signalfd = polled.signalfd.as_raw_fd();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        loop {
            // Rounded up to the millisecond: woken a little late, never early
            // (an early wake would find nothing due and wait again).
            let timeout = deadline.map_or(-1, |d| {
                let left = d.saturating_duration_since(Instant::now());
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            });
            // SAFETY: events is a live array of its length; a null sigmask
            // leaves the mask as it is.
            let n = unsafe {
                libc::epoll_pwait(
                    polled.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout,
                    std::ptr::null(),
                )
            };
            let ready = match Errno::result(n) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(0) => return Ok(Event::Timeout),
                Ok(n) => &events[..n as usize],
            };
            // A pending signal first, as sigtimedwait would take it.
            if ready.iter().any(|e| e.u64 == signalfd as u64)
                && let Some(sig) = read_signal(signalfd)?
            {
                return Ok(if readiness(&sig) {
                    Event::Ready
                } else {
                    Event::Signal(sig)
                });
            }
            if ready.iter().any(|e| e.u64 != signalfd as u64) {
                return Ok(Event::Ready);
            }
        }
    }
}

/// Adds `fd` to `epoll` for reading, tagged with its number.
fn add(epoll: &OwnedFd, fd: RawFd) -> Result<(), Errno> {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: a live epoll descriptor and event.
    Errno::result(unsafe {
        libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
    })
    .map(drop)
}

/// One pending signal from the (non-blocking) signalfd, if any.
fn read_signal(signalfd: RawFd) -> Result<Option<Received>, Errno> {
    // SAFETY: an all-zero signalfd_siginfo is a valid buffer.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: read into a live buffer of its size.
        let n = unsafe {
            libc::read(
                signalfd,
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n == size as isize {
            return Ok(Some(Received {
                signo: info.ssi_signo as i32,
                sender: info.ssi_pid as i32,
                code: info.ssi_code,
            }));
        }
        match Errno::last() {
            Errno::EINTR => continue,
            Errno::EAGAIN => return Ok(None),
            e => return Err(e),
        }
    }
}
