//! pidone against the other container inits: direct exec (no init), tini,
//! tini-static, dumb-init and catatonit, interleaved in one run (in a new
//! shuffled order in every iteration) so that machine noise hits all alike.
//! The signal figures come from several fresh instances of each init, and
//! the latency is measured on two CPUs and again with everything on one. The
//! bench runs in a cpu cgroup of its own, as a container does (`compare/cgroup.rs`).
//!
//! ```text
//! sudo cargo bench --bench compare [-- --quick] [-- --pidone PATH] [-- --json PATH]
//! ```
//!
//! The pidone measured is the one that ships: the static build, made first with
//! `cargo build-static` (.cargo/config.toml) in the same target directory, at
//! `target/x86_64-unknown-linux-gnu/release/pidone` (its path is printed).
//! `--dynamic` measures the dynamic release build that `cargo bench` itself makes
//! (`target/release/pidone`, the `bench` profile inherits `release`), and
//! `--pidone PATH` any other build. Run it as root: most figures run the init as PID 1 of a fresh PID
//! namespace, made with `clone(CLONE_NEWPID)` straight from this process (no
//! `unshare` binary in the timings). The peers come from
//! `apt-get install tini dumb-init catatonit` (tini-static comes with tini); a
//! missing peer is skipped with a note. Instructions are counted with valgrind's
//! callgrind when valgrind is installed.
//!
//! The zombie storm counts exits and reaps through one pidfd per orphan (a pidfd
//! reports the reap too since Linux 6.9; on older kernels that figure is skipped),
//! held by forked watcher processes so that RLIMIT_NOFILE is never in the way.
//!
//! The helper workloads are `examples/bench_*.rs`; this binary carries them too
//! and runs them by re-executing itself with `PIDONE_BENCH_HELPER=NAME` in the
//! environment, so the one command builds everything. Results: a table on stdout, `benches/results/latest.json`,
//! and the change against the previous `latest.json` when there is one.

#[path = "../examples/bench_orphans.rs"]
mod bench_orphans;
#[path = "../examples/bench_receiver.rs"]
mod bench_receiver;
#[path = "../examples/bench_sleeper.rs"]
mod bench_sleeper;
#[path = "compare/cgroup.rs"]
mod cgroup;

use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio, exit};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The dynamic release build that `cargo bench` made: `<target dir>/release/pidone`.
const PIDONE: &str = env!("CARGO_BIN_EXE_pidone");
/// Where `cargo build-static` puts the shipped build, under the same target dir.
const STATIC_TRIPLE: &str = "x86_64-unknown-linux-gnu";
const PEERS: [&str; 4] = ["tini", "tini-static", "dumb-init", "catatonit"];

/// Names the helper role of a re-executed bench binary.
const HELPER_VAR: &str = "PIDONE_BENCH_HELPER";

fn main() {
    match std::env::var(HELPER_VAR).as_deref() {
        Ok("bench_sleeper") => return bench_sleeper::main(),
        Ok("bench_receiver") => return bench_receiver::main(),
        Ok("bench_orphans") => return bench_orphans::main(),
        _ => {}
    }
    let mut opts = Options::parse();
    if let Err(e) = build_static(&mut opts).and_then(|()| run(&opts)) {
        eprintln!("compare: {e}");
        exit(1);
    }
}

/// Sizes of one run: `--quick` trades spread for time.
struct Options {
    quick: bool,
    pidone: PathBuf,
    /// Build the shipped static pidone first and measure it (no --pidone, --dynamic).
    build_static: bool,
    /// Where to write the results; `None` with `--only` and no `--json`.
    json: Option<PathBuf>,
    /// Phases to run (all when empty).
    only: Vec<String>,
    /// More pidone builds to measure, as NAME=PATH: e.g. a static build.
    also: Vec<(String, PathBuf)>,
    start_rounds: usize,
    idle: Duration,
    latency_signals: usize,
    /// Fresh instances of each init in the latency and storm phases.
    instances: usize,
    storm_batches: usize,
    storm_batch: usize,
    zombie_rounds: usize,
    orphans: usize,
}

impl Options {
    fn parse() -> Options {
        let mut quick = false;
        let mut pidone = PathBuf::from(PIDONE);
        let mut build_static = true;
        let mut json = None;
        let mut only = Vec::new();
        let mut also = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--pidone" => {
                    pidone = args.next().map(PathBuf::from).unwrap_or_else(|| usage());
                    build_static = false;
                }
                "--dynamic" => build_static = false,
                "--json" => json = Some(args.next().map(PathBuf::from).unwrap_or_else(|| usage())),
                "--only" => {
                    let list = args.next().unwrap_or_else(|| usage());
                    for phase in list.split(',') {
                        if !PHASES.contains(&phase) {
                            usage();
                        }
                        only.push(phase.to_string());
                    }
                }
                "--also" => {
                    let spec = args.next().unwrap_or_else(|| usage());
                    let Some((name, path)) = spec.split_once('=') else {
                        usage()
                    };
                    also.push((name.to_string(), PathBuf::from(path)));
                }
                "--bench" => {} // cargo bench adds it
                "-h" | "--help" => {
                    println!("{USAGE}");
                    exit(0)
                }
                _ => usage(),
            }
        }
        let pick = |full, fast| if quick { fast } else { full };
        if json.is_none() && only.is_empty() {
            json = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.json"));
        }
        Options {
            quick,
            pidone,
            build_static,
            json,
            only,
            also,
            start_rounds: pick(300, 50),
            idle: Duration::from_secs(if quick { 2 } else { 10 }),
            latency_signals: pick(1000, 200),
            instances: pick(5, 2),
            storm_batches: pick(20, 4),
            storm_batch: 5000,
            zombie_rounds: pick(5, 2),
            orphans: pick(20_000, 5000),
        }
    }
}

const USAGE: &str = "usage: cargo bench --bench compare [-- OPTIONS]
  --quick            fewer rounds, 5 000 orphans, a 2 s idle window (under a minute)
  --pidone PATH      measure this pidone binary instead of the shipped static build
  --dynamic          measure the dynamic release build cargo bench made (target/release)
  --also NAME=PATH   measure another pidone build too (e.g. a static one); repeatable
  --only LIST        run only these phases, comma-separated: start, idle, zombies,
                     latency, storms, instructions (then no JSON unless --json)
  --json PATH        where to write the results (default benches/results/latest.json)";

const PHASES: [&str; 6] = [
    "start",
    "idle",
    "zombies",
    "latency",
    "storms",
    "instructions",
];

