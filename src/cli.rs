//! The command line and its environment variables, turned into a `Config`. The
//! options are a superset of tini's and dumb-init's, with the same meanings, so
//! that pidone can replace either binary. Everything after the command belongs
//! to the command, even `-v` or `--help`.

use crate::diagnose::TerminationLog;
use crate::error::Error;
use crate::procfile;
use crate::signals::{self, Rewrites};
use clap::Parser;
use clap::builder::BoolishValueParser;
use libc::c_int;
use log::LevelFilter;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::config::{Config, Restart, RestartPolicy as Policy, UserSpec};

const USAGE: &str = "pidone [OPTIONS] [--] COMMAND [ARG]...\n       pidone --procfile PATH [OPTIONS]\n       pidone --pause [OPTIONS]";

const VERSION: &str = concat!(
    "version ",
    env!("CARGO_PKG_VERSION"),
    " - git.",
    env!("PIDONE_GIT_COMMIT")
);

const AFTER_HELP: &str = "\
Environment (each option has a PIDONE_ variable; booleans take 1/0, true/false, yes/no, on/off):
  PIDONE_SUBREAPER, PIDONE_PDEATHSIG, PIDONE_VERBOSITY (0 errors .. 4 trace; default 1),
  PIDONE_WARN_ON_REAP, PIDONE_PROCESS_GROUP, PIDONE_EXPECT_EXIT (comma-separated),
  PIDONE_SINGLE_CHILD, PIDONE_REWRITE (comma-separated FROM:TO), PIDONE_PAUSE,
  PIDONE_GRACE_PERIOD, PIDONE_WAIT_ALL, PIDONE_STOP_DELAY, PIDONE_STOP_SIGNALS,
  PIDONE_RESTART, PIDONE_RESTART_DELAY, PIDONE_RESTART_MAX_DELAY, PIDONE_MAX_RESTARTS,
  PIDONE_RESTART_SIGNAL, PIDONE_PIDFILE, PIDONE_OOM_SCORE_ADJ, PIDONE_PROCFILE,
  PIDONE_PREFIX, PIDONE_TERMINATION_LOG, PIDONE_USER, PIDONE_ENV_FILE
  TINI_SUBREAPER, TINI_KILL_PROCESS_GROUP   as tini: set (even empty) is on; 0/false/no/off is off
  TINI_VERBOSITY=N                           as tini: 0 errors, 1 warnings (default) .. 4
  DUMB_INIT_SETSID=0                         as dumb-init: same as --single-child (0/false/no/off)
  RUST_LOG=FILTER                            log filter (error .. trace); overrides the rest

Signals are names or numbers: TERM, SIGTERM, sigterm, 15, RTMIN+2.
Durations: 500ms, 10s, 2m, 1h (a bare number is seconds).

Exit status:
  the workload's exit code, or 128+N when signal N killed it (--expect-exit maps codes to 0);
  126 the command was found but cannot be executed; 127 it was not found;
  1 usage error (as tini, dumb-init and catatonit), or pidone itself failed
    (e.g. fork: the process limit was reached).";

const LICENSE: &str = "\
pidone is distributed under the MIT License:

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the \"Software\"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.";

/// A boolean flag that its environment variable can also set.
macro_rules! flag {
    () => {
        BoolishValueParser::new()
    };
}

#[derive(Parser, Debug)]
#[command(
    name = "pidone",
    version = VERSION,
    override_usage = USAGE,
    about = "A small PID 1 for containers: runs COMMAND, forwards signals to it, reaps zombies, \
             exits with its status.",
    after_help = AFTER_HELP
)]
struct Args {
    /// Register as a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of the
    /// workload are re-parented to pidone and reaped even when it is not PID 1 (tini -s)
    #[arg(short = 's', long, env = "PIDONE_SUBREAPER", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    subreaper: bool,

    /// Signal pidone gets when its parent dies (PR_SET_PDEATHSIG); forwarded like any other (tini -p)
    #[arg(short = 'p', long, value_name = "SIG", env = "PIDONE_PDEATHSIG", value_parser = signals::parse)]
    pdeathsig: Option<c_int>,

