//! The CPU cost of one limit event (issue 14): pidone as PID 1 in a fresh
//! cgroup v1 memory cgroup of 32 MiB (memsw too, swappiness 0) over
//! `examples/bench_oom.rs`, which starts `examples/hog.rs` children one at a
//! time, each OOM-killed, spaced so that each gives pidone's one line a second.
//! pidone's CPU time (schedstat) over the events, less its idle rate measured
//! just before on the same instance, per event; and the warning lines it wrote.
//! This is the v1 path (memory.oom_control through an eventfd); the v2 path
//! (inotify on memory.events) needs a v2 host. Skipped with a note without a
//! v1 memory hierarchy, or when the kernel refuses the cgroup.

use crate::HELPER_VAR;
use crate::figures::{Figure, Stats};
use crate::inits::Init;
use crate::options::Options;
use crate::process::{Prepared, Running, pipe};
use std::ffi::CString;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Between two hogs: more than pidone's one line per second per counter.
const INTERVAL_MS: u64 = 1500;
const LIMIT: &str = "33554432"; // 32 MiB

/// A memory cgroup made for the phase; dropping it kills what is left in it
/// and removes it.
struct MemoryCgroup {
    dir: PathBuf,
}

impl MemoryCgroup {
    fn new() -> Result<MemoryCgroup, String> {
        let top = Path::new("/sys/fs/cgroup/memory");
        if !top.join("cgroup.event_control").exists() {
            return Err("no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory".into());
        }
        let own = fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
                controllers
                    .split(',')
                    .any(|c| c == "memory")
                    .then(|| path.to_owned())
            })
            .unwrap_or_else(|| "/".to_owned());
        let dir = top
            .join(own.trim_start_matches('/'))
            .join(format!("pidone-bench-events.{}", std::process::id()));
        fs::create_dir(&dir)
            .map_err(|e| format!("the kernel refused to create {}: {e}", dir.display()))?;
        let group = MemoryCgroup { dir };
        let set = |file: &str, value: &str| {
            fs::write(group.dir.join(file), value)
                .map_err(|e| format!("the kernel refused {file} = {value}: {e}"))
        };
        set("memory.limit_in_bytes", LIMIT)?;
        // Without swap in the limit the hog would be swapped out instead of killed.
        if group.dir.join("memory.memsw.limit_in_bytes").exists() {
            set("memory.memsw.limit_in_bytes", LIMIT)?;
        }
        let _ = set("memory.swappiness", "0");
        Ok(group)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = fs::remove_dir(&self.dir) {
            if e.kind() == io::ErrorKind::NotFound || Instant::now() > deadline {
                if e.kind() != io::ErrorKind::NotFound {
                    eprintln!("compare: cannot remove {}: {e}", self.dir.display());
                }
                return;
            }
            let procs = fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill on a pid of our own cgroup, left by a failed round.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            sleep(Duration::from_millis(10));
        }
    }
}

/// One round's outcome.
struct Round {
    cpu_per_event_us: f64,
    lines: usize,
    first_line: Option<String>,
}

