//! The relay's throughput: lines per second that a supervisor (pidone
//! `--prefix`, honcho) copies from its services' output to its own stdout,
//! read by the bench.

use super::instance::{Instance, Start};
use super::peers::{Mode, Service, Supervisor};
use crate::process::pipe;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Lines per second that `sup` relays from `writers`, each writing `lines`
/// lines at once: counted on the supervisor's stdout from the first relayed
/// line to the last.
pub fn rate(
    sup: &Supervisor,
    writers: &[Service],
    dir: &Path,
    lines: usize,
) -> Result<f64, String> {
    let (out_r, out_w) = pipe().map_err(|e| e.to_string())?;
    let inst = match Instance::start(sup, dir, writers, Mode::Relay, &out_w) {
        Ok((inst, _)) => inst,
        Err(Start::Refused(s) | Start::Failed(s)) => return Err(format!("{}: {s}", sup.name)),
    };
    drop(out_w);
    let want = lines * writers.len();
    // The rate runs from the first chunk read to the last: the first chunk's
    // lines arrived before the clock started.
    let (mut seen, mut first, mut last, mut before) = (0, None, Instant::now(), 0);
    let mut partial = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen < want {
        if Instant::now() > deadline {
            return Err(format!("{}: {seen} of {want} lines within 300 s", sup.name));
        }
        let mut pfd = libc::pollfd {
            fd: out_r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 1000) } <= 0 {
            continue;
        }
        // SAFETY: read into a live buffer of its length.
        let n = unsafe { libc::read(out_r.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            return Err(format!(
                "{}: its stdout closed after {seen} of {want} lines",
                sup.name
            ));
        }
        let now = Instant::now();
        partial.extend_from_slice(&chunk[..n as usize]);
        let end = partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |e| e + 1);
        let got = partial[..end]
            .split(|&b| b == b'\n')
            .filter(|l| l.windows(11).any(|w| w == b"bench-line "))
            .count();
        partial.drain(..end);
        if got > 0 {
            if first.is_none() {
                first = Some(now);
                before = got;
            }
            last = now;
            seen += got;
        }
    }
    inst.stop();
    let took = last.duration_since(first.unwrap_or(last)).as_secs_f64();
    Ok(if took > 0.0 {
        (want - before) as f64 / took
    } else {
        f64::NAN
    })
}
