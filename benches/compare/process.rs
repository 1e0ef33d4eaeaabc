//! Processes for the bench: a command prepared for execve before a raw clone
//! (optionally into a new PID namespace), waits, pipes, an init running with a
//! helper workload whose stdout comes back line by line, the /proc reads
//! (status fields, CPU time, context switches), and running on one CPU.

use crate::HELPER_VAR;
use crate::inits::Init;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A command line and environment ready for execve, built before the clone.
pub struct Prepared {
    pub args: Vec<CString>,
    pub argv: Vec<*const libc::c_char>,
    pub env: Vec<CString>,
    pub envp: Vec<*const libc::c_char>,
    /// A mount namespace the child enters before its exec (`nocgroup`), and
    /// where it leaves the ns that took, for the start+exit time to leave out.
    pub mount_ns: Option<(RawFd, *mut u64)>,
    /// A `cgroup.procs` file the child moves itself into before its exec.
    pub cgroup_procs: Option<CString>,
}

impl Prepared {
    /// `args[0]` is both the program and argv[0]; the environment is ours.
    pub fn of(args: &[String]) -> Result<Prepared, String> {
        let c = |s: &[u8]| {
            CString::new(s).map_err(|_| format!("NUL byte in '{}'", String::from_utf8_lossy(s)))
        };
        let args = args
            .iter()
            .map(|a| c(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let env = std::env::vars_os()
            .filter(|(k, _)| k != HELPER_VAR)
            .map(|(k, v)| c(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut p = Prepared {
            args,
            argv: Vec::new(),
            env,
            envp: Vec::new(),
            mount_ns: None,
            cgroup_procs: None,
        };
        p.pointers();
        Ok(p)
    }

    /// `init` over `workload`, in the init's mount namespace if it has one.
    pub fn for_init(init: &Init, workload: &[String]) -> Result<Prepared, String> {
        let mut p = Prepared::of(&init.argv(workload))?;
        p.mount_ns = init.mount_ns;
        Ok(p)
    }

    /// How long the child took to enter its mount namespace at its last start,
    /// in ns (0 without one): set up for the instance, not run by the init.
    pub fn setup_ns(&self) -> u64 {
        // SAFETY: the pointer is the shared page `nocgroup` mapped for good.
        self.mount_ns
            .map_or(0, |(_, took)| unsafe { std::ptr::read_volatile(took) })
    }

    pub fn set_env(&mut self, key: &str, value: &str) -> Result<(), String> {
        let var = CString::new(format!("{key}={value}")).map_err(|e| e.to_string())?;
        self.env.push(var);
        self.pointers();
        Ok(())
    }

    fn pointers(&mut self) {
        let ptrs = |v: &[CString]| {
            let mut p: Vec<_> = v.iter().map(|a| a.as_ptr()).collect();
            p.push(std::ptr::null());
            p
        };
        self.argv = ptrs(&self.args);
        self.envp = ptrs(&self.env);
    }
}

/// What a child gets before its exec: standard descriptors, and whether it
/// dies with the bench (PR_SET_PDEATHSIG: a bench killed or aborted leaves no
/// init, nor its PID namespace, behind). The start+exit phase does without it,
/// so that its timings stay those of the bare clone and exec.
#[derive(Clone, Copy)]
pub struct Stdio3 {
    pub stdin: RawFd,
    pub stdout: RawFd,
    pub stderr: RawFd,
    pub die_with_bench: bool,
}

/// Starts `cmd` (as PID 1 of a new PID namespace with `newpid`); returns its pid
/// as this process sees it. A raw fork-like clone: the bench is single-threaded,
/// and the child only makes async-signal-safe calls before exec.
pub fn spawn(
    cmd: &Prepared,
    program: &CString,
    newpid: bool,
    fds: Stdio3,
) -> io::Result<libc::pid_t> {
    let mut flags = libc::SIGCHLD as libc::c_ulong;
    if newpid {
        flags |= libc::CLONE_NEWPID as libc::c_ulong;
    }
    // SAFETY: clone with a null stack behaves as fork; see above for the child.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: dup2, prctl, signal, sigprocmask, execve and _exit are async-signal-safe,
        // and so are the raw syscalls clock_gettime, setns, open and write.
        unsafe {
            if let Some((ns, took)) = cmd.mount_ns {
                let t0 = monotonic_ns();
                if libc::setns(ns, libc::CLONE_NEWNS) != 0 {
                    libc::_exit(126);
                }
                std::ptr::write_volatile(took, monotonic_ns() - t0);
            }
            if let Some(procs) = &cmd.cgroup_procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                // "0" moves the writer itself.
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(126);
                }
                libc::close(fd);
            }
            libc::dup2(fds.stdin, 0);
            libc::dup2(fds.stdout, 1);
            libc::dup2(fds.stderr, 2);
            if fds.die_with_bench {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            // Rust ignores SIGPIPE, and an ignored signal stays ignored across exec.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::execve(program.as_ptr(), cmd.argv.as_ptr(), cmd.envp.as_ptr());
            libc::_exit(127);
        }
    }
    Ok(pid as libc::pid_t)
}

/// CLOCK_MONOTONIC in ns (async-signal-safe: one clock_gettime).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a live local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn wait_blocking(pid: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child into a live local.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Waits up to `timeout` for `pid` to exit, then kills it.
pub fn wait_or_kill(pid: libc::pid_t, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child into a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        if r < 0 || Instant::now() > deadline {
            kill_and_reap(pid);
            return None;
        }
        sleep(Duration::from_millis(1));
    }
}

pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills a live two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn dev_null() -> Result<fs::File, String> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))
}

