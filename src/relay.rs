//! `--prefix`: each service's stdout and stderr come to pidone through a pipe
//! of their own and go on to pidone's stdout and stderr line by line, each line
//! prefixed with the service's name (`web | `, names padded to one width, as
//! foreman does).
//!
//! Whole lines only: a line is written in one write of at most PIPE_BUF bytes,
//! so lines of two services (or pidone's own log line) are never mixed; a line
//! longer than fits is cut into several; the last line without a newline goes
//! out when the pipe closes. Nothing here blocks: the pipes are read
//! non-blocking when they raise SIGIO, and pidone's stdout and stderr are
//! written through `sink::Sink`. When one of them does not take a line, what
//! waits for it stays bounded (`HIGH` bytes): pidone stops reading the pipes
//! that go there, and the services then block on their full pipes, as they
//! would on a slow terminal. It goes on when the destination raises SIGIO again
//! (a pipe, FIFO or terminal) or, for a destination that cannot (a socket, a
//! full disk), at a retry `RETRY` later. A destination that is gone is drained
//! into nothing, so that no service blocks on it forever.

use crate::sink::{PIPE_BUF, Sink, Written};
use crate::wait::Wait;
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// What may wait for one destination before pidone stops reading its pipes.
const HIGH: usize = 32 * 1024;
/// How much is read from one pipe at a time.
const CHUNK: usize = 16 * 1024;
/// The longest name a prefix holds (a name is at most 64 bytes: the Procfile's bound).
const MAX_PREFIX: usize = 128;
/// The retry for a destination that cannot say when it takes writes again.
const RETRY: Duration = Duration::from_millis(20);

/// pidone's stdout or stderr, and the lines waiting for it.
struct Out {
    sink: Sink,
    /// Prefixed whole lines not written yet; `done` bytes of them were.
    pending: Vec<u8>,
    done: usize,
    /// It raises SIGIO while lines wait (turned off once they are out).
    notified: bool,
    /// A retry is due at this moment (when it cannot raise SIGIO).
    retry: Option<Instant>,
    gone: bool,
}

impl Out {
    fn new(fd: libc::c_int) -> Self {
        Out {
            sink: Sink::new(fd),
            pending: Vec::new(),
            done: 0,
            notified: false,
            retry: None,
            gone: false,
        }
    }

    fn room(&self) -> bool {
        self.gone || self.pending.len() - self.done < HIGH
    }

    /// Writes what waits, a PIPE_BUF of whole lines at a time, until it is out or
    /// the destination takes no more.
    fn flush(&mut self) {
        while !self.gone && self.done < self.pending.len() {
            let rest = &self.pending[self.done..];
            let most = &rest[..rest.len().min(PIPE_BUF)];
            // Every line is shorter than PIPE_BUF: there is a newline in `most`.
            let end = most
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(most.len(), |n| n + 1);
            match self.sink.write(&rest[..end]) {
                Written::All => self.done += end,
                Written::Partly(n) => self.done += n,
                Written::Blocked => break,
                Written::Gone => self.gone = true,
            }
        }
        if self.gone || self.done == self.pending.len() {
            self.pending.clear();
            self.done = 0;
        }
        self.watch();
    }

    /// Asks for SIGIO while lines wait, and only then (a healthy pipe would raise
    /// one on every read of its reader); a retry where SIGIO cannot come.
    fn watch(&mut self) {
        let waiting = !self.pending.is_empty();
        if let Some(own) = self.sink.own()
            && waiting != self.notified
        {
            self.notified = waiting && Wait::notify(own, true).is_ok();
            if !waiting {
                let _ = Wait::notify(own, false);
            }
        }
        self.retry = (waiting && !self.notified).then(|| Instant::now() + RETRY);
    }
}

/// One service's stdout or stderr: the pipe's read end and the line being put
/// together.
struct Stream {
    pipe: OwnedFd,
    /// Index of the service's prefix.
    prefix: usize,
    /// 0: stdout, 1: stderr.
    to: usize,
    line: Vec<u8>,
}

pub struct Relay {
    /// `name | `, padded.
    prefixes: Vec<Vec<u8>>,
    /// The longest line that fits one PIPE_BUF write with its prefix.
    max_line: usize,
    outs: [Out; 2],
    streams: Vec<Stream>,
}