/// Builds the shipped pidone with `cargo build-static` into the target directory
/// that `cargo bench` uses, and points `opts.pidone` at it.
fn build_static(opts: &mut Options) -> Result<(), String> {
    if !opts.build_static {
        return Ok(());
    }
    let target_dir = Path::new(PIDONE)
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("cannot find the target directory of {PIDONE}"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the shipped pidone: cargo build-static");
    let status = Command::new(cargo)
        .arg("build-static")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo build-static: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build-static failed ({status})"));
    }
    opts.pidone = target_dir.join(STATIC_TRIPLE).join("release/pidone");
    Ok(())
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    exit(2)
}

/// One init under test, or the workload alone (`direct`).
struct Init {
    name: &'static str,
    /// The program and the arguments that come before the workload; empty for direct.
    prefix: Vec<String>,
}

impl Init {
    fn argv(&self, workload: &[String]) -> Vec<String> {
        self.prefix.iter().chain(workload).cloned().collect()
    }

    fn path(&self) -> Option<&str> {
        self.prefix.first().map(String::as_str)
    }
}

fn inits(opts: &Options) -> Result<Vec<Init>, String> {
    let pidone = opts.pidone.to_string_lossy().into_owned();
    if !opts.pidone.exists() {
        return Err(format!(
            "{pidone} is missing: build it with cargo build --release"
        ));
    }
    let mut list = vec![
        Init {
            name: "direct",
            prefix: vec![],
        },
        Init {
            name: "pidone",
            prefix: vec![pidone, "--".into()],
        },
    ];
    for (name, path) in &opts.also {
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        let path = path.to_string_lossy().into_owned();
        list.push(Init {
            name,
            prefix: vec![path, "--".into()],
        });
    }
    for name in PEERS {
        let path = format!("/usr/bin/{name}");
        if !Path::new(&path).exists() {
            eprintln!(
                "note: {path} is missing, {name} is skipped (apt-get install tini dumb-init catatonit)"
            );
            continue;
        }
        // dumb-init takes the command right away; the others take `--` first.
        let mut prefix = vec![path];
        if name != "dumb-init" {
            prefix.push("--".into());
        }
        list.push(Init { name, prefix });
    }
    fresh_copies(&mut list)?;
    Ok(list)
}

/// Copies every init's binary, the peers' too, into one new directory and runs
/// the copies: each file is then written the same way, in one piece. A linker
/// writes its output piecemeal, and the page cache holds such a file in small
/// folios: measured here, pidone straight from `target/` took 49 page faults
/// per start and a `cp` of it 43, worth ~80 us of start+exit time.
fn fresh_copies(list: &mut [Init]) -> Result<(), String> {
    let dir = scratch_dir().join("inits");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for init in list.iter_mut().filter(|i| !i.prefix.is_empty()) {
        let copy = dir.join(init.name);
        fs::copy(&init.prefix[0], &copy)
            .map_err(|e| format!("copying {} to {}: {e}", init.prefix[0], copy.display()))?;
        init.prefix[0] = copy.to_string_lossy().into_owned();
    }
    Ok(())
}

/// The inits proper, without `direct`.
fn real(inits: &[Init]) -> impl Iterator<Item = &Init> {
    inits.iter().filter(|i| !i.prefix.is_empty())
}

/// The order of round `r`: 0..n shuffled (Fisher-Yates on a splitmix64 of
/// `r`), so nobody is always first, nor always right after the same one (a
/// rotation keeps neighbours: one binary ran 1.3 µs apart from its own copy
/// in the signal latency, by who ran before it).
fn order(n: usize, r: usize) -> Vec<usize> {
    let mut state = (r as u64).wrapping_add(1);
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    v
}

// ---------------------------------------------------------------------------
// Processes: clone (optionally into a new PID namespace), pipes, /proc.

/// A command line and environment ready for execve, built before the clone.
struct Prepared {
    args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    env: Vec<CString>,
    envp: Vec<*const libc::c_char>,
}

