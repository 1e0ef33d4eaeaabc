//! Shared test harness: runs the real pidone binary as PID 1 of a new PID
//! namespace (`unshare --pid --fork --mount-proc`), as a subreaper, or as a plain
//! subprocess, and waits for events with generous bounds (never a fixed sleep).
#![allow(dead_code)]

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const PIDONE: &str = env!("CARGO_BIN_EXE_pidone");

/// The example toolbox `workload`, next to the binary.
pub fn workload() -> String {
    example("workload")
}

/// An example program, next to the binary. `cargo test --test X` does not build
/// examples, so the first call for each builds it (a no-op when fresh), lest a
/// filtered run use a stale one.
pub fn example(name: &str) -> String {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build --example {name} failed");
        built.push(name.to_owned());
    }
    let bin = Path::new(PIDONE).parent().expect("target dir");
    bin.join("examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// PID 1 of a fresh PID namespace.
    Pid1,
    /// A plain subprocess with `-s`.
    Subreaper,
    /// A plain subprocess, no flags added.
    Plain,
}

pub const BOTH: [How; 2] = [How::Pid1, How::Subreaper];

/// Builds the command line for pidone run `how`, with `args` after it.
pub fn command(how: How, args: &[&str]) -> Command {
    let mut cmd = match how {
        How::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", PIDONE]);
            c
        }
        How::Subreaper => {
            let mut c = Command::new(PIDONE);
            c.arg("-s");
            c
        }
        How::Plain => Command::new(PIDONE),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("RUST_LOG");
    cmd
}

pub struct Running {
    child: Option<Child>,
    how: How,
    pub dir: TempDir,
}

pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The run's `{dir}`, kept until the results are read.
    pub dir: TempDir,
}

/// Starts pidone `how` with `args`; `{dir}` in an argument is replaced by a fresh
/// temporary directory, `{w}` by the workload toolbox.
pub fn start(how: How, args: &[&str]) -> Running {
    start_with(how, args, |_| {})
}

pub fn start_with(how: How, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Running {
    start_in(TempDir::new(), how, args, tweak)
}

/// pidone `how` with `--procfile {dir}/Procfile` and `args` before it; the
/// Procfile is `procfile` with `{dir}` and `{w}` replaced as in the arguments.
pub fn start_procfile(how: How, procfile: &str, args: &[&str]) -> Running {
    start_procfile_with(how, procfile, args, |_| {})
}

pub fn start_procfile_with(
    how: How,
    procfile: &str,
    args: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> Running {
    let dir = TempDir::new();
    let text = procfile
        .replace("{dir}", dir.path_str())
        .replace("{w}", &workload());
    fs::write(dir.path().join("Procfile"), text).expect("write the Procfile");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--procfile", "{dir}/Procfile"]);
    start_in(dir, how, &all, tweak)
}

fn start_in(dir: TempDir, how: How, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Running {
    let w = workload();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{dir}", dir.path_str()).replace("{w}", &w))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = command(how, &args);
    tweak(&mut cmd);
    let child = cmd.spawn().expect("spawn pidone");
    Running {
        child: Some(child),
        how,
        dir,
    }
}

/// Runs pidone to completion.
pub fn run(how: How, args: &[&str]) -> Finished {
    start(how, args).finish()
}

impl Running {
    /// pidone's pid as seen from here (under unshare it is unshare's child).
    pub fn pid(&self) -> i32 {
        let outer = self.child.as_ref().expect("running").id() as i32;
        if self.how != How::Pid1 {
            return outer;
        }
        let mut pid = 0;
        wait_for("unshare to fork pidone", || {
            let children = fs::read_to_string(format!("/proc/{outer}/task/{outer}/children"))
                .unwrap_or_default();
            pid = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            pid != 0
        });
        pid
    }

    pub fn signal(&self, signo: i32) {
        // SAFETY: kill(2) on the pid of a process this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(self.pid(), signo) }, 0, "kill pidone");
    }

    /// The contents of `{dir}/name`, or "" if it does not exist yet.
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.0.join(name)).unwrap_or_default()
    }

    pub fn wait_file(&self, name: &str) {
        let path = self.dir.0.join(name);
        wait_for(&format!("{} to appear", path.display()), || path.exists());
    }

    /// Waits until `{dir}/name` has a line equal to `line`.
    pub fn wait_line(&self, name: &str, line: &str) {
        wait_for(&format!("line {line:?} in {name}"), || {
            self.read(name).lines().any(|l| l == line)
        });
    }

    /// The pid a workload wrote to `{dir}/ROLE.pid` (waiting for ROLE.ready), as seen from here.
    pub fn workload_pid(&self, role: &str) -> i32 {
        self.wait_file(&format!("{role}.ready"));
        let inner: i32 = self
            .read(&format!("{role}.pid"))
            .trim()
            .parse()
            .expect("pid file");
        if self.how == How::Pid1 {
            host_pid_of(inner, self.pid())
        } else {
            inner
        }
    }

    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + Duration::from_secs(60);
        let child = self.child.as_mut().expect("running");
        while child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "pidone did not exit within 60 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = self
            .child
            .take()
            .expect("running")
            .wait_with_output()
            .expect("output");
        Finished {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: std::mem::replace(&mut self.dir, TempDir::empty()),
        }
    }
}

