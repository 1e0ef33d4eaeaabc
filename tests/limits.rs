//! Limit events as they happen, and Kubernetes' termination message, on this
//! machine's cgroup v1 (tests/cgroup2 runs the v2 cases in a VM): real hogs in a
//! real 32 MiB memory cgroup, killed by the kernel's OOM killer while the main
//! process lives on, and the file pidone writes its explanation to.

mod common;

use common::*;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The v1 event line's text, after its timestamp (src/diagnose/events.rs).
const UNDER_OOM: &str = ": the container ran out of memory: the kernel OOM killer is at work (memory.oom_control, oom_kill ";

/// pidone's stderr goes to a file here, so that a test reads it while pidone runs.
struct Stderr(TempDir);

impl Stderr {
    fn new() -> Self {
        Stderr(TempDir::new())
    }

    fn path(&self) -> std::path::PathBuf {
        self.0.path().join("stderr")
    }

    /// Sends the stderr of the command about to run to the file.
    fn attach(&self, cmd: &mut Command) {
        let file = fs::File::create(self.path()).expect("create the stderr file");
        cmd.stderr(Stdio::from(file));
    }

    fn text(&self) -> String {
        fs::read_to_string(self.path()).unwrap_or_default()
    }

    /// The v1 limit event lines so far.
    fn events(&self) -> Vec<String> {
        let text = self.text();
        lines_at(&text, "warning")
            .into_iter()
            .filter(|l| l.contains(UNDER_OOM))
            .map(str::to_owned)
            .collect()
    }
}

/// The timestamp of a warning line, and what follows it.
fn stamped(line: &str) -> (&str, &str) {
    let rest = line
        .strip_prefix("pidone: warning: ")
        .unwrap_or_else(|| panic!("not a warning: {line}"));
    let (stamp, rest) = rest.split_at(rest.find(": ").unwrap_or(0));
    assert!(is_timestamp(stamp), "no UTC timestamp in: {line}");
    (stamp, rest)
}

/// `(A, B)` of an event line's `oom_kill A → B`.
fn oom_kill_counts(line: &str) -> (u64, u64) {
    let rest = &line[line.find(UNDER_OOM).expect("an event line") + UNDER_OOM.len()..];
    let (before, rest) = rest.split_once(" → ").expect("A → B");
    let after = rest.split(';').next().expect("B;");
    (
        before.parse().expect("A"),
        after.parse().unwrap_or_else(|_| panic!("B in {line}")),
    )
}

/// Whether `pid` is there and not a zombie.
fn alive(pid: i32) -> bool {
    stat_field(pid, 0).is_some_and(|s| s != "Z")
}

/// The descendants of `pid` whose command is `comm`.
fn named(pid: i32, comm: &str) -> Vec<i32> {
    descendants(pid)
        .into_iter()
        .filter(|c| fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == comm))
        .collect()
}

/// The value of `key` in the group's memory.oom_control.
fn oom_control(group: &TestCgroup, key: &str) -> u64 {
    let text = fs::read_to_string(group.dir.join("memory.oom_control")).expect("oom_control");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} "))?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in memory.oom_control: {text}"))
}

/// pidone (pid `pid`) watches the cgroup's memory.oom_control through an eventfd
/// and sleeps in epoll_pwait with no deadline, its first wakeup behind it.
fn wait_watching(pid: i32) {
    wait_untimed_signal_wait(pid);
    let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    assert!(
        syscall.starts_with(&format!("{} ", libc::SYS_epoll_pwait)),
        "with an eventfd to watch, pidone waits in epoll_pwait: /proc/{pid}/syscall {syscall}"
    );
    let eventfd = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|to| to.ends_with("anon_inode:[eventfd]")));
    assert!(eventfd, "pidone holds no eventfd");
}

/// Sends USR1 to each hog, once each waits for it.
fn unleash(hogs: &[i32]) {
    for &hog in hogs {
        wait_signal_wait(hog);
    }
    for &hog in hogs {
        // SAFETY: kill(2) on a hog of the tree this test started.
        assert_eq!(
            unsafe { libc::kill(hog, libc::SIGUSR1) },
            0,
            "kill hog {hog}"
        );
    }
}

