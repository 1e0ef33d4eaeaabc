//! A workload that eats memory until the kernel stops it, for the OOM tests.
//!
//! ```text
//! hog [--on-usr1] [MAX_MIB]    allocate and touch memory 1 MiB at a time; exit 1
//!                              after MAX_MIB (default 4096) if nothing killed it
//!                              first; with --on-usr1, only once SIGUSR1 arrives
//! ```

use std::process::exit;

pub fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let on_usr1 = args.first().is_some_and(|a| a == "--on-usr1");
    if on_usr1 {
        args.remove(0);
    }
    let max: usize = match args.first().map(|a| a.parse()) {
        None => 4096,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: hog [--on-usr1] [MAX_MIB]");
            exit(100)
        }
    };
    if on_usr1 {
        wait_for_usr1();
    }
    const MIB: usize = 1 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..max {
        // Writing every page makes the kernel really back (and charge) it.
        let mut chunk = vec![0u8; MIB];
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        held.push(std::hint::black_box(chunk));
    }
    eprintln!("hog: allocated {} MiB and nothing stopped me", held.len());
    exit(1)
}

/// Blocks SIGUSR1 and waits for it (in rt_sigtimedwait, which a test can see).
fn wait_for_usr1() {
    // SAFETY: a zeroed sigset_t is valid storage for sigemptyset; the calls only
    // touch that local set and this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut signo = 0;
        libc::sigwait(&set, &mut signo);
    }
}