/// A test that failed half-way leaves nothing running: pidone's whole tree is killed.
impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let outer = child.id() as i32;
        for pid in descendants(outer).into_iter().rev() {
            // SAFETY: kill(2) on processes of the tree this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Maps a pid inside pidone's namespace to the host pid, by NSpid in /proc.
fn host_pid_of(inner: i32, pidone: i32) -> i32 {
    let mut found = 0;
    wait_for(
        &format!("pid {inner} of pidone's namespace in /proc"),
        || {
            found = descendants(pidone)
                .into_iter()
                .find(|&p| nspid(p) == Some(inner))
                .unwrap_or(0);
            found != 0
        },
    );
    found
}

fn nspid(pid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// `pid`'s descendants, by following /proc/PID/task/TID/children.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut all = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let children =
            fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            all.push(c);
            todo.push(c);
        }
    }
    all
}

/// A field of /proc/PID/stat after the command name: 0 is the state, 1 the ppid.
pub fn stat_field(pid: i32, index: usize) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(index).map(str::to_owned)
}

/// A number from /proc/PID/status, e.g. `voluntary_ctxt_switches`.
pub fn status_number(pid: i32, key: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .expect("key");
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("number")
}

/// Waits until `pid` sleeps in rt_sigtimedwait: it has blocked its signals and
/// waits for them (SigBlk reads 0 meanwhile: the wait unblocks what it waits for).
pub fn wait_signal_wait(pid: i32) {
    wait_in_sigtimedwait(pid, "pidone to wait for signals", |_| true);
}

/// Waits until `pid` sleeps in its wait with no timeout: rt_sigtimedwait with a
/// NULL timeout, or, when it also watches a descriptor that cannot raise SIGIO
/// (cgroup v1's eventfd), epoll_pwait with a timeout of -1: a wait that only an
/// event ends.
pub fn wait_untimed_signal_wait(pid: i32) {
    wait_in_sigtimedwait(
        pid,
        "pidone to wait for signals with no deadline",
        |args| match args.first().and_then(|n| n.parse::<i64>().ok()) {
            Some(libc::SYS_epoll_pwait) => args.get(4).is_some_and(|t| t.ends_with("ffffffff")),
            _ => args.get(3) == Some(&"0x0"),
        },
    );
}

/// Waits until /proc/PID/syscall shows pidone's one wait (rt_sigtimedwait, or
/// epoll_pwait over a signalfd on cgroup v1) with arguments that `ok`.
fn wait_in_sigtimedwait(pid: i32, what: &str, ok: impl Fn(&[&str]) -> bool) {
    let calls = [libc::SYS_rt_sigtimedwait, libc::SYS_epoll_pwait].map(|n| n.to_string());
    wait_for(what, || {
        fs::read_to_string(format!("/proc/{pid}/syscall")).is_ok_and(|s| {
            let args: Vec<&str> = s.split_whitespace().collect();
            args.first().is_some_and(|c| calls.iter().any(|n| n == c)) && ok(&args)
        })
    });
}

