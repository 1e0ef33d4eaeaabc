//! Benchmark helper: the zombie storm. It leaves N orphans on its init (an
//! intermediate process forks them and exits), says `armed PID` on stdout (PID as
//! the bench's /proc sees it, so the bench can tell it from the orphans), and on
//! the first byte read from stdin lets them all exit at once. It exits when stdin
//! reaches its end.
//!
//! ```text
//! bench_orphans N
//! ```

use std::io::{Read, Write};
use std::process::exit;

pub fn main() {
    let Some(n) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    else {
        die("usage: bench_orphans N")
    };
    let mut gate = [0i32; 2];
    // SAFETY: pipe(2) fills a live two-int array.
    if unsafe { libc::pipe(gate.as_mut_ptr()) } != 0 {
        die("cannot create a pipe");
    }
    let [gate_r, gate_w] = gate;
    // SAFETY: single-threaded; the children below only make raw syscalls and _exit.
    let intermediate = unsafe { libc::fork() };
    if intermediate < 0 {
        die("cannot fork");
    }
    if intermediate == 0 {
        for _ in 0..n {
            // SAFETY: as above.
            match unsafe { libc::fork() } {
                0 => unsafe {
                    // The gate opens (read returns 0) once every write end is closed.
                    libc::close(gate_w);
                    let mut byte = 0u8;
                    libc::read(gate_r, (&mut byte as *mut u8).cast(), 1);
                    libc::_exit(0)
                },
                // SAFETY: _exit in the intermediate; its orphans stay blocked on the gate.
                pid if pid < 0 => unsafe { libc::_exit(2) },
                _ => {}
            }
        }
        // SAFETY: as above.
        unsafe { libc::_exit(0) }
    }
    let mut status = 0;
    // SAFETY: waitpid on our own child into a live local.
    unsafe { libc::waitpid(intermediate, &mut status, 0) };
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        die("cannot fork the orphans (process limit reached?)");
    }
    // /proc/self names us as the /proc mount's PID namespace sees us.
    let me = std::fs::read_link("/proc/self")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    let mut out = std::io::stdout();
    if writeln!(out, "armed {me}")
        .and_then(|()| out.flush())
        .is_err()
    {
        die("cannot write to stdout");
    }
    let mut stdin = std::io::stdin();
    let mut byte = [0u8; 1];
    let _ = stdin.read(&mut byte);
    // SAFETY: closing our own descriptor: the last write end of the gate.
    unsafe { libc::close(gate_w) };
    let _ = stdin.read_to_end(&mut Vec::new());
}

fn die(msg: &str) -> ! {
    eprintln!("bench_orphans: {msg}");
    exit(100)
}
