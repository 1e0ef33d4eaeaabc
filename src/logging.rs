//! Log lines on stderr, each prefixed `pidone:`. Quiet unless something is wrong
//! (warnings and errors); the level comes from `cli` (-v, PIDONE_VERBOSITY,
//! TINI_VERBOSITY) and `RUST_LOG` overrides it. Nothing here runs in signal
//! context: pidone has none.
//!
//! stderr is usually a pipe to a log collector, shared with the workload, and a
//! collector can stall or go away: every line goes through a `sink::Sink`, so a
//! line that cannot be written at once is dropped, never waited for. pidone
//! counts what it dropped and says so in front of the next line that gets
//! through; once stderr is gone (a broken pipe) it stays quiet.

use crate::sink::{PIPE_BUF, Sink, Written};
use log::{Level, LevelFilter};
use std::io::Write;
use std::sync::Mutex;

/// pidone's stderr, and the lines it could not take.
struct Stderr {
    sink: Sink,
    dropped: u64,
}

static STDERR: Mutex<Stderr> = Mutex::new(Stderr {
    sink: Sink::new(libc::STDERR_FILENO),
    dropped: 0,
});

/// Writes one line (with its newline) to stderr now or never; at most PIPE_BUF
/// bytes of it, so that it is never mixed with the workload's output.
pub fn write_line(line: &[u8]) {
    let mut stderr = STDERR.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = Vec::with_capacity(line.len() + 80);
    if stderr.dropped > 0 {
        let _ = writeln!(
            text,
            "pidone: warning: {} log line(s) dropped: stderr was not writable",
            stderr.dropped
        );
    }
    text.extend_from_slice(line);
    if text.len() > PIPE_BUF {
        text.truncate(PIPE_BUF - 1);
        text.push(b'\n');
    }
    match stderr.sink.write(&text) {
        Written::All | Written::Partly(_) => stderr.dropped = 0,
        Written::Blocked => stderr.dropped += 1,
        Written::Gone => {}
    }
}

/// The log's own descriptor (if it opened one) is about to be closed with every
/// other descriptor above stderr: forget it, the next line opens a new one.
pub fn forget_descriptor() {
    STDERR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .sink
        .forget();
}

/// env_logger's output: each formatted record, whole, to `write_line`.
struct Lines;

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_line(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init(level: LevelFilter) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    builder.target(env_logger::Target::Pipe(Box::new(Lines)));
    builder.format(|buf, record| {
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        writeln!(buf, "pidone: {level}: {}", record.args())
    });
    let _ = builder.try_init();
}