    /// Log more: -v info, -vv debug, -vvv trace. Default: warnings and errors only
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log each reaped zombie that is not the main child as a warning (tini -w)
    #[arg(short = 'w', long, env = "PIDONE_WARN_ON_REAP", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    warn_on_reap: bool,

    /// Signal the child's whole process group: pidone's default, accepted for tini's -g
    #[arg(short = 'g', long, env = "PIDONE_PROCESS_GROUP", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    process_group: bool,

    /// Exit 0 when the workload's status is CODE (0-255, 143 for a TERM death); repeatable (tini -e)
    #[arg(
        short = 'e',
        long,
        value_name = "CODE",
        env = "PIDONE_EXPECT_EXIT",
        value_delimiter = ','
    )]
    expect_exit: Vec<u8>,

    /// Print pidone's license and exit (tini -l, catatonit -L)
    #[arg(short = 'l', long, short_alias = 'L')]
    license: bool,

    /// Keep the child in pidone's session and signal the child only, not its
    /// process group (dumb-init -c)
    #[arg(short = 'c', long, env = "PIDONE_SINGLE_CHILD", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false", conflicts_with = "process_group")]
    single_child: bool,

    /// Forward signal FROM as TO; TO=0 drops FROM. Repeatable (dumb-init -r), e.g. -r TERM:QUIT;
    /// any signal but 32 and 33 (the C library's)
    #[arg(short = 'r', long, value_name = "FROM:TO", env = "PIDONE_REWRITE", value_delimiter = ',', value_parser = signals::parse_rewrite)]
    rewrite: Vec<(c_int, c_int)>,

    /// Run no workload: sleep, reap orphans, exit 0 on INT or TERM (a pod's pause process; catatonit -P)
    #[arg(short = 'P', long, env = "PIDONE_PAUSE", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    pause: bool,

    /// After forwarding a stop signal (--stop-signals), SIGKILL everything if the
    /// workload is still there after DURATION; also bounds --wait-all and the wait
    /// for leftovers (default: no escalation; leftovers get 2s)
    #[arg(short = 't', long, value_name = "DURATION", env = "PIDONE_GRACE_PERIOD", value_parser = parse_duration)]
    grace_period: Option<Duration>,

    /// When the workload exits, wait for every other process to exit instead of
    /// terminating them; signals go to all of them meanwhile
    #[arg(long, env = "PIDONE_WAIT_ALL", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    wait_all: bool,

    /// Hold the first stop signal for DURATION before forwarding it (time for
    /// a load balancer to deregister); a second one is forwarded at once
    #[arg(long, value_name = "DURATION", env = "PIDONE_STOP_DELAY", value_parser = parse_duration)]
    stop_delay: Option<Duration>,

    /// The signals that start the shutdown (grace period, --stop-delay, no more
    /// restarts), as forwarded after -r; every other signal is only forwarded
    /// (HUP reloads) [default: TERM,INT,QUIT]
    #[arg(long, value_name = "LIST", env = "PIDONE_STOP_SIGNALS", value_parser = parse_signal_list)]
    stop_signals: Option<SignalList>,

    /// Start the workload again when it exits: no (default), on-failure (non-zero
    /// exit, or death by a signal pidone did not forward), always
    #[arg(long, value_name = "POLICY", env = "PIDONE_RESTART", value_parser = parse_policy, default_value = "no")]
    restart: Policy,

    /// First delay before a restart; doubles after each quick failure [default: 100ms]
    #[arg(long, value_name = "DURATION", env = "PIDONE_RESTART_DELAY", value_parser = parse_duration)]
    restart_delay: Option<Duration>,

    /// Longest delay between restarts; a workload that ran this long resets the delay [default: 30s]
    #[arg(long, value_name = "DURATION", env = "PIDONE_RESTART_MAX_DELAY", value_parser = parse_duration)]
    restart_max_delay: Option<Duration>,

    /// Give up after N restarts and exit with the last status
    #[arg(long, value_name = "N", env = "PIDONE_MAX_RESTARTS")]
    max_restarts: Option<u32>,

    /// Restart the workload in place on SIG: TERM, the grace period, KILL, start again
    #[arg(long, value_name = "SIG", env = "PIDONE_RESTART_SIGNAL", value_parser = signals::parse)]
    restart_signal: Option<c_int>,

    /// For workloads that daemonize: after the main child exits 0, read the daemon's
    /// pid from PATH (waiting up to 5s for it) and supervise that process instead
    #[arg(long, value_name = "PATH", env = "PIDONE_PIDFILE")]
    pidfile: Option<PathBuf>,

    /// Set the workload's oom_score_adj (-1000..1000) before exec; its children inherit it
    #[arg(long, value_name = "N", env = "PIDONE_OOM_SCORE_ADJ", allow_negative_numbers = true, value_parser = clap::value_parser!(i16).range(-1000..=1000))]
    oom_score_adj: Option<i16>,

    /// Run the services of a Procfile (one `name: command` per line) instead of
    /// COMMAND: each is started, signalled and restarted as the workload is;
    /// when one ends (and is not restarted), the others are stopped
    #[arg(long, value_name = "PATH", env = "PIDONE_PROCFILE", conflicts_with_all = ["pause", "pidfile"])]
    procfile: Option<PathBuf>,

    /// With --procfile: relay each service's stdout and stderr to pidone's,
    /// each line prefixed with the service's name (`web | ...`)
    #[arg(long, env = "PIDONE_PREFIX", value_parser = flag!(), num_args = 0, default_missing_value = "true", default_value = "false")]
    prefix: bool,

    /// Write pidone's one-line explanation (a death, a limit event, the exit) to
    /// PATH, for Kubernetes, creating it when missing (the default only when it
    /// exists and is writable); `none` turns it off [default: /dev/termination-log]
    #[arg(long, value_name = "PATH", env = "PIDONE_TERMINATION_LOG")]
    termination_log: Option<PathBuf>,

    /// Check the command line and the --procfile, print the plan (services in
    /// start order, their after, readiness, users, restart and stop settings) and
    /// exit 0; or print the error and exit 1. Runs nothing
    #[arg(long)]
    check: bool,
    /// Run the workload (every service without its own `user:`) as this user: its
    /// groups, gid and uid from /etc/passwd and /etc/group, and HOME, USER, LOGNAME
    #[arg(long, value_name = "NAME|UID[:GID]", env = "PIDONE_USER", value_parser = crate::user::parse, conflicts_with = "pause")]
    user: Option<UserSpec>,

    /// Set the variables of this .env file (foreman's format: NAME=value lines,
    /// # comments, quotes) for the workload and every service
    #[arg(long, value_name = "PATH", env = "PIDONE_ENV_FILE")]
    env_file: Option<PathBuf>,

    /// The program to run and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<OsString>,
}