impl Prepared {
    /// `args[0]` is both the program and argv[0]; the environment is ours.
    fn of(args: &[String]) -> Result<Prepared, String> {
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
        };
        p.pointers();
        Ok(p)
    }

    fn set_env(&mut self, key: &str, value: &str) -> Result<(), String> {
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

/// Standard descriptors for a child.
#[derive(Clone, Copy)]
struct Stdio3 {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
}

/// Starts `cmd` (as PID 1 of a new PID namespace with `newpid`); returns its pid
/// as this process sees it. A raw fork-like clone: the bench is single-threaded,
/// and the child only makes async-signal-safe calls before exec.
fn spawn(cmd: &Prepared, program: &CString, newpid: bool, fds: Stdio3) -> io::Result<libc::pid_t> {
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
        // SAFETY: dup2, signal, sigprocmask, execve and _exit are async-signal-safe.
        unsafe {
            libc::dup2(fds.stdin, 0);
            libc::dup2(fds.stdout, 1);
            libc::dup2(fds.stderr, 2);
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

fn wait_blocking(pid: libc::pid_t) -> io::Result<i32> {
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
fn wait_or_kill(pid: libc::pid_t, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child into a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        if r < 0 || Instant::now() > deadline {
            // SAFETY: kill and waitpid on our own, unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        sleep(Duration::from_millis(1));
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills a live two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn dev_null() -> Result<fs::File, String> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))
}

/// Lines from a child's stdout, each awaited with a time limit.
struct Lines {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Lines {
    fn next(&mut self, timeout: Duration) -> Result<String, String> {
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
struct Running<'a> {
    init: &'a Init,
    pid: libc::pid_t,
    out: Lines,
    input: Option<OwnedFd>,
}

impl<'a> Running<'a> {
    fn start(init: &'a Init, helper: &str, args: &[&str]) -> Result<Running<'a>, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
        // The helper is this very binary, told its role by the environment (an
        // init passes the environment on, not necessarily argv[0]).
        let mut workload = vec![exe.to_string_lossy().into_owned()];
        workload.extend(args.iter().map(|a| a.to_string()));
        let mut cmd = Prepared::of(&init.argv(&workload))?;
        cmd.set_env(HELPER_VAR, helper)?;
        let program = cmd.args[0].clone();
        let null = dev_null()?;
        let (out_r, out_w) = pipe().map_err(|e| e.to_string())?;
        let (in_r, in_w) = pipe().map_err(|e| e.to_string())?;
        let fds = Stdio3 {
            stdin: in_r.as_raw_fd(),
            stdout: out_w.as_raw_fd(),
            stderr: null.as_raw_fd(),
        };
        let pid = spawn(&cmd, &program, true, fds)
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

    fn expect(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
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

    fn signal(&self, signo: i32) -> io::Result<()> {
        // SAFETY: kill on our own unreaped child.
        if unsafe { libc::kill(self.pid, signo) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Ends the workload through the init (TERM, or the end of its stdin), then
    /// waits for the init to exit; kills it if it does not.
    fn stop(mut self, by_term: bool) -> Result<(), String> {
        if by_term {
            let _ = self.signal(libc::SIGTERM);
        }
        self.input.take();
        match wait_or_kill(self.pid, Duration::from_secs(30)) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{} did not exit within 30 s: killed",
                self.init.name
            )),
        }
    }
}

fn proc_file(pid: libc::pid_t, name: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/{name}")).ok()
}

/// A `Key:   123 kB` field of /proc/PID/status or smaps_rollup.
fn proc_field(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// CPU time the process has run, in ns (schedstat's first field: exact, not ticks).
fn cpu_ns(pid: libc::pid_t) -> Option<u64> {
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

// ---------------------------------------------------------------------------
// Figures and statistics.

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    median: f64,
    p10: f64,
    p90: f64,
    p99: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Stats {
    fn of(samples: &[f64]) -> Stats {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Stats {
            median: q(0.5),
            p10: q(0.1),
            p90: q(0.9),
            p99: q(0.99),
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
            n: v.len(),
        }
    }

    fn one(x: f64) -> Stats {
        Stats::of(&[x])
    }
}

struct Figure {
    key: &'static str,
    title: &'static str,
    lower_is_better: bool,
    /// Show p99 next to the median (latencies).
    p99: bool,
    /// Context, not a contest: no ratio to the best peer (e.g. what the kernel coalesced).
    info: bool,
    values: Vec<(&'static str, Stats)>,
    /// Per-init remarks printed in the table (e.g. static or not).
    notes: Vec<(&'static str, String)>,
}

impl Figure {
    fn new(key: &'static str, title: &'static str) -> Figure {
        Figure {
            key,
            title,
            lower_is_better: true,
            p99: false,
            info: false,
            values: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> Option<Stats> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    /// The best median among the peers (not pidone, not direct).
    fn best_peer(&self) -> Option<(&'static str, f64)> {
        if self.info {
            return None;
        }
        let peers = self
            .values
            .iter()
            .filter(|(n, s)| PEERS.contains(n) && s.median.is_finite());
        if self.lower_is_better {
            peers
                .map(|(n, s)| (*n, s.median))
                .min_by(|a, b| a.1.total_cmp(&b.1))
        } else {
            peers
                .map(|(n, s)| (*n, s.median))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        }
    }
}

/// 3 significant digits, no exponent.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 100.0 || (x - x.round()).abs() < 0.005 && a < 1e15 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn ratio(x: f64, best: f64) -> String {
    if !x.is_finite() || !best.is_finite() {
        "n/a".into()
    } else if best == 0.0 {
        if x == 0.0 { "=".into() } else { "∞".into() }
    } else {
        format!("×{:.2}", x / best)
    }
}

fn print_figure(f: &Figure, direct_ratio: bool) -> String {
    let mut s = String::new();
    let best = f.best_peer();
    let better = match (f.info, f.lower_is_better) {
        (true, _) => "context, no winner",
        (false, true) => "lower is better",
        (false, false) => "higher is better",
    };
    let _ = writeln!(s, "\n### {} ({better})\n", f.title);
    let spread = if f.p99 {
        "p10–p90 | p99"
    } else {
        "p10–p90 (min–max)"
    };
    let extra = if direct_ratio { " | ÷ direct" } else { "" };
    let _ = writeln!(s, "| init | median | {spread} | ÷ best peer{extra} | n |");
    let cols = 5 + usize::from(f.p99) + usize::from(direct_ratio);
    let _ = writeln!(s, "|{}", "---|".repeat(cols));
    for (name, st) in &f.values {
        let note = f
            .notes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(String::new(), |(_, t)| format!(" ({t})"));
        let spread = if st.n <= 1 {
            if f.p99 {
                "— | —".into()
            } else {
                "—".into()
            }
        } else if f.p99 {
            format!("{}–{} | {}", num(st.p10), num(st.p90), num(st.p99))
        } else {
            format!(
                "{}–{} ({}–{})",
                num(st.p10),
                num(st.p90),
                num(st.min),
                num(st.max)
            )
        };
        let vs_best = best.map_or("—".into(), |(_, b)| ratio(st.median, b));
        let vs_direct = match (direct_ratio, f.get("direct")) {
            (true, Some(d)) => format!(" | {}", ratio(st.median, d.median)),
            (true, None) => " | n/a".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {name}{note} | {} | {spread} | {vs_best}{vs_direct} | {} |",
            num(st.median),
            st.n
        );
    }
    if let Some((name, _)) = best {
        let _ = writeln!(s, "\nbest peer: {name}");
    }
    s
}

/// One row per figure, one column per init (medians), and pidone ÷ best peer.
fn summary(figures: &[Figure], names: &[&'static str]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| figure | {} | pidone ÷ best peer |", names.join(" | "));
    let _ = writeln!(s, "|---|{}---|", "---|".repeat(names.len()));
    for f in figures {
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                let v = f.get(n).map_or("—".into(), |st| num(st.median));
                match f.notes.iter().find(|(m, _)| m == n) {
                    Some((_, t)) if f.key == "binary_kib" => format!("{v} ({t})"),
                    _ => v,
                }
            })
            .collect();
        let r = match (f.get("pidone"), f.best_peer()) {
            (Some(p), Some((name, b))) => format!("{} ({name})", ratio(p.median, b)),
            _ => "—".into(),
        };
        let _ = writeln!(s, "| {} | {} | {r} |", f.title, cells.join(" | "));
        if f.p99 {
            let cells: Vec<String> = names
                .iter()
                .map(|n| f.get(n).map_or("—".into(), |st| num(st.p99)))
                .collect();
            let best = f
                .values
                .iter()
                .filter(|(n, _)| PEERS.contains(n))
                .map(|(n, st)| (*n, st.p99))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let r = match (f.get("pidone"), best) {
                (Some(p), Some((name, b))) => format!("{} ({name})", ratio(p.p99, b)),
                _ => "—".into(),
            };
            let title = f.title.replace("(", "p99 (");
            let _ = writeln!(s, "| {title} | {} | {r} |", cells.join(" | "));
        }
    }
    s
}

// ---------------------------------------------------------------------------
// 1. start + exit overhead.

fn bench_start(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[1/7] start+exit: INIT -- /bin/true, {} interleaved rounds, as a plain child and as PID 1",
        opts.start_rounds
    );
    let null = dev_null()?;
    let fds = Stdio3 {
        stdin: null.as_raw_fd(),
        stdout: null.as_raw_fd(),
        stderr: null.as_raw_fd(),
    };
    let true_args = vec!["/bin/true".to_string()];
    let cmds: Vec<(Prepared, CString)> = inits
        .iter()
        .map(|i| {
            let argv = i.argv(&true_args);
            let cmd = Prepared::of(&argv)?;
            let program = cmd.args[0].clone();
            Ok((cmd, program))
        })
        .collect::<Result<_, String>>()?;
    let mut samples = vec![[Vec::new(), Vec::new()]; inits.len()];
    for round in 0..opts.start_rounds + 5 {
        for (mode, newpid) in [false, true].into_iter().enumerate() {
            for i in order(inits.len(), round) {
                let (cmd, program) = &cmds[i];
                let t0 = Instant::now();
                let pid = spawn(cmd, program, newpid, fds).map_err(|e| {
                    let how = if newpid {
                        " in a new PID namespace (run as root)"
                    } else {
                        ""
                    };
                    format!("cannot start {}{how}: {e}", inits[i].name)
                })?;
                let status = wait_blocking(pid).map_err(|e| e.to_string())?;
                let dt = t0.elapsed();
                if status != 0 {
                    return Err(format!(
                        "{} -- /bin/true failed (wait status {status:#x})",
                        inits[i].name
                    ));
                }
                // The first rounds warm the page cache and are not counted.
                if round >= 5 {
                    samples[i][mode].push(dt.as_secs_f64() * 1e3);
                }
            }
        }
    }
    let mut plain = Figure::new("start_plain_ms", "start+exit, plain child (ms)");
    let mut pid1 = Figure::new("start_pid1_ms", "start+exit as PID 1, new PID ns (ms)");
    for (i, init) in inits.iter().enumerate() {
        plain.values.push((init.name, Stats::of(&samples[i][0])));
        pid1.values.push((init.name, Stats::of(&samples[i][1])));
    }
    Ok(vec![plain, pid1])
}

// ---------------------------------------------------------------------------
// 2 + 3. memory and wakeups while the workload sleeps.

fn ctx_switches(pid: libc::pid_t) -> Option<f64> {
    let s = proc_file(pid, "status")?;
    Some(
        proc_field(&s, "voluntary_ctxt_switches:")?
            + proc_field(&s, "nonvoluntary_ctxt_switches:")?,
    )
}

/// Whether the ELF file has a PT_INTERP header (a dynamic loader): `None` if unreadable.
fn dynamic(path: &str) -> Option<bool> {
    let data = fs::read(path).ok()?;
    if data.get(..4)? != b"\x7fELF" || *data.get(4)? != 2 || *data.get(5)? != 1 {
        return None; // only 64-bit little-endian is parsed
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)?, u16_at(0x38)?);
    let interp = (0..phnum as usize).any(|i| {
        let o = phoff + i * phentsize as usize;
        data.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    });
    Some(interp)
}

/// Memory is read over this many starts of every init: where the kernel puts
/// the stack in its first page (ASLR) moves the stack's resident size by a page
/// from one start to the next, for every init alike.
const MEMORY_ROUNDS: usize = 7;

fn bench_idle(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[2/7] memory ({MEMORY_ROUNDS} starts) and [3/7] idle wakeups: every init as PID 1 over a \
         sleeping workload, {} s window",
        opts.idle.as_secs()
    );
    let inits: Vec<&Init> = real(inits).collect();
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new()]; inits.len()];
    let mut running = Vec::new();
    for round in 0..MEMORY_ROUNDS {
        running = inits
            .iter()
            .map(|init| Running::start(init, "bench_sleeper", &[]))
            .collect::<Result<_, _>>()?;
        for r in &mut running {
            r.expect("ready", Duration::from_secs(10))?;
        }
        // Let every init finish its set-up and fall asleep.
        sleep(Duration::from_millis(500));
        for (r, sample) in running.iter().zip(&mut samples) {
            let status = proc_file(r.pid, "status").unwrap_or_default();
            let rollup = proc_file(r.pid, "smaps_rollup").unwrap_or_default();
            let get = |t: &str, k: &str| proc_field(t, k).unwrap_or(f64::NAN);
            sample[0].push(get(&status, "VmRSS:"));
            sample[1].push(get(&status, "RssAnon:"));
            sample[2].push(get(&rollup, "Pss:"));
        }
        if round + 1 < MEMORY_ROUNDS {
            for r in running.drain(..) {
                r.stop(true)?;
            }
        }
    }
    let mut rss = Figure::new("rss_kib", "VmRSS (KiB)");
    let mut anon = Figure::new("rss_anon_kib", "RssAnon (KiB)");
    let mut pss = Figure::new("pss_kib", "Pss (KiB)");
    let mut size = Figure::new("binary_kib", "binary size (KiB)");
    let mut wake = Figure::new("wakeups_per_10s", "idle wakeups per 10 s");
    let mut before = Vec::new();
    for (r, [vm, an, ps]) in running.iter().zip(&samples) {
        let name = r.init.name;
        rss.values.push((name, Stats::of(vm)));
        anon.values.push((name, Stats::of(an)));
        pss.values.push((name, Stats::of(ps)));
        let path = r.init.path().unwrap_or_default();
        let bytes = fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64);
        size.values.push((name, Stats::one(bytes / 1024.0)));
        let kind = match dynamic(path) {
            Some(true) => "dynamic",
            Some(false) => "static",
            None => "?",
        };
        size.notes.push((name, kind.into()));
        before.push(ctx_switches(r.pid));
    }
    let t0 = Instant::now();
    sleep(opts.idle);
    let window = t0.elapsed().as_secs_f64();
    for (r, b) in running.iter().zip(before) {
        let n = match (b, ctx_switches(r.pid)) {
            (Some(b), Some(a)) => (a - b) * 10.0 / window,
            _ => f64::NAN,
        };
        wake.values.push((r.init.name, Stats::one(n)));
    }
    for r in running {
        r.stop(true)?;
    }
    Ok(vec![rss, anon, pss, size, wake])
}

// ---------------------------------------------------------------------------
// 4. zombie storm.

/// The pids of the children of `pid` (zombies included), from /proc. Slow with
/// many children (the kernel walks its list): read once before the storm only.
fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// An edge-triggered epoll set of pidfds: EPOLLIN when the process exits,
/// EPOLLHUP when it is reaped (Linux 6.9 and later wake pidfd pollers on reap).
struct Watch {
    epoll: OwnedFd,
}

impl Watch {
    fn new() -> io::Result<Watch> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that we own.
        Ok(Watch {
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn add(&self, fd: &OwnedFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: both descriptors are live; ev is a live local.
        let r = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// (token, exited, reaped) for each event within `timeout_ms`.
    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> Vec<(u64, bool, bool)> {
        // SAFETY: events is a live buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        events[..n.max(0) as usize]
            .iter()
            .map(|e| {
                let bits = e.events as i32;
                let token = e.u64;
                (token, bits & libc::EPOLLIN != 0, bits & libc::EPOLLHUP != 0)
            })
            .collect()
    }
}

/// Whether this kernel tells pidfd pollers about a reap (not only an exit).
fn reap_is_visible() -> bool {
    // SAFETY: fork in the single-threaded bench; the child only _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) };
    }
    let (Ok(fd), Ok(watch)) = (pidfd_open(pid), Watch::new()) else {
        let _ = wait_blocking(pid);
        return false;
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let added = watch.add(&fd, 0).is_ok();
    let exited = added && !watch.wait(&mut events, 5000).is_empty();
    let _ = wait_blocking(pid);
    exited && watch.wait(&mut events, 1000).iter().any(|e| e.2)
}

/// How many pidfds one process may hold (RLIMIT_NOFILE, raised to its hard limit).
fn fd_budget() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a live local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(1 << 20);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    (lim.rlim_cur as usize).saturating_sub(64).max(64)
}

const MAX_WATCHERS: usize = 64;

/// Counters shared with the watcher processes (an anonymous shared mapping).
#[repr(C)]
struct Shared {
    ready: AtomicU64,
    failed: AtomicU64,
    exited: AtomicU64,
    reaped: AtomicU64,
    peak: AtomicU64,
    /// CLOCK_MONOTONIC of each watcher's last reap.
    last_reap: [AtomicU64; MAX_WATCHERS],
}

fn shared() -> Result<&'static Shared, String> {
    // SAFETY: a fresh anonymous shared mapping, zeroed by the kernel: all-zero
    // atomics are valid. It is never unmapped: one page per storm round.
    unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            std::mem::size_of::<Shared>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            return Err("cannot map shared memory".into());
        }
        Ok(&*map.cast::<Shared>())
    }
}

/// A forked watcher: holds a pidfd for each of `pids` and counts their exits
/// (EPOLLIN) and reaps (EPOLLHUP) into `shared`, until all are reaped. Watchers
/// exist because one process may hold only RLIMIT_NOFILE descriptors.
fn watcher(pids: &[libc::pid_t], slot: usize, shared: &Shared) -> ! {
    let code = (|| {
        let watch = Watch::new().ok()?;
        let mut fds = Vec::with_capacity(pids.len());
        for (i, &pid) in pids.iter().enumerate() {
            let fd = pidfd_open(pid).ok()?;
            watch.add(&fd, i as u64).ok()?;
            fds.push(fd);
        }
        shared.ready.fetch_add(1, SeqCst);
        let mut state = vec![0u8; pids.len()];
        let mut left = pids.len();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        let deadline = Instant::now() + Duration::from_secs(150);
        while left > 0 && Instant::now() < deadline {
            for (token, is_in, hup) in watch.wait(&mut events, 100) {
                let s = &mut state[token as usize];
                if (is_in || hup) && *s == 0 {
                    *s = 1;
                    shared.exited.fetch_add(1, SeqCst);
                }
                if hup && *s == 1 {
                    *s = 2;
                    left -= 1;
                    shared.reaped.fetch_add(1, SeqCst);
                    shared.last_reap[slot].store(bench_receiver::monotonic_ns(), SeqCst);
                }
            }
            let zombies = shared.exited.load(SeqCst) - shared.reaped.load(SeqCst);
            shared.peak.fetch_max(zombies, SeqCst);
        }
        (left == 0).then_some(0)
    })()
    .unwrap_or(1);
    if code != 0 {
        shared.failed.fetch_add(1, SeqCst);
    }
    // SAFETY: _exit skips the bench's atexit handlers and buffered output.
    unsafe { libc::_exit(code) }
}

struct StormResult {
    wall_us_per_orphan: f64,
    peak_zombies: f64,
    cpu_us_per_orphan: f64,
}

/// One storm: `n` orphans on `init` as PID 1 exit at once. Every orphan is
/// watched through a pidfd, so exits and reaps are counted as they happen,
/// without polling /proc (reading a 20 000-entry children list costs ~40 ms).
fn zombie_round(init: &Init, n: usize, budget: usize) -> Result<StormResult, String> {
    let fail = |what: &str| format!("{}: {what}", init.name);
    let n_arg = n.to_string();
    let mut r = Running::start(init, "bench_orphans", &[&n_arg])?;
    let armed = r.expect("armed", Duration::from_secs(300))?;
    let helper: libc::pid_t = armed[6..].trim().parse().unwrap_or(0);
    let orphans: Vec<libc::pid_t> = children(r.pid)
        .into_iter()
        .filter(|&p| p != helper)
        .collect();
    if orphans.len() != n {
        return Err(fail(&format!(
            "{} orphans landed on the init, expected {n}",
            orphans.len()
        )));
    }
    let shared = shared()?;
    let chunks: Vec<&[libc::pid_t]> = orphans.chunks(budget).collect();
    if chunks.len() > MAX_WATCHERS {
        return Err(fail("too many orphans for RLIMIT_NOFILE"));
    }
    let mut watchers = Vec::new();
    for (slot, chunk) in chunks.iter().enumerate() {
        // SAFETY: the bench is single-threaded; the watcher runs plain Rust and _exits.
        match unsafe { libc::fork() } {
            0 => watcher(chunk, slot, shared),
            pid if pid > 0 => watchers.push(pid),
            _ => return Err(fail("cannot fork a watcher")),
        }
    }
    let ready_by = Instant::now() + Duration::from_secs(60);
    while shared.ready.load(SeqCst) < watchers.len() as u64 {
        if shared.failed.load(SeqCst) > 0 || Instant::now() > ready_by {
            return Err(fail("a watcher could not open the pidfds"));
        }
        sleep(Duration::from_millis(1));
    }
    let cpu0 = cpu_ns(r.pid).ok_or_else(|| fail("cannot read the init's CPU time"))?;
    let t0 = bench_receiver::monotonic_ns();
    let go = r.input.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: write one byte from a live buffer to the helper's stdin pipe.
    if unsafe { libc::write(go, b"g".as_ptr().cast(), 1) } != 1 {
        return Err(fail("cannot release the orphans"));
    }
    for pid in watchers {
        let _ = wait_blocking(pid);
    }
    let cpu1 = cpu_ns(r.pid).ok_or_else(|| fail("cannot read the init's CPU time"))?;
    if shared.failed.load(SeqCst) > 0 || shared.reaped.load(SeqCst) != n as u64 {
        return Err(fail(&format!(
            "{} of {n} orphans reaped within 150 s",
            shared.reaped.load(SeqCst)
        )));
    }
    let end = shared
        .last_reap
        .iter()
        .map(|t| t.load(SeqCst))
        .max()
        .unwrap_or(t0);
    r.stop(false)?;
    Ok(StormResult {
        wall_us_per_orphan: end.saturating_sub(t0) as f64 / 1e3 / n as f64,
        peak_zombies: shared.peak.load(SeqCst) as f64,
        cpu_us_per_orphan: (cpu1 - cpu0) as f64 / 1e3 / n as f64,
    })
}

fn bench_zombies(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[4/7] zombie storm: {} orphans exit at once on the init as PID 1, {} interleaved round(s)",
        opts.orphans, opts.zombie_rounds
    );
    if !reap_is_visible() {
        eprintln!(
            "note: this kernel does not wake pidfd pollers on reap (Linux 6.9+ does): zombie storm skipped"
        );
        return Ok(vec![]);
    }
    let budget = fd_budget();
    let list: Vec<&Init> = real(inits).collect();
    let mut results: Vec<Vec<StormResult>> = list.iter().map(|_| Vec::new()).collect();
    for round in 0..opts.zombie_rounds {
        for i in order(list.len(), round) {
            results[i].push(zombie_round(list[i], opts.orphans, budget)?);
        }
    }
    let mut wall = Figure::new(
        "reap_wall_us_per_orphan",
        "zombie storm: wall per orphan (µs)",
    );
    let mut peak = Figure::new("reap_peak_zombies", "zombie storm: peak zombies");
    let mut cpu = Figure::new(
        "reap_cpu_us_per_orphan",
        "zombie storm: init CPU per orphan (µs)",
    );
    for (init, res) in list.iter().zip(&results) {
        let col = |f: fn(&StormResult) -> f64| Stats::of(&res.iter().map(f).collect::<Vec<_>>());
        wall.values.push((init.name, col(|r| r.wall_us_per_orphan)));
        peak.values.push((init.name, col(|r| r.peak_zombies)));
        cpu.values.push((init.name, col(|r| r.cpu_us_per_orphan)));
    }
    Ok(vec![wall, peak, cpu])
}

// ---------------------------------------------------------------------------
// 5 + 6. signals.

/// Starts a fresh instance of every init with the receiver in `mode`, waits
/// until each is ready and settled.
fn start_receivers<'a>(inits: &'a [Init], mode: &str) -> Result<Vec<Running<'a>>, String> {
    let mut running = Vec::new();
    for init in real(inits) {
        running.push(Running::start(init, "bench_receiver", &[mode])?);
    }
    for r in &mut running {
        r.expect("ready", Duration::from_secs(10))?;
    }
    sleep(Duration::from_millis(200));
    Ok(running)
}

