//! tini's and dumb-init's flags and variables, on the real binary: -r rewrites,
//! -e expected codes, -p parent-death signal, -w, -g, -l, TINI_*, DUMB_INIT_SETSID,
//! PIDONE_*, and usage errors for bad signal names and durations.

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn rewrite_turns_term_into_quit() {
    for how in BOTH {
        let pidone = start(how, &["-r", "15:3", "--", "{w}", "record", "{dir}"]);
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGTERM);
        pidone.wait_line("child.log", "QUIT");
        assert_eq!(pidone.read("child.log"), "QUIT\n", "{how:?}");
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
    }
    // The same through the environment, by name.
    let pidone = start_with(How::Subreaper, &["--", "{w}", "record", "{dir}"], |cmd| {
        cmd.env("PIDONE_REWRITE", "sigterm:QUIT");
    });
    pidone.wait_file("child.ready");
    pidone.signal(libc::SIGTERM);
    pidone.wait_line("child.log", "QUIT");
    assert_eq!(pidone.read("child.log"), "QUIT\n");
    assert_eq!(pidone.finish().code, Some(0));
}

#[test]
fn rewrite_to_zero_drops_term() {
    for how in BOTH {
        let pidone = start(how, &["-r", "15:0", "--", "{w}", "record", "{dir}"]);
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGTERM);
        // WINCH (28) is taken after TERM (15) by pidone and by the child: once
        // WINCH is logged, a forwarded TERM would have been logged before it.
        pidone.signal(libc::SIGWINCH);
        pidone.wait_line("child.log", "WINCH");
        assert_eq!(pidone.read("child.log"), "WINCH\n", "{how:?}");
        pidone.signal(libc::SIGQUIT);
        assert_eq!(pidone.finish().code, Some(0), "{how:?}");
    }
}

#[test]
fn expect_exit_maps_a_term_death_to_zero() {
    for how in BOTH {
        for (args, code) in [(&["-e", "143", "-e", "1"][..], 0), (&["-e", "1"][..], 143)] {
            let args: Vec<&str> = args
                .iter()
                .copied()
                .chain(["--", "sleep", "1000"])
                .collect();
            let pidone = start(how, &args);
            let pid = pidone.pid();
            wait_for("sleep", || {
                descendants(pid)
                    .iter()
                    .any(|&c| stat_field(c, 0).as_deref() == Some("S"))
            });
            pidone.signal(libc::SIGTERM);
            assert_eq!(pidone.finish().code, Some(code), "{how:?} {args:?}");
        }
    }
}

/// Starts `sh` running pidone with `flags` in the background; returns the shell
/// and pidone's pid.
fn under_a_shell(flags: &[&str]) -> (std::process::Child, i32) {
    let mut args = vec!["-c", "\"$@\" & wait", "sh", PIDONE];
    args.extend_from_slice(flags);
    args.extend(["--", "sleep", "1000"]);
    let shell = Command::new("sh")
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sh = shell.id() as i32;
    let mut pidone = 0;
    wait_for("pidone and its sleep", || {
        pidone = descendants(sh).first().copied().unwrap_or(0);
        pidone != 0 && !descendants(pidone).is_empty()
    });
    (shell, pidone)
}

fn gone(pid: i32) -> bool {
    matches!(stat_field(pid, 0).as_deref(), None | Some("Z"))
}

#[test]
fn pdeathsig_fires_when_the_parent_dies() {
    let (mut shell, pidone) = under_a_shell(&["-p", "SIGTERM"]);
    let sleep = descendants(pidone)[0];
    shell.kill().unwrap();
    shell.wait().unwrap();
    wait_for("pidone and its child to end after the parent died", || {
        gone(pidone) && gone(sleep)
    });

    // Control: without -p, pidone outlives its parent.
    let (mut shell, pidone) = under_a_shell(&[]);
    shell.kill().unwrap();
    shell.wait().unwrap();
    wait_for("pidone to be re-parented", || {
        stat_field(pidone, 1).as_deref() != Some(&shell.id().to_string())
    });
    assert!(!gone(pidone), "pidone ended without -p");
    let sleep = descendants(pidone)[0];
    // SAFETY: kill(2) on the pidone this test started and its child, which
    // would otherwise outlive the test (and hold its output pipe open).
    unsafe {
        libc::kill(pidone, libc::SIGKILL);
        libc::kill(sleep, libc::SIGKILL);
    }
}

