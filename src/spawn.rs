//! Starts the workload. Everything the child needs is built before fork; between
//! fork and exec the child only makes async-signal-safe calls: its own session,
//! the terminal, an empty mask, exec. Its signal dispositions are the defaults
//! already: pidone reset its own at start (`signals::default_dispositions`)
//! and changes none after. Exec and
//! set-up failures travel back over a close-on-exec pipe. Waiting is `reap`'s job.

use crate::error::Error;
use crate::signals::SignalSet;
use crate::terminal::Terminal;
use log::warn;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, Pid};
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// How the child is set up.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Give the child its own session (and so its own process group).
    pub session: bool,
    pub terminal: Terminal,
    /// Written to the child's /proc/self/oom_score_adj before exec.
    pub oom_score_adj: Option<i16>,
}

/// What the child reports over the pipe: a tag and an errno.
const EXEC_FAILED: i32 = 1;
const SETSID_FAILED: i32 = 2;
const TTY_FAILED: i32 = 3;
const OOM_FAILED: i32 = 4;

/// Forks and execs `command`; returns once exec succeeded (the pipe closed).
pub fn spawn(command: &[OsString], setup: Setup) -> Result<Pid, Error> {
    let program = command
        .first()
        .ok_or_else(|| Error::Usage("no command given".into()))?;
    let display = program.to_string_lossy().into_owned();
    let nul = |_| Error::Usage(format!("argument contains a NUL byte: '{display}'"));
    let args: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(nul)?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let paths = candidates(program, || std::env::var_os("PATH"));
    let oom = setup.oom_score_adj.map(|n| n.to_string().into_bytes());
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| Error::Sys {
            op: "create a pipe",
            errno,
        })?;

    // SAFETY: pidone is single-threaded; the child branch below only makes
    // async-signal-safe calls on data prepared before the fork, then execs or _exits.
    match unsafe { nix::unistd::fork() } {
        Err(errno) => Err(Error::Fork(errno)),
        Ok(ForkResult::Child) => child(&paths, &argv, setup, oom.as_deref(), write_end.as_raw_fd()),
        Ok(ForkResult::Parent { child }) => {
            drop(write_end);
            match read_reports(read_end) {
                None => Ok(child),
                Some((tag, errno)) => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    Err(match tag {
                        SETSID_FAILED => Error::Sys {
                            op: "create a session for the child",
                            errno,
                        },
                        _ => Error::Exec {
                            program: display,
                            errno,
                        },
                    })
                }
            }
        }
    }
}

/// Where execvp would look for `program`: itself if it has a slash, else each
/// entry of `path()` (an empty entry is the current directory; no PATH is
/// glibc's default).
fn candidates(program: &OsStr, path: impl FnOnce() -> Option<OsString>) -> Vec<CString> {
    let name = program.as_bytes();
    if name.is_empty() || name.contains(&b'/') {
        return CString::new(name).into_iter().collect();
    }
    let path = path();
    let path = path
        .as_deref()
        .map_or(&b"/bin:/usr/bin"[..], OsStr::as_bytes);
    path.split(|&b| b == b':')
        .filter_map(|dir| {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            CString::new([dir, b"/", name].concat()).ok()
        })
        .collect()
}

/// Reads the child's reports until exec closes the pipe. Warnings are logged;
/// the first fatal one is returned.
fn read_reports(pipe: OwnedFd) -> Option<(i32, Errno)> {
    let mut record = [0u8; 8];
    loop {
        match nix::unistd::read(&pipe, &mut record) {
            Err(Errno::EINTR) => continue,
            Ok(8) => {}
            _ => return None,
        }
        let tag = i32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
        let errno = Errno::from_raw(i32::from_ne_bytes([
            record[4], record[5], record[6], record[7],
        ]));
        match tag {
            TTY_FAILED => warn!(
                "the workload cannot take the terminal as its controlling terminal: {}",
                crate::error::describe(errno)
            ),
            OOM_FAILED => warn!(
                "cannot set the workload's oom_score_adj: {}",
                crate::error::describe(errno)
            ),
            _ => return Some((tag, errno)),
        }
    }
}