/// Parses the arguments (with the program name first) and the environment.
/// `--help`, `--version` and `--license` print and exit 0 here; any usage error
/// becomes `Error::Usage` (exit 1).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Config, Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    match plain(&args, environment()) {
        Some(command) => Ok(Config::running(command)),
        None => parse_options(args),
    }
}

/// Every environment variable that sets an option (a unit test checks the list
/// against clap's). Exact names: `TINI_VERSION`, set in many images that
/// install tini, is nobody's option.
const VARIABLES: [&str; 29] = [
    "PIDONE_SUBREAPER",
    "PIDONE_PDEATHSIG",
    "PIDONE_VERBOSITY",
    "PIDONE_WARN_ON_REAP",
    "PIDONE_PROCESS_GROUP",
    "PIDONE_EXPECT_EXIT",
    "PIDONE_SINGLE_CHILD",
    "PIDONE_REWRITE",
    "PIDONE_PAUSE",
    "PIDONE_GRACE_PERIOD",
    "PIDONE_WAIT_ALL",
    "PIDONE_STOP_DELAY",
    "PIDONE_STOP_SIGNALS",
    "PIDONE_RESTART",
    "PIDONE_RESTART_DELAY",
    "PIDONE_RESTART_MAX_DELAY",
    "PIDONE_MAX_RESTARTS",
    "PIDONE_RESTART_SIGNAL",
    "PIDONE_PIDFILE",
    "PIDONE_OOM_SCORE_ADJ",
    "PIDONE_PROCFILE",
    "PIDONE_PREFIX",
    "PIDONE_TERMINATION_LOG",
    "PIDONE_USER",
    "PIDONE_ENV_FILE",
    "TINI_SUBREAPER",
    "TINI_VERBOSITY",
    "TINI_KILL_PROCESS_GROUP",
    "DUMB_INIT_SETSID",
];

