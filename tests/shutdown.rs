//! The shutdown sequence, on the real binary as PID 1 and as a subreaper: the
//! grace period and its KILL, leftovers getting TERM then KILL (a setsid'd daemon
//! included, a sibling outside the subtree spared), --wait-all, --stop-delay,
//! and pause mode.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_workload_that_ignores_term_is_killed_after_the_grace_period() {
    for how in BOTH {
        let pidone = start(how, &["-t", "1s", "--", "{w}", "stubborn", "{dir}"]);
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGTERM);
        pidone.wait_line("child.log", "TERM");
        let out = pidone.finish();
        assert_eq!(out.code, Some(137), "{how:?}: {}", out.stderr);
        // The KILL is explained at default verbosity.
        let last = out.stderr.lines().last().unwrap_or("");
        assert!(
            last.starts_with("pidone: warning: exiting with status 137"),
            "{how:?}: {}",
            out.stderr
        );
        assert!(
            last.contains("shutdown started by TERM") && last.contains("needed KILL"),
            "{how:?}: {last}"
        );
    }
}

#[test]
fn leftovers_get_term_then_kill_and_a_sibling_survives() {
    for how in BOTH {
        // A process outside pidone's subtree, started by the same parent.
        let mut sibling = Command::new("sleep").arg("1000").spawn().unwrap();
        let pidone = start(how, &["-t", "2s", "--", "{w}", "leave", "{dir}"]);
        pidone.wait_file("daemon.ready");
        let pids: Vec<i32> = ["polite", "stubborn", "daemon"]
            .iter()
            .map(|role| pidone.read(&format!("{role}.pid")).trim().parse().unwrap())
            .collect();
        let out = pidone.finish();
        let dir = out.dir.path();
        assert_eq!(out.code, Some(3), "{how:?}: {}", out.stderr);
        let last = out.stderr.lines().last().unwrap_or("");
        assert!(
            last.contains("the workload exited with 3; 3 leftover process(es) got TERM, 2 process(es) needed KILL"),
            "{how:?}: {}",
            out.stderr
        );
        for role in ["polite", "stubborn", "daemon"] {
            let log = std::fs::read_to_string(dir.join(format!("{role}.log"))).unwrap_or_default();
            assert_eq!(log, "TERM\n", "{how:?}: {role} was sent TERM once");
        }
        if how == How::Subreaper {
            for pid in pids {
                assert!(
                    !Path::new(&format!("/proc/{pid}")).exists(),
                    "leftover {pid} survived pidone"
                );
            }
        }
        assert!(
            sibling.try_wait().unwrap().is_none(),
            "{how:?}: pidone killed a process outside its subtree"
        );
        sibling.kill().unwrap();
        sibling.wait().unwrap();
    }
}

#[test]
fn wait_all_outlives_the_main_child_until_the_daemon_exits() {
    for how in BOTH {
        let pidone = start(how, &["--wait-all", "-v", "--", "{w}", "daemon", "{dir}"]);
        let daemon = pidone.workload_pid("daemon");
        let pid = pidone.pid();
        wait_for("the main child to exit, leaving the daemon", || {
            descendants(pid) == [daemon]
        });
        // Signals now go to every remaining process.
        pidone.signal(libc::SIGUSR1);
        pidone.wait_line("daemon.log", "USR1");
        assert!(
            stat_field(pid, 0).is_some_and(|s| s != "Z"),
            "{how:?}: pidone left before the daemon"
        );
        pidone.signal(libc::SIGTERM);
        pidone.wait_line("daemon.log", "TERM");
        let out = pidone.finish();
        assert_eq!(
            out.code,
            Some(7),
            "{how:?}: the main child's status: {}",
            out.stderr
        );
        assert!(out.stderr.contains("--wait-all"), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn stop_delay_holds_the_first_term_and_a_second_goes_at_once() {
    for how in BOTH {
        let pidone = start(how, &["--stop-delay", "1s", "--", "{w}", "record", "{dir}"]);
        pidone.wait_file("child.ready");
        let sent = Instant::now();
        pidone.signal(libc::SIGTERM);
        // WINCH is not held, and pidone takes it only after TERM (lower numbers first).
        pidone.signal(libc::SIGWINCH);
        pidone.wait_line("child.log", "WINCH");
        pidone.wait_line("child.log", "TERM");
        let held = sent.elapsed();
        assert!(
            held >= Duration::from_secs(1),
            "{how:?}: TERM was held only {held:?}"
        );
        assert_eq!(pidone.read("child.log"), "WINCH\nTERM\n", "{how:?}");
        assert_eq!(pidone.finish().code, Some(0), "{how:?}");

        // With a delay far beyond the test's bounds, a second TERM ends it.
        let pidone = start(how, &["--stop-delay", "1h", "--", "{w}", "record", "{dir}"]);
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGTERM);
        pidone.signal(libc::SIGWINCH);
        pidone.wait_line("child.log", "WINCH");
        pidone.signal(libc::SIGTERM);
        pidone.wait_line("child.log", "TERM");
        assert_eq!(pidone.finish().code, Some(0), "{how:?}");
    }
}

#[test]
fn pause_reaps_orphans_injected_from_outside_and_exits_0_on_term_only() {
    let pidone = start(How::Pid1, &["--pause"]);
    let pid = pidone.pid();
    let inject = |n: &str| {
        // Enter pause's namespaces from outside: the orphans land on its PID 1.
        let target = pid.to_string();
        let out = Command::new("nsenter")
            .args([
                "--target",
                &target,
                "--pid",
                "--mount",
                "--",
                &workload(),
                "orphans",
                n,
                "1",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{text}");
        text
    };
    assert_eq!(inject("1000").trim(), "all 1000 orphans reaped");
    // HUP and USR1 are taken before the next SIGCHLD (lower numbers first): once
    // the next orphans are reaped, pause has seen them and is still there.
    pidone.signal(libc::SIGHUP);
    pidone.signal(libc::SIGUSR1);
    inject("10");
    assert!(
        stat_field(pid, 0).is_some_and(|s| s != "Z"),
        "pause exited on HUP or USR1"
    );
    pidone.signal(libc::SIGTERM);
    let out = pidone.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn pause_exits_0_on_int_as_a_subreaper_too() {
    let pidone = start(How::Subreaper, &["--pause"]);
    wait_signal_wait(pidone.pid());
    pidone.signal(libc::SIGINT);
    assert_eq!(pidone.finish().code, Some(0));
}

#[test]
fn without_a_reaper_role_the_workloads_group_still_gets_term() {
    // Not PID 1 and no -s: the grandchild is re-parented away from pidone when
    // the child exits, and only its process group (dumb-init's way) reaches it.
    // No pipes: a grandchild that survived would hold them open, and the test hang.
    let args = ["--", "{w}", "record", "{dir}", "--grandchild"];
    let pidone = start_with(How::Plain, &args, |cmd| {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    });
    let child = pidone.workload_pid("child");
    pidone.wait_file("grandchild.ready");
    // SAFETY: kill(2) on the workload this test started; it exits 0 on QUIT.
    unsafe { libc::kill(child, libc::SIGQUIT) };
    let out = pidone.finish();
    assert_eq!(out.code, Some(0));
    let log = out.dir.path().join("grandchild.log");
    wait_for("the grandchild to get TERM", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l == "TERM\n")
    });
}
