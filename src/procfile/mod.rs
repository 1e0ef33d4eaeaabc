//! The Procfile parser: reads `name: command` lines (foreman's and honcho's
//! format) into the services the supervisor starts, each with the argv it execs.
//! Pure apart from the one file read; it neither starts nor checks the programs.
//!
//! # The format
//!
//! One service per line, `name: command`, starting at the line's first
//! character. Blank lines and lines whose first non-blank character is `#` are
//! ignored; the spaces and tabs around the name and around the command are not
//! part of them (other blanks, such as a no-break space, are, as in `sh`). Lines
//! end with LF or CRLF. A name is made of ASCII letters, digits, `_` and `-`, at
//! most 64 bytes (`MAX_NAME`), and no two services share one. The name ends at
//! the first `:`, so the command may contain more. A file holds at least one
//! service, at most 64, and at most 1 MiB of UTF-8 text: anything else is an
//! error naming the file and the line (`Procfile:3: ...`), never a partial
//! result, so bad input cannot make pidone allocate without bound. So is an
//! unterminated quote, a NUL byte (exec cannot pass one) or a lone CR in a command.
//!
//! An indented line (a space or a tab first) is never a service: it is an
//! option of the service above it, `key: value` (`options`). foreman and honcho
//! take only lines that start with a name, so they run such a file too. The
//! services' `after` must name services of the file and make no cycle.
//!
//! # Shell or no shell
//!
//! A command that is only words runs without a shell: pidone splits it as `sh`
//! would, honouring 'single quotes', "double quotes" and backslashes, and
//! executes the first word with the others as its arguments, so a `FROM scratch`
//! image needs no `/bin/sh`. A command that uses any other shell syntax outside
//! quotes (`$` or a backtick, even inside double quotes; `| & ; < > ( ) { }`; the
//! glob characters `* ? [`; `~` or `#` at the start of a word; a leading
//! `NAME=value`; or a first word that is a shell keyword or built-in such as
//! `exec`, `cd` or `if`) runs as `/bin/sh -c 'COMMAND'`, with the command exactly
//! as written. To pass such a character literally, quote it or put a backslash
//! before it: `echo '$HOME'` and `echo \*` need no shell.
//!
//! Why those: each one makes `sh -c` do more than split words, so a command
//! without any of them gets from pidone exactly the argv `sh -c` would have given
//! it. `{` and `}` group commands (`{ a; b; }`) and, when `/bin/sh` is bash, expand
//! `{a,b}`. A keyword (`if`, `while`, `!`) or a built-in (`exec`, `export`, `cd`,
//! `ulimit`, `command`, `read`, `wait`) is not a program that could be executed,
//! or is one that does not do what the shell's does. A newline cannot occur in
//! a command: it ends the service's line. What the shell would refuse at
//! start-up for its quoting is refused here, before anything starts: an
//! unterminated quote, `$( )`, `${ }` or backquote, with the quotes nested in
//! them (`echo "$("` is an error, `echo "$(echo '"')"` is not). The rest of the
//! grammar (a stray `)`, `;;`) is the shell's to report.
//!
//! The children: `words` (a command's words, or the verdict that it needs
//! `sh -c`), `options` (the indented `key: value` lines, and the start order).
//!
//! # What it does not do
//!
//! No continuation lines (a backslash at the end of a line is an error), no
//! `.env` file, no `PORT` variable per service as foreman sets, no concurrency
//! (`web=2`) syntax. It does not look for the programs: an exec failure is the
//! supervisor's to report, as for the single workload.

mod options;
mod words;

use crate::error::{describe, escape};
use nix::errno::Errno;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

pub use crate::config::Service;
pub use options::{KEYS, start_order};

/// Larger than any Procfile written by hand; what is past it is not a Procfile.
const MAX_SIZE: usize = 1 << 20;
/// Beyond what one container should run; also bounds the supervisor's tables.
const MAX_SERVICES: usize = 64;
/// The longest service name, in bytes: it prefixes every relayed line, which
/// must fit one PIPE_BUF write (`relay`).
pub const MAX_NAME: usize = 64;

/// Whether `name` can name a service: ASCII letters, digits, `_` and `-`,
/// at most `MAX_NAME` bytes.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Spaces and tabs: what `sh` separates words with, and all that is trimmed.
const BLANKS: [char; 2] = [' ', '\t'];

