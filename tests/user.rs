//! `--user NAME|UID[:GID]`: the workload runs with the user's uid, gid and
//! supplementary groups (from /etc/passwd and /etc/group) and HOME, USER and
//! LOGNAME; a number needs no passwd entry; pidone itself stays root; an
//! unknown name, or a pidone that is not root, is an error before anything starts.
//! The users are our own: /etc/passwd and /etc/group bind-mounted in a mount
//! namespace of the test's (`private_etc`), so the host's files are never changed.

mod common;

use common::*;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
    pidonetest:x:4100:4101:Test,,,:/home/pidonetest:/bin/sh\n\
    other:x:4200:4200::/srv/other:/bin/sh\n";
const GROUP: &str = "root:x:0:\n\
    pidonetest:x:4101:\n\
    extra1:x:4102:pidonetest\n\
    extra2:x:4103:other,pidonetest\n\
    notmine:x:4104:other\n";

/// Runs the command in a mount namespace of its own whose /etc/passwd and
/// /etc/group are PASSWD and GROUP (bind mounts of files in `dir`): real files
/// that pidone reads as it would in a container, and the host's stay untouched.
fn private_etc(cmd: &mut Command, dir: &Path) {
    std::fs::write(dir.join("passwd"), PASSWD).expect("write passwd");
    std::fs::write(dir.join("group"), GROUP).expect("write group");
    let file = |name: &str| CString::new(dir.join(name).to_str().expect("utf-8")).expect("path");
    let (passwd, group) = (file("passwd"), file("group"));
    // SAFETY: between fork and exec only system calls (unshare, mount), on
    // strings built before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let bind = |from: &CString, to: &std::ffi::CStr| {
                let flags = libc::MS_BIND;
                let null = std::ptr::null();
                if libc::mount(from.as_ptr(), to.as_ptr(), null, flags, std::ptr::null()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let root = c"/".as_ptr();
            let private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                root,
                std::ptr::null(),
                private,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            bind(&passwd, c"/etc/passwd")?;
            bind(&group, c"/etc/group")
        })
    };
}

/// pidone `how` with `args`, /etc/passwd and /etc/group our own, and these variables.
fn run_as(how: How, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let etc = TempDir::new();
    start_with(how, args, |c| {
        private_etc(c, etc.path());
        for (k, v) in env {
            c.env(k, v);
        }
    })
    .finish()
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
    let run = run_as(
        How::Pid1,
        &["--user", "pidonetest", "--", "cat", "/proc/self/status"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [4100; 4]);
    assert_eq!(ids(&run.stdout, "Gid:"), [4101; 4]);
    let mut groups = ids(&run.stdout, "Groups:");
    groups.sort();
    assert_eq!(
        groups,
        [4101, 4102, 4103],
        "the primary group and every group listing the user"
    );
    // Not root's capabilities either.
    assert!(
        run.stdout.contains("CapEff:\t0000000000000000"),
        "{}",
        run.stdout
    );

    let root = [("HOME", "/root"), ("USER", "root"), ("LOGNAME", "root")];
    let env = run_as(How::Pid1, &["--user", "pidonetest", "--", "env"], &root);
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
    let args = ["--user", "4242:4343", "--", "cat", "/proc/self/status"];
    let status = run_as(How::Pid1, &args, &[]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    assert_eq!(ids(&status.stdout, "Uid:"), [4242; 4]);
    assert_eq!(ids(&status.stdout, "Gid:"), [4343; 4]);
    assert_eq!(
        ids(&status.stdout, "Groups:"),
        [4343],
        "no group of root's is kept"
    );

    let root = [("HOME", "/root"), ("USER", "root"), ("LOGNAME", "root")];
    let env = run_as(How::Pid1, &["--user", "4242", "--", "env"], &root);
    assert_eq!(env.code, Some(0), "{}", env.stderr);
    assert_eq!(env_of(&env.stdout, "HOME").as_deref(), Some("/"));
    assert_eq!(
        env_of(&env.stdout, "USER"),
        None,
        "root's USER is not passed on"
    );
    assert_eq!(env_of(&env.stdout, "LOGNAME"), None);

    // A number with an entry is that user, with its name, home and groups.
    let env = run_as(How::Pid1, &["--user", "4100", "--", "env"], &root);
    assert_eq!(env_of(&env.stdout, "USER").as_deref(), Some("pidonetest"));
}

#[test]
fn pidone_itself_stays_root() {
    // The workload reads PID 1's status: pidone's.
    let args = ["--user", "pidonetest", "--", "cat", "/proc/1/status"];
    let run = run_as(How::Pid1, &args, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [0; 4]);
}

#[test]
fn an_unknown_name_is_an_error_before_anything_starts() {
    let dir = TempDir::new();
    let started = format!("{}/started", dir.path_str());
    let args = ["--user", "no-such-user-here", "--", "touch", &started];
    let run = run_as(How::Pid1, &args, &[]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim_end(),
        "pidone: unknown user 'no-such-user-here': not in /etc/passwd"
    );
    assert!(!Path::new(&started).exists(), "the workload started");
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
    let etc = TempDir::new();
    let procfile = "a: cat /proc/self/status\n";
    let run = start_procfile_with(How::Pid1, procfile, &["--user", "pidonetest"], |c| {
        private_etc(c, etc.path())
    })
    .finish();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&run.stdout, "Uid:"), [4100; 4]);
}