#[test]
fn a_worker_oom_killed_while_the_main_process_lives_on_is_told_at_once() {
    let hog = example("hog");
    for how in BOTH {
        let group = match TestCgroup::memory(&format!("worker-{how:?}"), 32 << 20) {
            Ok(group) => group,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        };
        let stderr = Stderr::new();
        let termination = stderr.0.path().join("termination-log");
        fs::write(&termination, "").expect("create the termination log");
        let args = [
            "--termination-log",
            termination.to_str().expect("utf-8"),
            "--",
            "{w}",
            "workers",
            "1",
            "{dir}",
            &hog,
            "--on-usr1",
        ];
        let pidone = start_with(how, &args, |cmd| {
            group.enter(cmd);
            stderr.attach(cmd);
        });
        let pid = pidone.pid();
        pidone.wait_file("workers.ready");
        wait_watching(pid);
        let main = *named(pid, "workload").first().expect("the main process");
        // The worker may not have exec'd hog yet when the master is ready.
        let mut hogs = Vec::new();
        wait_for("the hog to exec", || {
            hogs = named(pid, "hog");
            !hogs.is_empty()
        });
        unleash(&hogs);

        wait_for("the event line", || !stderr.events().is_empty());
        pidone.wait_file("workers.status");
        assert_eq!(
            pidone.read("workers.status"),
            "137\n",
            "{how:?}: the hog's status"
        );
        assert!(alive(pid), "{how:?}: pidone runs on: {}", stderr.text());
        assert!(alive(main), "{how:?}: the main process runs on");
        let events = stderr.events();
        let (_, text) = stamped(&events[0]);
        assert!(
            text.contains(" of 32.0 MiB); largest now: "),
            "{how:?}: usage against the limit, and the largest processes: {}",
            events[0]
        );
        let (before, after) = oom_kill_counts(&events[0]);
        assert_eq!(before, 0, "{how:?}: {}", events[0]);
        assert!(after <= oom_control(&group, "oom_kill"), "{}", events[0]);

        // The termination message: the latest event line, without the prefix.
        wait_for("the termination log to hold the last event line", || {
            let last = stderr.events().pop().unwrap_or_default();
            let line = last.strip_prefix("pidone: warning: ").unwrap_or_default();
            fs::read_to_string(&termination).is_ok_and(|t| t == format!("{line}\n"))
        });

        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        println!("{how:?}:\n{}", stderr.text());
        assert_eq!(
            out.code,
            Some(0),
            "{how:?}: the main process's status on TERM"
        );
        // The main process ended on the TERM it was sent: its line says the OOM
        // killer struck meanwhile, and the termination message is that line now.
        let text = stderr.text();
        let warnings = lines_at(&text, "warning");
        let last = warnings.last().expect("a death line");
        assert!(
            last.contains("exited with status 0; the kernel OOM killer struck meanwhile"),
            "{how:?}: {text}"
        );
        let line = last.strip_prefix("pidone: warning: ").unwrap_or_default();
        assert_eq!(
            fs::read_to_string(&termination).unwrap_or_default(),
            format!("{line}\n")
        );
    }
}

#[test]
fn a_storm_of_oom_kills_gives_at_most_one_line_a_second_with_the_totals() {
    const HOGS: usize = 5;
    let hog = example("hog");
    let group = match TestCgroup::memory("storm", 32 << 20) {
        Ok(group) => group,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let stderr = Stderr::new();
    let n = HOGS.to_string();
    let args = ["--", "{w}", "workers", &n, "{dir}", &hog, "--on-usr1"];
    let pidone = start_with(How::Subreaper, &args, |cmd| {
        group.enter(cmd);
        stderr.attach(cmd);
    });
    let pid = pidone.pid();
    pidone.wait_file("workers.ready");
    wait_watching(pid);
    // The workers may not all have exec'd hog yet when the master is ready.
    let mut hogs = Vec::new();
    wait_for("every worker to exec hog", || {
        hogs = named(pid, "hog");
        hogs.len() == HOGS
    });
    let unleashed = Instant::now();
    unleash(&hogs);
    pidone.wait_file("workers.status");
    let statuses = pidone.read("workers.status");
    assert_eq!(statuses, "137\n".repeat(HOGS), "every hog was OOM-killed");
    let kills = oom_control(&group, "oom_kill");
    assert!(kills >= HOGS as u64, "oom_kill {kills}");
    // A line held back has a deadline: once pidone sleeps with none, all are out.
    wait_untimed_signal_wait(pid);
    let span = unleashed.elapsed();
    let events = stderr.events();
    println!("{kills} kills in {span:?}: {} lines", events.len());
    for line in &events {
        println!("  {line}");
    }
    assert!(!events.is_empty(), "no event line: {}", stderr.text());

    // At most one a second: every line stamped with a second of its own, and no
    // more lines than the seconds the storm lasted could hold.
    let stamps: Vec<&str> = events.iter().map(|l| stamped(l).0).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "two lines in one second: {events:#?}"
    );
    assert!(
        events.len() as u64 <= span.as_secs() + 1,
        "{} lines in {span:?}",
        events.len()
    );
    // The totals: each line goes on from where the last one left, up to the kills.
    let counts: Vec<(u64, u64)> = events.iter().map(|l| oom_kill_counts(l)).collect();
    assert_eq!(counts[0].0, 0, "{events:#?}");
    assert!(
        counts.windows(2).all(|w| w[0].1 == w[1].0),
        "the totals do not follow on: {events:#?}"
    );
    let last = counts.last().expect("a line").1;
    assert!(last <= kills, "{events:#?}");
    // What the issue promises, and what the bound above gives when the storm is quick.
    if (span.as_secs() as usize) < HOGS - 1 {
        assert!(
            events.len() < HOGS,
            "{HOGS} kills in {span:?} gave as many lines: {events:#?}"
        );
    } else {
        println!(
            "note: the kills took {span:?}: too slow here to see them folded into fewer lines"
        );
    }

    pidone.signal(libc::SIGTERM);
    assert_eq!(pidone.finish().code, Some(0));
}

