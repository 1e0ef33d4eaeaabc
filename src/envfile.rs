//! `--env-file`: reads a `.env` file in foreman's format, the variables that
//! every service (or the single workload) gets on top of pidone's environment.
//! It only parses; `lib` sets the variables before anything starts.
//!
//! foreman's format (lib/foreman/env.rb): `NAME=value` lines, NAME of letters,
//! digits and `_`; a value in single quotes is taken as is; in double quotes,
//! `\n` is a newline and a backslash takes the next character literally;
//! any other value is taken whole (spaces, `#` and all). foreman silently skips
//! every other line: pidone skips blank lines and `#` comments only, and any
//! other line (`export X=1`, `X = 1`, a stray word) is an error with its
//! file:line, since foreman would not have set what it seems to set.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// Reads `path`: its variables, in the file's order (a later line wins), or
/// the first bad line's `path:line: why`.
pub fn read(path: &Path) -> Result<Vec<(OsString, OsString)>, String> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {}", io_text(&e)))?;
    parse(&text).map_err(|(line, why)| format!("{shown}:{line}: {why}"))
}

/// `read`'s parse, given the contents: the error is (line number, why).
pub fn parse(text: &[u8]) -> Result<Vec<(OsString, OsString)>, (usize, String)> {
    let mut vars = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let shown = || String::from_utf8_lossy(line).into_owned();
        if line.trim_ascii().is_empty() || line.trim_ascii_start().starts_with(b"#") {
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err((i + 1, format!("not NAME=value: '{}'", shown())));
        };
        let (name, value) = (&line[..eq], &line[eq + 1..]);
        if name.starts_with(b"export ") {
            return Err((
                i + 1,
                "'export' is not part of the format (foreman ignores such a line): write NAME=value"
                    .into(),
            ));
        }
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            let name = String::from_utf8_lossy(name);
            return Err((
                i + 1,
                format!("'{name}' is not a variable name (letters, digits, _; no spaces around =)"),
            ));
        }
        vars.push((
            OsString::from_vec(name.to_vec()),
            OsString::from_vec(unquote(value)),
        ));
    }
    Ok(vars)
}

/// An I/O error as a shell prints it (no "(os error N)").
pub(crate) fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::error::describe(nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// A value as foreman reads it.
fn unquote(value: &[u8]) -> Vec<u8> {
    let quoted = |q: u8| value.len() >= 2 && value[0] == q && value[value.len() - 1] == q;
    if quoted(b'\'') {
        return value[1..value.len() - 1].to_vec();
    }
    if !quoted(b'"') {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut chars = value[1..value.len() - 1].iter().copied();
    while let Some(b) = chars.next() {
        match (b, b == b'\\') {
            (_, true) => match chars.next() {
                Some(b'n') => out.push(b'\n'),
                Some(next) => out.push(next),
                None => out.push(b'\\'),
            },
            (b, false) => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn foremans_own_cases() {
        // foreman's spec/foreman/engine_spec.rb, "should handle quoted values".
        let text = "FOO=bar\nBAZ=\"qux\"\nFRED='barney'\nOTHER=\"escaped\\\"quote\"\n\
                    URL=\"http://example.com/api?foo=bar&baz=1\"\nML=\"bar\\nbaz\"\n";
        assert_eq!(
            vars(text),
            [
                pair("FOO", "bar"),
                pair("BAZ", "qux"),
                pair("FRED", "barney"),
                pair("OTHER", "escaped\"quote"),
                pair("URL", "http://example.com/api?foo=bar&baz=1"),
                pair("ML", "bar\nbaz"),
            ]
        );
    }

    #[test]
    fn comments_blank_lines_and_raw_values() {
        let text = "# a comment\n\n   \n  # indented\r\nA=1 # not a comment\r\nB=\nC='it''s'\n\
                    D=a=b\nE=\"\\\\n\"\nF='\\n'\n9X=ok\nG=\"";
        assert_eq!(
            vars(text),
            [
                pair("A", "1 # not a comment"),
                pair("B", ""),
                pair("C", "it''s"),
                pair("D", "a=b"),
                pair("E", "\\n"),
                pair("F", "\\n"),
                pair("9X", "ok"),
                pair("G", "\""),
            ]
        );
    }

    #[test]
    fn bad_lines_name_their_number() {
        let err = |text: &str| parse(text.as_bytes()).unwrap_err();
        assert_eq!(err("A=1\njunk\n"), (2, "not NAME=value: 'junk'".into()));
        assert_eq!(err("\n\nexport A=1").0, 3);
        assert!(err("export A=1").1.contains("'export'"));
        let (line, why) = err("A = 1");
        assert_eq!(line, 1);
        assert!(why.starts_with("'A ' is not a variable name"), "{why}");
        assert_eq!(err("=x").0, 1);
        assert_eq!(err("A.B=x").0, 1);
    }

    #[test]
    fn read_names_the_file() {
        let dir = std::env::temp_dir().join(format!("pidone-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "A=1\nB C\n").unwrap();
        let e = read(&path).unwrap_err();
        assert_eq!(e, format!("{}:2: not NAME=value: 'B C'", path.display()));
        let e = read(&dir.join("missing")).unwrap_err();
        assert_eq!(
            e,
            format!(
                "cannot read {}/missing: No such file or directory",
                dir.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
