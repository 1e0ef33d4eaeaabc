//! The second pidone instance of issue 14, `pidone-sigtimedwait`: the same
//! binary, run in a mount namespace where an empty tmpfs covers /sys/fs/cgroup,
//! so that it finds no cgroup file to watch and waits in plain `sigtimedwait`,
//! while `pidone` on a cgroup v1 host watches memory.oom_control through an
//! eventfd and so waits in `epoll_pwait` over a signalfd and that eventfd. Both run
//! side by side in every phase, interleaved like any init.
//!
//! The namespace is made once, by a short-lived child (`unshare(CLONE_NEWNS)`,
//! mounts made private, the tmpfs), and kept by an open /proc/PID/ns/mnt
//! descriptor; each instance's child enters it with `setns` between its fork and
//! its exec, and writes how long that took to a shared page, which start+exit
//! leaves out. Nothing of it is left when the bench exits: the namespace dies
//! with its last descriptor.

use crate::inits::Init;
use crate::options::Options;
use crate::process::{Running, kill_and_reap, pipe, proc_file};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

pub const NAME: &str = "pidone-sigtimedwait";

/// The namespace and the shared page for the second instance, when the bench
/// runs on a cgroup v1 memory hierarchy (pidone's eventfd path) and can make
/// it; a note says why not otherwise.
pub fn wanted(opts: &Options) -> Option<(RawFd, *mut u64)> {
    if opts.no_sigtimedwait {
        return None;
    }
    if !Path::new("/sys/fs/cgroup/memory/cgroup.event_control").exists() {
        eprintln!(
            "note: no cgroup v1 memory hierarchy: pidone waits in sigtimedwait already, \
             no {NAME} instance"
        );
        return None;
    }
    match namespace() {
        Ok(ns) => Some(ns),
        Err(e) => {
            eprintln!("note: cannot make the mount namespace for {NAME}: {e}");
            None
        }
    }
}

fn namespace() -> Result<(RawFd, *mut u64), String> {
    // SAFETY: a fresh anonymous shared mapping of one page, checked below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(format!("mmap: {}", io::Error::last_os_error()));
    }
    let (ready_r, ready_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let (hold_r, hold_w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: fork of this single-threaded bench; the child makes raw syscalls only.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: unshare, mount, write, read and _exit on live arguments.
        unsafe {
            let ok = libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                && libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/sys/fs/cgroup".as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"size=4k".as_ptr().cast(),
                ) == 0;
            let byte = [u8::from(ok)];
            libc::write(ready_w.as_raw_fd(), byte.as_ptr().cast(), 1);
            // Held until the bench has opened the namespace (its end of the pipe closes).
            libc::read(hold_r.as_raw_fd(), byte.as_ptr() as *mut _, 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(hold_r);
    let mut byte = [0u8];
    // SAFETY: read into a live one-byte buffer.
    let n = unsafe { libc::read(ready_r.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
    let ns = if n == 1 && byte[0] == 1 {
        fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| format!("cannot open /proc/{pid}/ns/mnt: {e}"))
    } else {
        Err("unshare(CLONE_NEWNS) or the tmpfs over /sys/fs/cgroup failed".into())
    };
    drop(hold_w);
    kill_and_reap(pid);
    // The descriptor (close-on-exec) and the page live as long as the bench.
    Ok((ns?.into_raw_fd(), page.cast()))
}

/// The syscall a process sleeps in, from /proc/PID/syscall: (number, name).
fn sleeping_in(pid: libc::pid_t) -> (String, &'static str) {
    let text = proc_file(pid, "syscall").unwrap_or_default();
    let nr = text.split_whitespace().next().unwrap_or("?").to_string();
    let name = match nr.as_str() {
        "128" => "rt_sigtimedwait",
        "271" => "ppoll",
        "7" => "poll",
        "232" => "epoll_wait",
        "281" => "epoll_pwait",
        _ => "?",
    };
    (nr, name)
}

/// Where `pidone` and `pidone-sigtimedwait` wait, 200 ms after their workload
/// started (after pidone's first wakeup, at 10 ms, that sets up the watch), as
/// a line for the results; `Err` when the second instance does not sleep in
/// rt_sigtimedwait (then it measures nothing apart).
pub fn check(inits: &[Init]) -> Result<Option<String>, String> {
    let pair: Vec<&Init> = inits
        .iter()
        .filter(|i| i.name == "pidone" || i.name == NAME)
        .collect();
    if pair.len() < 2 {
        return Ok(None);
    }
    let mut running = pair
        .iter()
        .map(|init| Running::start(init, "bench_sleeper", &[]))
        .collect::<Result<Vec<_>, _>>()?;
    for r in &mut running {
        r.expect("ready", Duration::from_secs(10))?;
    }
    sleep(Duration::from_millis(200));
    let mut parts = Vec::new();
    let mut wrong = None;
    for r in &running {
        let (nr, name) = sleeping_in(r.pid);
        if r.init.name == NAME && nr != "128" {
            wrong = Some(format!(
                "{NAME} sleeps in syscall {nr} ({name}), not rt_sigtimedwait"
            ));
        }
        parts.push(format!("{} sleeps in {name} (syscall {nr})", r.init.name));
    }
    for r in running {
        r.stop(true)?;
    }
    let line = parts.join("; ");
    eprintln!("wait points: {line}");
    match wrong {
        Some(e) => Err(e),
        None => Ok(Some(line)),
    }
}
