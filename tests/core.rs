//! The core contract, tested on the real binary as PID 1 of a new PID namespace
//! and as a subreaper: exit codes, exec failures, signal forwarding, reaping,
//! the child's clean signal state, zero idle wakeups, and the command line.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

#[test]
fn exit_codes_pass_through() {
    for how in BOTH {
        for code in ["0", "1", "42", "255"] {
            let out = run(how, &["--", "{w}", "exit", code]);
            assert_eq!(
                out.code,
                Some(code.parse().unwrap()),
                "{how:?} exit {code}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_signal_death_exits_128_plus_n() {
    for how in BOTH {
        for (signal, code) in [("TERM", 143), ("KILL", 137), ("SEGV", 139)] {
            let out = run(how, &["--", "{w}", "raise", signal]);
            assert_eq!(
                out.code,
                Some(code),
                "{how:?} killed by {signal}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn exec_failures_exit_127_or_126_with_one_line() {
    let dir = TempDir::new();
    let plain = dir.path().join("plain-file");
    fs::write(&plain, "not a program\n").unwrap();
    let garbage = dir.path().join("garbage");
    fs::write(&garbage, [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    fs::set_permissions(&garbage, fs::Permissions::from_mode(0o755)).unwrap();
    let cases = [
        ("no-such-program-anywhere", 127, "No such file or directory"),
        ("/no/such/path", 127, "No such file or directory"),
        (plain.to_str().unwrap(), 126, "Permission denied"),
        (dir.path_str(), 126, "Permission denied"),
        (garbage.to_str().unwrap(), 126, "Exec format error"),
    ];
    for how in [How::Pid1, How::Subreaper] {
        for (program, code, why) in cases {
            let out = run(how, &["--", program, "arg"]);
            assert_eq!(out.code, Some(code), "{how:?} {program}: {}", out.stderr);
            let line = format!("pidone: cannot execute '{program}': {why}");
            assert_eq!(out.stderr.trim_end(), line, "{how:?}");
        }
    }
}

#[test]
fn signals_reach_the_child_and_its_process_group() {
    for how in BOTH {
        let pidone = start(how, &["--", "{w}", "record", "{dir}", "--grandchild"]);
        pidone.wait_file("child.ready");
        pidone.wait_file("grandchild.ready");
        for (signo, name) in [
            (libc::SIGHUP, "HUP"),
            (libc::SIGUSR1, "USR1"),
            (libc::SIGINT, "INT"),
        ] {
            pidone.signal(signo);
            pidone.wait_line("child.log", name);
            pidone.wait_line("grandchild.log", name);
        }
        pidone.signal(libc::SIGTERM);
        pidone.wait_line("grandchild.log", "TERM");
        let child_log = pidone.read("child.log");
        let out = pidone.finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert_eq!(child_log.lines().last(), Some("TERM"), "{how:?}");
    }
}

#[test]
fn single_child_mode_signals_only_the_child() {
    for how in BOTH {
        let pidone = start(how, &["-c", "--", "{w}", "record", "{dir}", "--grandchild"]);
        let grandchild = pidone.workload_pid("grandchild");
        pidone.wait_file("child.ready");
        pidone.signal(libc::SIGUSR1);
        pidone.wait_line("child.log", "USR1");
        // pidone's kill() is done by now. Had it gone to the group, the grandchild
        // would hold USR1 pending, and it takes pending signals lowest number first.
        // SAFETY: kill(2) on the grandchild we just waited for.
        unsafe { libc::kill(grandchild, libc::SIGUSR2) };
        pidone.wait_line("grandchild.log", "USR2");
        assert_eq!(pidone.read("grandchild.log"), "USR2\n", "{how:?}");
        // SAFETY: as above; the grandchild exits on TERM.
        unsafe { libc::kill(grandchild, libc::SIGTERM) };
        pidone.signal(libc::SIGTERM);
        assert_eq!(pidone.finish().code, Some(0), "{how:?}");
    }
}

#[test]
fn a_thousand_orphans_are_reaped_before_pidone_exits() {
    // The workload leaves 1000 orphans that land on pidone and exits 0 only once
    // /proc shows no process (zombie or not) left with pidone as its parent.
    for how in BOTH {
        let out = run(how, &["--", "{w}", "orphans", "1000"]);
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert_eq!(out.stdout.trim(), "all 1000 orphans reaped", "{how:?}");
    }
}

#[test]
fn without_subreaper_pidone_notes_that_orphans_escape_at_info_level() {
    let out = run(How::Plain, &["-v", "--", "{w}", "orphans", "3"]);
    assert!(
        out.stderr
            .contains("info: not running as PID 1 and not a subreaper"),
        "{}",
        out.stderr
    );
    // The orphans went to some other reaper, as the note says.
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn the_child_starts_with_an_empty_mask_and_default_dispositions() {
    // pidone inherits blocked and ignored signals (PIPE, as a Rust parent leaves
    // it; HUP, as nohup does); its child must see none of them.
    let blocked = [libc::SIGUSR1, libc::SIGTSTP, libc::SIGTERM];
    let ignored = [libc::SIGPIPE, libc::SIGHUP, libc::SIGINT];
    for how in [How::Pid1, How::Subreaper, How::Plain] {
        let args = ["--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"];
        let out = start_with(how, &args, |cmd| careless_parent(cmd, &blocked, &ignored)).finish();
        assert_eq!(out.code, Some(0), "{how:?}: {}", out.stderr);
        assert_eq!(
            out.stdout, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
            "{how:?}"
        );
    }
}

#[test]
fn an_ignored_sigchld_from_the_parent_loses_no_status() {
    // With SIGCHLD ignored the kernel reaps children itself: pidone must undo
    // it, or it never sees its workload exit (tini and catatonit hang here).
    for how in [How::Pid1, How::Subreaper, How::Plain] {
        let args = ["--", "sh", "-c", "exit 3"];
        let out = start_with(how, &args, |cmd| {
            careless_parent(cmd, &[], &[libc::SIGCHLD])
        })
        .finish();
        assert_eq!(out.code, Some(3), "{how:?}: {}", out.stderr);
    }
}

#[test]
fn a_signal_pending_before_pidone_starts_is_forwarded() {
    // TERM is pending (blocked) when pidone is exec'd: it must reach the workload,
    // which then ends (dying of it, 143, or logging it and exiting 0).
    let pidone = start_with(How::Subreaper, &["--", "{w}", "record", "{dir}"], |cmd| {
        // SAFETY: async-signal-safe calls only, before exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGTERM);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::raise(libc::SIGTERM);
                Ok(())
            });
        }
    });
    let out = pidone.finish();
    assert!(
        matches!(out.code, Some(0 | 143)),
        "{:?}: {}",
        out.code,
        out.stderr
    );
}

#[test]
fn pidone_sleeps_without_wakeups_while_the_child_sleeps() {
    for how in BOTH {
        let pidone = start(how, &["--", "sleep", "1000"]);
        let pid = pidone.pid();
        wait_for("the sleeping child", || {
            descendants(pid)
                .iter()
                .any(|&c| stat_field(c, 0).as_deref() == Some("S"))
        });
        // Once, soon after the start, pidone wakes to read the OOM counters; then
        // it sleeps with no deadline: nothing but a signal can wake it.
        wait_untimed_signal_wait(pid);
        let switches = || {
            status_number(pid, "voluntary_ctxt_switches")
                + status_number(pid, "nonvoluntary_ctxt_switches")
        };
        let before = switches();
        std::thread::sleep(std::time::Duration::from_secs(2));
        let after = switches();
        assert_eq!(
            after - before,
            0,
            "{how:?}: pidone woke up {} times in 2 s",
            after - before
        );
        pidone.signal(libc::SIGTERM);
        assert_eq!(pidone.finish().code, Some(143), "{how:?}");
    }
}

#[test]
fn pidone_keeps_no_inherited_descriptor_nor_working_directory() {
    let dir = TempDir::new();
    let file = fs::File::create(dir.path().join("held")).unwrap();
    let held = std::os::fd::AsRawFd::as_raw_fd(&file);
    let pidone = start_with(How::Subreaper, &["--", "sleep", "1000"], |cmd| {
        cmd.current_dir(dir.path());
        // SAFETY: dup2 between fork and exec, async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                (libc::dup2(held, 7) >= 0)
                    .then_some(())
                    .ok_or_else(std::io::Error::last_os_error)
            })
        };
    });
    let pid = pidone.pid();
    wait_for("sleep to start", || {
        descendants(pid)
            .iter()
            .any(|&c| stat_field(c, 0).as_deref() == Some("S"))
    });
    let child = descendants(pid)[0];
    assert!(
        fs::read_link(format!("/proc/{child}/fd/7")).is_ok(),
        "the workload inherits fd 7"
    );
    // Beyond 0, 1 and 2, pidone holds only its cgroups' files and what it
    // watches them with (inotify on v2; an eventfd and a signalfd on v1).
    wait_for("pidone to let go of fd 7 and its cwd", || {
        let inherited = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|fd| {
                fd.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .parse::<i32>()
                    .unwrap()
                    > 2
            })
            .filter(|fd| {
                let to = fs::read_link(fd).unwrap();
                !to.starts_with("/sys/fs/cgroup") && !to.starts_with("anon_inode:")
            })
            .count();
        inherited == 0
            && fs::read_link(format!("/proc/{pid}/cwd")).unwrap() == std::path::Path::new("/")
    });
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
        std::path::Path::new("/dev/null")
    );
    pidone.signal(libc::SIGTERM);
    assert_eq!(pidone.finish().code, Some(143));
}

#[test]
fn arguments_after_the_command_belong_to_it() {
    for args in [
        &["echo", "-c", "-v", "--help"][..],
        &["-v", "--", "echo", "-c", "-v", "--help"],
    ] {
        let out = run(How::Subreaper, args);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, "-c -v --help\n");
    }
}