pub fn bench(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    let Some(pidone) = inits.iter().find(|i| i.name == "pidone") else {
        return Ok(vec![]);
    };
    eprintln!(
        "[events] CPU of one limit event: pidone as PID 1 in a 32 MiB v1 memory cgroup, \
         {} rounds of {} hogs OOM-killed {} ms apart",
        opts.event_rounds, opts.events, INTERVAL_MS
    );
    let mut cpu = Vec::new();
    let mut lines = Vec::new();
    for _ in 0..opts.event_rounds {
        let group = match MemoryCgroup::new() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("note: limit events skipped: {e}");
                return Ok(vec![]);
            }
        };
        // The OOM killer chooses its victim: now and then it is the workload
        // that starts the hogs, and that round has nothing to say.
        let round = match round(opts, pidone, &group) {
            Ok(round) => round,
            Err(e) => {
                eprintln!("note: a limit-events round failed, left out: {e}");
                continue;
            }
        };
        if let Some(line) = &round.first_line {
            eprintln!("  first event line: {line}");
        }
        cpu.push(round.cpu_per_event_us);
        lines.push(round.lines as f64 / opts.events as f64);
    }
    if cpu.is_empty() {
        return Ok(vec![]);
    }
    let mut fig = Figure::new("event_cpu_us", "init CPU per limit event, v1 eventfd (µs)");
    fig.values.push(("pidone", Stats::of(&cpu)));
    let mut fl = Figure::new("event_lines", "warning lines per OOM kill (v1)");
    fl.info = true;
    fl.lower_is_better = false;
    fl.values.push(("pidone", Stats::of(&lines)));
    Ok(vec![fig, fl])
}

fn round(opts: &Options, init: &Init, group: &MemoryCgroup) -> Result<Round, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let exe = exe.to_string_lossy().into_owned();
    let workload = [
        exe.clone(),
        opts.events.to_string(),
        INTERVAL_MS.to_string(),
        exe,
        "512".into(),
    ];
    let mut cmd = Prepared::for_init(init, &workload)?;
    cmd.set_env(HELPER_VAR, "bench_oom")?;
    let procs = group.dir.join("cgroup.procs");
    cmd.cgroup_procs =
        Some(CString::new(procs.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?);
    let (err_r, err_w) = pipe().map_err(|e| e.to_string())?;
    let mut r = Running::spawn(init, &cmd, err_w.as_raw_fd())?;
    drop(err_w);
    r.expect("ready", Duration::from_secs(10))?;
    // pidone sets up its watch at its first wakeup, 10 ms after the start.
    sleep(Duration::from_millis(300));
    let idle = Duration::from_secs(if opts.quick { 2 } else { 5 });
    let (c0, t0) = (r.cpu_ns()?, Instant::now());
    sleep(idle);
    let (c1, t1) = (r.cpu_ns()?, Instant::now());
    let idle_rate = (c1 - c0) as f64 / (t1 - t0).as_secs_f64();
    let go = r.input.as_ref().map(AsRawFd::as_raw_fd).unwrap_or(-1);
    // SAFETY: write of a live two-byte buffer to our pipe.
    if unsafe { libc::write(go, b"g\n".as_ptr().cast(), 2) } != 2 {
        return Err(format!("{}: cannot start the hogs", init.name));
    }
    let (c2, t2) = (r.cpu_ns()?, Instant::now());
    let limit = Duration::from_secs(30) + Duration::from_millis(INTERVAL_MS) * opts.events as u32;
    let deadline = Instant::now() + limit;
    let done = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = r
            .out
            .next(left)
            .map_err(|e| format!("{}: waiting for 'done': {e}", init.name))?;
        if line.starts_with("done ") {
            break line;
        }
    };
    let (c3, t3) = (r.cpu_ns()?, Instant::now());
    let killed: usize = done[5..].trim().parse().unwrap_or(0);
    if killed != opts.events {
        return Err(format!(
            "{}: {killed} of {} hogs were OOM-killed",
            init.name, opts.events
        ));
    }
    let used = (c3 - c2) as f64 - idle_rate * (t3 - t2).as_secs_f64();
    r.stop(true)?;
    let stderr = read_all(err_r);
    // The death line at the TERM that ends the round is not an event line.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning:") && !l.contains(" died after "))
        .collect();
    Ok(Round {
        cpu_per_event_us: used / 1e3 / opts.events as f64,
        lines: warnings.len(),
        first_line: warnings.first().map(|l| l.to_string()),
    })
}

/// What is left in a pipe whose writers are all gone.
fn read_all(fd: OwnedFd) -> String {
    let mut text = String::new();
    let _ = fs::File::from(fd).read_to_string(&mut text);
    text
}
