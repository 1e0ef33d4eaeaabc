//! A reload is not a stop: HUP (nginx, haproxy, apache) and USR2 (php-fpm) are
//! forwarded and start nothing; only the stop signals (TERM, INT, QUIT, or
//! `--stop-signals`) start the grace period and end the restarts.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn alive(pid: i32) -> bool {
    stat_field(pid, 0).is_some_and(|s| s != "Z")
}

/// Checks for `what` over `window`: a test of something that must NOT happen.
fn stays(what: &str, window: Duration, ok: impl Fn() -> bool) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        assert!(ok(), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hup_and_usr2_reach_the_workload_and_start_no_grace_period() {
    for how in BOTH {
        let pidone = start(how, &["-t", "1s", "--", "{w}", "record", "{dir}"]);
        let child = pidone.workload_pid("child");
        for _ in 0..3 {
            pidone.signal(libc::SIGHUP);
            pidone.signal(libc::SIGUSR2);
        }
        pidone.wait_line("child.log", "HUP");
        pidone.wait_line("child.log", "USR2");
        // Twice the grace period: a HUP that started it would have meant a KILL.
        stays(
            "the workload is still there 2 s after the reloads",
            Duration::from_secs(2),
            || alive(child),
        );
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert!(!out.stderr.contains("KILL"), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn a_crash_after_a_reload_is_still_restarted() {
    let pidone = start(
        How::Subreaper,
        &["--restart", "on-failure", "--", "{w}", "record", "{dir}"],
    );
    let first = pidone.workload_pid("child");
    pidone.signal(libc::SIGHUP);
    pidone.wait_line("child.log", "HUP");
    let _ = std::fs::remove_file(pidone.dir.path().join("child.ready"));
    // SAFETY: kill(2) on the workload this test started.
    unsafe { libc::kill(first, libc::SIGKILL) };
    let second = pidone.workload_pid("child");
    assert_ne!(first, second);
    pidone.signal(libc::SIGTERM);
    let out = pidone.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn stop_signals_can_make_hup_start_the_grace_period() {
    let pidone = start(
        How::Subreaper,
        &[
            "-t",
            "1s",
            "--stop-signals",
            "TERM,HUP",
            "--",
            "{w}",
            "stubborn",
            "{dir}",
        ],
    );
    pidone.wait_file("child.ready");
    pidone.signal(libc::SIGHUP);
    pidone.wait_line("child.log", "HUP");
    let out = pidone.finish();
    assert_eq!(out.code, Some(137), "{}", out.stderr);
    assert!(
        out.stderr.contains("shutdown started by HUP"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_stop_signal_lists_are_usage_errors() {
    for list in ["", "FOO", "TERM,,INT", "32"] {
        let out = run(How::Plain, &["--stop-signals", list, "true"]);
        assert_eq!(out.code, Some(1), "{list:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    let out = start_with(How::Plain, &["true"], |cmd| {
        cmd.env("PIDONE_STOP_SIGNALS", "TERM:HUP");
    })
    .finish();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}