#[test]
fn usage_errors_exit_1_with_one_line_like_the_peers() {
    for (args, expect) in [
        (
            &["--bogus", "true"][..],
            "pidone: unexpected argument '--bogus' found",
        ),
        (&[][..], "pidone: no command given"),
        (&["-s"][..], "pidone: no command given"),
    ] {
        let out = run(How::Plain, args);
        assert_eq!(out.code, Some(1), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with(expect), "{args:?}: {}", out.stderr);
    }
    let help = run(How::Plain, &["--help"]);
    assert_eq!(help.code, Some(0));
    assert!(
        help.stdout.contains("--subreaper") && help.stdout.contains("Exit status"),
        "{}",
        help.stdout
    );
    let version = run(How::Plain, &["--version"]);
    assert_eq!(
        (version.code, version.stdout.starts_with("pidone ")),
        (Some(0), true)
    );
}

#[test]
fn a_dropped_signal_named_elsewhere_is_a_usage_error() {
    for (args, expect) in [
        (
            &["-r", "USR1:0", "--restart-signal", "USR1", "--", "true"][..],
            "pidone: -r USR1:0 drops the signal that --restart-signal names",
        ),
        (
            &["-r", "TERM:0", "--stop-signals", "TERM,INT", "--", "true"],
            "pidone: -r TERM:0 drops the signal that --stop-signals names",
        ),
    ] {
        let out = run(How::Plain, args);
        assert_eq!(out.code, Some(1), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with(expect), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn a_bad_value_is_escaped_into_one_line() {
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 5] = [
        (&["-p", "\u{1b}[31mX"], None, "'\\u{1b}[31mX'"),
        (&[], Some(("PIDONE_VERBOSITY", "a\nb")), "'a\\nb'"),
        (&[], Some(("TINI_VERBOSITY", "1\n2")), "'1\\n2'"),
        (&[], Some(("TINI_SUBREAPER", "\u{1b}[0m")), "'\\u{1b}[0m'"),
        (&[], Some(("DUMB_INIT_SETSID", "x\ny")), "'x\\ny'"),
    ];
    for (args, env, expect) in cases {
        let mut all = args.to_vec();
        all.extend(["--", "true"]);
        let mut cmd = command(How::Plain, &all);
        if let Some((name, value)) = env {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?} {env:?}: {stderr}");
        assert!(
            !stderr.trim_end().contains(|c: char| c.is_control()),
            "{stderr:?}"
        );
        assert!(stderr.contains(expect), "{args:?} {env:?}: {stderr}");
    }
}

#[test]
fn fork_failure_names_the_process_limit() {
    // A pids cgroup that holds pidone and allows nothing more: fork() gets EAGAIN.
    let root = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| {
            p.join("cgroup.procs").exists() && (p.join("pids.max").exists() || p.ends_with("pids"))
        })
        .expect("a pids cgroup hierarchy (cgroup v1 pids controller or v2)");
    let group = root.join(format!("pidone-test-{}", std::process::id()));
    fs::create_dir_all(&group).unwrap();
    fs::write(group.join("pids.max"), "1").unwrap();
    let procs = std::ffi::CString::new(group.join("cgroup.procs").to_str().unwrap()).unwrap();
    let out = start_with(How::Subreaper, &["--", "true"], |cmd| {
        // SAFETY: open/write/close are async-signal-safe; "0" moves the writer itself.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                let ok = fd >= 0 && libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                libc::close(fd);
                ok.then_some(()).ok_or_else(std::io::Error::last_os_error)
            })
        };
    })
    .finish();
    let _ = fs::remove_dir(&group);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("pidone: cannot fork: Resource temporarily unavailable")
            && out.stderr.contains("pids.max"),
        "{}",
        out.stderr
    );
}
