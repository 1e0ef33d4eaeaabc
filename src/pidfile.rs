//! Following a workload that daemonizes ("fork off and die": nginx without
//! `daemon off`, php-fpm without `-F`): once the launcher exits 0, the daemon's
//! pid is read from its pidfile. The daemon must be pidone's child (re-parented
//! to pidone as PID 1 or subreaper) for its exit status to be observed.
//!
//! The workload controls what is at the path, so it is read with care: opened
//! non-blocking (a FIFO there would otherwise block pidone in open(2), every
//! signal waiting), refused unless it is a regular file (a symlink to
//! /dev/zero), and read at most `MAX_SIZE` bytes.

use crate::error::escape;
use crate::shutdown;
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long pidone waits for the pidfile to name a pid.
pub const WAIT: Duration = Duration::from_secs(5);
/// More than any pid with its newline and blanks; a larger file is no pidfile.
const MAX_SIZE: usize = 64;

/// What a look at the path found.
#[derive(Debug, PartialEq, Eq)]
enum Content {
    /// Nothing there yet (or nothing readable): look again.
    Missing,
    /// The file's text (at most `MAX_SIZE` bytes).
    Text(String),
}

/// Reads the daemon's pid from `path`, waiting up to `WAIT` for it to appear.
pub fn follow(path: &Path, self_pid: libc::pid_t) -> Result<Pid, String> {
    let deadline = Instant::now() + WAIT;
    let shown = escape(&path.display().to_string()).into_owned();
    loop {
        let text = match read(path, &shown)? {
            Content::Text(text) => text,
            Content::Missing => String::new(),
        };
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

/// One look at the pidfile: never blocks, never reads more than `MAX_SIZE`
/// bytes. Not a regular file, or larger than a pid, is an error at once.
fn read(path: &Path, shown: &str) -> Result<Content, String> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(_) => return Ok(Content::Missing),
    };
    // fstat of what was opened, not stat of the path: no race with a rename.
    let regular = file.metadata().is_ok_and(|m| m.file_type().is_file());
    if !regular {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut bytes = Vec::with_capacity(MAX_SIZE + 1);
    if file
        .take(MAX_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Ok(Content::Missing);
    }
    if bytes.len() > MAX_SIZE {
        return Err(format!(
            "{shown} is larger than a pid ({MAX_SIZE} bytes at most)"
        ));
    }
    Ok(Content::Text(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_small_regular_file_is_read() {
        let dir = std::env::temp_dir().join(format!("pidone-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let read = |name: &str| read(&dir.join(name), name);

        assert_eq!(read("none"), Ok(Content::Missing));
        std::fs::write(dir.join("pid"), "1234\n").unwrap();
        assert_eq!(read("pid"), Ok(Content::Text("1234\n".into())));

        // A FIFO: open(2) would block without O_NONBLOCK; refused by fstat.
        let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(read("fifo"), Err("fifo is not a regular file".into()));

        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        assert_eq!(read("zero"), Err("zero is not a regular file".into()));
        assert_eq!(read("."), Err(". is not a regular file".into()));

        std::fs::write(dir.join("big"), "1".repeat(MAX_SIZE + 1)).unwrap();
        assert_eq!(
            read("big"),
            Err("big is larger than a pid (64 bytes at most)".into())
        );
        std::fs::write(dir.join("big"), " ".repeat(MAX_SIZE)).unwrap();
        assert!(matches!(read("big"), Ok(Content::Text(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