fn bench_latency(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[5/7] signal latency: {} USR1 to each of {} fresh instances of each init as PID 1, \
         in shuffled order, each awaited; on two CPUs, then on one",
        opts.latency_signals, opts.instances
    );
    let mut figures = Vec::new();
    for (pin, key, title, cpu_key, cpu_title) in [
        (
            false,
            "signal_latency_us",
            "signal latency (µs)",
            "signal_cpu_us",
            "init CPU per awaited signal (µs)",
        ),
        (
            true,
            "signal_latency_1cpu_us",
            "signal latency, one CPU (µs)",
            "signal_cpu_1cpu_us",
            "init CPU per awaited signal, one CPU (µs)",
        ),
    ] {
        let (latency, cpu) = if pin {
            on_one_cpu(|| latency_samples(opts, inits))??
        } else {
            latency_samples(opts, inits)?
        };
        let mut fig = Figure::new(key, title);
        fig.p99 = true;
        let mut fig_cpu = Figure::new(cpu_key, cpu_title);
        for (init, (l, c)) in real(inits).zip(latency.iter().zip(&cpu)) {
            fig.values.push((init.name, Stats::of(l)));
            fig_cpu.values.push((init.name, Stats::of(c)));
        }
        figures.push(fig);
        figures.push(fig_cpu);
    }
    Ok(figures)
}

