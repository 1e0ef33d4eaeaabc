//! The one error type of pidone. Each variant reads as one line for a human and
//! knows the exit status it stands for; `main` prefixes `pidone: ` and exits.
//! A failed fork (or an exec out of memory) also names the limit it most likely
//! hit, read when the message is written (`diagnose::fork_limits`).

use nix::errno::Errno;
use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Bad command line or environment: exit 1, as tini, dumb-init and catatonit.
    Usage(String),
    /// The program could not be executed: 127 if not found, 126 otherwise (like a shell).
    Exec { program: String, errno: Errno },
    /// fork() failed: exit 1, as tini does.
    Fork(Errno),
    /// Any other system call that pidone cannot do without: exit 1.
    Sys { op: &'static str, errno: Errno },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Fork(_) | Error::Sys { .. } => 1,
            Error::Exec { errno, .. } if not_found(*errno) => 127,
            Error::Exec { .. } => 126,
        }
    }
}

/// The errors a shell reports as "not found" (127); every other exec failure is 126.
fn not_found(errno: Errno) -> bool {
    matches!(errno, Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => f.write_str(msg),
            Error::Exec { program, errno } => {
                write!(f, "cannot execute '{program}': {}", describe(*errno))?;
                if *errno == Errno::ENOMEM {
                    limits(f, *errno)?;
                }
                Ok(())
            }
            Error::Fork(errno) => {
                let cause = match errno {
                    Errno::EAGAIN => {
                        " (the process limit was reached: RLIMIT_NPROC for this user, \
                         or pids.max of the pids cgroup)"
                    }
                    Errno::ENOMEM => " (out of memory, or the memory cgroup's limit was reached)",
                    _ => "",
                };
                write!(f, "cannot fork: {}{cause}", describe(*errno))?;
                limits(f, *errno)
            }
            Error::Sys { op, errno } => write!(f, "cannot {op}: {}", describe(*errno)),
        }
    }
}

impl std::error::Error for Error {}

/// `: ` and what `diagnose` knows of the limits behind `errno`, if anything.
fn limits(f: &mut fmt::Formatter<'_>, errno: Errno) -> fmt::Result {
    let limits = crate::diagnose::fork_limits(errno);
    if limits.is_empty() {
        Ok(())
    } else {
        write!(f, ": {limits}")
    }
}

/// The C library's words for an errno (`strerror`), as a shell prints them:
/// "Resource temporarily unavailable" where nix says "Try again".
pub fn describe(errno: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(errno as i32).to_string();
    match text.rsplit_once(" (os error ") {
        Some((words, _)) => words.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_to_shell_codes() {
        let e = |errno| Error::Exec {
            program: "foo".into(),
            errno,
        };
        assert_eq!(e(Errno::ENOENT).exit_code(), 127);
        assert_eq!(e(Errno::EACCES).exit_code(), 126);
        assert_eq!(e(Errno::ENOEXEC).exit_code(), 126);
        assert_eq!(
            e(Errno::ENOENT).to_string(),
            "cannot execute 'foo': No such file or directory"
        );
    }

    #[test]
    fn fork_error_names_the_limit() {
        let msg = Error::Fork(Errno::EAGAIN).to_string();
        assert!(
            msg.contains("RLIMIT_NPROC") && msg.contains("pids.max"),
            "{msg}"
        );
        assert!(
            msg.starts_with("cannot fork: Resource temporarily unavailable (")
                && !msg.contains('\n')
                && msg.contains(" for uid "),
            "{msg}"
        );
        assert_eq!(Error::Fork(Errno::EAGAIN).exit_code(), 1);
        assert_eq!(Error::Usage("x".into()).exit_code(), 1);
    }
}
