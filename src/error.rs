//! The one error type of pidone. Each variant reads as one line for a human and
//! knows the exit status it stands for; `main` prefixes `pidone: ` and exits.
//! A failed fork (or an exec out of memory) also names the limit it most likely
//! hit, read when the message is written (`diagnose::fork_limits`).

use nix::errno::Errno;
use std::borrow::Cow;
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
            Error::Usage(msg) => f.write_str(&escape(msg)),
            Error::Exec { program, errno } => {
                let program = escape(program);
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

/// `text` with every control character (newline, ESC, C1 controls such as
/// U+0085) and the Unicode line and paragraph separators written as an escape
/// (`\n`, `\u{1b}`): a value the user gave, copied into a message, can then
/// neither split it into two lines nor colour the terminal. The one place
/// that does it: every `Error` goes through it when displayed, and messages
/// built elsewhere (the Procfile's, the pidfile's) call it on the value.
pub fn escape(text: &str) -> Cow<'_, str> {
    let special = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if special(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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

    #[test]
    fn values_are_escaped_into_one_line() {
        assert_eq!(escape("plain café"), "plain café");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("\u{1b}[31mX"), "\\u{1b}[31mX");
        assert_eq!(
            escape("a\tb\rc\u{85}d\u{2028}e\u{7f}"),
            "a\\tb\\rc\\u{85}d\\u{2028}e\\u{7f}"
        );
        // Quotes and backslashes stay as they are: only what garbles a line.
        assert_eq!(escape(r#"'a' "b" \c"#), r#"'a' "b" \c"#);
        let usage = Error::Usage("invalid value 'a\nb' for X".into()).to_string();
        assert_eq!(usage, "invalid value 'a\\nb' for X");
        let exec = Error::Exec {
            program: "\u{1b}[31mfoo".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(
            exec.to_string(),
            "cannot execute '\\u{1b}[31mfoo': No such file or directory"
        );
    }
}
