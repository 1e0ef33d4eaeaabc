//! Writes pidone makes on its own behalf (its log lines, relayed output) to a
//! descriptor it shares with the workload, without ever blocking the event loop
//! and without changing anything for the workload.
//!
//! The shared open file description stays blocking: making it O_NONBLOCK would
//! hand the workload EAGAIN. At the first write pidone looks at what the
//! descriptor is, once:
//! - a pipe, a FIFO or a terminal: pidone opens `/proc/self/fd/N` with
//!   O_NONBLOCK (and O_NOCTTY), a description of its own for the same pipe or
//!   terminal, and writes there: a full pipe or a stopped terminal is EAGAIN;
//! - a socket: `send(MSG_DONTWAIT | MSG_NOSIGNAL)` on the shared descriptor, a
//!   per-call non-blocking write;
//! - a regular file, /dev/null, anything else: written as it is (it does not
//!   wait for a reader);
//! - a pipe that cannot be reopened (no /proc): `poll(POLLOUT)` first, then a
//!   write of at most PIPE_BUF bytes, which fits the free slot poll promised
//!   unless the workload fills it in between (the one race left, without /proc).
//!
//! A write that would block is not made (`Blocked`); a destination that is gone
//! (EPIPE, no reader, a hung-up terminal) is `Gone` for good and never written
//! again, so a broken pipe costs one failed write and one SIGPIPE, never a loop.
//! Nothing here runs before the first write: no cost on the start path.

use libc::c_int;
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

/// Writes up to this long are atomic on a pipe: all or nothing, never mixed
/// with another writer's bytes.
pub const PIPE_BUF: usize = libc::PIPE_BUF;

/// What became of one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// All of it went out.
    All,
    /// Only this much went out (a terminal can take a part).
    Partly(usize),
    /// It would have blocked: nothing went out.
    Blocked,
    /// The destination is gone: nothing goes out, now or later.
    Gone,
}

/// How this descriptor is written without blocking.
#[derive(Debug)]
enum Way {
    /// Not looked at yet.
    Unknown,
    /// A non-blocking description of pidone's own for the same pipe or terminal.
    Own(OwnedFd),
    Socket,
    Direct,
    Polled,
    Gone,
}

/// One of pidone's standard descriptors (1 or 2), written without blocking.
#[derive(Debug)]
pub struct Sink {
    fd: c_int,
    way: Way,
}

impl Sink {
    pub const fn new(fd: c_int) -> Sink {
        Sink {
            fd,
            way: Way::Unknown,
        }
    }

    /// Forgets the descriptor of its own that it may hold, without closing it:
    /// `spawn::let_go` is about to close every descriptor above stderr. The next
    /// write looks again.
    pub fn forget(&mut self) {
        if let Way::Own(own) = std::mem::replace(&mut self.way, Way::Unknown) {
            let _ = own.into_raw_fd();
        }
    }

    /// The description of pidone's own that a write goes to, once one was
    /// opened: it can raise SIGIO when it takes writes again (`wait::Wait::notify`).
    /// `None` for a socket, a file, or a pipe written through the shared one.
    pub fn own(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.way {
            Way::Own(own) => Some(own.as_fd()),
            _ => None,
        }
    }

    /// Writes `bytes` (at most PIPE_BUF, for a pipe's atomicity) or nothing.
    pub fn write(&mut self, bytes: &[u8]) -> Written {
        if let Way::Unknown = self.way {
            self.way = look(self.fd);
        }
        let result = match &self.way {
            Way::Unknown | Way::Gone => return Written::Gone,
            Way::Own(own) => write(own.as_raw_fd(), bytes),
            Way::Direct => write(self.fd, bytes),
            Way::Socket => {
                let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
                // SAFETY: send reads `bytes` for its length; the descriptor is ours.
                let n = unsafe { libc::send(self.fd, bytes.as_ptr().cast(), bytes.len(), flags) };
                Errno::result(n).map(|n| n as usize)
            }
            Way::Polled => {
                if !writable(self.fd) {
                    return Written::Blocked;
                }
                write(self.fd, &bytes[..bytes.len().min(PIPE_BUF)])
            }
        };
        match result {
            Ok(n) if n == bytes.len() => Written::All,
            Ok(0) | Err(Errno::EAGAIN | Errno::EINTR | Errno::ENOSPC) => Written::Blocked,
            Ok(n) => Written::Partly(n),
            Err(_) => {
                self.way = Way::Gone;
                Written::Gone
            }
        }
    }
}