/// The child between fork and exec. Never returns.
fn child(
    paths: &[CString],
    argv: &[*const libc::c_char],
    setup: Setup,
    oom: Option<&[u8]>,
    report: i32,
) -> ! {
    let tell = |tag: i32, errno: Errno| {
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&tag.to_ne_bytes());
        record[4..].copy_from_slice(&(errno as i32).to_ne_bytes());
        // SAFETY: write(2) on our own pipe with a live 8-byte buffer; async-signal-safe.
        unsafe { libc::write(report, record.as_ptr().cast(), record.len()) };
    };
    // SAFETY: setsid and ioctl(TIOCSCTTY) are plain syscalls on the calling process.
    unsafe {
        if setup.session && libc::setsid() < 0 {
            tell(SETSID_FAILED, Errno::last());
            libc::_exit(1);
        }
        if setup.terminal.child_takes_it && libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY, 0) < 0
        {
            tell(TTY_FAILED, Errno::last());
        }
    }
    if let Some(text) = oom {
        // SAFETY: open/write/close on our own /proc entry with a live buffer: async-signal-safe.
        unsafe {
            let fd = libc::open(
                c"/proc/self/oom_score_adj".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd < 0 || libc::write(fd, text.as_ptr().cast(), text.len()) < 0 {
                tell(OOM_FAILED, Errno::last());
            }
            libc::close(fd);
        }
    }
    let _ = SignalSet::empty().set_mask();
    // Like execvp: keep looking past entries that do not hold the program; a
    // permission error is remembered in case nothing better turns up.
    let mut error = Errno::ENOENT;
    let mut denied = false;
    for path in paths {
        // SAFETY: path and argv are NUL-terminated and outlive the call; execv only returns on error.
        unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
        match Errno::last() {
            Errno::EACCES => denied = true,
            Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {}
            other => {
                error = other;
                break;
            }
        }
    }
    if denied && error == Errno::ENOENT {
        error = Errno::EACCES;
    }
    tell(EXEC_FAILED, error);
    let code = Error::Exec {
        program: String::new(),
        errno: error,
    }
    .exit_code();
    // SAFETY: _exit is async-signal-safe and skips atexit handlers the parent owns.
    unsafe { libc::_exit(code) }
}

/// After the spawn pidone lets go of what it inherited: its working directory
/// (so it pins no mount), every descriptor above stderr (sockets, files the
/// workload was handed) and stdin/stdout, which become /dev/null.
pub fn let_go() {
    let _ = nix::unistd::chdir("/");
    if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, nix::sys::stat::Mode::empty()) {
        // SAFETY: dup2 onto our own stdin/stdout; the /dev/null descriptor is ours.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO);
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
    // SAFETY: close_range closes descriptors of this process only; nothing below holds one.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0 {
        return;
    }
    // Kernels before 5.9: close what /proc lists.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|&fd| fd > 2) {
        // SAFETY: closing a descriptor number; nothing in pidone owns one at this point.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: Vec<CString>) -> Vec<String> {
        v.into_iter().map(|c| c.into_string().unwrap()).collect()
    }

    #[test]
    fn path_lookup_is_like_execvp() {
        let look =
            |p: &str, path: Option<&str>| strs(candidates(p.as_ref(), || path.map(OsString::from)));
        assert_eq!(look("./x", Some("/bin")), ["./x"]);
        assert_eq!(look("/usr/bin/env", Some("/bin")), ["/usr/bin/env"]);
        assert_eq!(look("ls", Some("/a::/b")), ["/a/ls", "./ls", "/b/ls"]);
        assert_eq!(look("ls", None), ["/bin/ls", "/usr/bin/ls"]);
        assert_eq!(look("", Some("/bin")), [""]);
    }
}