/// The environment's entries (`NAME=value`), read in place, to be used at once.
/// One pass over the C library's `environ`: a `getenv` per option variable
/// walked it 23 times (~13 000 instructions with 35 variables, 23 000 with
/// 90), and `std::env::vars_os` copies every entry to the heap.
fn environment() -> impl Iterator<Item = &'static [u8]> {
    // SAFETY: reads the pointer glibc keeps; pidone is single-threaded and
    // nothing sets a variable while parse runs.
    let mut next = unsafe { libc::environ }.cast_const();
    std::iter::from_fn(move || {
        // SAFETY: a non-null environ is an array of pointers to NUL-terminated
        // strings ended by a null pointer, which is where this stops.
        let entry = unsafe { next.as_ref() }.filter(|e| !e.is_null())?;
        // SAFETY: as above: `entry` is a NUL-terminated string, and `next` is
        // not past the terminating null pointer.
        unsafe {
            next = next.add(1);
            Some(std::ffi::CStr::from_ptr(*entry).to_bytes())
        }
    })
}

/// The command of the common invocation, `pidone -- COMMAND [ARG]...` or
/// `pidone COMMAND [ARG]...` (COMMAND not starting with '-'), when no entry of
/// `environment` is one of the `VARIABLES` of pidone, tini or dumb-init: every
/// setting is then its default, and pidone skips building clap's parser
/// (~120 000 instructions, and ~30 KiB of heap and stack that would stay
/// resident for the container's life). Anything else, `None`, goes through clap.
fn plain<'a>(
    args: &[OsString],
    mut environment: impl Iterator<Item = &'a [u8]>,
) -> Option<Vec<OsString>> {
    let command = match args.get(1)?.as_encoded_bytes() {
        b"--" => &args[2..],
        first if !first.starts_with(b"-") => &args[1..],
        _ => return None,
    };
    let ours = |entry: &[u8]| {
        // The first byte first: most entries fail it, and then cost no more.
        matches!(entry.first(), Some(b'P' | b'T' | b'D')) && {
            let name = entry.split(|&b| b == b'=').next().unwrap_or(entry);
            VARIABLES.iter().any(|v| v.as_bytes() == name)
        }
    };
    (!command.is_empty() && !environment.any(ours)).then(|| command.to_vec())
}

impl Config {
    /// Every setting at its default, running `command`.
    fn running(command: Vec<OsString>) -> Config {
        Config {
            command,
            pause: false,
            subreaper: false,
            single_child: false,
            pdeathsig: None,
            log_level: log_level(1),
            warn_on_reap: false,
            expect_exit: Vec::new(),
            rewrites: Rewrites(Vec::new()),
            grace: None,
            stop_delay: None,
            stop_signals: STOP_SIGNALS.to_vec(),
            wait_all: false,
            restart: Restart::default(),
            pidfile: None,
            oom_score_adj: None,
            procfile: None,
            prefix: false,
            termination_log: Some(TerminationLog::default_path()),
            check: false,
            user: None,
            environment: Vec::new(),
        }
    }
}

