//! The pidone binary: take the signals, parse, configure logging, run, exit.
//!
//! `no_main`: the C library calls `main` below directly, without std's runtime
//! set-up, which costs ~43 000 start-up instructions and ~137 KB of the static
//! binary (it reads /proc/self/maps with sscanf for a stack guard,
//! installs a stack-overflow handler, ignores SIGPIPE). pidone needs none of it:
//! every signal is blocked before anything else runs, the child resets every
//! disposition, and a stack overflow still kills pidone (with SIGSEGV instead of
//! a message). The one part that matters, /dev/null on a closed 0, 1 or 2, is
//! done here. On linux-gnu `std::env::args_os` still works (glibc hands argc and
//! argv to std's `.init_array` hook, static builds included), and
//! `std::process::exit` still flushes stdout.

#![no_main]

use std::os::raw::{c_char, c_int};
use std::process::exit;

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let signals = pidone::take_signals();
    open_standard_fds();
    let config = match pidone::cli::parse(std::env::args_os()) {
        Ok(config) => config,
        Err(e) => fail(e),
    };
    pidone::logging::init(config.log_level);
    match signals.and_then(|signals| pidone::run(config, signals)) {
        Ok(code) => exit(code),
        Err(e) => fail(e),
    }
}

/// Opens /dev/null on each of 0, 1 and 2 that is closed, as std's runtime does,
/// so that no file pidone opens later takes that number and reaches the workload
/// as its stdin, stdout or stderr.
fn open_standard_fds() {
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) only queries a descriptor number.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a static NUL-terminated path; open takes the lowest free
            // number, which is `fd`: the ones below it are open by now.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// The one line of a fatal error, written as every log line is: never waited for.
fn fail(e: pidone::Error) -> ! {
    pidone::logging::write_line(format!("pidone: {e}\n").as_bytes());
    exit(e.exit_code())
}
