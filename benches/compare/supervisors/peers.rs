//! The supervisors under test and how each is configured: pidone `--procfile`,
//! supervisord (Debian `supervisor`), s6-svscan (Debian `s6`), runsvdir (Debian
//! `runit`) and honcho (PyPI). Each gets the same services, written in its own
//! configuration under a fresh directory, and runs as PID 1 of a new PID
//! namespace, as in a container. A peer that is not installed is skipped with
//! a note. Every peer restarts a crashed service at once where it can.

use crate::process::output_text;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The peers' names, as the figures show them.
pub const PEERS: [&str; 4] = ["supervisord", "s6", "runit", "honcho"];

/// The one command that installs every peer (benches/README.md says it too).
const INSTALL: &str = "apt-get install supervisor s6 runit; pip install honcho";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Pidone,
    Supervisord,
    S6,
    Runit,
    Honcho,
}

pub struct Supervisor {
    pub name: &'static str,
    kind: Kind,
    /// The program run (for honcho, the Python that imports it).
    program: String,
}

/// One service: its name and the command that runs it (the bench binary in a
/// helper role, chosen by the environment the supervisor passes on).
pub struct Service {
    pub name: String,
    pub argv: Vec<String>,
}

/// What the supervisor is set up for: supervising sleepers (restarts on), or
/// relaying the services' output with a prefix (pidone `--prefix`, honcho).
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Supervise,
    Relay,
}

/// pidone (at `pidone`) and the peers installed here; with `notes`, says which are not.
pub fn find(pidone: &str, notes: bool) -> Vec<Supervisor> {
    let mut list = vec![Supervisor {
        name: "pidone",
        kind: Kind::Pidone,
        program: pidone.into(),
    }];
    for (name, kind, path) in [
        ("supervisord", Kind::Supervisord, "/usr/bin/supervisord"),
        ("s6", Kind::S6, "/usr/bin/s6-svscan"),
        ("runit", Kind::Runit, "/usr/bin/runsvdir"),
    ] {
        if Path::new(path).exists() {
            list.push(Supervisor {
                name,
                kind,
                program: path.into(),
            });
        } else if notes {
            eprintln!("note: {path} is missing, {name} is skipped ({INSTALL})");
        }
    }
    match honcho_python() {
        Some(python) => list.push(Supervisor {
            name: "honcho",
            kind: Kind::Honcho,
            program: python,
        }),
        None if notes => {
            eprintln!("note: no python3 imports honcho, honcho is skipped ({INSTALL})")
        }
        None => {}
    }
    list
}

/// The Python interpreter that has honcho (`sys.executable`, so a pyenv shim
/// on PATH is resolved to the real interpreter and stays out of the timings).
fn honcho_python() -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import honcho, sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!path.is_empty()).then_some(path)
}

impl Supervisor {
    /// Whether it restarts a service that died (honcho stops them all instead,
    /// foreman's rule).
    pub fn restarts(&self) -> bool {
        self.kind != Kind::Honcho
    }

    /// Whether it can relay its services' output with a name prefix.
    pub fn relays(&self) -> bool {
        matches!(self.kind, Kind::Pidone | Kind::Honcho)
    }

    /// The version, as the package or the program says it.
    pub fn version(&self) -> String {
        let (program, args): (&str, &[&str]) = match self.kind {
            Kind::Pidone => return String::new(),
            Kind::Supervisord => ("dpkg-query", &["-W", "-f=${Version}", "supervisor"]),
            Kind::S6 => ("dpkg-query", &["-W", "-f=${Version}", "s6"]),
            Kind::Runit => ("dpkg-query", &["-W", "-f=${Version}", "runit"]),
            Kind::Honcho => (&self.program, &["-m", "honcho", "--version"]),
        };
        let text = output_text(program, args);
        let version = text.split_whitespace().last().unwrap_or("?");
        format!("{} {version}", self.name)
    }

    /// Writes the configuration of `services` into `dir` (made anew) and returns
    /// the command line that runs the supervisor over them.
    pub fn configure(
        &self,
        dir: &Path,
        services: &[Service],
        mode: Mode,
    ) -> Result<Vec<String>, String> {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let at = |p: &Path| p.to_string_lossy().into_owned();
        let mut argv = vec![self.program.clone()];
        match self.kind {
            Kind::Pidone => {
                let procfile = write_procfile(dir, services)?;
                argv.extend(["--procfile".into(), at(&procfile)]);
                if mode == Mode::Relay {
                    argv.push("--prefix".into());
                } else {
                    // At once: no back-off before the first restart.
                    argv.extend(["--restart", "always", "--restart-delay", "0"].map(String::from));
                }
            }
            Kind::Honcho => {
                let procfile = write_procfile(dir, services)?;
                argv.extend(["-m", "honcho", "start", "--no-colour", "-f"].map(String::from));
                argv.extend([at(&procfile), "-d".into(), at(dir)]);
            }
            Kind::Supervisord => {
                let conf = dir.join("supervisord.conf");
                write(&conf, &supervisord_conf(dir, services))?;
                argv.extend(["-n".into(), "-c".into(), at(&conf)]);
            }
            Kind::S6 | Kind::Runit => {
                let scan = dir.join("services");
                for s in services {
                    let sdir = scan.join(&s.name);
                    fs::create_dir_all(&sdir)
                        .map_err(|e| format!("cannot create {}: {e}", sdir.display()))?;
                    // `./run` is the service's program itself, no shell in between:
                    // both supervisors exec it without arguments.
                    let [program] = s.argv.as_slice() else {
                        return Err(format!("{}: a service with arguments", self.name));
                    };
                    symlink(program, sdir.join("run"))
                        .map_err(|e| format!("cannot link {}/run: {e}", sdir.display()))?;
                }
                // As in an image, where the service directory was written at
                // build time: runsvdir waits a second before it reads a
                // directory modified within the current second (a change may
                // be half done).
                let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
                fs::File::open(&scan)
                    .and_then(|d| d.set_modified(old))
                    .map_err(|e| format!("cannot date {} back: {e}", scan.display()))?;
                argv.push(at(&scan));
            }
        }
        Ok(argv)
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `name: command` per line, for pidone and honcho alike.
fn write_procfile(dir: &Path, services: &[Service]) -> Result<PathBuf, String> {
    let path = dir.join("Procfile");
    let text: String = services
        .iter()
        .map(|s| format!("{}: {}\n", s.name, s.argv.join(" ")))
        .collect();
    write(&path, &text)?;
    Ok(path)
}

/// supervisord in the foreground, its own log and the services' output to
/// /dev/null (the bench learns of a start through its notify FIFO), no control
/// socket (none is needed to supervise: the smallest supervisord), each
/// service restarted at once (`startsecs=0`: a service counts as started as
/// soon as it runs, so a crash is never taken for a failed start).
fn supervisord_conf(dir: &Path, services: &[Service]) -> String {
    let mut conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\n\
         pidfile={0}/supervisord.pid\nchildlogdir={0}\n",
        dir.display()
    );
    for s in services {
        conf.push_str(&format!(
            "\n[program:{}]\ncommand={}\nautorestart=true\nstartsecs=0\n\
             stdout_logfile=/dev/null\nstdout_logfile_maxbytes=0\n\
             stderr_logfile=/dev/null\nstderr_logfile_maxbytes=0\n",
            s.name,
            s.argv.join(" ")
        ));
    }
    conf
}