/// Lines from a child's stdout, each awaited with a time limit.
pub struct Lines {
    pub fd: OwnedFd,
    pub buf: Vec<u8>,
}

impl Lines {
    pub fn next(&mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no answer within {} s", timeout.as_secs()));
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one live pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } <= 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            // SAFETY: read into a live buffer of the given size.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), chunk.as_mut_ptr().cast(), 4096) };
            if n == 0 {
                return Err("the workload closed its stdout (did the init forward it?)".into());
            }
            if n > 0 {
                self.buf.extend_from_slice(&chunk[..n as usize]);
            }
        }
    }
}

/// An init started as PID 1 of a new PID namespace with a helper workload whose
/// stdout comes back to us (and whose stdin is ours to write, for the orphans).
pub struct Running<'a> {
    pub init: &'a Init,
    pub pid: libc::pid_t,
    pub out: Lines,
    pub input: Option<OwnedFd>,
}

impl<'a> Running<'a> {
    pub fn start(init: &'a Init, helper: &str, args: &[&str]) -> Result<Running<'a>, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
        // The helper is this very binary, told its role by the environment (an
        // init passes the environment on, not necessarily argv[0]).
        let mut workload = vec![exe.to_string_lossy().into_owned()];
        workload.extend(args.iter().map(|a| a.to_string()));
        let mut cmd = Prepared::for_init(init, &workload)?;
        cmd.set_env(HELPER_VAR, helper)?;
        let null = dev_null()?;
        Self::spawn(init, &cmd, null.as_raw_fd())
    }