/// Polls `done` every few milliseconds for up to 30 s; panics naming `what`.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after 30 s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocks and ignores signals in the process about to exec, before it execs:
/// what pidone inherits from a careless parent.
pub fn careless_parent(cmd: &mut Command, blocked: &[i32], ignored: &[i32]) {
    let (blocked, ignored) = (blocked.to_vec(), ignored.to_vec());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in &blocked {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            for &s in &ignored {
                libc::signal(s, libc::SIG_IGN);
            }
            Ok(())
        });
    }
}

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pidone-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// A placeholder that owns nothing.
    fn empty() -> Self {
        TempDir(PathBuf::new())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn path_str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// The lines of pidone's stderr at `level` (`warning`, `info`, ...).
pub fn lines_at<'a>(stderr: &'a str, level: &str) -> Vec<&'a str> {
    let prefix = format!("pidone: {level}: ");
    stderr.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// `2026-11-23T17:20:05Z`: digits where digits go, the separators in between.
pub fn is_timestamp(text: &str) -> bool {
    let pattern = b"dddd-dd-ddTdd:dd:ddZ";
    text.len() == pattern.len()
        && text.bytes().zip(pattern).all(|(b, &p)| match p {
            b'd' => b.is_ascii_digit(),
            _ => b == p,
        })
}

/// A cgroup v1 directory this test made, under the test's own cgroup of that
/// hierarchy; removed (once its processes are gone) when dropped.
pub struct TestCgroup {
    pub dir: PathBuf,
    /// As /proc/PID/cgroup will name it.
    pub name: String,
}

impl TestCgroup {
    /// Creates `pidone-test-PID-TAG` in `controller`'s hierarchy at
    /// /sys/fs/cgroup/CONTROLLER; `Err` says why the kernel refused.
    pub fn new(controller: &str, tag: &str) -> Result<TestCgroup, String> {
        let top = Path::new("/sys/fs/cgroup").join(controller);
        if !top.join("cgroup.procs").exists() {
            return Err(format!(
                "no cgroup v1 {controller} hierarchy at {}",
                top.display()
            ));
        }
        let own = fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.to_owned())
            })
            .unwrap_or_else(|| "/".to_owned());
        let leaf = format!("pidone-test-{}-{tag}", std::process::id());
        let name = format!("{}/{leaf}", own.trim_end_matches('/'));
        let dir = top.join(name.trim_start_matches('/'));
        match fs::create_dir(&dir) {
            Ok(()) => Ok(TestCgroup { dir, name }),
            Err(e) => Err(format!(
                "the kernel refused to create {}: {e}",
                dir.display()
            )),
        }
    }

    /// A v1 memory cgroup limited to `limit` bytes, swap included (or the hog
    /// would be swapped out instead of killed); `Err` says why the kernel refused.
    pub fn memory(tag: &str, limit: u64) -> Result<TestCgroup, String> {
        let group = TestCgroup::new("memory", tag)?;
        let limit = limit.to_string();
        group
            .set("memory.limit_in_bytes", &limit)
            .map_err(|e| format!("the kernel refused memory.limit_in_bytes = {limit}: {e}"))?;
        if group.dir.join("memory.memsw.limit_in_bytes").exists() {
            group
                .set("memory.memsw.limit_in_bytes", &limit)
                .map_err(|e| format!("the kernel refused memory.memsw.limit_in_bytes: {e}"))?;
        }
        let _ = group.set("memory.swappiness", "0");
        Ok(group)
    }

    pub fn set(&self, file: &str, value: &str) -> io::Result<()> {
        fs::write(self.dir.join(file), value)
    }

    /// Moves the process about to exec into this cgroup.
    pub fn enter(&self, cmd: &mut Command) {
        let procs =
            CString::new(self.dir.join("cgroup.procs").to_str().expect("utf-8")).expect("no NUL");
        // SAFETY: open/write/close are async-signal-safe; "0" moves the writer itself.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                let ok = fd >= 0 && libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                let err = io::Error::last_os_error();
                if fd >= 0 {
                    libc::close(fd);
                }
                ok.then_some(()).ok_or(err)
            })
        };
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The last tasks may still be exiting: rmdir says EBUSY until they are gone.
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = fs::remove_dir(&self.dir) {
            if e.kind() == io::ErrorKind::NotFound || Instant::now() > deadline {
                if e.kind() != io::ErrorKind::NotFound {
                    eprintln!("cannot remove {}: {e}", self.dir.display());
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