/// Samples per init, in the order of `real(inits)`.
type Samples = Vec<Vec<f64>>;

/// Latencies in µs, per init, and the init's CPU time per signal of each
/// instance (one wakeup, one forward, back to sleep: no queue builds up). The
/// samples come from several fresh instances of each init, so that no one
/// process's placement (its task, its kernel stack, its pages) decides a figure.
fn latency_samples(opts: &Options, inits: &[Init]) -> Result<(Samples, Samples), String> {
    let n = real(inits).count();
    let (mut latency, mut cpu) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let signals = opts.latency_signals + 20;
    for _ in 0..opts.instances {
        let mut running = start_receivers(inits, "echo")?;
        let cpu_of = |r: &Running| cpu_ns(r.pid).ok_or("cannot read the init's CPU time");
        let cpu0 = running.iter().map(cpu_of).collect::<Result<Vec<_>, _>>()?;
        for k in 0..signals {
            for i in order(n, k) {
                let r = &mut running[i];
                let sent = bench_receiver::monotonic_ns();
                r.signal(libc::SIGUSR1)
                    .map_err(|e| format!("{}: kill: {e}", r.init.name))?;
                let line = r.expect("t ", Duration::from_secs(10))?;
                let got: u64 = line[2..]
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad line '{line}'"))?;
                if k >= 20 {
                    latency[i].push(got.saturating_sub(sent) as f64 / 1e3);
                }
            }
        }
        for (i, r) in running.iter().enumerate() {
            let used = cpu_of(r)?.saturating_sub(cpu0[i]);
            cpu[i].push(used as f64 / 1e3 / signals as f64);
        }
        for r in running {
            r.stop(true)?;
        }
    }
    Ok((latency, cpu))
}

