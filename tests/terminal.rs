//! pidone and a real terminal (a pty made by the test): as the leader of the
//! terminal's session (PID 1 of `docker run -t`) it hands the terminal to the
//! workload, so Ctrl-C reaches the workload from the terminal itself; inside an
//! interactive shell's session it does job control: TSTP stops the workload and
//! pidone, CONT resumes both.

mod common;

use common::*;
use nix::pty::openpty;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Makes the process about to exec the leader of a new session whose
/// controlling terminal is its stdin.
fn lead_terminal_session(cmd: &mut Command) {
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn on_terminal(how: How, args: &[&str], tty: &OwnedFd) -> Running {
    start_with(how, args, |cmd| {
        cmd.stdin(Stdio::from(tty.try_clone().unwrap()));
        if how == How::Pid1 {
            // unshare's child is PID 1; `setsid -c` makes it lead a session on the pty.
            let argv: Vec<String> = cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let at = argv.iter().position(|a| a == PIDONE).unwrap();
            let mut wrapped = Command::new("unshare");
            wrapped
                .args(&argv[..at])
                .args(["setsid", "-c"])
                .args(&argv[at..]);
            wrapped
                .stdin(Stdio::from(tty.try_clone().unwrap()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            *cmd = wrapped;
        } else {
            lead_terminal_session(cmd);
        }
    })
}

#[test]
fn the_session_leader_hands_the_terminal_to_the_workload() {
    for how in BOTH {
        let pty = openpty(None, None).unwrap();
        let pidone = on_terminal(how, &["--", "{w}", "record", "{dir}"], &pty.slave);
        let child = pidone.workload_pid("child");
        let field = |pid, i| stat_field(pid, i).unwrap_or_default();
        // The workload leads its own session, on the terminal, in the foreground.
        assert_eq!(field(child, 3), child.to_string(), "{how:?}: session");
        assert_ne!(field(child, 4), "0", "{how:?}: controlling terminal");
        let mut fg: libc::pid_t = 0;
        // SAFETY: TIOCGPGRP writes the foreground group into a live local.
        unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCGPGRP, &mut fg) };
        assert_ne!(fg, 0, "{how:?}: foreground group");
        // Ctrl-C typed on the terminal reaches the workload directly.
        let mut master = std::fs::File::from(pty.master.try_clone().unwrap());
        master.write_all(b"\x03").unwrap();
        pidone.wait_line("child.log", "INT");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert!(!out.stderr.contains("warning"), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn inside_a_shell_session_tstp_stops_the_workload_and_pidone() {
    let pty = openpty(None, None).unwrap();
    let w = workload();
    let dir = TempDir::new();
    // pidone runs under a shell that leads the terminal's session, as in an
    // interactive shell: pidone shares the terminal and is not PID 1.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "\"$@\"",
        "sh",
        PIDONE,
        "--",
        &w,
        "record",
        dir.path_str(),
    ]);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    lead_terminal_session(&mut cmd);
    let mut shell = cmd.spawn().unwrap();
    let ready = dir.path().join("child.ready");
    wait_for("the workload", || ready.exists());
    let child: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pidone: i32 = stat_field(child, 1).unwrap().parse().unwrap();
    let state = |pid| stat_field(pid, 0).unwrap_or_default();
    let log = || std::fs::read_to_string(dir.path().join("child.log")).unwrap_or_default();

    // SAFETY: kill(2) on the pidone this test started.
    unsafe { libc::kill(pidone, libc::SIGTSTP) };
    wait_for("workload and pidone to stop", || {
        state(child) == "T" && state(pidone) == "T"
    });
    // SAFETY: as above.
    unsafe { libc::kill(pidone, libc::SIGCONT) };
    wait_for("workload to be continued and told", || {
        log().lines().any(|l| l == "CONT")
    });
    wait_for("both to run again", || {
        state(child) != "T" && state(pidone) != "T"
    });
    // SAFETY: as above.
    unsafe { libc::kill(pidone, libc::SIGTERM) };
    let status = shell.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(log(), "CONT\nTERM\n");
}

#[test]
fn a_terminal_hangup_goes_to_the_workload_from_the_kernel_and_pidone_follows_it() {
    for how in BOTH {
        // The workload leads the terminal's session: the kernel sends it HUP when
        // the terminal goes away; pidone sees nothing but its exit, if it exits.
        let pty = hangable_pty();
        let pidone = on_terminal(how, &["--", "{w}", "record", "{dir}"], &pty.slave);
        pidone.workload_pid("child");
        drop(pty.master);
        pidone.wait_line("child.log", "HUP");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        let log = std::fs::read_to_string(out.dir.path().join("child.log")).unwrap();
        assert_eq!(log.matches("HUP").count(), 1, "{how:?}: {log}");
        // A workload that ends on HUP (a shell, sleep) ends the container: 128+HUP.
        let pty = hangable_pty();
        let pidone = on_terminal(how, &["--", "sleep", "100"], &pty.slave);
        wait_signal_wait(pidone.pid());
        drop(pty.master);
        let out = pidone.finish();
        assert_eq!(
            out.code,
            Some(128 + libc::SIGHUP),
            "{how:?}: {}",
            out.stderr
        );
    }
}

/// A pty whose master only the test holds (close-on-exec), so that dropping it
/// hangs the terminal up.
fn hangable_pty() -> nix::pty::OpenptyResult {
    let pty = openpty(None, None).unwrap();
    // SAFETY: F_SETFD on a descriptor this test owns.
    unsafe { libc::fcntl(pty.master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    pty
}
