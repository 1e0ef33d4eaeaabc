//! One supervisor running as PID 1 of its own PID namespace, as the bench
//! drives it: started over its services (their starts read from the notify
//! FIFO), a service killed and its successor awaited, stopped with TERM, and
//! killed with its namespace if dropped on the way.

use super::peers::{Mode, Service, Supervisor};
use super::tree;
use crate::HELPER_VAR;
use crate::bench_receiver::monotonic_ns;
use crate::process::{Lines, Prepared, Stdio3, dev_null, kill_and_reap, spawn, wait_or_kill};
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The path of the FIFO, in the services' environment (`examples/bench_sleeper.rs`).
const NOTIFY_VAR: &str = "PIDONE_BENCH_NOTIFY";

pub enum Start {
    /// The supervisor exited with status 1 or 2 (a usage error) before any
    /// service ran: e.g. a pidone without `--procfile`.
    Refused(String),
    Failed(String),
}

impl From<String> for Start {
    fn from(e: String) -> Start {
        Start::Failed(e)
    }
}

/// A supervisor running as PID 1 of its own PID namespace, and the pids of its
/// services as they reported themselves on the FIFO.
pub struct Instance<'a> {
    pub sup: &'a Supervisor,
    pid: libc::pid_t,
    notify: Lines,
    services: Vec<libc::pid_t>,
    stderr: PathBuf,
}

impl<'a> Instance<'a> {
    /// Starts `sup` over `services` with `stdout` as its stdout. Supervising
    /// sleepers (`bench_sleeper`), waits until each has reported and returns
    /// the time from the clone until the last one ran; relaying, the services
    /// are writers (`bench_lines`) and it returns at once.
    pub fn start(
        sup: &'a Supervisor,
        dir: &Path,
        services: &[Service],
        mode: Mode,
        stdout: &impl AsRawFd,
    ) -> Result<(Instance<'a>, f64), Start> {
        let helper = match mode {
            Mode::Supervise => "bench_sleeper",
            Mode::Relay => "bench_lines",
        };
        let argv = sup.configure(dir, services, mode)?;
        let fifo = dir.join("notify");
        let notify = open_fifo(&fifo)?;
        let stderr = dir.join("stderr");
        let err = fs::File::create(&stderr)
            .map_err(|e| format!("cannot create {}: {e}", stderr.display()))?;
        let mut cmd = Prepared::of(&argv)?;
        cmd.set_env(HELPER_VAR, helper)?;
        cmd.set_env(NOTIFY_VAR, &fifo.to_string_lossy())?;
        let program = cmd.args[0].clone();
        let null = dev_null()?;
        let fds = Stdio3 {
            stdin: null.as_raw_fd(),
            stdout: stdout.as_raw_fd(),
            stderr: err.as_raw_fd(),
            die_with_bench: true,
        };
        let t0 = monotonic_ns();
        let pid = spawn(&cmd, &program, true, fds)
            .map_err(|e| format!("cannot start {} in a new PID namespace: {e}", sup.name))?;
        let mut inst = Instance {
            sup,
            pid,
            notify: Lines {
                fd: notify,
                buf: Vec::new(),
            },
            services: Vec::new(),
            stderr,
        };
        if mode == Mode::Relay {
            return Ok((inst, f64::NAN));
        }
        let mut last = t0;
        while inst.services.len() < services.len() {
            let (pid, at) = inst.next_start(&[], Duration::from_secs(60))?;
            inst.services.push(pid);
            last = last.max(at);
        }
        Ok((inst, (last.saturating_sub(t0)) as f64 / 1e6))
    }

    /// The next service start reported on the FIFO, by a pid not in `old`:
    /// (pid, CLOCK_MONOTONIC at its start). Fails when the supervisor exits.
    fn next_start(
        &mut self,
        old: &[libc::pid_t],
        timeout: Duration,
    ) -> Result<(libc::pid_t, u64), Start> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(line) = self.notify.next(Duration::from_millis(100)) {
                let mut f = line.split_whitespace().map(|x| x.parse::<u64>().ok());
                let (Some(Some(pid)), Some(Some(at))) = (f.next(), f.next()) else {
                    return Err(Start::Failed(format!(
                        "{}: bad line '{line}'",
                        self.sup.name
                    )));
                };
                let pid = pid as libc::pid_t;
                if !old.contains(&pid) {
                    return Ok((pid, at));
                }
                continue;
            }
            let mut status = 0;
            // SAFETY: waitpid on our own child into a live local.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.pid = 0;
                let said = fs::read_to_string(&self.stderr).unwrap_or_default();
                let said = said
                    .lines()
                    .next()
                    .unwrap_or("nothing on stderr")
                    .to_string();
                let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
                return Err(match code {
                    Some(1 | 2) if self.services.is_empty() => Start::Refused(said),
                    _ => Start::Failed(format!(
                        "{} exited (wait status {status:#x}): {said}",
                        self.sup.name
                    )),
                });
            }
            if Instant::now() > deadline {
                return Err(Start::Failed(format!(
                    "{}: no service start within {} s",
                    self.sup.name,
                    timeout.as_secs()
                )));
            }
        }
    }

    /// Every process of the tree but the services.
    pub fn supervising(&self) -> Vec<libc::pid_t> {
        let mut pids = tree::tree(self.pid);
        pids.retain(|p| !self.services.contains(p));
        pids
    }

    /// Kills service `which` with SIGKILL; the time until its successor ran, in ms.
    pub fn restart(&mut self, which: usize) -> Result<f64, String> {
        let victim = self.services[which];
        let t0 = monotonic_ns();
        // SAFETY: kill(2) on a pid that reported itself as one of our services.
        if unsafe { libc::kill(victim, libc::SIGKILL) } != 0 {
            return Err(format!("{}: cannot kill service {victim}", self.sup.name));
        }
        let old = self.services.clone();
        let (pid, at) = self
            .next_start(&old, Duration::from_secs(30))
            .map_err(|e| match e {
                Start::Refused(s) | Start::Failed(s) => format!("{}: restart: {s}", self.sup.name),
            })?;
        self.services[which] = pid;
        Ok(at.saturating_sub(t0) as f64 / 1e6)
    }

    /// TERM, then the time until the supervisor's PID namespace is empty (the
    /// kernel reports the exit of a namespace's PID 1 once every process in it
    /// is gone), in ms; NaN if it had to be killed after 30 s.
    pub fn stop(mut self) -> f64 {
        let pid = std::mem::replace(&mut self.pid, 0);
        let t0 = Instant::now();
        // SAFETY: kill on our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        match wait_or_kill(pid, Duration::from_secs(30)) {
            Some(_) => t0.elapsed().as_secs_f64() * 1e3,
            None => {
                eprintln!(
                    "note: {} did not stop within 30 s of TERM: killed",
                    self.sup.name
                );
                f64::NAN
            }
        }
    }
}

/// A supervisor not stopped (a failure half-way) is killed with its namespace.
impl Drop for Instance<'_> {
    fn drop(&mut self) {
        if self.pid > 0 {
            kill_and_reap(self.pid);
        }
    }
}

/// Makes the FIFO at `path` and opens it for reading (and writing, so that
/// it never reads as closed between two services' writes).
fn open_fifo(path: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: mkfifo and open on a live NUL-terminated path.
    let fd = unsafe {
        libc::mkfifo(c.as_ptr(), 0o600);
        libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
    };
    if fd < 0 {
        return Err(format!(
            "cannot open the FIFO {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