impl Relay {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str> + Clone) -> Self {
        // The Procfile bounds names (`procfile::MAX_NAME`); the prefix is cut
        // there too, so that a prefixed line always fits one PIPE_BUF write.
        let cut = |name: &'a str| &name.as_bytes()[..name.len().min(MAX_PREFIX)];
        let width = names
            .clone()
            .into_iter()
            .map(|n| cut(n).len())
            .max()
            .unwrap_or(0);
        let prefixes: Vec<Vec<u8>> = names
            .into_iter()
            .map(|name| {
                let name = cut(name);
                let mut prefix = name.to_vec();
                prefix.resize(width, b' ');
                prefix.extend_from_slice(b" | ");
                prefix
            })
            .collect();
        let longest = prefixes.iter().map(Vec::len).max().unwrap_or(0);
        Relay {
            prefixes,
            max_line: PIPE_BUF.saturating_sub(longest + 1).max(64),
            outs: [Out::new(libc::STDOUT_FILENO), Out::new(libc::STDERR_FILENO)],
            streams: Vec::new(),
        }
    }

    /// Two new pipes for service `service`: their write ends, to become its
    /// stdout and stderr; pidone keeps the read ends, which raise SIGIO.
    pub fn pipes(&mut self, service: usize) -> Result<[OwnedFd; 2], Errno> {
        let mut ends = Vec::with_capacity(2);
        for to in 0..2 {
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            // SAFETY: F_SETFL on the read end pidone owns.
            unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            Wait::notify(read.as_fd(), true)?;
            self.streams.push(Stream {
                pipe: read,
                prefix: service,
                to,
                line: Vec::new(),
            });
            ends.push(write);
        }
        let [out, err]: [OwnedFd; 2] = ends.try_into().map_err(|_| Errno::EINVAL)?;
        Ok([out, err])
    }

    /// The read ends pidone holds (kept open when inherited descriptors are closed).
    pub fn descriptors(&self) -> Vec<libc::c_int> {
        self.streams.iter().map(|s| s.pipe.as_raw_fd()).collect()
    }

    /// When a destination that cannot raise SIGIO is to be tried again.
    pub fn deadline(&self) -> Option<Instant> {
        self.outs.iter().filter_map(|o| o.retry).min()
    }

    /// Moves what can move without blocking: what waits for pidone's stdout and
    /// stderr, then every pipe whose destination has room, until it is empty.
    pub fn pump(&mut self) {
        for out in &mut self.outs {
            out.retry = None;
            out.flush();
        }
        let mut buf = [0u8; CHUNK];
        let mut i = 0;
        while i < self.streams.len() {
            let to = self.streams[i].to;
            let mut closed = false;
            while self.outs[to].room() {
                match nix::unistd::read(&self.streams[i].pipe, &mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => self.take(i, &buf[..n]),
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
                self.outs[to].flush();
            }
            if closed {
                // The last line without a newline goes out now.
                let stream = self.streams.swap_remove(i);
                if !stream.line.is_empty() {
                    let prefix = &self.prefixes[stream.prefix];
                    emit(&mut self.outs[stream.to], prefix, &stream.line);
                }
                self.outs[stream.to].flush();
            } else {
                i += 1;
            }
        }
    }

    /// Bytes read from stream `i`: whole lines go to its destination, the rest
    /// waits for its newline (or is cut at `max_line`).
    fn take(&mut self, i: usize, mut bytes: &[u8]) {
        let stream = &mut self.streams[i];
        let (prefix, out) = (&self.prefixes[stream.prefix], &mut self.outs[stream.to]);
        while !bytes.is_empty() {
            let room = self.max_line - stream.line.len();
            // A newline right after a full line ends that line: it is no empty
            // line of its own (a line of exactly `max_line` bytes is one line).
            let (piece, newline) = match bytes.iter().take(room + 1).position(|&b| b == b'\n') {
                Some(n) => (&bytes[..n], true),
                None => (&bytes[..bytes.len().min(room)], false),
            };
            bytes = &bytes[piece.len() + usize::from(newline)..];
            let full = stream.line.len() + piece.len() == self.max_line;
            // A full line is cut only once a byte that is not its newline
            // follows; until then it waits, as a partial line does.
            if newline || (full && !bytes.is_empty()) {
                if stream.line.is_empty() {
                    emit(out, prefix, piece);
                } else {
                    stream.line.extend_from_slice(piece);
                    emit(out, prefix, &stream.line);
                    stream.line.clear();
                }
            } else {
                stream.line.extend_from_slice(piece);
            }
        }
    }
}

