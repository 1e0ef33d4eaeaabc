//! "Why did it die?": the line pidone logs when the workload ends in a way nobody
//! asked for (a signal it did not forward, a core dump, the OOM killer), and the
//! limit a failed fork names. Everything is provoked for real: signals, a core
//! dump, a small memory cgroup, a pids cgroup, RLIMIT_NPROC as a plain user.

mod common;

use common::*;
use std::fs;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;

/// Checks the shape of a death line at `level` and returns what follows the prefix
/// `pidone: LEVEL: TIMESTAMP: the workload 'COMMAND' (pid `.
fn death_line<'a>(line: &'a str, level: &str, command: &str) -> &'a str {
    let rest = line
        .strip_prefix(&format!("pidone: {level}: "))
        .unwrap_or_else(|| panic!("not a {level} line: {line}"));
    let (stamp, rest) = rest.split_at(rest.find(": ").unwrap_or(0));
    assert!(is_timestamp(stamp), "no UTC timestamp in: {line}");
    rest.strip_prefix(&format!(": the workload '{command}' (pid "))
        .unwrap_or_else(|| panic!("no command '{command}' in: {line}"))
}

/// The pid a death line names, and what follows it.
fn pid_and_cause(rest: &str) -> (i32, &str) {
    let (pid, cause) = rest.split_once(')').expect("(pid N)");
    (pid.parse().expect("a pid"), cause)
}

#[test]
fn timestamps_are_recognized() {
    assert!(is_timestamp("2026-11-23T17:20:05Z"));
    assert!(!is_timestamp("2026-11-23 17:20:05Z"));
    assert!(!is_timestamp("2026-11-23T17:20:05"));
}

#[test]
fn a_signal_nobody_forwarded_is_a_warning_with_the_cause() {
    let w = workload();
    for how in BOTH {
        let out = run(how, &["--", "{w}", "raise", "SEGV"]);
        assert_eq!(out.code, Some(139), "{how:?}: {}", out.stderr);
        let warnings = lines_at(&out.stderr, "warning");
        assert_eq!(warnings.len(), 1, "{how:?}: {}", out.stderr);
        let rest = death_line(warnings[0], "warning", &format!("{w} raise SEGV"));
        let (pid, cause) = pid_and_cause(rest);
        if how == How::Pid1 {
            assert_eq!(pid, 2, "the first process pidone forks: {}", warnings[0]);
        }
        assert!(pid > 1, "{}", warnings[0]);
        assert!(cause.starts_with(" died after "), "{}", warnings[0]);
        assert!(
            cause.ends_with(": killed by SIGSEGV"),
            "{how:?}: no core was asked for: {}",
            warnings[0]
        );
    }
}

/// Makes the process about to exec (and its children) allowed to dump core.
fn allow_core_dumps(cmd: &mut Command, dir: &Path) {
    cmd.current_dir(dir);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

#[test]
fn a_core_dump_is_named_when_the_status_says_so() {
    let w = workload();
    let pattern = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    // Whether the kernel dumps here (core_pattern may pipe to a program or be
    // empty): the same workload run directly says what the status will say.
    let direct_dir = TempDir::new();
    let mut direct = Command::new(&w);
    direct.args(["raise", "SEGV"]);
    allow_core_dumps(&mut direct, direct_dir.path());
    let status = direct.status().expect("run the workload");
    assert_eq!(status.signal(), Some(libc::SIGSEGV));
    let dumped = status.core_dumped();
    if !dumped {
        println!(
            "note: no core is dumped on this machine (core_pattern {:?}): checking that none is claimed",
            pattern.trim()
        );
    }

    let dir = TempDir::new();
    let out = start_with(How::Subreaper, &["--", "{w}", "raise", "SEGV"], |cmd| {
        allow_core_dumps(cmd, dir.path())
    })
    .finish();
    assert_eq!(out.code, Some(139), "{}", out.stderr);
    let warnings = lines_at(&out.stderr, "warning");
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    let rest = death_line(warnings[0], "warning", &format!("{w} raise SEGV"));
    let expected = if dumped {
        ": killed by SIGSEGV (core dumped)"
    } else {
        ": killed by SIGSEGV"
    };
    assert!(
        rest.ends_with(expected),
        "expected {expected:?}: {}",
        warnings[0]
    );
}

#[test]
fn a_death_by_a_forwarded_signal_is_not_a_warning() {
    for how in BOTH {
        let pidone = start(how, &["-v", "--", "sleep", "1000"]);
        let pid = pidone.pid();
        wait_signal_wait(pid);
        wait_for("the workload to exec sleep", || {
            descendants(pid).into_iter().any(|c| {
                fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == "sleep")
            })
        });
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(143), "{how:?}: {}", out.stderr);
        assert_eq!(
            lines_at(&out.stderr, "warning"),
            Vec::<&str>::new(),
            "{how:?}"
        );
        assert!(
            !out.stderr.contains("the workload 'sleep 1000'"),
            "{how:?}: a forwarded TERM needs no death line: {}",
            out.stderr
        );
    }
}

