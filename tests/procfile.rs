//! Several services from one Procfile, on the real binary as PID 1 and as a
//! subreaper: they start and run, a crash ends the container (or restarts that
//! service alone), TERM and the grace period reach all of them, orphans are
//! reaped, and `--prefix` relays their output line by line without ever
//! blocking pidone.

mod common;

use common::*;
use std::collections::HashMap;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const THREE: &str = "\
# three recorders
a: {w} named {dir} a
b: {w} named {dir} b

c: {w} named {dir} c
";

fn kill(pid: i32, signo: i32) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signo) }, 0, "kill {pid}");
}

#[test]
fn three_services_start_and_term_stops_them_all() {
    for how in BOTH {
        let pidone = start_procfile(how, THREE, &[]);
        let pids: Vec<i32> = ["a", "b", "c"].map(|r| pidone.workload_pid(r)).to_vec();
        let sids: Vec<String> = pids.iter().map(|&p| stat_field(p, 3).unwrap()).collect();
        // Each leads a session of its own.
        for (pid, sid) in pids.iter().zip(&sids) {
            assert_eq!(&pid.to_string(), sid, "{how:?}");
        }
        pidone.signal(libc::SIGUSR1);
        for role in ["a", "b", "c"] {
            pidone.wait_line(&format!("{role}.log"), "USR1");
        }
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        for role in ["a", "b", "c"] {
            let log = fs::read_to_string(out.dir.path().join(format!("{role}.log"))).unwrap();
            assert_eq!(log, "USR1\nTERM\n", "{how:?}: {role}");
        }
    }
}

#[test]
fn a_crash_without_restart_stops_the_others_and_pidone_exits_with_its_status() {
    for how in BOTH {
        let procfile = "\
a: {w} named {dir} a
b: sh -c 'until [ -e {dir}/a.ready ]; do sleep 0.01; done; exit 3'
";
        let pidone = start_procfile(how, procfile, &[]);
        let out = pidone.finish();
        assert_eq!(out.code, Some(3), "{how:?}: {}", out.stderr);
        let log = fs::read_to_string(out.dir.path().join("a.log")).unwrap();
        assert_eq!(log, "TERM\n", "{how:?}");
    }
}

#[test]
fn with_restart_on_failure_only_the_crashed_service_starts_again() {
    for how in BOTH {
        let pidone = start_procfile(how, THREE, &["--restart", "on-failure"]);
        let (a, b, c) = (
            pidone.workload_pid("a"),
            pidone.workload_pid("b"),
            pidone.workload_pid("c"),
        );
        fs::remove_file(pidone.dir.path().join("b.ready")).unwrap();
        kill(b, libc::SIGKILL);
        let b2 = pidone.workload_pid("b");
        assert_ne!(b, b2, "{how:?}");
        assert!(pidone.read("a.log").is_empty() && pidone.read("c.log").is_empty());
        assert_eq!(stat_field(a, 0).as_deref().map(|s| s != "Z"), Some(true));
        assert_eq!(stat_field(c, 0).as_deref().map(|s| s != "Z"), Some(true));
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("the service 'b'") && out.stderr.contains("SIGKILL"),
            "{how:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_service_that_ignores_term_is_killed_after_the_grace_period() {
    for how in BOTH {
        let procfile = "\
stubborn: {w} stubborn {dir}
polite: {w} named {dir} polite
";
        let pidone = start_procfile(how, procfile, &["-t", "1s"]);
        pidone.workload_pid("child");
        pidone.workload_pid("polite");
        pidone.signal(libc::SIGTERM);
        let out = pidone.finish();
        // The polite one ended first, with 0; the stubborn one needed KILL.
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("needed KILL"),
            "{how:?}: {}",
            out.stderr
        );
        let log = fs::read_to_string(out.dir.path().join("child.log")).unwrap();
        assert_eq!(log, "TERM\n", "{how:?}");
    }
}

#[test]
fn orphans_of_any_service_are_reaped() {
    for how in BOTH {
        // `orphans` waits until its parent has no child left but itself:
        // the other service ends at once, and --wait-all keeps the first.
        let procfile = "\
orphans: {w} orphans 200
other: true
";
        let pidone = start_procfile(how, procfile, &["--wait-all"]);
        let out = pidone.finish();
        // `orphans` exits 0 only once its parent, pidone, has reaped all of them.
        assert_eq!(out.code, Some(0), "{how:?}: {} {}", out.stdout, out.stderr);
        assert!(out.stdout.contains("all 200 orphans reaped"), "{how:?}");
    }
}

