//! The configuration pidone runs with, as plain nested types: `cli` fills them
//! from the command line, the environment and the Procfile; everything else reads
//! them and imports nothing of `cli`. Nothing here parses or performs.

use libc::c_int;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// When a service is started again after it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Classic init semantics: the container ends with the workload.
    #[default]
    No,
    /// After a non-zero exit, or a death by a signal pidone did not forward.
    OnFailure,
    /// After any exit that pidone was not asked for.
    Always,
}

/// When a started service counts as ready (the Procfile's `ready:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// A TCP connection to HOST:PORT succeeds.
    Tcp { host: String, port: u16 },
    /// A connection to the Unix socket at this path succeeds.
    Unix(PathBuf),
    /// This path exists.
    File(PathBuf),
    /// This command exits 0 (run as the service's user).
    Exec(Vec<OsString>),
    /// The service writes a line to this descriptor (s6's notification-fd).
    Fd(c_int),
}

/// Who a process runs as (`--user`, the Procfile's `user:`), as written: a
/// name is looked up in /etc/passwd before anything starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserSpec {
    Name(String),
    Id { uid: u32, gid: Option<u32> },
}

/// A service's own options: the indented `key: value` lines under its line in
/// the Procfile. `None` (or empty) means the container-wide default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Start once these are ready (a oneshot: once it exited 0); stop before them.
    pub after: Vec<String>,
    pub ready: Option<Ready>,
    pub ready_timeout: Option<Duration>,
    /// Runs to completion; exit 0 does not stop the container.
    pub oneshot: bool,
    pub restart: Option<RestartPolicy>,
    pub stop_signal: Option<c_int>,
    pub stop_timeout: Option<Duration>,
    pub user: Option<UserSpec>,
}
