//! Log lines on stderr, each prefixed `pidone:`. Quiet unless something is wrong
//! (warnings and errors); `-v` adds info, `-vv` debug, `-vvv` trace; `RUST_LOG`
//! overrides. Nothing here is called from signal context: pidone has none.

use log::{Level, LevelFilter};
use std::io::Write;

pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
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
