//! `--user NAME|UID[:GID]`: the workload runs with the user's uid, gid and
//! supplementary groups (from /etc/passwd and /etc/group) and HOME, USER and
//! LOGNAME; a number needs no passwd entry; pidone itself stays root; an
//! unknown name, or a pidone that is not root, is an error before anything starts.

mod common;

use common::*;
use std::process::Command;
use std::sync::Once;

/// A user of our own with a supplementary group, created once if missing
/// (`useradd`, as root: the tests run as root). Returns (uid, gid, extra gid).
fn test_user() -> (u32, u32, u32) {
    static MADE: Once = Once::new();
    MADE.call_once(|| {
        let exists = |db: &str, key: &str| {
            Command::new("getent")
                .args([db, key])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !exists("group", "pidonetestx") {
            let ok = Command::new("groupadd").arg("pidonetestx").status();
            assert!(ok.is_ok_and(|s| s.success()), "groupadd pidonetestx");
        }
        if !exists("passwd", "pidonetest") {
            let ok = Command::new("useradd")
                .args(["-M", "-d", "/home/pidonetest", "-s", "/bin/sh"])
                .args(["-G", "pidonetestx", "pidonetest"])
                .status();
            assert!(ok.is_ok_and(|s| s.success()), "useradd pidonetest");
        }
    });
    let field = |db: &str, key: &str, i: usize| -> u32 {
        let out = Command::new("getent")
            .args([db, key])
            .output()
            .expect("getent");
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        line.trim()
            .split(':')
            .nth(i)
            .and_then(|f| f.parse().ok())
            .expect("an id")
    };
    let uid = field("passwd", "pidonetest", 2);
    let gid = field("passwd", "pidonetest", 3);
    (uid, gid, field("group", "pidonetestx", 2))
}

/// The ids of /proc/self/status's `key:` line.
fn ids(status: &str, key: &str) -> Vec<u32> {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    line[key.len()..]
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect()
}

fn env_of(out: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
}

#[test]
fn by_name_the_workload_gets_the_users_ids_groups_and_home() {
    let (uid, gid, extra) = test_user();
    let run = run(
        How::Pid1,
        &["--user", "pidonetest", "--", "cat", "/proc/self/status"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [uid; 4]);
    assert_eq!(ids(&run.stdout, "Gid:"), [gid; 4]);
    let mut groups = ids(&run.stdout, "Groups:");
    groups.sort();
    let mut want = vec![gid, extra];
    want.sort();
    assert_eq!(
        groups, want,
        "the primary group and every group listing the user"
    );
    // Not root's capabilities either.
    assert!(
        run.stdout.contains("CapEff:\t0000000000000000"),
        "{}",
        run.stdout
    );

    let env = start_with(How::Pid1, &["--user", "pidonetest", "--", "env"], |c| {
        c.env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root");
    })
    .finish();
    assert_eq!(env.code, Some(0), "{}", env.stderr);
    assert_eq!(
        env_of(&env.stdout, "HOME").as_deref(),
        Some("/home/pidonetest")
    );
    assert_eq!(env_of(&env.stdout, "USER").as_deref(), Some("pidonetest"));
    assert_eq!(
        env_of(&env.stdout, "LOGNAME").as_deref(),
        Some("pidonetest")
    );
}

#[test]
fn by_number_no_passwd_entry_is_needed() {
    let status = run(
        How::Pid1,
        &["--user", "4242:4343", "--", "cat", "/proc/self/status"],
    );
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    assert_eq!(ids(&status.stdout, "Uid:"), [4242; 4]);
    assert_eq!(ids(&status.stdout, "Gid:"), [4343; 4]);
    assert_eq!(
        ids(&status.stdout, "Groups:"),
        [4343],
        "no group of root's is kept"
    );

    let env = start_with(How::Pid1, &["--user", "4242", "--", "env"], |c| {
        c.env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root");
    })
    .finish();
    assert_eq!(env.code, Some(0), "{}", env.stderr);
    assert_eq!(env_of(&env.stdout, "HOME").as_deref(), Some("/"));
    assert_eq!(
        env_of(&env.stdout, "USER"),
        None,
        "root's USER is not passed on"
    );
    assert_eq!(env_of(&env.stdout, "LOGNAME"), None);
}

#[test]
fn pidone_itself_stays_root() {
    test_user();
    // The workload reads PID 1's status: pidone's.
    let run = run(
        How::Pid1,
        &["--user", "pidonetest", "--", "cat", "/proc/1/status"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [0; 4]);
}

#[test]
fn an_unknown_name_is_an_error_before_anything_starts() {
    let run = run(
        How::Pid1,
        &[
            "--user",
            "no-such-user-here",
            "--",
            "touch",
            "{dir}/started",
        ],
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim_end(),
        "pidone: unknown user 'no-such-user-here': not in /etc/passwd"
    );
    assert!(
        !run.dir.path().join("started").exists(),
        "the workload started"
    );
}

#[test]
fn a_pidone_that_is_not_root_cannot_change_user() {
    let dir = TempDir::new();
    let started = dir.path().join("started");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", PIDONE])
        .args(["--user", "4242", "--", "touch"])
        .arg(&started)
        .env_remove("RUST_LOG")
        .output()
        .expect("run setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "pidone: cannot run a workload as user '4242': pidone is not root (uid 65534)"
    );
    assert!(!started.exists(), "the workload started");
}

#[test]
fn every_service_of_a_procfile_runs_as_the_user() {
    let (uid, _, _) = test_user();
    let procfile = "a: cat /proc/self/status\n";
    let run = start_procfile(How::Pid1, procfile, &["--user", "pidonetest"]).finish();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [uid; 4]);
}
