//! The configuration pidone runs with, as plain nested types: `cli` fills them
//! from the command line, the environment and the Procfile; everything else reads
//! them and imports nothing of `cli`. Nothing here parses or performs.

use crate::signals::Rewrites;
use libc::c_int;
use log::LevelFilter;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// What pidone was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The workload: program and arguments (empty in pause mode).
    pub command: Vec<OsString>,
    pub pause: bool,
    pub subreaper: bool,
    pub single_child: bool,
    pub pdeathsig: Option<c_int>,
    pub log_level: LevelFilter,
    pub warn_on_reap: bool,
    /// Exit codes of the workload that pidone turns into 0 (tini's -e).
    pub expect_exit: Vec<u8>,
    pub rewrites: Rewrites,
    pub grace: Option<Duration>,
    pub stop_delay: Option<Duration>,
    /// The signals (as forwarded, after the rewrites) that start the shutdown.
    pub stop_signals: Vec<c_int>,
    pub wait_all: bool,
    pub restart: Restart,
    /// After the main child exits 0, follow the daemon whose pid this file holds.
    pub pidfile: Option<PathBuf>,
    /// The workload's /proc/self/oom_score_adj, set before exec.
    pub oom_score_adj: Option<i16>,
    /// `--procfile`: the services to run instead of one command.
    pub procfile: Option<Vec<Service>>,
    /// `--prefix`: relay the services' output, each line prefixed with its name.
    pub prefix: bool,
    /// Kubernetes' termination message file (`None`: off).
    pub termination_log: Option<PathBuf>,
    /// `--check`: print the plan (`plan`) and exit 0; run nothing.
    pub check: bool,
    /// `--user`: who the workload (every service without its own `user:`) runs as.
    pub user: Option<UserSpec>,
    /// `--env-file`'s variables, in the file's order: set for every service.
    pub environment: Vec<(OsString, OsString)>,
}

/// How long a service with a `ready:` check may take to be ready when its
/// `ready-timeout:` does not say: a minute, long enough for a cold JVM or a
/// cache warm-up, short enough that a broken start does not hang a deploy.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The restart policy and its back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    pub policy: RestartPolicy,
    /// The first delay; it doubles after each quick failure.
    pub delay: Duration,
    /// The longest delay; a workload that ran this long resets the delay.
    pub max_delay: Duration,
    /// Give up after this many restarts and exit with the last status.
    pub max_restarts: Option<u32>,
    /// Receiving this signal restarts the workload in place.
    pub signal: Option<c_int>,
}

impl Default for Restart {
    fn default() -> Self {
        let (delay, max_delay) = (Duration::from_millis(100), Duration::from_secs(30));
        Restart {
            policy: RestartPolicy::No,
            delay,
            max_delay,
            max_restarts: None,
            signal: None,
        }
    }
}

/// One service of a Procfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// The program and its arguments: the words of a plain command, or
    /// ["/bin/sh", "-c", LINE] for a command that uses other shell syntax.
    pub command: Vec<OsString>,
    /// The command as written in the Procfile (for messages).
    pub line: String,
    pub options: ServiceOptions,
}

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