    /// Starts `cmd` (an init with its helper workload, prepared) as PID 1 of a
    /// new PID namespace, its stdin and stdout pipes of ours, its stderr `stderr`.
    pub fn spawn(init: &'a Init, cmd: &Prepared, stderr: RawFd) -> Result<Running<'a>, String> {
        let program = cmd.args[0].clone();
        let (out_r, out_w) = pipe().map_err(|e| e.to_string())?;
        let (in_r, in_w) = pipe().map_err(|e| e.to_string())?;
        let fds = Stdio3 {
            stdin: in_r.as_raw_fd(),
            stdout: out_w.as_raw_fd(),
            stderr,
            die_with_bench: true,
        };
        let pid = spawn(cmd, &program, true, fds)
            .map_err(|e| format!("cannot start {} in a new PID namespace: {e}", init.name))?;
        Ok(Running {
            init,
            pid,
            out: Lines {
                fd: out_r,
                buf: Vec::new(),
            },
            input: Some(in_w),
        })
    }

    pub fn expect(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let line = self
            .out
            .next(timeout)
            .map_err(|e| format!("{}: waiting for '{prefix}': {e}", self.init.name))?;
        if !line.starts_with(prefix) {
            return Err(format!(
                "{}: expected '{prefix}', got '{line}'",
                self.init.name
            ));
        }
        Ok(line)
    }

    pub fn signal(&self, signo: i32) -> io::Result<()> {
        // SAFETY: kill on our own unreaped child.
        if unsafe { libc::kill(self.pid, signo) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The init's CPU time so far, in ns.
    pub fn cpu_ns(&self) -> Result<u64, String> {
        cpu_ns(self.pid)
            .ok_or_else(|| format!("{}: cannot read the init's CPU time", self.init.name))
    }

    /// Ends the workload through the init (TERM, or the end of its stdin), then
    /// waits for the init to exit; kills it if it does not.
    pub fn stop(mut self, by_term: bool) -> Result<(), String> {
        if by_term {
            let _ = self.signal(libc::SIGTERM);
        }
        self.input.take();
        let pid = std::mem::replace(&mut self.pid, 0);
        match wait_or_kill(pid, Duration::from_secs(30)) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{} did not exit within 30 s: killed",
                self.init.name
            )),
        }
    }
}

/// An init not stopped (a phase failed half-way) is killed with its whole PID
/// namespace, and reaped.
impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.pid > 0 {
            kill_and_reap(self.pid);
        }
    }
}

/// SIGKILL to our own unreaped child, then its reap: as the PID 1 of a
/// namespace, everything in that namespace dies with it.
pub fn kill_and_reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: kill and waitpid on our own, unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
}

pub fn proc_file(pid: libc::pid_t, name: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/{name}")).ok()
}

/// A `Key:   123 kB` field of /proc/PID/status or smaps_rollup.
pub fn proc_field(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// CPU time the process has run, in ns (schedstat's first field: exact, not ticks).
pub fn cpu_ns(pid: libc::pid_t) -> Option<u64> {
    if let Some(s) = proc_file(pid, "schedstat") {
        return s.split_whitespace().next()?.parse().ok();
    }
    // Without schedstats: utime + stime, in clock ticks.
    let stat = proc_file(pid, "stat")?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // SAFETY: sysconf has no side effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((f.get(11)? + f.get(12)?) * 1_000_000_000 / hz)
}

pub fn ctx_switches(pid: libc::pid_t) -> Option<f64> {
    switches(&proc_file(pid, "status")?)
}

/// Context switches, voluntary and not, in the text of a /proc `status` file.
pub fn switches(status: &str) -> Option<f64> {
    Some(
        proc_field(status, "voluntary_ctxt_switches:")?
            + proc_field(status, "nonvoluntary_ctxt_switches:")?,
    )
}

/// What `program ARGS` prints, stdout then stderr (empty if it cannot run):
/// for the versions the peers report.
pub fn output_text(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| [o.stdout, o.stderr].concat())
        .unwrap_or_default();
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `f` with this process, and so every init it starts meanwhile and their
/// children, on one CPU (its first allowed one): no cross-CPU wakeups.
pub fn on_one_cpu<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain data, all-zero is an empty set.
    let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: old is a live cpu_set_t of `size` bytes; 0 is this (only) thread.
    if unsafe { libc::sched_getaffinity(0, size, &mut old) } != 0 {
        return Err(format!("sched_getaffinity: {}", io::Error::last_os_error()));
    }
    let first = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: c < CPU_SETSIZE, the bound of the set.
        .find(|&c| unsafe { libc::CPU_ISSET(c, &old) })
        .ok_or("no CPU in this process's affinity mask")?;
    // SAFETY: as above.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: first < CPU_SETSIZE.
    unsafe { libc::CPU_SET(first, &mut one) };
    // SAFETY: one and old are live cpu_set_t values of `size` bytes.
    if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
        return Err(format!("sched_setaffinity: {}", io::Error::last_os_error()));
    }
    let result = f();
    // SAFETY: as above.
    unsafe { libc::sched_setaffinity(0, size, &old) };
    Ok(result)
}