#[test]
fn a_non_zero_exit_is_info_not_a_warning() {
    let w = workload();
    let quiet = run(How::Subreaper, &["--", "{w}", "exit", "3"]);
    assert_eq!(quiet.code, Some(3));
    assert_eq!(quiet.stderr, "", "nothing at the default level");

    let out = run(How::Subreaper, &["-v", "--", "{w}", "exit", "3"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert_eq!(lines_at(&out.stderr, "warning"), Vec::<&str>::new());
    let deaths: Vec<&str> = lines_at(&out.stderr, "info")
        .into_iter()
        .filter(|l| l.contains("the workload '"))
        .filter(|l| l.contains("exited with status 3"))
        .collect();
    assert_eq!(deaths.len(), 1, "{}", out.stderr);
    let rest = death_line(deaths[0], "info", &format!("{w} exit 3"));
    let (_, cause) = pid_and_cause(rest);
    assert!(cause.ends_with(": exited with status 3"), "{}", deaths[0]);

    let ok = run(How::Subreaper, &["-v", "--", "{w}", "exit", "0"]);
    assert_eq!(ok.code, Some(0));
    assert!(
        !ok.stderr.contains("the workload '"),
        "exit 0 needs no death line: {}",
        ok.stderr
    );
}

#[test]
fn an_oom_kill_in_a_small_memory_cgroup_is_named() {
    let hog = example("hog");
    let group = match TestCgroup::memory("oom", 32 << 20) {
        Ok(group) => group,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let pidone = start_with(How::Subreaper, &["--", &hog, "--on-usr1"], |cmd| {
        group.enter(cmd)
    });
    // pidone reads the counter soon after the start, with no signal to wake it:
    // it keeps the file open for the read at the death.
    let counter = group.dir.join("memory.oom_control");
    wait_for("pidone to open memory.oom_control", || {
        fs::read_dir(format!("/proc/{}/fd", pidone.pid()))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|to| to == counter))
    });
    let hog_pid = *descendants(pidone.pid()).first().expect("the hog");
    wait_signal_wait(hog_pid);
    // SAFETY: kill(2) on the hog, a child of the pidone this test started.
    assert_eq!(unsafe { libc::kill(hog_pid, libc::SIGUSR1) }, 0);
    let out = pidone.finish();
    assert_eq!(
        out.code,
        Some(137),
        "the hog should be killed by the OOM killer: {}",
        out.stderr
    );
    // The event line first, as the kernel notified it (v1: before the kill),
    // then the death line.
    let warnings = lines_at(&out.stderr, "warning");
    assert_eq!(warnings.len(), 2, "{}", out.stderr);
    assert!(
        warnings[0].contains(": the container ran out of memory: the kernel OOM killer is at work (memory.oom_control, oom_kill 0 → ")
            && warnings[0].contains(" of 32.0 MiB)"),
        "{}",
        warnings[0]
    );
    let rest = death_line(warnings[1], "warning", &format!("{hog} --on-usr1"));
    let (_, cause) = pid_and_cause(rest);
    let expected = format!(
        ": killed by the kernel OOM killer (oom_kill 0 → 1 in memory cgroup {})",
        group.name
    );
    assert!(
        cause.ends_with(&expected),
        "expected {expected:?}: {}",
        warnings[1]
    );
}

#[test]
fn eagain_under_pids_max_names_the_cgroup_and_its_values() {
    let group = match TestCgroup::new("pids", "max") {
        Ok(group) => group,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    group.set("pids.max", "1").expect("pids.max");
    let out = start_with(How::Subreaper, &["--", "true"], |cmd| group.enter(cmd)).finish();
    assert_fork_failed(&out);
    let expected = format!("pids cgroup {}: pids.current 1 of pids.max 1", group.name);
    assert!(
        out.stderr.contains(&expected),
        "expected {expected:?}: {}",
        out.stderr
    );
    assert!(out.stderr.contains("RLIMIT_NPROC "), "{}", out.stderr);
}

/// The tasks (threads included) the kernel counts for `uid` under RLIMIT_NPROC.
fn tasks_of(uid: u32) -> u64 {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
        .filter(|s| {
            let real = s
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok());
            real == Some(uid)
        })
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1)
        })
        .sum()
}

