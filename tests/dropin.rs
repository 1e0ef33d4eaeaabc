//! Drop-in behaviour: what users of tini and dumb-init rely on (fault signals
//! forwarded, job control, exit 1 for usage errors, tini's variables, a quiet
//! stderr) and an init that its own log cannot wedge.

mod common;

use common::*;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn fault_signals_a_process_sends_are_forwarded_and_pidone_survives() {
    for how in [How::Pid1, How::Subreaper, How::Plain] {
        let pidone = start(how, &["--", "{w}", "record", "{dir}"]);
        pidone.workload_pid("child");
        for signo in [libc::SIGSEGV, libc::SIGSYS, libc::SIGBUS, libc::SIGTRAP] {
            pidone.signal(signo);
        }
        for name in ["SEGV", "SYS", "BUS", "TRAP"] {
            pidone.wait_line("child.log", name);
        }
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn rewrites_take_every_signal_on_both_sides() {
    let pidone = start(
        How::Subreaper,
        &["-r", "1:31", "-r", "31:1", "--", "{w}", "record", "{dir}"],
    );
    pidone.workload_pid("child");
    pidone.signal(libc::SIGHUP);
    pidone.wait_line("child.log", "SYS");
    pidone.signal(libc::SIGSYS);
    pidone.wait_line("child.log", "HUP");
    pidone.signal(libc::SIGTERM);
    let out = pidone.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let log = fs::read_to_string(out.dir.path().join("child.log")).unwrap_or_default();
    assert_eq!(log, "SYS\nHUP\nTERM\n");
    let reserved = run(How::Plain, &["-r", "1:32", "true"]);
    assert_eq!(reserved.code, Some(1), "{}", reserved.stderr);
    assert!(reserved.stderr.contains("'32'"), "{}", reserved.stderr);
}

#[test]
fn tstp_without_a_terminal_stops_pidone_and_the_workload_and_cont_resumes_both() {
    for how in [How::Subreaper, How::Plain] {
        let pidone = start(how, &["--", "{w}", "record", "{dir}"]);
        let child = pidone.workload_pid("child");
        let state = |pid| stat_field(pid, 0).unwrap_or_default();
        pidone.signal(libc::SIGTSTP);
        wait_for("workload and pidone to stop", || {
            state(child) == "T" && state(pidone.pid()) == "T"
        });
        pidone.signal(libc::SIGCONT);
        pidone.wait_line("child.log", "CONT");
        wait_for("both to run again", || {
            state(child) != "T" && state(pidone.pid()) != "T"
        });
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn an_unknown_option_exits_1_like_tini_and_dumb_init() {
    for args in [&["-z", "true"][..], &["--yolo", "true"]] {
        let out = run(How::Plain, args);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn tini_variables_set_and_empty_mean_on() {
    let env_run = |var: &str, value: &str| {
        start_with(How::Plain, &["--", "{w}", "orphans", "10"], |cmd| {
            cmd.env(var, value);
        })
        .finish()
    };
    // `orphans` exits 0 once its parent (pidone, as a subreaper) reaped them all.
    for value in ["", "1", "yes", "on"] {
        let out = env_run("TINI_SUBREAPER", value);
        assert_eq!(
            out.code,
            Some(0),
            "TINI_SUBREAPER={value:?}: {}",
            out.stderr
        );
    }
    for value in ["0", "off", "false"] {
        let out = env_run("TINI_SUBREAPER", value);
        assert_eq!(
            out.code,
            Some(2),
            "TINI_SUBREAPER={value:?}: {}",
            out.stderr
        );
    }
    let bad = env_run("TINI_SUBREAPER", "maybe");
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    let group = run_env(&[("TINI_KILL_PROCESS_GROUP", "")], &["--", "true"]);
    assert_eq!(group.code, Some(0), "{}", group.stderr);
    let group = run_env(&[("TINI_KILL_PROCESS_GROUP", "x")], &["--", "true"]);
    assert_eq!(group.code, Some(1), "{}", group.stderr);
    // PIDONE_* variables stay strict: empty is not a boolean.
    let strict = run_env(&[("PIDONE_SUBREAPER", "")], &["--", "true"]);
    assert_eq!(strict.code, Some(1), "{}", strict.stderr);
}

fn run_env(vars: &[(&str, &str)], args: &[&str]) -> Finished {
    start_with(How::Plain, args, |cmd| {
        for (k, v) in vars {
            cmd.env(k, v);
        }
    })
    .finish()
}

#[test]
fn a_normal_run_as_a_plain_process_writes_nothing_on_stderr() {
    for args in [
        &["--", "true"][..],
        &["--", "sh", "-c", "sleep 0.01 & exit 0"],
    ] {
        let out = run(How::Plain, args);
        assert_eq!(out.stderr, "", "{args:?}");
    }
}

/// A FIFO whose reader end is held open and never read: pidone's stderr.
struct Fifo {
    reader: Option<File>,
    writer: File,
    _dir: TempDir,
}

impl Fifo {
    fn new() -> Fifo {
        let dir = TempDir::new();
        let path = dir.path().join("stderr");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let writer = OpenOptions::new().write(true).open(&path).unwrap();
        Fifo {
            reader: Some(reader),
            writer,
            _dir: dir,
        }
    }

    /// Fills the FIFO from a non-blocking description of the test's own.
    fn fill(&self) {
        let path = format!("/proc/self/fd/{}", self.writer.as_raw_fd());
        let mut own = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .unwrap();
        use std::io::Write;
        while own.write(&[b'#'; 4096]).is_ok() {}
    }
}

/// The CPU time (user + system) of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let utime: u64 = stat_field(pid, 11).unwrap().parse().unwrap();
    let stime: u64 = stat_field(pid, 12).unwrap().parse().unwrap();
    utime + stime
}

/// Waits up to 10 s for pidone to exit; a hang is the failure this catches.
fn exits_soon(pidone: Running) -> Finished {
    let pid = pidone.pid();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(format!("/proc/{pid}/status"))
        .is_ok_and(|_| stat_field(pid, 0).is_some_and(|s| s != "Z"))
    {
        assert!(
            Instant::now() < deadline,
            "pidone did not exit within 10 s of TERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    pidone.finish()
}

/// Bytes waiting to be read at `fd` (a FIFO's or socket's reading end, a pty master).
fn unread(fd: i32) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes an int into a live local.
    unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    n
}

/// The flags of descriptor `fd` of process `pid`, from /proc/PID/fdinfo.
fn fd_flags(pid: i32, fd: i32) -> i32 {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap();
    i32::from_str_radix(flags.trim(), 8).unwrap()
}

/// pidone with `-vvv` and `stderr` that nobody reads (`reader` is the other
/// end): USR1s, two debug lines each, until the destination is full, then TERM.
fn stalled(what: &str, stderr: Stdio, reader: i32) {
    // WINCH does not kill `sleep`.
    let pidone = start_with(
        How::Subreaper,
        &["-vvv", "-r", "USR1:WINCH", "--", "{w}", "record", "{dir}"],
        |cmd| {
            cmd.stderr(stderr);
        },
    );
    let (pid, child) = (pidone.pid(), pidone.workload_pid("child"));
    let mut last = -1;
    wait_for(&format!("{what} to fill up"), || {
        for _ in 0..200 {
            pidone.signal(libc::SIGUSR1);
        }
        wait_untimed_signal_wait(pid);
        let now = unread(reader);
        std::mem::replace(&mut last, now) == now
    });
    // The workload shares that stderr: its description is still blocking.
    assert_eq!(fd_flags(child, 2) & libc::O_NONBLOCK, 0, "{what}");
    pidone.signal(libc::SIGUSR2);
    pidone.wait_line("child.log", "USR2");
    pidone.signal(libc::SIGTERM);
    let out = exits_soon(pidone);
    assert_eq!(out.code, Some(0), "{what}");
}

#[test]
fn a_stalled_log_reader_does_not_stop_forwarding_or_the_shutdown() {
    let fifo = Fifo::new();
    let reader = fifo.reader.as_ref().expect("reader").as_raw_fd();
    stalled(
        "a FIFO",
        Stdio::from(fifo.writer.try_clone().unwrap()),
        reader,
    );
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    stalled(
        "a socket",
        Stdio::from(std::os::fd::OwnedFd::from(theirs)),
        ours.as_raw_fd(),
    );
    let pty = nix::pty::openpty(None, None).unwrap();
    stalled("a terminal", Stdio::from(pty.slave), pty.master.as_raw_fd());
}

#[test]
fn a_log_reader_that_went_away_costs_no_cpu_and_term_still_works() {
    let mut fifo = Fifo::new();
    let stderr = fifo.writer.try_clone().unwrap();
    let pidone = start_with(
        How::Subreaper,
        &["-vvv", "-r", "USR1:WINCH", "--", "sleep", "100"],
        |cmd| {
            cmd.stderr(Stdio::from(stderr));
        },
    );
    let pid = pidone.pid();
    wait_signal_wait(pid);
    drop(fifo.reader.take());
    for _ in 0..100 {
        pidone.signal(libc::SIGUSR1);
    }
    wait_untimed_signal_wait(pid);
    let before = cpu_ticks(pid);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let spent = cpu_ticks(pid) - before;
    // A spin would be ~300 ticks (100 a second); a sleeping pidone spends 0.
    assert!(spent <= 5, "pidone spent {spent} ticks of CPU in 3 s");
    pidone.signal(libc::SIGTERM);
    let out = exits_soon(pidone);
    assert_eq!(out.code, Some(143));
}

#[test]
fn a_full_stderr_pipe_does_not_stop_restarts() {
    let fifo = Fifo::new();
    fifo.fill();
    let stderr = fifo.writer.try_clone().unwrap();
    // Each run dies of USR1, which nobody forwarded: a warning line each time.
    let pidone = start_with(
        How::Subreaper,
        &[
            "--restart",
            "on-failure",
            "--restart-delay",
            "10ms",
            "--restart-max-delay",
            "10ms",
            "--",
            "sh",
            "-c",
            "echo >> {dir}/starts; kill -USR1 $$",
        ],
        |cmd| {
            cmd.stderr(Stdio::from(stderr));
        },
    );
    wait_for("five starts despite the full stderr", || {
        pidone.read("starts").lines().count() >= 5
    });
    pidone.signal(libc::SIGTERM);
    let out = exits_soon(pidone);
    assert_eq!(out.code, Some(128 + libc::SIGUSR1));
}