/// `parse` through clap: options, their variables, --help and --version.
fn parse_options(args: Vec<OsString>) -> Result<Config, Error> {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if e.use_stderr() => return Err(usage(&e)),
        Err(e) => e.exit(), // --help, --version: print and exit 0
    };
    if args.license {
        println!("{LICENSE}");
        std::process::exit(0);
    }
    if args.procfile.is_some() && !args.command.is_empty() {
        return Err(Error::Usage(
            "--procfile runs the services of its file, but a command was given".into(),
        ));
    }
    if args.prefix && args.procfile.is_none() {
        return Err(Error::Usage(
            "--prefix relays the services of a --procfile".into(),
        ));
    }
    let environment = match &args.env_file {
        Some(path) => crate::envfile::read(path).map_err(Error::Usage)?,
        None => Vec::new(),
    };
    let procfile = match &args.procfile {
        Some(path) => Some(procfile::read(path).map_err(Error::Usage)?),
        None => None,
    };
    match (args.pause || procfile.is_some(), args.command.is_empty()) {
        (false, true) => {
            return Err(Error::Usage(format!(
                "no command given (usage: {})",
                USAGE.lines().next().unwrap_or("")
            )));
        }
        (true, false) => {
            return Err(Error::Usage(
                "--pause runs no command, but one was given".into(),
            ));
        }
        _ => {}
    }
    let verbosity = match (
        env_number("PIDONE_VERBOSITY")?,
        env_number("TINI_VERBOSITY")?,
    ) {
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => 1,
    };
    // Accepted for tini compatibility (a group is pidone's default), but checked.
    tini_flag("TINI_KILL_PROCESS_GROUP")?;
    let restart = restart(&args);
    dropped_but_named(&args)?;
    Ok(Config {
        command: args.command,
        pause: args.pause,
        subreaper: args.subreaper || tini_flag("TINI_SUBREAPER")?.unwrap_or(false),
        single_child: args.single_child || !tini_flag("DUMB_INIT_SETSID")?.unwrap_or(true),
        pdeathsig: args.pdeathsig,
        log_level: log_level(verbosity.saturating_add(u32::from(args.verbose))),
        warn_on_reap: args.warn_on_reap,
        expect_exit: args.expect_exit,
        rewrites: Rewrites(args.rewrite),
        grace: args.grace_period,
        stop_delay: args.stop_delay,
        stop_signals: args
            .stop_signals
            .map_or_else(|| STOP_SIGNALS.to_vec(), |list| list.0),
        wait_all: args.wait_all,
        restart,
        pidfile: args.pidfile,
        oom_score_adj: args.oom_score_adj,
        procfile,
        prefix: args.prefix,
        termination_log: match args.termination_log {
            Some(path) if path.as_os_str() == "none" => None,
            Some(path) => Some(path),
            None => Some(TerminationLog::default_path()),
        },
        check: args.check,
        user: args.user,
        environment,
    })
}

fn restart(args: &Args) -> Restart {
    let default = Restart::default();
    Restart {
        policy: args.restart,
        delay: args.restart_delay.unwrap_or(default.delay),
        max_delay: args.restart_max_delay.unwrap_or(default.max_delay),
        max_restarts: args.max_restarts,
        signal: args.restart_signal,
    }
}

/// One rule for options that contradict each other: a signal that `-r` drops
/// (`X:0`, the last rule for X) can neither restart nor stop anything, so
/// naming it in `--restart-signal` or `--stop-signals` is a usage error that
/// names both, rather than an option that silently does nothing.
fn dropped_but_named(args: &Args) -> Result<(), Error> {
    let rewrites = Rewrites(args.rewrite.clone());
    let dropped = |signo: c_int| rewrites.get(signo) == Some(0);
    let conflict = |signo: c_int, option: &str| {
        Error::Usage(format!(
            "-r {}:0 drops the signal that {option} names (a dropped signal is never received)",
            signals::Name(signo)
        ))
    };
    if let Some(signo) = args.restart_signal.filter(|&s| dropped(s)) {
        return Err(conflict(signo, "--restart-signal"));
    }
    let stops = args.stop_signals.as_ref().map_or(&[][..], |l| &l.0[..]);
    match stops.iter().find(|&&s| dropped(s)) {
        Some(&signo) => Err(conflict(signo, "--stop-signals")),
        None => Ok(()),
    }
}

/// What `docker stop`, Kubernetes, Ctrl-C and Ctrl-\\ send. Not HUP: nginx,
/// haproxy and apache reload on it.
pub const STOP_SIGNALS: [c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// A list of signals as one value (clap would take a `Vec` for repeated values).
#[derive(Clone, Debug)]
struct SignalList(Vec<c_int>);

/// `TERM,INT,HUP`, `15,2`: signals, comma-separated, at least one.
fn parse_signal_list(text: &str) -> Result<SignalList, String> {
    if text.trim().is_empty() {
        return Err("an empty list of signals (expected e.g. TERM,INT,QUIT)".into());
    }
    text.split(',')
        .map(signals::parse)
        .collect::<Result<_, _>>()
        .map(SignalList)
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "no" => Ok(Policy::No),
        "on-failure" => Ok(Policy::OnFailure),
        "always" => Ok(Policy::Always),
        _ => Err(format!(
            "invalid restart policy '{text}' (expected no, on-failure or always)"
        )),
    }
}