fn write(fd: c_int, bytes: &[u8]) -> Result<usize, Errno> {
    // SAFETY: write reads `bytes` for its length from live memory.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    Errno::result(n).map(|n| n as usize)
}

/// Whether `fd` can take a write now (poll with no timeout).
fn writable(fd: c_int) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one live pollfd, with no timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) == 1 && pfd.revents & libc::POLLOUT != 0 }
}

/// Looks at what `fd` is, and how to write it without blocking.
fn look(fd: c_int) -> Way {
    // SAFETY: an all-zero stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into a live local.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Way::Gone;
    }
    let tty = || {
        // SAFETY: isatty only queries the descriptor.
        unsafe { libc::isatty(fd) == 1 }
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => reopen(fd).unwrap_or_else(|errno| match errno {
            // Opening a pipe for writing with O_NONBLOCK and no reader.
            Errno::ENXIO => Way::Gone,
            _ => Way::Polled,
        }),
        libc::S_IFCHR if tty() => reopen(fd).unwrap_or(Way::Direct),
        libc::S_IFSOCK => Way::Socket,
        _ => Way::Direct,
    }
}

/// A non-blocking description of pidone's own for what `fd` refers to.
fn reopen(fd: c_int) -> Result<Way, Errno> {
    let path = format!("/proc/self/fd/{fd}\0");
    let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; open returns a new descriptor or -1.
    let own = unsafe { libc::open(path.as_ptr().cast(), flags) };
    if own < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the descriptor was just returned to us and is owned by nothing else.
    Ok(Way::Own(unsafe { OwnedFd::from_raw_fd(own) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe().unwrap()
    }

    #[test]
    fn a_full_pipe_is_blocked_and_the_shared_end_stays_blocking() {
        let (r, w) = pipe();
        let mut sink = Sink::new(w.as_raw_fd());
        let line = [b'x'; 512];
        let mut written = 0;
        while sink.write(&line) == Written::All {
            written += line.len();
            assert!(written <= 1 << 20, "a pipe never filled");
        }
        assert_eq!(sink.write(b"y\n"), Written::Blocked);
        // SAFETY: fcntl(F_GETFL) only queries the descriptor.
        let flags = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(
            flags & libc::O_NONBLOCK,
            0,
            "the shared description changed"
        );
        // Drained, it takes writes again.
        let mut buf = vec![0u8; written];
        let mut got = 0;
        while got < written {
            got += nix::unistd::read(&r, &mut buf[got..]).unwrap();
        }
        assert_eq!(sink.write(b"again\n"), Written::All);
    }

    #[test]
    fn a_pipe_with_no_reader_is_gone_for_good() {
        let (r, w) = pipe();
        drop(r);
        let mut sink = Sink::new(w.as_raw_fd());
        assert_eq!(sink.write(b"x\n"), Written::Gone);
        assert_eq!(sink.write(b"x\n"), Written::Gone);
    }

    #[test]
    fn a_reader_that_goes_away_makes_it_gone() {
        let (r, w) = pipe();
        let mut sink = Sink::new(w.as_raw_fd());
        assert_eq!(sink.write(b"x\n"), Written::All);
        drop(r);
        // The test harness leaves SIGPIPE ignored: EPIPE comes back.
        assert_eq!(sink.write(b"x\n"), Written::Gone);
        assert!(matches!(sink.way, Way::Gone));
    }

    #[test]
    fn regular_files_and_dev_null_are_written_as_they_are() {
        let path = std::env::temp_dir().join(format!("pidone-sink-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut sink = Sink::new(file.as_raw_fd());
        assert_eq!(sink.write(b"line\n"), Written::All);
        assert!(matches!(sink.way, Way::Direct));
        let _ = std::fs::remove_file(&path);
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let mut sink = Sink::new(null.as_raw_fd());
        assert_eq!(sink.write(b"line\n"), Written::All);
    }
}