/// Runs `f` with this process, and so every init it starts meanwhile and their
/// children, on one CPU (its first allowed one): no cross-CPU wakeups.
fn on_one_cpu<T>(f: impl FnOnce() -> T) -> Result<T, String> {
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

/// Sends `count` signals `signo` to the init as fast as it can, then the report
/// signal; returns (init CPU ns, received USR1, received RT).
fn storm_batch(r: &mut Running, signo: i32, count: usize) -> Result<(u64, u64, u64), String> {
    let report = libc::SIGRTMIN() + 2;
    let cpu0 = cpu_ns(r.pid).ok_or("cannot read the init's CPU time")?;
    for _ in 0..count {
        loop {
            match r.signal(signo) {
                Ok(()) => break,
                // A full real-time queue (RLIMIT_SIGPENDING): let the init catch up.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    sleep(Duration::from_micros(50))
                }
                Err(e) => return Err(format!("{}: kill: {e}", r.init.name)),
            }
        }
    }
    // The report signal has the highest number: the kernel hands it over last,
    // after every signal sent before it, both to the init and to the receiver.
    r.signal(report)
        .map_err(|e| format!("{}: kill: {e}", r.init.name))?;
    let line = r.expect("c ", Duration::from_secs(60))?;
    let cpu1 = cpu_ns(r.pid).ok_or("cannot read the init's CPU time")?;
    let mut f = line[2..]
        .split_whitespace()
        .map(|x| x.parse::<u64>().unwrap_or(0));
    Ok((cpu1 - cpu0, f.next().unwrap_or(0), f.next().unwrap_or(0)))
}

