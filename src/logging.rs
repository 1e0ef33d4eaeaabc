//! Log lines on stderr, each prefixed `pidone:`. Quiet unless something is wrong
//! (warnings and errors); the level comes from `cli` (-v, PIDONE_VERBOSITY,
//! TINI_VERBOSITY) and `RUST_LOG` overrides it. Nothing here runs in signal
//! context: pidone has none.

use log::{Level, LevelFilter};
use std::io::Write;

pub fn init(level: LevelFilter) {
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