/// tini's scale: 0 errors, 1 warnings (the default), 2 info, 3 debug, 4 trace.
fn log_level(verbosity: u32) -> LevelFilter {
    match verbosity {
        0 => LevelFilter::Error,
        1 => LevelFilter::Warn,
        2 => LevelFilter::Info,
        3 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// `500ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{text}' (expected e.g. 500ms, 10s, 2m)");
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    // At most ~136 years, so that no deadline computed from it can overflow.
    Duration::try_from_secs_f64(number * scale)
        .ok()
        .filter(|d| d.as_secs() <= u64::from(u32::MAX))
        .ok_or_else(bad)
}

fn env_value(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(_) => Err(Error::Usage(format!("{name} is not valid UTF-8"))),
    }
}

/// tini's and dumb-init's variables by their rule: set at all is on, even
/// empty (`ENV TINI_SUBREAPER=` is how many images turn it on); 1/true/yes/on
/// on; 0/false/no/off off; anything else is a usage error. `None` when unset.
/// The `PIDONE_*` variables stay strict booleans (clap's).
fn tini_flag(name: &str) -> Result<Option<bool>, Error> {
    let Some(value) = env_value(name)? else {
        return Ok(None);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(Error::Usage(format!(
            "invalid value '{value}' for {name} (expected nothing, 1/0, true/false, yes/no or on/off)"
        ))),
    }
}

fn env_number(name: &str) -> Result<Option<u32>, Error> {
    let Some(value) = env_value(name)? else {
        return Ok(None);
    };
    let bad = || {
        Error::Usage(format!(
            "invalid value '{value}' for {name} (expected a number)"
        ))
    };
    value.trim().parse().map(Some).map_err(|_| bad())
}