#[test]
fn warn_on_reap_logs_each_orphan() {
    let out = run(How::Subreaper, &["-w", "--", "{w}", "orphans", "3"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let reaped = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("pidone: warning: reaped zombie process"))
        .count();
    assert!(reaped >= 1, "{}", out.stderr);
    let quiet = run(How::Subreaper, &["--", "{w}", "orphans", "3"]);
    assert!(!quiet.stderr.contains("reaped"), "{}", quiet.stderr);
}

#[test]
fn tini_and_dumb_init_flags_are_accepted() {
    let out = run(How::Subreaper, &["-g", "-v", "--", "true"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(How::Plain, &["-l"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("MIT License"), "{}", out.stdout);
    let version = run(How::Plain, &["--version"]);
    assert!(
        version.stdout.starts_with("pidone version 0.1.0 - git."),
        "{}",
        version.stdout
    );
}

#[test]
fn environment_variables_are_real_booleans() {
    let env_run = |vars: &[(&str, &str)], args: &[&str]| {
        start_with(How::Plain, args, |cmd| {
            for (k, v) in vars {
                cmd.env(k, v);
            }
        })
        .finish()
    };
    // TINI_SUBREAPER=1 makes pidone the orphans' reaper; =0 does not (tini would).
    let on = env_run(&[("TINI_SUBREAPER", "1")], &["--", "{w}", "orphans", "10"]);
    assert_eq!(on.code, Some(0), "{}", on.stderr);
    let off = env_run(&[("TINI_SUBREAPER", "0")], &["--", "{w}", "orphans", "10"]);
    assert_eq!(off.code, Some(2), "{}", off.stderr);
    // DUMB_INIT_SETSID=0: the child stays in pidone's session (single-child mode).
    let args = ["--", "sh", "-c", "ps -o sid= -p $$ -p $PPID"];
    let single = env_run(
        &[("DUMB_INIT_SETSID", "0"), ("PIDONE_SUBREAPER", "yes")],
        &args,
    );
    let sids: Vec<&str> = single.stdout.split_whitespace().collect();
    assert_eq!(
        (sids.len(), sids.first() == sids.get(1)),
        (2, true),
        "{}",
        single.stdout
    );
    let session = env_run(&[("PIDONE_SUBREAPER", "on")], &args);
    let sids: Vec<&str> = session.stdout.split_whitespace().collect();
    assert_eq!(
        (sids.len(), sids.first() != sids.get(1)),
        (2, true),
        "{}",
        session.stdout
    );
    // Bad values are usage errors naming the variable.
    for (var, value) in [
        ("TINI_SUBREAPER", "maybe"),
        ("PIDONE_GRACE_PERIOD", "10x"),
        ("TINI_VERBOSITY", "loud"),
    ] {
        let out = env_run(&[(var, value)], &["--", "true"]);
        assert_eq!(out.code, Some(1), "{var}={value}");
        assert!(
            out.stderr.contains(value) && out.stderr.lines().count() == 1,
            "{var}: {}",
            out.stderr
        );
    }
}

#[test]
fn invalid_signals_and_durations_exit_1_naming_the_value() {
    for (args, bad) in [
        (&["-r", "FOO:1", "true"][..], "'FOO'"),
        (&["-r", "15", "true"][..], "'15'"),
        (&["-p", "SIGNOPE", "true"][..], "'SIGNOPE'"),
        (&["-t", "10x", "true"][..], "'10x'"),
        (&["--stop-delay=-1s", "true"][..], "'-1s'"),
        (&["-e", "300", "true"][..], "'300'"),
        (&["-r", "1:32", "true"][..], "reserved by the C library"),
    ] {
        let out = run(How::Plain, args);
        assert_eq!(out.code, Some(1), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("pidone: ") && out.stderr.contains(bad),
            "{args:?}: {}",
            out.stderr
        );
    }
}