/// The termination log at `{dir}/termination-log`, created empty when `create`.
fn termination_log(run: &TempDir, create: bool) -> std::path::PathBuf {
    let path = run.path().join("termination-log");
    if create {
        fs::write(&path, "").expect("create the termination log");
    }
    path
}

#[test]
fn the_termination_message_is_the_death_line_or_the_exit_explanation() {
    let dir = TempDir::new();
    // A death by a signal nobody sent: the death line, without its prefix.
    for how in BOTH {
        let path = termination_log(&dir, true);
        let out = run(
            how,
            &[
                "--termination-log",
                path.to_str().unwrap(),
                "--",
                "{w}",
                "raise",
                "SEGV",
            ],
        );
        assert_eq!(out.code, Some(139), "{how:?}: {}", out.stderr);
        let warnings = lines_at(&out.stderr, "warning");
        assert_eq!(warnings.len(), 1, "{how:?}: {}", out.stderr);
        let (_, rest) = stamped(warnings[0]);
        assert!(rest.ends_with(": killed by SIGSEGV"), "{}", warnings[0]);
        let line = warnings[0].strip_prefix("pidone: warning: ").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{line}\n"),
            "{how:?}"
        );
    }

    // No death line and no event: the exit explanation, though not logged.
    let path = termination_log(&dir, true);
    let out = run(
        How::Subreaper,
        &[
            "--termination-log",
            path.to_str().unwrap(),
            "--",
            "{w}",
            "exit",
            "0",
        ],
    );
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
    let text = fs::read_to_string(&path).unwrap();
    let (stamp, rest) = text.split_at(text.find(": ").unwrap_or(0));
    assert!(is_timestamp(stamp), "{text}");
    assert_eq!(
        rest,
        ": exiting with status 0: the workload exited with 0; 0 leftover process(es) got TERM, 0 process(es) needed KILL\n"
    );

    // A forwarded TERM needs no death line: the explanation names the TERM.
    let path = termination_log(&dir, true);
    let env_path = path.to_str().unwrap().to_owned();
    let pidone = start_with(How::Subreaper, &["--", "sleep", "1000"], |cmd| {
        cmd.env("PIDONE_TERMINATION_LOG", &env_path);
    });
    wait_untimed_signal_wait(pidone.pid());
    pidone.signal(libc::SIGTERM);
    let out = pidone.finish();
    assert_eq!(out.code, Some(143), "{}", out.stderr);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(": exiting with status 143: the workload was killed by TERM; shutdown started by TERM from pid "),
        "PIDONE_TERMINATION_LOG: {text}"
    );
}

#[test]
fn no_termination_message_when_off_and_an_explicit_path_is_created() {
    let dir = TempDir::new();
    // `none` turns it off, even with the variable set.
    let path = termination_log(&dir, true);
    let env_path = path.to_str().unwrap().to_owned();
    let out = start_with(
        How::Subreaper,
        &["--termination-log", "none", "--", "{w}", "raise", "SEGV"],
        |cmd| {
            cmd.env("PIDONE_TERMINATION_LOG", &env_path);
        },
    )
    .finish();
    assert_eq!(out.code, Some(139), "{}", out.stderr);
    assert_eq!(lines_at(&out.stderr, "warning").len(), 1, "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "",
        "--termination-log none"
    );

    // An absent file given explicitly is created, with the death line or the
    // exit explanation (the default, /dev/termination-log, never is: unit test).
    for (command, end) in [
        (&["raise", "SEGV"][..], ": killed by SIGSEGV\n"),
        (
            &["exit", "0"],
            ": exiting with status 0: the workload exited with 0; 0 leftover process(es) got TERM, 0 process(es) needed KILL\n",
        ),
    ] {
        fs::remove_file(&path).ok();
        let mut args = vec!["--termination-log", path.to_str().unwrap(), "--", "{w}"];
        args.extend(command);
        let out = run(How::Subreaper, &args);
        assert!(out.code.is_some(), "{}", out.stderr);
        let text = fs::read_to_string(&path).unwrap_or_default();
        assert!(text.ends_with(end), "{command:?}: {text:?}");
    }
    // Where it cannot be created, nothing is, and the exit is the same.
    let nowhere = dir.path().join("missing").join("termination-log");
    let args = [
        "--termination-log",
        nowhere.to_str().unwrap(),
        "--",
        "{w}",
        "exit",
        "3",
    ];
    let out = run(How::Subreaper, &args);
    assert_eq!((out.code, out.stderr.as_str()), (Some(3), ""));
    assert!(!nowhere.exists());
}
