//! Supervisor mode, on the real binary: restart policies with back-off, no spin
//! on a workload that fails at once forever, --max-restarts, TERM during the
//! back-off, restart after a SEGV, --restart-signal, clean-up of a crashed
//! workload's orphans, --pidfile for daemonizing workloads, --oom-score-adj.

mod common;

use common::*;
use std::fs;

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_workload_that_fails_at_once_forever_is_restarted_with_back_off_not_in_a_spin() {
    for how in BOTH {
        let args = [
            "--restart",
            "always",
            "--restart-delay",
            "50ms",
            "--restart-max-delay",
            "200ms",
            "-v",
            "--",
            "{w}",
            "exit",
            "3",
        ];
        let pidone = start(how, &args);
        std::thread::sleep(std::time::Duration::from_secs(2));
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        // The last status: 3, or 143 when TERM found the workload running.
        let code = out.code;
        assert!(
            matches!(code, Some(3 | 143)),
            "{how:?}: {code:?}: {}",
            out.stderr
        );
        // 50+100+200+200+... ms: about 10 restarts in 2 s; a spin would make thousands.
        let restarts = count(&out.stderr, "restarted the workload");
        assert!(
            (2..=40).contains(&restarts),
            "{how:?}: {restarts} restarts in about 2 s"
        );
    }
}

#[test]
fn term_during_the_back_off_ends_it_and_pidone_exits() {
    for how in BOTH {
        let pidone = start(
            how,
            &[
                "--restart",
                "on-failure",
                "--restart-delay",
                "1h",
                "-v",
                "--",
                "sh",
                "-c",
                "touch {dir}/ran; exit 4",
            ],
        );
        let pid = pidone.pid();
        // The workload ran and is reaped (a zombie is still listed as a child):
        // pidone sleeps until the (hour-long) delay ends.
        pidone.wait_file("ran");
        wait_for("the workload to be reaped", || descendants(pid).is_empty());
        wait_signal_wait(pid);
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(4), "{how:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("received TERM during the restart delay: exiting"),
            "{how:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn max_restarts_gives_up_with_the_last_status() {
    for how in BOTH {
        let args = [
            "--restart",
            "on-failure",
            "--restart-delay",
            "10ms",
            "--max-restarts",
            "2",
            "-v",
            "--",
            "{w}",
            "exit",
            "5",
        ];
        let out = run(how, &args);
        assert_eq!(out.code, Some(5), "{how:?}: {}", out.stderr);
        assert_eq!(
            count(&out.stderr, "restarted the workload"),
            2,
            "{how:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("exited with 5 after 2 restart(s)"),
            "{how:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn on_failure_leaves_a_clean_exit_alone_and_restarts_after_a_segv() {
    let out = run(
        How::Subreaper,
        &["--restart", "on-failure", "-v", "--", "{w}", "exit", "0"],
    );
    assert_eq!(
        (out.code, count(&out.stderr, "restarted")),
        (Some(0), 0),
        "{}",
        out.stderr
    );
    for how in BOTH {
        let pidone = start(
            how,
            &[
                "--restart",
                "on-failure",
                "-v",
                "--",
                "{w}",
                "segv-once",
                "{dir}",
            ],
        );
        pidone.wait_file("crashed");
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert_eq!(
            count(&out.stderr, "restarted the workload"),
            1,
            "{how:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn the_restart_signal_restarts_the_workload_in_place() {
    for how in BOTH {
        let pidone = start(
            how,
            &["--restart-signal", "USR2", "--", "{w}", "record", "{dir}"],
        );
        let first = pidone.workload_pid("child");
        fs::remove_file(pidone.dir.path().join("child.ready")).unwrap();
        pidone.signal(libc::SIGUSR2);
        pidone.wait_line("child.log", "TERM");
        let second = pidone.workload_pid("child");
        assert_ne!(first, second, "{how:?}: the same process");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert_eq!(
            fs::read_to_string(out.dir.path().join("child.log")).unwrap(),
            "TERM\nTERM\n"
        );
    }
}

#[test]
fn the_orphans_of_a_crashed_workload_are_cleaned_up_before_the_next_start() {
    for how in BOTH {
        let args = [
            "--restart",
            "on-failure",
            "--max-restarts",
            "1",
            "-t",
            "1s",
            "-v",
            "--",
            "{w}",
            "leave",
            "{dir}",
        ];
        let out = run(how, &args);
        assert_eq!(out.code, Some(3), "{how:?}: {}", out.stderr);
        // Each run leaves three processes: all get TERM, two need KILL, twice.
        let last = out.stderr.lines().last().unwrap_or("");
        assert!(
            last.contains(
                "after 1 restart(s); 6 leftover process(es) got TERM, 4 process(es) needed KILL"
            ),
            "{how:?}: {last}"
        );
    }
}

#[test]
fn a_daemonizing_workload_is_followed_through_its_pidfile() {
    for how in BOTH {
        // The launcher exits 0 once its daemon is up; the daemon exits 5 on TERM.
        let pidone = start(
            how,
            &[
                "--pidfile",
                "{dir}/daemon.pid",
                "-v",
                "--",
                "{w}",
                "daemon",
                "{dir}",
                "0",
            ],
        );
        let daemon = pidone.workload_pid("daemon");
        let pid = pidone.pid();
        wait_for("the launcher to exit", || descendants(pid) == [daemon]);
        pidone.signal(libc::SIGUSR1);
        pidone.wait_line("daemon.log", "USR1");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(
            out.code,
            Some(5),
            "{how:?}: the daemon's status: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("following the daemon"),
            "{how:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_pidfile_that_names_no_pid_is_an_error() {
    let out = run(
        How::Subreaper,
        &["--pidfile", "{dir}/none.pid", "--", "{w}", "exit", "0"],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("none.pid named no pid within 5s"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_pidfile_that_is_a_fifo_or_dev_zero_is_refused_at_once() {
    // The workload controls the path: a FIFO would block open(2) for good, a
    // symlink to /dev/zero would be read without end.
    for (make, name) in [
        ("mkfifo {dir}/p.pid", "p.pid"),
        ("ln -s /dev/zero {dir}/p.pid", "p.pid"),
    ] {
        let out = run(
            How::Subreaper,
            &["--pidfile", "{dir}/p.pid", "--", "/bin/sh", "-c", make],
        );
        assert_eq!(out.code, Some(1), "{make}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{name} is not a regular file")),
            "{make}: {}",
            out.stderr
        );
    }
}

#[test]
fn oom_score_adj_is_set_before_exec() {
    for value in ["500", "1000"] {
        let out = run(
            How::Subreaper,
            &[
                "--oom-score-adj",
                value,
                "--",
                "cat",
                "/proc/self/oom_score_adj",
            ],
        );
        assert_eq!(
            (out.code, out.stdout.trim()),
            (Some(0), value),
            "{}",
            out.stderr
        );
    }
    // Lowering it needs CAP_SYS_RESOURCE: without it, a warning, and the workload runs anyway.
    let out = run(
        How::Subreaper,
        &[
            "--oom-score-adj",
            "-100",
            "--",
            "cat",
            "/proc/self/oom_score_adj",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let applied = out.stdout.trim() == "-100";
    let warned = out
        .stderr
        .contains("cannot set the workload's oom_score_adj: Permission denied");
    assert!(
        applied ^ warned,
        "stdout {:?}, stderr {:?}",
        out.stdout,
        out.stderr
    );
    let out = run(How::Plain, &["--oom-score-adj", "1001", "true"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}
