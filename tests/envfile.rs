//! `--env-file PATH`: the variables of a foreman `.env` file reach the workload
//! and every service; a bad line is an error naming file:line, before anything
//! starts.

mod common;

use common::*;
use std::fs;

const ENV: &str = "# settings\n\
    \n\
    PLAIN=a b # kept\n\
    SINGLE='x \"y\"'\n\
    DOUBLE=\"one\\ntwo \\\"q\\\"\"\n\
    HOME=/srv\n";

fn env_of(out: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    let at = out.find(&format!("\n{prefix}")).map(|i| i + 1);
    let at = at.or_else(|| out.starts_with(&prefix).then_some(0))?;
    let rest = &out[at + prefix.len()..];
    Some(rest.lines().next().unwrap_or("").to_owned())
}

#[test]
fn the_workload_and_every_service_get_the_variables() {
    let dir = TempDir::new();
    let path = dir.path().join(".env");
    fs::write(&path, ENV).expect("write .env");
    let path = path.to_str().expect("utf-8");
    let single = start_with(How::Pid1, &["--env-file", path, "--", "env"], |c| {
        c.env("HOME", "/root");
    })
    .finish();
    let services = start_procfile(How::Pid1, "a: env\n", &["--env-file", path]).finish();
    for run in [single, services] {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let out = &run.stdout;
        assert_eq!(env_of(out, "PLAIN").as_deref(), Some("a b # kept"), "{out}");
        assert_eq!(env_of(out, "SINGLE").as_deref(), Some("x \"y\""));
        // A newline in the value: `env` prints it as is.
        assert!(out.contains("DOUBLE=one\ntwo \"q\"\n"), "{out}");
        assert_eq!(
            env_of(out, "HOME").as_deref(),
            Some("/srv"),
            "the file wins"
        );
    }
}

#[test]
fn a_bad_line_is_an_error_with_its_file_and_line() {
    let dir = TempDir::new();
    let path = dir.path().join(".env");
    fs::write(&path, "A=1\n# fine\nB = 2\n").expect("write .env");
    let started = dir.path().join("started");
    let run = run(
        How::Pid1,
        &[
            "--env-file",
            path.to_str().expect("utf-8"),
            "--",
            "touch",
            started.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(run.code, Some(1));
    let want = format!(
        "pidone: {}:3: 'B ' is not a variable name (letters, digits, _; no spaces around =)",
        path.display()
    );
    assert_eq!(run.stderr.trim_end(), want);
    assert!(!started.exists(), "the workload started");
}