fn bench_storms(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    let total = opts.storm_batches * opts.storm_batch;
    eprintln!(
        "[6/7] signal storms: {total} USR1, then {total} SIGRTMIN+1, to each init as PID 1 \
         ({} interleaved batches of {}, over {} fresh instances of each init)",
        opts.storm_batches, opts.storm_batch, opts.instances
    );
    let rt = libc::SIGRTMIN() + 1;
    let n = real(inits).count();
    let mut figures = Vec::new();
    for (signo, key_cpu, title_cpu, key_recv, title_recv) in [
        (
            libc::SIGUSR1,
            "storm_usr1_cpu_us",
            "USR1 storm: init CPU per sent (µs)",
            "storm_usr1_received_pct",
            "USR1 storm: % received (coalesced)",
        ),
        (
            rt,
            "storm_rt_cpu_us",
            "RT storm: init CPU per signal (µs)",
            "storm_rt_received_pct",
            "RT storm: % received (100 = none lost)",
        ),
    ] {
        let mut cpu = vec![Vec::new(); n];
        let mut recv = vec![Vec::new(); n];
        // A fresh instance of each init every `per` batches (see latency_samples).
        let per = opts.storm_batches.div_ceil(opts.instances);
        for first in (0..opts.storm_batches).step_by(per) {
            let mut running = start_receivers(inits, "count")?;
            for b in first..(first + per).min(opts.storm_batches) {
                for i in order(n, b) {
                    let (ns, usr1, rts) = storm_batch(&mut running[i], signo, opts.storm_batch)?;
                    let got = if signo == rt { rts } else { usr1 };
                    cpu[i].push(ns as f64 / 1e3 / opts.storm_batch as f64);
                    recv[i].push(got as f64 * 100.0 / opts.storm_batch as f64);
                }
            }
            for r in running {
                r.stop(true)?;
            }
        }
        let mut fc = Figure::new(key_cpu, title_cpu);
        let mut fr = Figure::new(key_recv, title_recv);
        fr.lower_is_better = false;
        // Standard signals coalesce: how many a burst leaves depends on who runs
        // when, not on the init. The RT storm is the fair CPU and loss check.
        fc.info = signo != rt;
        fr.info = signo != rt;
        for (i, init) in real(inits).enumerate() {
            fc.values.push((init.name, Stats::of(&cpu[i])));
            fr.values.push((init.name, Stats::of(&recv[i])));
        }
        figures.push(fc);
        figures.push(fr);
    }
    Ok(figures)
}

// ---------------------------------------------------------------------------
// 7. instructions.

/// Instructions of `INIT -- /bin/true` under callgrind, for the init process
/// only (from exec to exit, dynamic loader included): without
/// --trace-children the child runs natively once it execs /bin/true, and what
/// the forked child runs before its exec is not in the init's file.
fn bench_instructions(inits: &[Init], dir: &Path) -> Result<Vec<Figure>, String> {
    let mut fig = Figure::new("instructions_true", "instructions, INIT -- /bin/true");
    let ok = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("[7/7] instructions: valgrind is missing, skipped (apt-get install valgrind)");
        return Ok(vec![]);
    }
    eprintln!("[7/7] instructions: INIT -- /bin/true under callgrind (init process only)");
    for init in inits {
        let out = dir.join(format!("callgrind.{}", init.name));
        let _ = fs::remove_file(&out);
        let argv = init.argv(&["/bin/true".into()]);
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg("--trace-children=no")
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run valgrind: {e}"))?;
        let text = fs::read_to_string(&out).unwrap_or_default();
        let ir = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        match ir {
            Some(ir) if status.success() => fig.values.push((init.name, Stats::one(ir))),
            _ => eprintln!("note: callgrind gave no count for {} ({status})", init.name),
        }
        let _ = fs::remove_file(&out);
    }
    Ok(vec![fig])
}

// ---------------------------------------------------------------------------
// Results: JSON, comparison with the previous run.

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

fn to_json(meta: &[(&str, String)], quick: bool, figures: &[Figure]) -> String {
    let mut s = String::from("{\n  \"schema\": 1,\n");
    for (k, v) in meta {
        let _ = writeln!(s, "  {}: {},", json_str(k), json_str(v));
    }
    let _ = writeln!(s, "  \"quick\": {quick},\n  \"figures\": [");
    for (fi, f) in figures.iter().enumerate() {
        let _ = writeln!(
            s,
            "    {{\"key\": {}, \"title\": {}, \"better\": \"{}\", \"values\": {{",
            json_str(f.key),
            json_str(f.title),
            if f.lower_is_better { "lower" } else { "higher" }
        );
        for (vi, (name, st)) in f.values.iter().enumerate() {
            let note = f
                .notes
                .iter()
                .find(|(n, _)| n == name)
                .map_or(String::new(), |(_, t)| {
                    format!(", \"note\": {}", json_str(t))
                });
            let _ = writeln!(
                s,
                "      {}: {{\"median\": {}, \"p10\": {}, \"p90\": {}, \"p99\": {}, \"min\": {}, \"max\": {}, \"n\": {}{note}}}{}",
                json_str(name),
                json_num(st.median),
                json_num(st.p10),
                json_num(st.p90),
                json_num(st.p99),
                json_num(st.min),
                json_num(st.max),
                st.n,
                if vi + 1 < f.values.len() { "," } else { "" }
            );
        }
        let _ = writeln!(
            s,
            "    }}}}{}",
            if fi + 1 < figures.len() { "," } else { "" }
        );
    }
    s.push_str("  ],\n  \"medians\": {\n");
    let flat = flat_medians(figures);
    for (i, (k, v)) in flat.iter().enumerate() {
        let comma = if i + 1 < flat.len() { "," } else { "" };
        let _ = writeln!(s, "    {}: {}{comma}", json_str(k), json_num(*v));
    }
    s.push_str("  }\n}\n");
    s
}

/// `figure/init` → median, the part of the JSON that the next run compares with.
fn flat_medians(figures: &[Figure]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for f in figures {
        for (name, st) in &f.values {
            out.push((format!("{}/{name}", f.key), st.median));
            if f.p99 {
                out.push((format!("{}_p99/{name}", f.key), st.p99));
            }
        }
    }
    out
}

/// Reads the `medians` section back: one `"key": number` per line.
fn read_medians(text: &str) -> Vec<(String, f64)> {
    let Some(start) = text.find("\"medians\"") else {
        return Vec::new();
    };
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('}'))
        .filter_map(|l| {
            let (k, v) = l.trim().trim_end_matches(',').split_once("\": ")?;
            Some((k.trim_start_matches('"').to_string(), v.parse().ok()?))
        })
        .collect()
}