#[test]
fn eagain_under_rlimit_nproc_names_the_limit_and_the_count() {
    // A uid of its own, so that nothing else of this machine counts against it.
    let uid = 61_000 + std::process::id() % 4000;
    let limit = tasks_of(uid) + 1; // pidone itself, and nothing more
    let out = start_with(How::Subreaper, &["--", "true"], |cmd| {
        cmd.current_dir("/");
        // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                let nproc = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                let ok = libc::setrlimit(libc::RLIMIT_NPROC, &nproc) == 0
                    && libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setgid(uid) == 0
                    && libc::setuid(uid) == 0;
                ok.then_some(()).ok_or_else(io::Error::last_os_error)
            })
        };
    })
    .finish();
    assert_fork_failed(&out);
    let expected = format!("RLIMIT_NPROC {limit}/{limit} with {limit} process");
    assert!(
        out.stderr.contains(&expected),
        "expected {expected:?}: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(" for uid {uid}")),
        "{}",
        out.stderr
    );
}

/// pidone's fork failed with EAGAIN: exit 1, one line on stderr.
fn assert_fork_failed(out: &Finished) {
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let start = "pidone: cannot fork: Resource temporarily unavailable";
    assert!(out.stderr.starts_with(start), "{}", out.stderr);
}

/// The failed-forks line's words after the timestamp (src/diagnose/counters.rs).
const FORKS_FAILED: &str = "pids.max reached: ";

/// The one failed-forks warning line of `stderr`, and what follows its timestamp.
fn forks_line(stderr: &str) -> &str {
    let lines: Vec<&str> = lines_at(stderr, "warning")
        .into_iter()
        .filter(|l| l.contains(FORKS_FAILED))
        .collect();
    assert_eq!(lines.len(), 1, "one failed-forks line: {stderr}");
    let rest = lines[0]
        .strip_prefix("pidone: warning: ")
        .expect("a warning");
    let (stamp, rest) = rest.split_at(rest.find(": ").unwrap_or(0));
    assert!(is_timestamp(stamp), "no UTC timestamp in: {}", lines[0]);
    rest
}

#[test]
fn forks_failed_at_a_v1_pids_max_are_counted_when_the_workload_ends() {
    for how in BOTH {
        let group = match TestCgroup::new("pids", &format!("forks-{how:?}")) {
            Ok(group) => group,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        };
        group.set("pids.max", "8").expect("pids.max");
        let dir = TempDir::new();
        // Given explicitly and missing: created, and the line is written there.
        let termination = dir.path().join("termination-log");
        let args = [
            "--termination-log",
            termination.to_str().expect("utf-8"),
            "--",
            "{w}",
            "forks",
            "20",
            "{dir}",
        ];
        let pidone = start_with(how, &args, |cmd| group.enter(cmd));
        pidone.wait_file("child.ready");
        let failed: u64 = pidone.read("forks.failed").parse().expect("a count");
        assert!(failed > 0, "{how:?}: no fork failed at pids.max 8");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        let line = forks_line(&out.stderr);
        let plural = if failed == 1 { "" } else { "s" };
        let expected = format!(
            ": pids.max reached: {failed} fork{plural} failed in the container (pids.events max {failed}, read when the workload ended: cgroup v1 does not notify it); pids cgroup {}: pids.current ",
            group.name
        );
        assert!(line.starts_with(&expected), "{how:?}: {expected:?}: {line}");
        assert!(line.contains(" of pids.max 8"), "{how:?}: {line}");
        let logged = out.stderr.lines().find(|l| l.contains(FORKS_FAILED));
        let logged = logged.and_then(|l| l.strip_prefix("pidone: warning: "));
        assert_eq!(
            fs::read_to_string(&termination).ok(),
            logged.map(|l| format!("{l}\n")),
            "{how:?}: the termination message is the line"
        );
    }
}

#[test]
fn forks_failed_in_a_procfile_are_told_when_a_service_ends_and_at_exit() {
    let group = match TestCgroup::new("pids", "forks-procfile") {
        Ok(group) => group,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    group.set("pids.max", "6").expect("pids.max");
    // `forks` fails some of its forks, then waits for TERM as `keep` does.
    let procfile = "keep: {w} named {dir} keep\nforks: {w} forks 10 {dir}\n";
    let pidone = start_procfile_with(How::Subreaper, procfile, &[], |cmd| {
        group.enter(cmd);
    });
    pidone.wait_file("keep.ready");
    pidone.wait_file("child.ready");
    let failed: u64 = pidone.read("forks.failed").parse().expect("a count");
    assert!(failed > 0, "no fork failed at pids.max 6");
    pidone.signal(libc::SIGTERM);
    let out = pidone.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = forks_line(&out.stderr);
    // Told once, at the first service's end; nothing failed after it.
    assert!(
        line.contains(&format!(
            "{failed} fork{} failed in the container (pids.events max {failed}, read when the service '",
            if failed == 1 { "" } else { "s" }
        )),
        "{line}"
    );
}
