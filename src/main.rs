//! The pidone binary: take the signals, parse, configure logging, run, exit.

use std::process::exit;

fn main() {
    let signals = pidone::take_signals();
    let config = match pidone::cli::parse(std::env::args_os()) {
        Ok(config) => config,
        Err(e) => fail(e),
    };
    pidone::logging::init(config.log_level);
    match signals.and_then(|signals| pidone::run(&config, signals)) {
        Ok(code) => exit(code),
        Err(e) => fail(e),
    }
}

fn fail(e: pidone::Error) -> ! {
    eprintln!("pidone: {e}");
    exit(e.exit_code())
}
