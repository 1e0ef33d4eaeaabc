//! Starts the workload, the way `posix_spawn` does: `clone(CLONE_VM |
//! CLONE_VFORK)` on a stack of its own, so that no page table is copied and
//! pidone sleeps until the child has exec'd or given up. Everything the child
//! needs is built before; until exec the child only makes async-signal-safe
//! system calls: its own session, the terminal, oom_score_adj, a `ready: fd N`
//! descriptor, the user (`user::Credentials::apply`), an empty mask, exec.
//! It shares pidone's memory until then and writes what went wrong into
//! `Report`, which pidone reads once the clone returns. Its signal dispositions
//! are the defaults already: pidone reset its own at start
//! (`signals::default_dispositions`) and changes none after. Waiting is `reap`'s job.

use crate::error::Error;
use crate::signals::SignalSet;
use crate::terminal::Terminal;
use crate::user::Credentials;
use log::warn;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;

/// How the child is set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup {
    /// Give the child its own session (and so its own process group).
    pub session: bool,
    pub terminal: Terminal,
    /// Written to the child's /proc/self/oom_score_adj before exec.
    pub oom_score_adj: Option<i16>,
    /// Descriptors to become the child's stdout and stderr (`--prefix`'s pipes).
    pub stdio: Option<[libc::c_int; 2]>,
    /// Who the child runs as (`--user`): groups, gid, uid set before exec, and
    /// its HOME, USER and LOGNAME.
    pub user: Option<&'static Credentials>,
    /// `[from, to]`: the descriptor `from` becomes the child's `to` (a `ready: fd N`
    /// pipe's write end, `ready::Notify::child_end`).
    pub notify: Option<[libc::c_int; 2]>,
}

/// The child's stack: what it runs before exec needs a few hundred bytes.
/// Mapped for the spawn and unmapped after, so that none of it stays resident.
const CHILD_STACK: usize = 64 * 1024;

/// What the child writes back, in the memory it shares with pidone until exec.
#[derive(Debug, Default)]
struct Report {
    /// TIOCSCTTY failed: the workload runs without a controlling terminal.
    tty: Option<Errno>,
    /// oom_score_adj could not be written.
    oom: Option<Errno>,
    /// setsid failed: the child exited without exec.
    setsid: Option<Errno>,
    /// Every exec failed: the child exited 126 or 127.
    exec: Option<Errno>,
    /// Changing user failed (what, why): the child exited without exec.
    user: Option<(&'static str, Errno)>,
}

/// Everything the child reads, and the report it writes.
struct Child<'a> {
    paths: &'a [CString],
    argv: &'a [*const libc::c_char],
    /// The environment, when it is not pidone's (`--user`).
    envp: Option<&'a [*const libc::c_char]>,
    setup: Setup,
    oom: Option<&'a [u8]>,
    report: Report,
}

/// Starts `command`; returns once the child has exec'd it.
pub fn spawn(command: &[OsString], setup: Setup) -> Result<Pid, Error> {
    let program = command
        .first()
        .ok_or_else(|| Error::Usage("no command given".into()))?;
    let display = || program.to_string_lossy().into_owned();
    let nul = |_| Error::Usage(format!("argument contains a NUL byte: '{}'", display()));
    let args: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(nul)?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let paths = candidates(program, || std::env::var_os("PATH"));
    let oom = setup.oom_score_adj.map(|n| n.to_string().into_bytes());
    let env = setup.user.map(Credentials::environment).unwrap_or_default();
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let mut child = Child {
        paths: &paths,
        argv: &argv,
        envp: setup.user.map(|_| &envp[..]),
        setup,
        oom: oom.as_deref(),
        report: Report::default(),
    };
    let pid = clone_vfork(&mut child)?;
    let report = child.report;
    if let Some(errno) = report.tty {
        warn!(
            "the workload cannot take the terminal as its controlling terminal: {}",
            crate::error::describe(errno)
        );
    }
    if let Some(errno) = report.oom {
        warn!(
            "cannot set the workload's oom_score_adj: {}",
            crate::error::describe(errno)
        );
    }
    let failure = match (report.setsid, report.user, report.exec) {
        (Some(errno), _, _) => Error::Sys {
            op: "create a session for the child",
            errno,
        },
        (None, Some((op, errno)), _) => Error::Sys { op, errno },
        (None, None, Some(errno)) => Error::Exec {
            program: display(),
            errno,
        },
        (None, None, None) => return Ok(pid),
    };
    let _ = nix::sys::wait::waitpid(pid, None);
    Err(failure)
}