#[test]
fn an_exec_failure_of_one_service_ends_the_container_with_127() {
    let procfile = "\
a: {w} named {dir} a
missing: /nonexistent/program --flag
";
    let out = start_procfile(How::Subreaper, procfile, &[]).finish();
    assert_eq!(out.code, Some(127), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the service 'missing': cannot execute '/nonexistent/program'"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_malformed_procfile_is_one_line_naming_the_line_and_exit_1() {
    let dir = TempDir::new();
    let path = dir.path().join("Procfile");
    for (text, expect) in [
        ("web: nginx\nworker node w.js\n", "Procfile:2:"),
        ("web: nginx\nweb: node\n", "Procfile:2: duplicate"),
        ("", "no service"),
        ("web: echo 'unterminated\n", "Procfile:1:"),
    ] {
        fs::write(&path, text).unwrap();
        let out = run(How::Plain, &["--procfile", path.to_str().unwrap()]);
        assert_eq!(out.code, Some(1), "{text:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(expect), "{text:?}: {}", out.stderr);
    }
    let out = run(How::Plain, &["--procfile", "/nonexistent/Procfile"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/Procfile"),
        "{}",
        out.stderr
    );
    let out = run(How::Plain, &["--procfile", path.to_str().unwrap(), "true"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}

#[test]
fn every_option_error_names_its_line_and_nothing_starts() {
    let dir = TempDir::new();
    let path = dir.path().join("Procfile");
    let started = dir.path().join("started");
    let start = format!("touch {}", started.display());
    for (text, expect) in [
        (
            "  after: web\nweb: {start}\n",
            "Procfile:1: an indented line is an option",
        ),
        (
            "web: {start}\n  afer: php\n",
            "Procfile:2: unknown option 'afer'",
        ),
        (
            "web: {start}\n  oneshot: maybe\n",
            "Procfile:2: invalid oneshot 'maybe'",
        ),
        (
            "web: {start}\n  restart: sometimes\n",
            "Procfile:2: invalid restart",
        ),
        (
            "web: {start}\n  ready: http x\n",
            "Procfile:2: invalid ready",
        ),
        (
            "web: {start}\n\n  ready-timeout: x\n",
            "Procfile:3: invalid ready-timeout",
        ),
        (
            "web: {start}\n  stop-signal: FOO\n",
            "Procfile:2: invalid stop-signal",
        ),
        (
            "web: {start}\n  stop-timeout: x\n",
            "Procfile:2: invalid stop-timeout",
        ),
        ("web: {start}\n  user: -x\n", "Procfile:2: invalid user"),
        (
            "web: {start}\n  user: a\n  user: b\n",
            "Procfile:3: option 'user' given twice",
        ),
        (
            "web: {start}\n  after: php\n",
            "Procfile:2: 'web' is after 'php', which is no service",
        ),
        (
            "web: {start}\n  after: php\nphp: {start}\n  after: web\n",
            "Procfile:2: a cycle in 'after': web -> php -> web",
        ),
        (
            "web: {start}\nx: echo \"$(\"\n",
            "Procfile:2: unterminated double quote",
        ),
        (
            "web: {start}\nx: `-\n",
            "Procfile:2: unterminated backquote",
        ),
        ("web: {start}\nx: ${''\n", "Procfile:2: unterminated ${ }"),
    ] {
        fs::write(&path, text.replace("{start}", &start)).unwrap();
        let out = run(How::Plain, &["--procfile", path.to_str().unwrap()]);
        assert_eq!(out.code, Some(1), "{text:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        let expect = format!(
            "pidone: {}:{}",
            path.display(),
            expect.trim_start_matches("Procfile:")
        );
        assert!(out.stderr.starts_with(&expect), "{text:?}: {}", out.stderr);
        assert!(!started.exists(), "{text:?}: a service started");
    }
}

#[test]
fn a_procfile_with_options_runs_and_a_quote_inside_a_substitution_is_valid() {
    // The options parse (the supervisor's use of them is tested elsewhere);
    // `echo "$(echo '"')"` is valid shell, which pidone used to refuse.
    let procfile = "\
a: {w} named {dir} a
  restart: never
  stop-timeout: 5s
b: echo \"$(echo '\"')\" > {dir}/quote
  after: a
";
    let out = start_procfile(How::Subreaper, procfile, &[]).finish();
    assert_eq!(out.code, Some(0), "b ended first, with 0: {}", out.stderr);
    let quote = fs::read_to_string(out.dir.path().join("quote")).unwrap();
    assert_eq!(quote, "\"\n");
}

#[test]
fn check_prints_the_plan_of_a_good_file_and_runs_nothing() {
    let dir = TempDir::new();
    let path = dir.path().join("Procfile");
    let started = dir.path().join("started");
    let text = "\
web: touch {started}
  after: php
  ready: tcp 127.0.0.1:8080
  stop-signal: QUIT
php: touch {started}
  ready: unix /run/php.sock
  user: www-data
";
    fs::write(&path, text.replace("{started}", started.to_str().unwrap())).unwrap();
    let out = run(
        How::Plain,
        &["--check", "-t", "3s", "--procfile", path.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "2 services, in start order:");
    assert_eq!(lines[1], "1. php");
    assert!(out.stdout.contains("   user: www-data\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\n2. web\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("   after: php (once ready)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("   stop: QUIT, KILL after 3s\n"),
        "{}",
        out.stdout
    );
    assert!(!started.exists(), "--check started a service");
    // And a single workload.
    let out = run(
        How::Plain,
        &["--check", "--", "touch", started.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("one workload: touch "),
        "{}",
        out.stdout
    );
    assert!(!started.exists(), "--check ran the workload");
}

#[test]
fn check_of_a_bad_file_prints_the_error_and_exits_1() {
    let dir = TempDir::new();
    let path = dir.path().join("Procfile");
    fs::write(&path, "web: nginx\n  after: php\n").unwrap();
    let out = run(
        How::Plain,
        &["--check", "--procfile", path.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "pidone: {}:2: 'web' is after 'php', which is no service\n",
            path.display()
        )
    );
}

#[test]
fn prefix_relays_every_line_whole_and_in_order() {
    const N: u64 = 100_000;
    let procfile = "\
a: {w} lines 100000 a
bb: {w} lines 100000 bb
";
    // A file, not the harness's pipe, which nobody reads before pidone exits.
    let file = TempDir::new();
    let path = file.path().join("stdout");
    let stdout = fs::File::create(&path).unwrap();
    let out = start_procfile_with(
        How::Subreaper,
        procfile,
        &["--prefix", "--wait-all"],
        |cmd| {
            cmd.stdout(Stdio::from(stdout));
        },
    )
    .finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = fs::read_to_string(&path).unwrap();
    let mut next: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let (prefix, rest) = line.split_once(" | ").unwrap_or_else(|| panic!("{line:?}"));
        let name = prefix.trim_end();
        let (tag, i) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(tag, name, "mixed within a line: {line:?}");
        assert!(prefix == "a " || prefix == "bb", "padding: {line:?}");
        let expected = next.entry(name).or_insert(1);
        assert_eq!(i.parse::<u64>().ok(), Some(*expected), "order: {line:?}");
        *expected += 1;
    }
    assert_eq!(next.get("a"), Some(&(N + 1)));
    assert_eq!(next.get("bb"), Some(&(N + 1)));
}

#[test]
fn prefix_flushes_a_last_line_without_newline_and_keeps_stderr_apart() {
    let procfile = "\
web: sh -c 'echo out; echo err >&2; printf tail'
";
    let out = start_procfile(How::Subreaper, procfile, &["--prefix"]).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "web | out\nweb | tail\n");
    assert_eq!(out.stderr, "web | err\n");
}

#[test]
fn with_stdout_stalled_term_still_ends_everything_within_the_grace() {
    let dir = TempDir::new();
    let fifo = dir.path().join("stdout");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let procfile = "\
flood: {w} lines 100000000 flood
quiet: {w} named {dir} quiet
";
    let text = procfile.replace("{w}", &workload());
    let pidone = {
        let procfile_dir = TempDir::new();
        let text = text.replace("{dir}", procfile_dir.path_str());
        fs::write(procfile_dir.path().join("Procfile"), text).unwrap();
        let path = procfile_dir.path().join("Procfile");
        let pidone = start_with(
            How::Subreaper,
            &["--prefix", "-t", "2s", "--procfile", path.to_str().unwrap()],
            |cmd| {
                cmd.stdout(Stdio::from(writer));
            },
        );
        wait_for("the quiet service", || {
            procfile_dir.path().join("quiet.ready").exists()
        });
        (pidone, procfile_dir)
    };
    let (pidone, _procfile_dir) = pidone;
    let unread = || {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes an int into a live local.
        unsafe { libc::ioctl(reader.as_raw_fd(), libc::FIONREAD, &mut n) };
        n
    };
    wait_for("pidone's stdout to fill up", || unread() >= 60_000);
    // pidone still answers: it forwards, and the stop goes through.
    pidone.signal(libc::SIGTERM);
    let pid = pidone.pid();
    let deadline = Instant::now() + Duration::from_secs(15);
    while stat_field(pid, 0).is_some_and(|s| s != "Z") {
        assert!(
            Instant::now() < deadline,
            "pidone did not exit within 15 s of TERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = pidone.finish();
    assert!(out.code.is_some(), "{}", out.stderr);
}
