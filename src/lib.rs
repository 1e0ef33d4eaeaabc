//! pidone: a small PID 1 for containers. It starts one workload, forwards the
//! signals it receives to the workload's process group, reaps every zombie that
//! lands on it, and exits with the workload's status.
//!
//! Modules, one concern each: `cli` (arguments → `Config`), `signals` (sets,
//! names, rewrites, the blocking wait), `terminal` (who gets the tty), `spawn`
//! (fork/exec), `reap` (waitpid, exit codes), `supervisor` (the event loop),
//! `shutdown` (leftovers: TERM, grace, KILL), `restart` (restart policy),
//! `pidfile` (following a daemon), `pause` (pause mode), `diagnose` (why it
//! died), `sink` (writes that never block), `logging`, `procfile` (the
//! Procfile parser: services, their argv and options), `plan` (`--check`),
//! `user` (`--user`: credentials from /etc/passwd), `envfile` (`--env-file`),
//! `ready` (readiness probes).

pub mod cli;
pub mod config;
pub mod diagnose;
pub mod envfile;
pub mod error;
pub mod logging;
pub mod pause;
pub mod pidfile;
pub mod plan;
pub mod procfile;
pub mod ready;
pub mod reap;
pub mod relay;
pub mod restart;
pub mod shutdown;
pub mod signals;
pub mod sink;
pub mod spawn;
pub mod supervisor;
pub mod terminal;
pub mod user;
pub mod wait;

pub use config::Config;
pub use error::Error;

use log::info;
use nix::unistd::getpid;
use signals::SignalSet;
use std::os::fd::AsRawFd;
use supervisor::{Label, Launch, Mode, Policy, Service, Supervisor};

/// Blocks every catchable signal and puts every disposition back to the
/// default. `main` calls this before anything else, so a signal sent to pidone
/// at any later moment waits in the pending set until the event loop takes it:
/// nothing is lost before or during the spawn.
pub fn take_signals() -> Result<SignalSet, Error> {
    let set = SignalSet::catchable();
    set.set_mask().map_err(|errno| Error::Sys {
        op: "block signals",
        errno,
    })?;
    signals::default_dispositions();
    Ok(set)
}

/// Runs the workload (or pause mode) and returns the code pidone should exit with.
pub fn run(config: Config, signals: SignalSet) -> Result<i32, Error> {
    if config.check {
        print!("{}", plan::render(&config));
        return Ok(0);
    }
    let self_pid = getpid().as_raw();
    // Before anything starts: an unknown user is an error with nothing running.
    let user = match &config.user {
        Some(spec) => Some(user::Credentials::resolve(spec)?.leak()),
        None => None,
    };
    for (name, value) in &config.environment {
        // SAFETY: pidone has one thread; nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
    if let Some(signo) = config.pdeathsig {
        set_pdeathsig(signo)?;
    }
    if config.subreaper {
        nix::sys::prctl::set_child_subreaper(true).map_err(|errno| Error::Sys {
            op: "become a child subreaper",
            errno,
        })?;
    } else if self_pid != 1 {
        // Info, not a warning: under `docker run --init`, in a pod whose pause
        // process is PID 1, or under a shell, somebody else reaps, and a default
        // line would be noise in the workload's output.
        info!(
            "not running as PID 1 and not a subreaper (-s): orphans will not be reaped by pidone"
        );
    }
    if config.pause {
        return pause::run(&signals, config.warn_on_reap);
    }
    let session = !config.single_child;
    let terminal = terminal::prepare(session);
    let setup = spawn::Setup {
        session,
        terminal,
        oom_score_adj: config.oom_score_adj,
        stdio: None,
        user,
        notify: None,
    };
    let several = config.procfile.is_some();
    let specs: Vec<(Option<Label>, Vec<std::ffi::OsString>)> = match config.procfile {
        Some(services) => services
            .into_iter()
            .map(|s| {
                let label = Label {
                    name: s.name,
                    line: s.line,
                };
                (Some(label), s.command)
            })
            .collect(),
        None => vec![(None, config.command)],
    };
    let names = specs
        .iter()
        .map(|(l, _)| l.as_ref().map_or("", |l| l.name.as_str()));
    let mut relay = config.prefix.then(|| relay::Relay::new(names));
    let mut services = Vec::with_capacity(specs.len());
    for (i, (name, command)) in specs.into_iter().enumerate() {
        // One controlling terminal has one session: the first service's.
        let terminal = if i == 0 { terminal } else { Default::default() };
        let launch = Launch {
            command,
            setup: spawn::Setup { terminal, ..setup },
        };
        let pipes = match relay.as_mut().map(|r| r.pipes(i)).transpose() {
            Ok(pipes) => pipes,
            Err(errno) => {
                return Err(Error::Sys {
                    op: "create a pipe",
                    errno,
                });
            }
        };
        let stdio = pipes.as_ref().map(|[o, e]| [o.as_raw_fd(), e.as_raw_fd()]);
        let started = spawn::spawn(
            &launch.command,
            spawn::Setup {
                stdio,
                ..launch.setup
            },
        );
        services.push(match started {
            Ok(pid) => Service::new(name, launch, pid),
            // One service of several that cannot start is a service that ended.
            Err(e @ (Error::Exec { .. } | Error::Fork(_))) if several => {
                let shown = name.as_ref().map_or("", |l| l.name.as_str());
                log::error!("the service '{shown}': {e}");
                Service::failed(name, launch, (e.exit_code() & 0xff) << 8)
            }
            Err(e) => return Err(e),
        });
    }
    let again = several
        || config.restart.policy != config::RestartPolicy::No
        || config.restart.signal.is_some();
    let keep = relay
        .as_ref()
        .map(relay::Relay::descriptors)
        .unwrap_or_default();
    spawn::let_go(again, &keep);
    let job_control = self_pid != 1;
    let reaper = config.subreaper || self_pid == 1;
    let mode = Mode {
        session,
        job_control,
        reaper,
        self_pid,
    };
    let policy = Policy {
        rewrites: config.rewrites,
        grace: config.grace,
        stop_delay: config.stop_delay,
        stop_signals: config.stop_signals,
        wait_all: config.wait_all,
        warn_on_reap: config.warn_on_reap,
        restart: config.restart,
        pidfile: config.pidfile,
        termination_log: config.termination_log,
    };
    let code = Supervisor::new(mode, policy, signals, services, relay).run()?;
    Ok(reap::expected(code, &config.expect_exit))
}

/// PR_SET_PDEATHSIG, and the signal at once if the parent is already gone
/// (re-parented before the prctl took effect).
fn set_pdeathsig(signo: libc::c_int) -> Result<(), Error> {
    let parent = nix::unistd::getppid();
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and affects only us.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signo as libc::c_ulong) } != 0 {
        let errno = nix::errno::Errno::last();
        return Err(Error::Sys {
            op: "set the parent-death signal",
            errno,
        });
    }
    if nix::unistd::getppid() != parent {
        // SAFETY: kill on our own pid; the signal is blocked and taken by the loop.
        unsafe { libc::kill(getpid().as_raw(), signo) };
    }
    Ok(())
}
