//! The command line and its environment variables into a `Config` (nothing
//! runs). The input is NUL-separated items: `NAME=value` for one of pidone's,
//! tini's or dumb-init's variables sets it, anything else is an argument.
//! Checked: no panic, every error is one line without control characters, and
//! the `--check` plan of what parses has no control character but its newlines.
//! Left out: what prints and exits (`--help`, `--version`, `--license`) and
//! `--procfile` (a file read: the procfile target fuzzes the parser).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

const VARIABLES: [&str; 27] = [
    "PIDONE_SUBREAPER",
    "PIDONE_PDEATHSIG",
    "PIDONE_VERBOSITY",
    "PIDONE_WARN_ON_REAP",
    "PIDONE_PROCESS_GROUP",
    "PIDONE_EXPECT_EXIT",
    "PIDONE_SINGLE_CHILD",
    "PIDONE_REWRITE",
    "PIDONE_PAUSE",
    "PIDONE_GRACE_PERIOD",
    "PIDONE_WAIT_ALL",
    "PIDONE_STOP_DELAY",
    "PIDONE_STOP_SIGNALS",
    "PIDONE_RESTART",
    "PIDONE_RESTART_DELAY",
    "PIDONE_RESTART_MAX_DELAY",
    "PIDONE_MAX_RESTARTS",
    "PIDONE_RESTART_SIGNAL",
    "PIDONE_PIDFILE",
    "PIDONE_OOM_SCORE_ADJ",
    "PIDONE_PROCFILE",
    "PIDONE_PREFIX",
    "PIDONE_TERMINATION_LOG",
    "TINI_SUBREAPER",
    "TINI_VERBOSITY",
    "TINI_KILL_PROCESS_GROUP",
    "DUMB_INIT_SETSID",
];

/// An argument that would print and exit, or read a file.
fn excluded(arg: &[u8]) -> bool {
    let long = ["--help", "--version", "--license", "--procfile"];
    if long.iter().any(|l| arg.starts_with(l.as_bytes())) {
        return true;
    }
    // A cluster of short options (`-sh`), but not `--`.
    arg.starts_with(b"-") && !arg.starts_with(b"--") && arg.iter().any(|b| b"hVlL".contains(b))
}

fuzz_target!(|data: &[u8]| {
    let mut args = vec![OsString::from("pidone")];
    let mut env = Vec::new();
    for item in data.split(|&b| b == 0) {
        let var = VARIABLES.iter().find(|v| {
            item.strip_prefix(v.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
        });
        match var {
            Some(name) if *name != "PIDONE_PROCFILE" => {
                env.push((*name, OsString::from_vec(item[name.len() + 1..].to_vec())));
            }
            Some(_) => return,
            None if excluded(item) => return,
            None => args.push(OsString::from_vec(item.to_vec())),
        }
    }
    for name in VARIABLES {
        // SAFETY: the fuzzer runs this on one thread; nothing else reads the
        // environment meanwhile.
        unsafe { std::env::remove_var(name) };
    }
    for (name, value) in &env {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    match pidone::cli::parse(args) {
        Err(err) => {
            let text = err.to_string();
            assert!(!text.contains(|c: char| c.is_control()), "{text:?}");
            assert_eq!(err.exit_code(), 1, "{text}");
        }
        Ok(config) => {
            let plan = pidone::plan::render(&config);
            assert!(plan.ends_with('\n'), "{plan:?}");
            assert!(
                !plan.contains(|c: char| c.is_control() && c != '\n'),
                "{plan:?}"
            );
        }
    }
});