/// One prefixed line into what waits for `out` (dropped if it is gone).
fn emit(out: &mut Out, prefix: &[u8], line: &[u8]) {
    if out.gone {
        return;
    }
    out.pending.extend_from_slice(prefix);
    out.pending.extend_from_slice(line);
    out.pending.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> Relay {
        Relay::new(["web", "php"])
    }

    fn lines(out: &Out) -> String {
        String::from_utf8_lossy(&out.pending).into_owned()
    }

    #[test]
    fn whole_lines_are_prefixed_and_padded_and_partial_ones_wait() {
        let mut r = Relay::new(["web", "worker"]);
        let (read, _w) = nix::unistd::pipe().unwrap();
        r.streams.push(Stream {
            pipe: read,
            prefix: 0,
            to: 0,
            line: Vec::new(),
        });
        r.take(0, b"one\ntw");
        assert_eq!(lines(&r.outs[0]), "web    | one\n");
        r.take(0, b"o\n\nthree");
        assert_eq!(lines(&r.outs[0]), "web    | one\nweb    | two\nweb    | \n");
        assert_eq!(r.streams[0].line, b"three");
    }

    fn stream(r: &mut Relay, prefix: usize) {
        let (read, write) = nix::unistd::pipe().unwrap();
        std::mem::forget(write);
        r.streams.push(Stream {
            pipe: read,
            prefix,
            to: 0,
            line: Vec::new(),
        });
    }

    #[test]
    fn a_line_that_exactly_fits_is_one_line() {
        let full = vec![b'x'; PIPE_BUF - "web | ".len() - 1];
        let one = format!("web | {}\n", "x".repeat(full.len()));
        assert_eq!(one.len(), PIPE_BUF);
        // In one read, and with the newline in the next read.
        for split in [false, true] {
            let mut r = relay();
            stream(&mut r, 0);
            if split {
                r.take(0, &full);
                assert_eq!(lines(&r.outs[0]), "", "a full line waits for its newline");
                r.take(0, b"\nnext\n");
            } else {
                r.take(0, &[&full[..], b"\nnext\n"].concat());
            }
            assert_eq!(lines(&r.outs[0]), format!("{one}web | next\n"), "{split}");
        }
        // One byte more is cut into two lines, and no empty third.
        let mut r = relay();
        stream(&mut r, 0);
        r.take(0, &[&full[..], b"yz\n"].concat());
        assert_eq!(lines(&r.outs[0]), format!("{one}web | yz\n"));
    }

    #[test]
    fn a_long_name_keeps_lines_within_pipe_buf() {
        let long = "n".repeat(65_536);
        let mut r = Relay::new([long.as_str(), "web"]);
        stream(&mut r, 0);
        stream(&mut r, 1);
        r.take(0, &vec![b'x'; 3 * PIPE_BUF]);
        r.take(1, b"short\n");
        let text = lines(&r.outs[0]);
        assert!(text.lines().count() >= 4, "{}", text.lines().count());
        for line in text.split_inclusive('\n') {
            assert!(line.len() <= PIPE_BUF, "{}", line.len());
        }
    }

    #[test]
    fn long_lines_are_cut_to_fit_one_atomic_write() {
        let mut r = relay();
        let (read, _w) = nix::unistd::pipe().unwrap();
        r.streams.push(Stream {
            pipe: read,
            prefix: 1,
            to: 1,
            line: Vec::new(),
        });
        let long = vec![b'x'; 3 * PIPE_BUF];
        r.take(0, &long);
        r.take(0, b"\n");
        let text = lines(&r.outs[1]);
        assert!(text.lines().count() >= 3, "{}", text.lines().count());
        for line in text.lines() {
            assert!(line.starts_with("php | "), "{line}");
            assert!(line.len() < PIPE_BUF);
        }
        assert_eq!(text.matches('x').count(), 3 * PIPE_BUF);
    }
}