fn compare(previous: &str, figures: &[Figure]) -> String {
    let old = read_medians(previous);
    let find = |k: &str| old.iter().find(|(o, _)| o == k).map(|(_, v)| *v);
    let change = |new: f64, old: f64| {
        if old == 0.0 || !old.is_finite() || !new.is_finite() {
            None
        } else {
            Some((new - old) / old * 100.0)
        }
    };
    let mut s = String::new();
    let date = previous
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"date\": "))
        .unwrap_or("?")
        .trim_end_matches(',')
        .trim_matches('"');
    let _ = writeln!(s, "\n## Change since the previous run ({date})\n");
    let _ = writeln!(
        s,
        "The peers' column is the mean change of the peers' medians: it shows how much the machine itself moved.\n"
    );
    let _ = writeln!(
        s,
        "| figure | pidone before | pidone now | change | peers' change |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for (key, new) in flat_medians(figures) {
        let Some((fig, init)) = key.split_once('/') else {
            continue;
        };
        if init != "pidone" {
            continue;
        }
        let Some(before) = find(&key) else { continue };
        let peers: Vec<f64> = PEERS
            .iter()
            .filter_map(|p| {
                let k = format!("{fig}/{p}");
                let now = flat_medians(figures).into_iter().find(|(x, _)| *x == k)?.1;
                change(now, find(&k)?)
            })
            .collect();
        let pct = |x: Option<f64>| x.map_or("n/a".into(), |p| format!("{p:+.1} %"));
        let peer = (!peers.is_empty()).then(|| peers.iter().sum::<f64>() / peers.len() as f64);
        let _ = writeln!(
            s,
            "| {fig} | {} | {} | {} | {} |",
            num(before),
            num(new),
            pct(change(new, before)),
            pct(peer)
        );
    }
    s
}

/// UTC date and time of now, `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The git commit of the pidone sources measured, `-dirty` with local changes
/// to src/, Cargo.lock, build.rs or .cargo/ (the static build's flags); Cargo.toml
/// is left out: this bench's own entry is there.
fn source_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=7", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "src",
                "Cargo.lock",
                "build.rs",
                ".cargo",
            ])
            .is_some_and(|s| !s.is_empty());
            format!("commit {commit}{}", if dirty { "-dirty" } else { "" })
        }
        None => "commit unknown".into(),
    }
}

/// `tini 0.19.0, dumb-init 1.2.5, ...` as the peers print their versions.
fn peer_versions(inits: &[Init]) -> String {
    let mut out = Vec::new();
    for init in inits.iter().filter(|i| PEERS.contains(&i.name)) {
        let Some(path) = init.path() else { continue };
        let text = Command::new(path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map(|o| [o.stdout, o.stderr].concat())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let version = text
            .split_whitespace()
            .find(|w| {
                w.trim_start_matches('v')
                    .starts_with(|c: char| c.is_ascii_digit())
            })
            .unwrap_or("?")
            .trim_start_matches('v')
            .split('_') // catatonit: "tini version 0.1.7_catatonit"
            .next()
            .unwrap_or("?");
        out.push(format!("{} {version}", init.name));
    }
    out.join(", ")
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

// ---------------------------------------------------------------------------

/// The run's scratch directory (the inits' copies, callgrind's output), removed at the end.
fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pidone-bench-{}", std::process::id()))
}

fn run(opts: &Options) -> Result<(), String> {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "run as root: the inits run as PID 1 of new PID namespaces (clone(CLONE_NEWPID))"
                .into(),
        );
    }
    let inits = inits(opts)?;
    let pidone = opts.pidone.display().to_string();
    let release = opts
        .pidone
        .components()
        .any(|c| c.as_os_str().as_bytes() == b"release");
    eprintln!(
        "pidone: {pidone}{}",
        if release {
            ""
        } else {
            "  (WARNING: not in a release/ directory)"
        }
    );
    // Before the phases: the sources as built (not as edited meanwhile), and the
    // peers' copies, which are removed with the scratch directory.
    let version = source_version();
    let peers = peer_versions(&inits);
    let dir = scratch_dir();
    let (_cgroup, scheduling) = cgroup::leave_autogroup();
    eprintln!("scheduling: {scheduling}");
    let started = Instant::now();
    let mut figures = Vec::new();
    let result = (|| {
        let on = |phase: &str| opts.only.is_empty() || opts.only.iter().any(|p| p == phase);
        if on("start") {
            figures.extend(bench_start(opts, &inits)?);
        }
        if on("idle") {
            figures.extend(bench_idle(opts, &inits)?);
        }
        if on("zombies") {
            figures.extend(bench_zombies(opts, &inits)?);
        }
        if on("latency") {
            figures.extend(bench_latency(opts, &inits)?);
        }
        if on("storms") {
            figures.extend(bench_storms(opts, &inits)?);
        }
        if on("instructions") {
            figures.extend(bench_instructions(&inits, &dir)?);
        }
        Ok::<(), String>(())
    })();
    let _ = fs::remove_dir_all(&dir);
    result?;

    let names: Vec<&'static str> = inits.iter().map(|i| i.name).collect();
    let mut command = String::from("cargo bench --bench compare");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if !args.is_empty() {
        command = format!("{command} -- {}", args.join(" "));
    }
    let meta = [
        ("date", utc_now()),
        ("machine", machine()),
        ("command", command),
        ("pidone", format!("{pidone} ({version})")),
        ("peers", peers),
        ("scheduling", scheduling),
        (
            "duration_s",
            format!("{:.0}", started.elapsed().as_secs_f64()),
        ),
    ];
    let mut out = String::new();
    let _ = writeln!(out, "# pidone against its peers\n");
    for (k, v) in &meta {
        let _ = writeln!(out, "- {k}: {v}");
    }
    for f in &figures {
        out.push_str(&print_figure(
            f,
            f.key.starts_with("start_") || f.key == "instructions_true",
        ));
    }
    let _ = writeln!(out, "\n## Summary (medians)\n");
    out.push_str(&summary(&figures, &names));
    let default_json = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/latest.json");
    let previous_path = opts.json.clone().unwrap_or(default_json);
    if let Ok(previous) = fs::read_to_string(&previous_path) {
        if previous.contains(&format!("\"quick\": {}", opts.quick)) {
            out.push_str(&compare(&previous, &figures));
        } else {
            let _ = writeln!(
                out,
                "\n(the previous results were of the other mode, quick or full: no comparison)"
            );
        }
    }
    print!("{out}");
    let _ = io::stdout().flush();
    if let Some(json) = &opts.json {
        if let Some(parent) = json.parent() {
            let _ = fs::create_dir_all(parent);
        }
        fs::write(json, to_json(&meta, opts.quick, &figures))
            .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
        eprintln!("results written to {}", json.display());
    }
    Ok(())
}
