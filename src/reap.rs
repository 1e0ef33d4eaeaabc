//! Collects exit statuses. Every zombie pidone is given, its own child and the
//! orphans re-parented to it, is reaped with `waitpid(-1, WNOHANG)` until none is
//! left; the main child's status becomes pidone's exit code (a signal death is 128+N).

use libc::c_int;
use log::{debug, warn};
use nix::errno::Errno;
use nix::unistd::Pid;

/// The shell's convention: the exit code, or 128 + the signal that killed it.
pub fn exit_code(status: c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// tini's `-e`: the exit codes the user expects are reported as success.
pub fn expected(code: i32, expect: &[u8]) -> i32 {
    if expect.iter().any(|&e| i32::from(e) == code) {
        0
    } else {
        code
    }
}

/// Some zombie child and its wait status, without reaping it: `Ok(None)` when no
/// child has exited yet, `Err(ECHILD)` when pidone has no child at all.
fn peek() -> Result<Option<(libc::pid_t, c_int)>, Errno> {
    // SAFETY: an all-zero siginfo_t is valid; waitid fills it or leaves si_pid 0.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid with WNOWAIT only reads child state into a live local.
    Errno::result(unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) })?;
    // SAFETY: si_pid and si_status are valid in the SIGCHLD layout waitid writes.
    let (pid, value) = unsafe { (info.si_pid(), info.si_status()) };
    // Back to waitpid's encoding: exit code in bits 8..16, or the signal (| 0x80 for a core).
    let status = match info.si_code {
        libc::CLD_EXITED => (value & 0xff) << 8,
        libc::CLD_DUMPED => value | 0x80,
        _ => value,
    };
    Ok((pid != 0).then_some((pid, status)))
}

/// What one pass of reaping found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// The main processes among the reaped, with their wait statuses.
    pub mains: Vec<(Pid, c_int)>,
    /// No child of pidone is left at all (waitpid said ECHILD).
    pub none_left: bool,
}

/// Reaps every zombie child without blocking. `mains` are the services' main
/// processes. With `look_first`, each zombie is looked at (`waitid(WNOWAIT)`)
/// before it is reaped while a main process is unreaped, and `last_rites` runs
/// with that main's pid and wait status while its zombie still holds its pid and
/// process group id (it signals that group: no recycled group can be hit);
/// otherwise it is one `waitpid` per zombie and `last_rites` is not called.
/// `warn_others` logs every other reaped process at warning level (tini's `-w`).
pub fn reap_all(
    mains: &[Pid],
    look_first: bool,
    warn_others: bool,
    mut last_rites: impl FnMut(Pid, c_int),
) -> Reaped {
    let mut reaped = Reaped::default();
    let unreaped = |reaped: &Reaped| mains.len() > reaped.mains.len();
    loop {
        let target = if look_first && unreaped(&reaped) {
            match peek() {
                Ok(None) => return reaped,
                Err(errno) => {
                    reaped.none_left = errno == Errno::ECHILD;
                    return reaped;
                }
                Ok(Some((pid, status))) => {
                    if mains.contains(&Pid::from_raw(pid)) {
                        last_rites(Pid::from_raw(pid), status);
                    }
                    pid
                }
            }
        } else {
            -1
        };
        let mut status: c_int = 0;
        // SAFETY: waitpid writes the status into a live local.
        let pid = unsafe { libc::waitpid(target, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            reaped.none_left = pid < 0 && Errno::last() == Errno::ECHILD;
            return reaped;
        }
        let code = exit_code(status);
        let pid = Pid::from_raw(pid);
        if mains.contains(&pid) {
            debug!("main process {pid} exited with status {code}");
            reaped.mains.push((pid, status));
        } else if warn_others {
            warn!("reaped zombie process {pid} (status {code})");
        } else {
            debug!("reaped zombie process {pid} (status {code})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        // Raw wait statuses: exit code in bits 8..16, signal in the low 7 bits.
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(42 << 8), 42);
        assert_eq!(exit_code(255 << 8), 255);
        assert_eq!(exit_code(libc::SIGTERM), 143);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(libc::SIGSEGV | 0x80), 139); // core dumped
        assert_eq!(exit_code(libc::SIGRTMIN() + 1), 128 + libc::SIGRTMIN() + 1);
    }

    #[test]
    fn expected_codes_become_zero() {
        assert_eq!(expected(143, &[143, 1]), 0);
        assert_eq!(expected(1, &[143, 1]), 0);
        assert_eq!(expected(2, &[143, 1]), 2);
        assert_eq!(expected(0, &[]), 0);
    }
}