/// Reads and parses the Procfile at `path`. Errors are one line naming the file
/// and, for a parse error, the line number: `Procfile:3: ...`, or
/// `cannot read 'Procfile': No such file or directory`.
pub fn read(path: &Path) -> Result<Vec<Service>, String> {
    let name = escape(&path.display().to_string()).into_owned();
    let cannot = |err: std::io::Error| {
        let why = match err.raw_os_error() {
            Some(raw) => describe(Errno::from_raw(raw)),
            None => err.to_string(),
        };
        format!("cannot read '{name}': {why}")
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    // One byte past the limit tells a file at the limit from a larger one without
    // reading (or trusting the size of) a FIFO or a /proc file to its end.
    let mut bytes = Vec::new();
    file.take(MAX_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_SIZE {
        return Err(too_large(&name));
    }
    let text = std::str::from_utf8(&bytes).map_err(|err| {
        let valid = bytes.get(..err.valid_up_to()).unwrap_or_default();
        let number = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        format!("{name}:{number}: not valid UTF-8")
    })?;
    parse(&name, text)
}

/// Parses Procfile text; `name` is how the file is called in messages.
pub fn parse(name: &str, text: &str) -> Result<Vec<Service>, String> {
    if text.len() > MAX_SIZE {
        return Err(too_large(name));
    }
    // Some Windows editors start a UTF-8 file with a byte order mark: it is not
    // part of the first service's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut services: Vec<Service> = Vec::new();
    // For each service: its line number, and that of its `after` option.
    let mut lines: Vec<(usize, usize)> = Vec::new();
    // The option keys the last service was given.
    let mut seen: Vec<&'static str> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let at = |what: String| format!("{name}:{number}: {what}");
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // Trailing blanks are trimmed from the command alone (`trim_end`).
        let content = raw.trim_start_matches(BLANKS);
        if content.trim_end_matches(BLANKS).is_empty() || content.starts_with('#') {
            continue;
        }
        if raw.starts_with(BLANKS) {
            let Some(service) = services.last_mut() else {
                return Err(at(
                    "an indented line is an option of the service above it, and no service is above"
                        .into(),
                ));
            };
            let content = content.trim_end_matches(BLANKS);
            options::set(&mut service.options, &mut seen, content)
                .map_err(|why| at(format!("{why} (service '{}')", service.name)))?;
            let key = content.split(':').next().unwrap_or_default();
            if key.trim_end_matches(BLANKS) == "after"
                && let Some(last) = lines.last_mut()
            {
                last.1 = number;
            }
            continue;
        }
        let Some((left, right)) = content.split_once(':') else {
            return Err(at("expected 'name: command'".into()));
        };
        let service = left.trim_matches(BLANKS);
        // The escaped blank of `echo a\ ` stays: trimmed, the line would end
        // with a backslash.
        let command = trim_end(right.trim_start_matches(BLANKS));
        if service.is_empty() {
            return Err(at("no service name before ':'".into()));
        }
        if !valid_name(service) {
            let why = if service.len() > MAX_NAME {
                format!(
                    "a service name of {} bytes (at most {MAX_NAME})",
                    service.len()
                )
            } else {
                // Escaped: the name may hold control characters that would
                // garble the terminal the message is written to.
                format!(
                    "invalid service name '{}' (letters, digits, '_' and '-' only)",
                    escape(service)
                )
            };
            return Err(at(why));
        }
        if command.is_empty() {
            return Err(at(format!("no command for '{service}'")));
        }
        if let Some(first) = services.iter().position(|s| s.name == service) {
            return Err(at(format!(
                "duplicate service '{service}' (first on line {})",
                lines[first].0
            )));
        }
        if services.len() == MAX_SERVICES {
            return Err(at(format!("more than {MAX_SERVICES} services")));
        }
        // exec takes C strings: a NUL would cut an argument short, with or
        // without the shell.
        if command.contains('\0') {
            return Err(at("a NUL byte cannot be in an argument".into()));
        }
        // A lone CR is the line ending of old Mac files: the lines after it
        // would silently become arguments of this one.
        if command.contains('\r') {
            return Err(at(
                "carriage return inside the line (lines end with LF or CRLF)".into(),
            ));
        }
        let argv = match words::split(command).map_err(|why| at(why.into()))? {
            Some(words) => words.into_iter().map(OsString::from).collect(),
            None => ["/bin/sh", "-c", command]
                .into_iter()
                .map(OsString::from)
                .collect(),
        };
        services.push(Service {
            name: service.to_owned(),
            command: argv,
            line: command.to_owned(),
            options: Default::default(),
        });
        lines.push((number, 0));
        seen.clear();
    }
    if services.is_empty() {
        return Err(format!("{name}: no service"));
    }
    options::order(&services).map_err(|e| match e {
        options::OrderError::Unknown {
            service,
            name: unknown,
        } => format!(
            "{name}:{}: '{}' is after '{unknown}', which is no service",
            lines[service].1, services[service].name
        ),
        options::OrderError::Cycle(ring) => format!(
            "{name}:{}: a cycle in 'after': {}",
            lines[ring[0]].1,
            options::describe_cycle(&services, &ring)
        ),
    })?;
    Ok(services)
}

/// `text` without its trailing spaces and tabs, but for one that a backslash
/// escapes (an odd number of backslashes before it).
fn trim_end(text: &str) -> &str {
    let trimmed = text.trim_end_matches(BLANKS);
    let backslashes = trimmed.bytes().rev().take_while(|&b| b == b'\\').count();
    if backslashes % 2 == 1 && trimmed.len() < text.len() {
        &text[..trimmed.len() + 1]
    } else {
        trimmed
    }
}

fn too_large(name: &str) -> String {
    format!("{name}: larger than 1 MiB ({MAX_SIZE} bytes)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The argv of the only service of `procfile`.
    fn argv(procfile: &str) -> Vec<String> {
        let services = parse("Procfile", procfile).unwrap();
        assert_eq!(services.len(), 1, "{procfile}");
        services[0]
            .command
            .iter()
            .map(|w| w.to_str().unwrap().to_owned())
            .collect()
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    /// Whether the only command of `procfile` goes through `sh -c`, checking
    /// that the line it passes is the command as written.
    fn shell(procfile: &str) -> bool {
        let services = parse("Procfile", procfile).unwrap();
        let argv = argv(procfile);
        let through_sh = argv.len() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c";
        if through_sh {
            assert_eq!(argv[2], services[0].line);
        }
        through_sh
    }

    fn error(procfile: &str) -> String {
        parse("Procfile", procfile).unwrap_err()
    }

    #[test]
    fn real_procfiles() {
        let text = "web: nginx -g 'daemon off;'\nphp: php-fpm8.2 -F -y /etc/php/fpm.conf\n";
        let services = parse("Procfile", text).unwrap();
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].name, "web");
        assert_eq!(services[0].line, "nginx -g 'daemon off;'");
        assert_eq!(
            services[0].command,
            ["nginx", "-g", "daemon off;"].map(OsString::from)
        );
        assert_eq!(services[1].name, "php");
        assert_eq!(
            services[1].command,
            ["php-fpm8.2", "-F", "-y", "/etc/php/fpm.conf"].map(OsString::from)
        );

        let worker = "worker: node worker.js >> /var/log/w.log";
        assert_eq!(
            argv(worker),
            words(&["/bin/sh", "-c", "node worker.js >> /var/log/w.log"])
        );
        assert!(shell("web: bundle exec rails s -p $PORT"));
        assert!(shell(
            "release: ./manage.py migrate && ./manage.py collectstatic"
        ));
        assert!(!shell("web: gunicorn app:wsgi --bind 0.0.0.0:8000"));
        assert_eq!(
            argv("web: gunicorn app:wsgi --bind 0.0.0.0:8000"),
            words(&["gunicorn", "app:wsgi", "--bind", "0.0.0.0:8000"])
        );
    }

    #[test]
    fn names_comments_blank_lines_and_whitespace() {
        let text = "# services\n\n   \n\t# indented comment\nweb-1_A :   nginx -g 'daemon off;'   \n\
                    \n2: b\n";
        let services = parse("Procfile", text).unwrap();
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].name, "web-1_A");
        assert_eq!(services[0].line, "nginx -g 'daemon off;'");
        assert_eq!(services[1].name, "2");
        // The name ends at the first colon.
        let services = parse("Procfile", "web: a:b c:").unwrap();
        assert_eq!(services[0].command, ["a:b", "c:"].map(OsString::from));
        // No newline at the end of the file.
        assert_eq!(parse("Procfile", "a: b").unwrap()[0].name, "a");
        assert_eq!(
            parse("Procfile", "\u{feff}a: b").unwrap()[0].name,
            "a",
            "a byte order mark"
        );
    }

    #[test]
    fn only_spaces_and_tabs_are_trimmed() {
        // sh keeps these in words: so does pidone, at either end of the line.
        for blank in ['\u{a0}', '\u{85}', '\u{2028}', '\u{b}', '\u{c}'] {
            let text = format!("a: {blank}echo x{blank}\n");
            let services = parse("Procfile", &text).unwrap();
            assert_eq!(services[0].line, format!("{blank}echo x{blank}"));
            assert_eq!(
                services[0].command,
                [format!("{blank}echo"), format!("x{blank}")].map(OsString::from)
            );
        }
        // An escaped trailing blank is part of the last word.
        assert_eq!(argv("a: echo a\\ "), words(&["echo", "a "]));
        assert_eq!(argv("a: echo a\\  \t"), words(&["echo", "a "]));
        assert_eq!(argv("a: echo a\\\\  "), words(&["echo", "a\\"]));
        assert_eq!(
            parse("Procfile", "a: echo a\\ ").unwrap()[0].line,
            "echo a\\ "
        );
    }

    #[test]
    fn names_are_at_most_64_bytes() {
        let name = "n".repeat(MAX_NAME);
        assert_eq!(
            parse("Procfile", &format!("{name}: x")).unwrap()[0].name,
            name
        );
        assert_eq!(
            error(&format!("a: x\n{name}n: x")),
            "Procfile:2: a service name of 65 bytes (at most 64)"
        );
        assert_eq!(
            error(&format!("{}: x", "n".repeat(65_536))),
            "Procfile:1: a service name of 65536 bytes (at most 64)"
        );
        let after = format!("a: x\n  after: {name}n\n");
        assert!(error(&after).contains("invalid after"), "{}", error(&after));
    }

    #[test]
    fn crlf_line_endings() {
        let services = parse(
            "Procfile",
            "# x\r\nweb: nginx -g 'daemon off;'\r\n\r\nphp: php-fpm -F\r\n",
        )
        .unwrap();
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].line, "nginx -g 'daemon off;'");
        assert_eq!(
            services[0].command,
            ["nginx", "-g", "daemon off;"].map(OsString::from)
        );
        assert_eq!(services[1].command, ["php-fpm", "-F"].map(OsString::from));
        assert_eq!(
            error("a: b\rc: d\n"),
            "Procfile:1: carriage return inside the line (lines end with LF or CRLF)"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("", "Procfile: no service"),
            ("\n# only a comment\n  \n", "Procfile: no service"),
            (
                "web: a\nnginx -g x\n",
                "Procfile:2: expected 'name: command'",
            ),
            ("a: b\n\n: c\n", "Procfile:3: no service name before ':'"),
            (
                "we b: c",
                "Procfile:1: invalid service name 'we b' (letters, digits, '_' and '-' only)",
            ),
            (
                "w\u{1b}[1m: c",
                "Procfile:1: invalid service name 'w\\u{1b}[1m' (letters, digits, '_' and '-' only)",
            ),
            (
                "caf\u{e9}: c",
                "Procfile:1: invalid service name 'caf\u{e9}' (letters, digits, '_' and '-' only)",
            ),
            ("a: b\nweb:   \n", "Procfile:2: no command for 'web'"),
            ("web:", "Procfile:1: no command for 'web'"),
            (
                "web: a\nphp: b\n\nweb: c\n",
                "Procfile:4: duplicate service 'web' (first on line 1)",
            ),
            (
                "a: b\nx: echo 'a b\n",
                "Procfile:2: unterminated single quote",
            ),
            ("x: echo \"a b\n", "Procfile:1: unterminated double quote"),
            (
                "x: echo \"a b\\\"\n",
                "Procfile:1: unterminated double quote",
            ),
            ("x: echo \"a\\", "Procfile:1: unterminated double quote"),
            ("x: echo $'a", "Procfile:1: unterminated single quote"),
            (
                "x: nginx \\\n  -g x",
                "Procfile:1: the line ends with a backslash (a Procfile has no continuation lines)",
            ),
            ("x: a\0b", "Procfile:1: a NUL byte cannot be in an argument"),
            (
                "x: 'a\0b' | c",
                "Procfile:1: a NUL byte cannot be in an argument",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(error(text), message, "{text:?}");
        }
        assert_eq!(
            parse("/etc/Procfile", "x").unwrap_err(),
            "/etc/Procfile:1: expected 'name: command'"
        );
    }

    #[test]
    fn limits() {
        let full: String = (0..MAX_SERVICES).map(|i| format!("s{i}: a\n")).collect();
        assert_eq!(parse("Procfile", &full).unwrap().len(), MAX_SERVICES);
        let over = format!("{full}# one more\nlast: a\n");
        assert_eq!(
            parse("Procfile", &over).unwrap_err(),
            format!("Procfile:{}: more than 64 services", MAX_SERVICES + 2)
        );

        // Exactly at the limit is accepted, one byte more is not.
        let head = "web: a ";
        let at_limit = format!("{head}{}", "b".repeat(MAX_SIZE - head.len()));
        assert_eq!(at_limit.len(), MAX_SIZE);
        assert!(parse("Procfile", &at_limit).is_ok());
        assert_eq!(
            parse("Procfile", &format!("{at_limit}b")).unwrap_err(),
            "Procfile: larger than 1 MiB (1048576 bytes)"
        );
    }

    #[test]
    fn read_files() {
        let dir = std::env::temp_dir().join(format!("pidone-procfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("Procfile");

        std::fs::write(&path, "web: nginx -g 'daemon off;'\n").unwrap();
        assert_eq!(read(&path).unwrap()[0].name, "web");

        std::fs::write(&path, b"web: a\nx: b\xff\n").unwrap();
        assert_eq!(
            read(&path).unwrap_err(),
            format!("{}:2: not valid UTF-8", path.display())
        );

        std::fs::write(&path, "web: a\n\n\nweb: b\n").unwrap();
        assert_eq!(
            read(&path).unwrap_err(),
            format!(
                "{}:4: duplicate service 'web' (first on line 1)",
                path.display()
            )
        );

        std::fs::write(&path, vec![b'#'; MAX_SIZE + 1]).unwrap();
        assert_eq!(
            read(&path).unwrap_err(),
            format!("{}: larger than 1 MiB (1048576 bytes)", path.display())
        );

        assert_eq!(
            read(&dir).unwrap_err(),
            format!("cannot read '{}': Is a directory", dir.display())
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read(&path).unwrap_err(),
            format!(
                "cannot read '{}': No such file or directory",
                path.display()
            )
        );
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn no_input_panics() {
        let long = "a".repeat(5_000);
        let pieces = [
            "",
            " ",
            "\t",
            "\n",
            "\r",
            "\r\n",
            ":",
            "::",
            "a",
            "a:",
            "a: ",
            "#",
            "'",
            "\"",
            "\\",
            "''",
            "\"\"",
            "\\\\",
            "'\"",
            "\"'",
            "\\'",
            "\\\"",
            "$",
            "`",
            "=",
            "~",
            "{",
            "*",
            "\0",
            "\u{feff}",
            "\u{e9}",
            "\u{1f600}",
            "\u{200b}",
            "\u{a0}",
            "\u{b}",
            "\u{85}",
            "\u{2028}",
            "x: ",
            "exec",
            "A=",
            &long,
        ];
        let mut inputs: Vec<String> = Vec::new();
        for a in pieces {
            for b in pieces {
                inputs.push(format!("{a}{b}"));
                inputs.push(format!("x: {a}{b}"));
                inputs.push(format!("x: echo {a} {b}\ny: {b}{a}"));
                for c in ["'", "\"", "\\", ":", "\n", " "] {
                    inputs.push(format!("x: {a}{c}{b}"));
                    inputs.push(format!("{a}{c}{b}: c"));
                }
            }
        }
        inputs.push(format!("x: {}", "'".repeat(100_000)));
        inputs.push(format!("x: {}", "\\".repeat(100_001)));
        inputs.push("x: a\n".repeat(10_000));
        inputs.push(format!("{}: a", "a".repeat(500_000)));
        inputs.push(format!("x: {}", "a b".repeat(300_000)));
        for input in &inputs {
            let _ = parse("Procfile", input);
        }
    }
}
