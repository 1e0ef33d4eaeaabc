//! The command line and its environment variables, turned into a `Config`.
//! Everything after the command belongs to the command, even `-v` or `--help`.

use crate::error::Error;
use clap::Parser;
use clap::builder::BoolishValueParser;
use std::ffi::OsString;

/// What pidone was asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The workload: program and arguments.
    pub command: Vec<OsString>,
    pub subreaper: bool,
    pub single_child: bool,
    pub verbosity: u8,
    pub warn_on_reap: bool,
}

const USAGE: &str = "pidone [OPTIONS] [--] COMMAND [ARG]...";

const AFTER_HELP: &str = "\
Environment:
  PIDONE_SUBREAPER=1    same as --subreaper (1/0, true/false, yes/no, on/off)
  RUST_LOG=LEVEL        log filter (error, warn, info, debug, trace); overrides -v

Exit status:
  the workload's exit code, or 128+N when signal N killed it;
  126 the command was found but cannot be executed; 127 it was not found;
  2 usage error; 1 pidone itself failed (e.g. fork: process limit reached).";

#[derive(Parser, Debug)]
#[command(
    name = "pidone",
    version,
    override_usage = USAGE,
    about = "A small PID 1 for containers: runs COMMAND, forwards signals to it, reaps zombies, \
             exits with its status.",
    after_help = AFTER_HELP
)]
struct Args {
    /// Register as a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of the
    /// workload are re-parented to pidone and reaped even when it is not PID 1.
    #[arg(short = 's', long, env = "PIDONE_SUBREAPER", value_parser = BoolishValueParser::new(), num_args = 0, default_missing_value = "true", default_value = "false")]
    subreaper: bool,

    /// Run the child in pidone's own session and forward signals to the child
    /// only, not to its process group (dumb-init's -c).
    #[arg(short = 'c', long)]
    single_child: bool,

    /// Log more: -v info, -vv debug, -vvv trace. Default: warnings and errors only.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,

    /// The program to run and its arguments.
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<OsString>,
}

/// Parses the arguments (with the program name first). `--help` and `--version`
/// print and exit 0 here; any usage error becomes `Error::Usage` (exit 2).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Config, Error> {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if e.use_stderr() => return Err(usage(&e)),
        Err(e) => e.exit(), // --help, --version: print and exit 0
    };
    if args.command.is_empty() {
        return Err(Error::Usage(format!("no command given (usage: {USAGE})")));
    }
    Ok(Config {
        command: args.command,
        subreaper: args.subreaper,
        single_child: args.single_child,
        verbosity: args.verbose,
        warn_on_reap: false,
    })
}

/// clap's error as one line: its first line, without the `error: ` prefix.
fn usage(e: &clap::Error) -> Error {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    Error::Usage(format!("{first} (see 'pidone --help')"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Config, Error> {
        parse(
            std::iter::once("pidone")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    fn command(config: &Config) -> Vec<&str> {
        config.command.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn flags_after_the_command_belong_to_it() {
        let config = parse_str(&["-s", "ls", "-l", "-v", "--help"]).unwrap();
        assert!(config.subreaper);
        assert_eq!(config.verbosity, 0);
        assert_eq!(command(&config), ["ls", "-l", "-v", "--help"]);
        let config = parse_str(&["-vv", "--", "-weird", "-c"]).unwrap();
        assert_eq!(
            (config.verbosity, command(&config)),
            (2, vec!["-weird", "-c"])
        );
    }

    #[test]
    fn unknown_flags_and_no_command_are_usage_errors() {
        let err = parse_str(&["--bogus", "true"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("'--bogus'"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        let err = parse_str(&["-s"]).unwrap_err();
        assert!(err.to_string().starts_with("no command given"), "{err}");
    }
}