/// Runs `child` in a process that shares pidone's memory, on a stack mapped for
/// it; pidone is suspended until that process execs or exits.
fn clone_vfork(child: &mut Child) -> Result<Pid, Error> {
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CHILD_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(Error::Fork(Errno::last()));
    }
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: the stack grows down from the end of the mapping (page-aligned, so
    // 16-byte aligned); `child` outlives the call, since CLONE_VFORK returns only
    // once the child has exec'd or exited, and the child touches nothing of
    // pidone's but `child` (see `run_child`).
    let pid = unsafe {
        let top = stack.cast::<u8>().add(CHILD_STACK).cast();
        libc::clone(run_child, top, flags, (child as *mut Child).cast())
    };
    let errno = Errno::last();
    // SAFETY: the mapping made above; the child no longer runs on it.
    unsafe { libc::munmap(stack, CHILD_STACK) };
    if pid < 0 {
        return Err(Error::Fork(errno));
    }
    Ok(Pid::from_raw(pid))
}

/// The child until exec. It shares pidone's memory: it writes only its report,
/// allocates nothing, and makes only async-signal-safe system calls. Never returns.
extern "C" fn run_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&mut Child` clone_vfork passed; pidone, its only
    // other user, is suspended until this process execs or exits.
    let child = unsafe { &mut *arg.cast::<Child>() };
    let (setup, report) = (child.setup, &mut child.report);
    // SAFETY: setsid and ioctl(TIOCSCTTY) are plain syscalls on the calling process.
    unsafe {
        if setup.session && libc::setsid() < 0 {
            report.setsid = Some(Errno::last());
            libc::_exit(1);
        }
        if setup.terminal.child_takes_it && libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY, 0) < 0
        {
            report.tty = Some(Errno::last());
        }
    }
    if let Some(text) = child.oom {
        // SAFETY: open/write/close on our own /proc entry with a live buffer: async-signal-safe.
        unsafe {
            let fd = libc::open(
                c"/proc/self/oom_score_adj".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd < 0 || libc::write(fd, text.as_ptr().cast(), text.len()) < 0 {
                report.oom = Some(Errno::last());
            }
            libc::close(fd);
        }
    }
    if let Some([out, err]) = setup.stdio {
        // SAFETY: dup2 onto the child's own 1 and 2 (its descriptor table is its
        // own: no CLONE_FILES); the new ones are not close-on-exec.
        unsafe {
            libc::dup2(out, libc::STDOUT_FILENO);
            libc::dup2(err, libc::STDERR_FILENO);
        }
    }
    if let Some([from, to]) = setup.notify {
        // SAFETY: as above, on the child's own table. dup2 onto itself would
        // keep close-on-exec, so that case clears the flag instead.
        unsafe {
            if from == to {
                libc::fcntl(to, libc::F_SETFD, 0);
            } else {
                libc::dup2(from, to);
            }
        }
    }
    if let Some(user) = setup.user
        && let Err(failed) = user.apply()
    {
        report.user = Some(failed);
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(1) };
    }
    let _ = SignalSet::empty().set_mask();
    // Like execvp: keep looking past entries that do not hold the program; a
    // permission error is remembered in case nothing better turns up.
    let mut error = Errno::ENOENT;
    let mut denied = false;
    for path in child.paths {
        // SAFETY: path, argv and envp are NUL-terminated and outlive the call;
        // execv(e) only returns on error.
        unsafe {
            match child.envp {
                Some(envp) => libc::execve(path.as_ptr(), child.argv.as_ptr(), envp.as_ptr()),
                None => libc::execv(path.as_ptr(), child.argv.as_ptr()),
            }
        };
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
    report.exec = Some(error);
    let code = Error::Exec {
        program: String::new(),
        errno: error,
    }
    .exit_code();
    // SAFETY: _exit is async-signal-safe and skips atexit handlers the parent owns.
    unsafe { libc::_exit(code) }
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

/// After the spawn pidone lets go of what it inherited: every descriptor above
/// stderr (sockets, files the workload was handed) but its own `keep`, and,
/// unless it may start a service again (`again`: a restart gets the same
/// working directory, stdin and stdout as the first start), its working
/// directory (so it pins no mount) and stdin/stdout, which become /dev/null.
pub fn let_go(again: bool, keep: &[libc::c_int]) {
    if !again {
        let _ = nix::unistd::chdir("/");
    }
    let null = || nix::fcntl::open("/dev/null", OFlag::O_RDWR, nix::sys::stat::Mode::empty());
    if let Some(null) = (!again).then(null).and_then(Result::ok) {
        // SAFETY: dup2 onto our own stdin/stdout; the /dev/null descriptor is ours.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO);
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
    crate::logging::forget_descriptor();
    let mut keep: Vec<u32> = keep.iter().map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    let mut closed = true;
    for to in keep.iter().copied().chain([u32::MAX]) {
        if to > from {
            let last = if to == u32::MAX { to } else { to - 1 };
            // SAFETY: close_range closes descriptors of this process only; none
            // in the range is one pidone keeps.
            closed &= unsafe { libc::syscall(libc::SYS_close_range, from, last, 0u32) } == 0;
        }
        from = to.saturating_add(1);
    }
    if closed {
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
    for fd in fds
        .into_iter()
        .filter(|&fd| fd > 2 && !keep.contains(&(fd as u32)))
    {
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