/// clap's error as one line: its first line, without the `error: ` prefix.
fn usage(e: &clap::Error) -> Error {
    let mut text = e.to_string();
    // The user's values escaped first, so that a newline in one does not cut
    // the message short (Error's Display escapes what is left).
    for (_, value) in e.context() {
        let values = match value {
            clap::error::ContextValue::String(s) => std::slice::from_ref(s),
            clap::error::ContextValue::Strings(v) => v.as_slice(),
            _ => &[],
        };
        for raw in values {
            if let std::borrow::Cow::Owned(escaped) = crate::error::escape(raw) {
                text = text.replace(raw.as_str(), &escaped);
            }
        }
    }
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    Error::Usage(format!("{first} (see 'pidone --help')"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Config, Error> {
        parse(
            std::iter::once("pidone")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn user_and_env_file_options() {
        let c = parse_str(&["--user", "1000:50", "--", "x"]).unwrap();
        assert_eq!(
            c.user,
            Some(UserSpec::Id {
                uid: 1000,
                gid: Some(50)
            })
        );
        let c = parse_str(&["--user", "app", "x"]).unwrap();
        assert_eq!(c.user, Some(UserSpec::Name("app".into())));
        let e = parse_str(&["--user", "app:50", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'app:50' is not UID:GID"), "{e}");
        assert!(parse_str(&["--pause", "--user", "app"]).is_err());
        let e = parse_str(&["--env-file", "/nonexistent/.env", "x"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read /nonexistent/.env: No such file or directory"
        );
    }

    fn command(config: &Config) -> Vec<&str> {
        config.command.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn flags_after_the_command_belong_to_it() {
        let config = parse_str(&["-s", "ls", "-l", "-v", "--help"]).unwrap();
        assert!(config.subreaper);
        assert_eq!(config.log_level, LevelFilter::Warn);
        assert_eq!(command(&config), ["ls", "-l", "-v", "--help"]);
        let config = parse_str(&["-vv", "--", "-weird", "-c"]).unwrap();
        assert_eq!(
            (config.log_level, command(&config)),
            (LevelFilter::Debug, vec!["-weird", "-c"])
        );
    }

    #[test]
    fn tini_and_dumb_init_flags_mean_what_they_mean_there() {
        let c = parse_str(&[
            "-s", "-p", "SIGKILL", "-w", "-g", "-e", "143", "-e", "3", "--", "x",
        ])
        .unwrap();
        assert_eq!(
            (c.subreaper, c.pdeathsig, c.warn_on_reap),
            (true, Some(libc::SIGKILL), true)
        );
        assert_eq!(c.expect_exit, [143, 3]);
        let c = parse_str(&["-c", "-r", "15:3", "--rewrite", "TERM:0", "-v", "x"]).unwrap();
        assert!(c.single_child);
        assert_eq!(c.rewrites, Rewrites(vec![(15, 3), (15, 0)]));
        let c = parse_str(&["-t", "1500ms", "--stop-delay", "2", "--wait-all", "x"]).unwrap();
        assert_eq!(
            (c.grace, c.stop_delay, c.wait_all),
            (
                Some(Duration::from_millis(1500)),
                Some(Duration::from_secs(2)),
                true
            )
        );
        assert!(parse_str(&["--pause"]).unwrap().pause);
        assert!(parse_str(&["-P"]).unwrap().pause);
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_value() {
        for (args, needle) in [
            (&["-p", "SIGFOO", "x"][..], "'SIGFOO'"),
            (&["-r", "TERM", "x"][..], "'TERM'"),
            (&["-r", "1:32", "x"][..], "reserved"),
            (&["-t", "10x", "x"][..], "'10x'"),
            (&["--stop-delay", "soon", "x"][..], "'soon'"),
            (&["-e", "256", "x"][..], "'256'"),
            (&["--pause", "x"][..], "--pause"),
            (&["-c", "-g", "x"][..], "--single-child"),
        ] {
            let err = parse_str(args).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
            assert!(!err.to_string().contains('\n'), "{args:?}: {err}");
        }
    }

    #[test]
    fn no_value_makes_the_parser_panic() {
        let values = [
            "",
            " ",
            "-",
            "+",
            ":",
            "::",
            "0",
            "-0",
            "1e9",
            "NaN",
            "inf",
            "é",
            "RTMIN+é",
            "RTMAX-",
            "SIG",
            "sig",
            "TERM:",
            ":TERM",
            "15:15:15",
            "999999999999999999999",
            "1.5.5s",
            "\u{0}",
            "ms",
            "h1",
        ];
        let options = [
            "-p",
            "-r",
            "-t",
            "--stop-delay",
            "-e",
            "--restart",
            "--restart-delay",
            "--max-restarts",
            "--restart-signal",
            "--oom-score-adj",
            "--pidfile",
        ];
        for option in options {
            for value in values {
                let _ = parse_str(&[option, value, "x"]);
                let _ = parse_str(&[&format!("{option}={value}"), "x"]);
            }
        }
    }

    #[test]
    fn a_dropped_signal_cannot_restart_or_stop() {
        for (args, message) in [
            (
                &["-r", "USR1:0", "--restart-signal", "USR1", "x"][..],
                "-r USR1:0 drops the signal that --restart-signal names",
            ),
            (
                &["-r", "15:0", "--stop-signals", "INT,TERM", "x"],
                "-r TERM:0 drops the signal that --stop-signals names",
            ),
        ] {
            let err = parse_str(args).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.to_string().starts_with(message), "{args:?}: {err}");
        }
        // The last rule wins: USR1 is forwarded again, so it can restart.
        let args = [
            "-r",
            "USR1:0",
            "-r",
            "USR1:USR1",
            "--restart-signal",
            "USR1",
            "x",
        ];
        assert!(parse_str(&args).is_ok());
        // Dropped but not named (TERM stays a default stop signal): allowed.
        assert!(parse_str(&["-r", "TERM:0", "--restart-signal", "USR1", "x"]).is_ok());
        assert!(parse_str(&["-r", "USR1:0", "--stop-signals", "TERM", "x"]).is_ok());
    }

    #[test]
    fn values_in_errors_are_escaped_on_one_line() {
        for value in ["a\nb", "\u{1b}[31mX", "x\r\u{85}\u{2028}"] {
            let err = parse_str(&["-p", value, "x"]).unwrap_err().to_string();
            assert!(!err.contains(|c: char| c.is_control()), "{err:?}");
            assert!(err.contains(&*crate::error::escape(value)), "{err:?}");
            assert!(err.starts_with("invalid value '"), "{err:?}");
        }
    }

    #[test]
    fn stop_signals_default_to_term_int_quit_and_take_a_list() {
        let c = parse_str(&["-s", "x"]).unwrap();
        assert_eq!(c.stop_signals, [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT]);
        let c = parse_str(&["--stop-signals", "TERM,sighup,2", "x"]).unwrap();
        assert_eq!(c.stop_signals, [libc::SIGTERM, libc::SIGHUP, libc::SIGINT]);
        for bad in ["", "TERM,", "FOO", "TERM,32"] {
            let err = parse_str(&["--stop-signals", bad, "x"]).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in [
            "",
            "s",
            "10x",
            "-1s",
            "1e3",
            "ten",
            "99999999999999999999h",
            "1.2.3s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_plain_invocation_is_what_clap_makes_of_it() {
        let os = |args: &[&str]| -> Vec<OsString> {
            std::iter::once("pidone")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect()
        };
        let none = || std::iter::empty::<&[u8]>();
        for args in [
            &["--", "true"][..],
            &["--", "-weird", "-v", "--help"],
            &["--", "--"],
            &["ls", "-l", "--", "-s"],
            &["/bin/sh", "-c", "exit 3"],
        ] {
            let command = plain(&os(args), none()).expect("the plain path");
            let clap = parse_options(os(args)).unwrap();
            assert_eq!(Config::running(command), clap, "{args:?}");
        }
        for args in [&["-s", "x"][..], &["--"], &[], &["-"], &["-v", "--", "x"]] {
            assert_eq!(plain(&os(args), none()), None, "{args:?}");
        }
        for entry in [
            "PIDONE_SUBREAPER=1",
            "TINI_VERBOSITY=2",
            "DUMB_INIT_SETSID=0",
        ] {
            let env = ["PATH=/bin", entry].map(str::as_bytes).into_iter();
            assert_eq!(plain(&os(&["--", "x"]), env), None, "{entry}");
        }
        let env = [
            "PATH=/bin",
            "TINI_VERSION=v0.19.0",
            "PIDONE_X=1",
            "A=TINI_SUBREAPER",
        ];
        assert!(plain(&os(&["--", "x"]), env.map(str::as_bytes).into_iter()).is_some());
    }

    #[test]
    fn every_option_variable_is_listed() {
        use clap::CommandFactory;
        let command = Args::command();
        let clap = command.get_arguments().filter_map(|a| a.get_env());
        let read_here = ["PIDONE_VERBOSITY", "TINI_SUBREAPER", "TINI_VERBOSITY"]
            .into_iter()
            .chain(["TINI_KILL_PROCESS_GROUP", "DUMB_INIT_SETSID"])
            .map(std::ffi::OsStr::new);
        let mut all: Vec<_> = clap.chain(read_here).collect();
        all.sort();
        let mut listed = VARIABLES.map(std::ffi::OsStr::new).to_vec();
        listed.sort();
        assert_eq!(all, listed);
        for name in VARIABLES {
            assert!(AFTER_HELP.contains(name), "--help does not mention {name}");
            assert!(matches!(name.as_bytes()[0], b'P' | b'T' | b'D'), "{name}");
        }
    }

    #[test]
    fn the_environment_is_read_in_place() {
        // The test harness's environment: whatever it holds, the same entries.
        let std: Vec<Vec<u8>> = std::env::vars_os()
            .map(|(k, v)| [k.as_encoded_bytes(), b"=", v.as_encoded_bytes()].concat())
            .collect();
        let here: Vec<Vec<u8>> = environment().map(<[u8]>::to_vec).collect();
        assert!(!here.is_empty());
        assert_eq!(here, std);
    }

    #[test]
    fn unknown_flags_and_no_command_are_usage_errors() {
        let err = parse_str(&["--bogus", "true"]).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("'--bogus'"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        let err = parse_str(&["-s"]).unwrap_err();
        assert!(err.to_string().starts_with("no command given"), "{err}");
    }
}
