//! A Procfile command's words as `sh` splits them, or the verdict that the
//! command needs `/bin/sh -c` (see the module above for which syntax does).
//! It also checks what the shell would refuse at start-up: an unterminated
//! quote, `$( )`, `${ }` or backquote, quotes inside those included.

/// Shell keywords and built-ins that may come first in a command: none is a
/// program that exec could find, or one that does what the shell's does
/// (POSIX's reserved words and special built-ins, the regular built-ins that
/// only make sense inside a shell, and bash's `time`, `function`, `select`...).
const SHELL_WORDS: &[&str] = &[
    "!",
    "case",
    "do",
    "done",
    "elif",
    "else",
    "esac",
    "fi",
    "for",
    "if",
    "in",
    "then",
    "until",
    "while",
    "time",
    "function",
    "select",
    "coproc",
    ".",
    ":",
    "break",
    "continue",
    "eval",
    "exec",
    "exit",
    "export",
    "readonly",
    "return",
    "set",
    "shift",
    "times",
    "trap",
    "unset",
    "cd",
    "ulimit",
    "umask",
    "source",
    "command",
    "read",
    "wait",
    "type",
    "hash",
    "jobs",
    "fg",
    "bg",
    "alias",
    "unalias",
    "getopts",
    "local",
    "let",
    "declare",
    "typeset",
    "builtin",
    "shopt",
    "disown",
    "pushd",
    "popd",
    "dirs",
    "history",
    "mapfile",
    "readarray",
    "enable",
    "caller",
    "logout",
    "suspend",
    "fc",
    "bind",
    "complete",
    "compgen",
];

/// Where the scan of a nested construct is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nest {
    /// The command inside backquotes: ends where the text ends.
    Top,
    /// `$( )`, `$(( ))`, or a `( )` inside one: ends at `)`.
    Paren,
    /// `${ }`: ends at `}`.
    Brace,
    /// `" "` inside one of these.
    Double,
}

impl Nest {
    fn unterminated(self) -> &'static str {
        match self {
            Nest::Top | Nest::Paren => "unterminated $( )",
            Nest::Brace => "unterminated ${ }",
            Nest::Double => "unterminated double quote",
        }
    }
}

/// The index just past the end of the construct `open` that starts at
/// `s[i]`, with the quotes and constructs nested in it. A stack, not recursion:
/// a 1 MiB line of `$(` cannot overflow pidone's stack.
fn skip(s: &[char], mut i: usize, open: Nest) -> Result<usize, &'static str> {
    let mut stack = vec![open];
    while let Some(&top) = stack.last() {
        let Some(&c) = s.get(i) else {
            return if stack == [Nest::Top] {
                Ok(i)
            } else {
                Err(top.unterminated())
            };
        };
        let next = s.get(i + 1).copied();
        i += 1;
        match (top, c) {
            (_, '\\') => {
                if next.is_none() {
                    return Err(top.unterminated());
                }
                i += 1;
            }
            (Nest::Double, '"') | (Nest::Paren, ')') | (Nest::Brace, '}') => {
                stack.pop();
            }
            // `$$` is the shell's pid: the second `$` opens nothing.
            (_, '$') if next == Some('$') => i += 1,
            (_, '$') if next == Some('(') => {
                stack.push(Nest::Paren);
                i += 1;
            }
            (_, '$') if next == Some('{') => {
                stack.push(Nest::Brace);
                i += 1;
            }
            (_, '`') => i = backquote(s, i)?,
            (Nest::Double, _) => {}
            (_, '"') => stack.push(Nest::Double),
            (_, '\'') => {
                let close = s[i..].iter().position(|&q| q == '\'');
                i += close.ok_or("unterminated single quote")? + 1;
            }
            (Nest::Paren | Nest::Top, '(') => stack.push(Nest::Paren),
            _ => {}
        }
    }
    Ok(i)
}

/// After a backquote at `s[i - 1]`: the index past the closing one. The
/// command between them (its `\``, `\\` and `\$` unescaped) is checked as the
/// shell parses it, at once: its quotes and constructs must be closed. Each
/// nesting level doubles the backslashes, so the recursion is shallow.
fn backquote(s: &[char], mut i: usize) -> Result<usize, &'static str> {
    let mut inner = Vec::new();
    loop {
        match s.get(i) {
            None => return Err("unterminated backquote"),
            Some('`') => break,
            Some('\\') => {
                let next = *s.get(i + 1).ok_or("unterminated backquote")?;
                if !matches!(next, '`' | '\\' | '$') {
                    inner.push('\\');
                }
                inner.push(next);
                i += 2;
            }
            Some(&c) => {
                inner.push(c);
                i += 1;
            }
        }
    }
    skip(&inner, 0, Nest::Top)?;
    Ok(i + 1)
}

/// The words of `command` as `sh` would split them, or `None` if it uses other
/// shell syntax and needs `sh -c`. An unterminated quote or construct is an
/// error either way: the shell would fail on it too. Words are separated by
/// spaces and tabs only, as the shell's parser does (no-break spaces, VT, FF
/// and the like are part of words).
pub fn split(command: &str) -> Result<Option<Vec<String>>, &'static str> {
    let s: Vec<char> = command.chars().collect();
    let mut words = Vec::new();
    // `Some` once a word has begun, even if it is still empty: `''` is a word.
    let mut word: Option<String> = None;
    let mut shell = false;
    // Whether the first word is so far an unquoted name, which an `=` would make
    // an assignment (`PORT=80 nginx`).
    let mut name_so_far = true;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        let first = words.is_empty();
        let start = word.is_none();
        let mut literal = false;
        match c {
            ' ' | '\t' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\\' => {
                let next = *s.get(i).ok_or(
                    "the line ends with a backslash (a Procfile has no continuation lines)",
                )?;
                i += 1;
                word.get_or_insert_default().push(next);
            }
            '\'' => {
                let w = word.get_or_insert_default();
                let close = s[i..].iter().position(|&q| q == '\'');
                let close = i + close.ok_or("unterminated single quote")?;
                w.extend(&s[i..close]);
                i = close + 1;
            }
            '"' => {
                let w = word.get_or_insert_default();
                loop {
                    let q = *s.get(i).ok_or("unterminated double quote")?;
                    i += 1;
                    match q {
                        '"' => break,
                        '\\' => match s.get(i) {
                            None => return Err("unterminated double quote"),
                            Some(&e @ ('\\' | '"' | '$' | '`')) => {
                                w.push(e);
                                i += 1;
                            }
                            // A line cannot hold one, but the shell's rule is
                            // that an escaped newline disappears.
                            Some('\n') => i += 1,
                            Some(&other) => {
                                w.push('\\');
                                w.push(other);
                                i += 1;
                            }
                        },
                        '$' | '`' => {
                            shell = true;
                            i = nested(&s, i, q)?;
                        }
                        q => w.push(q),
                    }
                }
            }
            // Operators also end a word, so that a `#` after one (`a;#b`) is
            // seen as the comment it is.
            '|' | '&' | ';' | '<' | '>' | '(' | ')' => {
                shell = true;
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '$' | '`' => {
                shell = true;
                word.get_or_insert_default();
                i = nested(&s, i, c)?;
            }
            '*' | '?' | '[' | '{' | '}' => {
                shell = true;
                word.get_or_insert_default().push(c);
            }
            // The rest of the line is a comment: quotes there are not quotes
            // (`nginx # don't`), so stop before they are checked.
            '#' if start => return Ok(None),
            '~' if start => {
                shell = true;
                word.get_or_insert_default().push(c);
            }
            '=' if first && name_so_far && !start => {
                shell = true;
                word.get_or_insert_default().push(c);
            }
            _ => {
                literal = true;
                word.get_or_insert_default().push(c);
            }
        }
        if first {
            let name_char = c == '_' || c.is_ascii_alphabetic() || (!start && c.is_ascii_digit());
            name_so_far &= literal && name_char;
        }
    }
    if let Some(done) = word {
        words.push(done);
    }
    let keyword = words
        .first()
        .is_some_and(|w| SHELL_WORDS.contains(&w.as_str()));
    if shell || keyword || words.is_empty() {
        return Ok(None);
    }
    Ok(Some(words))
}

/// After a `$` or a backquote at `s[i - 1]`: the index past the `$( )`,
/// `${ }` or `` ` ` `` it opens, checked; a `$` that opens none stays as it is.
fn nested(s: &[char], i: usize, c: char) -> Result<usize, &'static str> {
    match (c, s.get(i)) {
        ('`', _) => backquote(s, i),
        (_, Some('$')) => Ok(i + 1),
        (_, Some('(')) => skip(s, i + 1, Nest::Paren),
        (_, Some('{')) => skip(s, i + 1, Nest::Brace),
        _ => Ok(i),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
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

    #[test]
    fn quotes_and_backslashes() {
        assert_eq!(
            argv(r#"a: echo "a b" 'c d' e\ f"#),
            words(&["echo", "a b", "c d", "e f"])
        );
        assert_eq!(argv("x: echo '$HOME'"), words(&["echo", "$HOME"]));
        assert_eq!(argv(r"x: echo \*"), words(&["echo", "*"]));
        assert_eq!(
            argv(r"x: echo \$HOME \~ \#"),
            words(&["echo", "$HOME", "~", "#"])
        );
        assert_eq!(argv("x: a '' \"\" b"), words(&["a", "", "", "b"]));
        assert_eq!(argv("x: a''b \"c\"'d'e"), words(&["ab", "cde"]));
        // In double quotes a backslash escapes only \ " $ ` and stays otherwise.
        assert_eq!(
            argv(r#"x: a "\\ \" \$ \` \n \a""#),
            words(&["a", r#"\ " $ ` \n \a"#])
        );
        // In single quotes nothing is special, a backslash included.
        assert_eq!(argv(r"x: a 'b\' c"), words(&["a", r"b\", "c"]));
        assert_eq!(argv("x: a\t b  \t c"), words(&["a", "b", "c"]));
        assert_eq!(
            argv("x: printf '%s\\n' 'a=b'"),
            words(&["printf", r"%s\n", "a=b"])
        );
        assert_eq!(argv("x: 'my prog' --x"), words(&["my prog", "--x"]));
        assert_eq!(
            argv("x: caf\u{e9} \u{1f600}"),
            words(&["caf\u{e9}", "\u{1f600}"])
        );
    }

    #[test]
    fn shell_syntax() {
        for command in [
            r#"echo "$HOME""#,
            "echo \"`date`\"",
            "echo $(date)",
            "echo `date`",
            "ls *.txt",
            "ls file?",
            "ls [ab]",
            "a | b",
            "a && b",
            "a || b",
            "a &",
            "a; b",
            "a < in",
            "a > out",
            "a 2>&1",
            "(a)",
            "{ a; b; }",
            "echo {a,b}",
            "ls ~",
            "ls ~/x",
            "nginx # the web server",
            "nginx #",
            "PORT=80 nginx",
            "_X1=1 a",
            "A= a",
            "exec nginx",
            "cd /app",
            "if true",
            "! false",
            "export A",
            ". ./env",
            // The comment hides the quote from the shell, so it is no error.
            "nginx # don't",
            "a;# don't",
        ] {
            assert!(shell(&format!("x: {command}")), "{command}");
        }
    }

    #[test]
    fn not_shell_syntax() {
        for command in [
            "echo '$HOME'",
            r"echo \$HOME",
            r#"echo "\$HOME""#,
            "echo '*' \"?\" '[a]' '{}' '|' '&&' ';' '<>' '()'",
            r"echo \| \& \; \< \> \( \) \{ \}",
            "echo a~b a#b a=b",
            "echo '~' \"#\"",
            "env PORT=80 nginx",
            "'PORT'=80 nginx",
            "\"PORT=80\" nginx",
            "1X=1 a",
            "=a b",
            "-X=1 a",
            "exec-server",
            "./exec",
            "echo exec if cd",
            "echo ]",
            "echo !",
            "echo % ^ , + @",
        ] {
            assert!(!shell(&format!("x: {command}")), "{command}");
        }
        assert_eq!(argv("x: 'PORT'=80 nginx"), words(&["PORT=80", "nginx"]));
        assert_eq!(argv("x: echo a~b a#b"), words(&["echo", "a~b", "a#b"]));
    }

    #[test]
    fn quotes_inside_substitutions_are_tracked() {
        for bad in [
            ("echo \"$(\"", "unterminated double quote"),
            ("echo $(", "unterminated $( )"),
            ("`-", "unterminated backquote"),
            ("${''", "unterminated ${ }"),
            ("echo $(echo ')", "unterminated single quote"),
            ("echo \"${a\"", "unterminated double quote"),
            ("echo ${a", "unterminated ${ }"),
            ("echo $(echo \"a)", "unterminated double quote"),
            ("echo $((1 + 2)", "unterminated $( )"),
            ("echo `a\\`", "unterminated backquote"),
            ("echo `echo '`", "unterminated single quote"),
            ("echo `echo \\`` b", "unterminated backquote"),
            ("echo \"`echo '`\"", "unterminated single quote"),
            ("echo `echo \\`echo '\\``", "unterminated single quote"),
            ("echo `echo \"$(`", "unterminated $( )"),
        ] {
            assert_eq!(split(bad.0), Err(bad.1), "{}", bad.0);
        }
        for good in [
            "echo \"$(echo '\"')\"",
            "echo $(echo ')')",
            "echo ${A:-\"}\"}",
            "echo $((1 + (2 * 3)))",
            "echo \"`echo \")\"`\"",
            "echo `echo \")\"`",
            "echo `a)`",
            "echo `echo \\`echo b\\``",
            "echo $(a $(b \"$(c)\") `d`)",
            "echo $ a$ \"$\"",
            "echo $${ a",
            "echo \"$$(\"",
        ] {
            assert_eq!(split(good), Ok(None), "{good}");
        }
        let deep = "$(".repeat(300_000);
        assert_eq!(split(&deep), Err("unterminated $( )"));
    }

    #[test]
    fn only_spaces_and_tabs_separate_words() {
        for blank in ['\u{a0}', '\u{85}', '\u{2028}', '\u{b}', '\u{c}'] {
            let command = format!("{blank}echo a{blank} b{blank}");
            assert_eq!(
                split(&command),
                Ok(Some(vec![
                    format!("{blank}echo"),
                    format!("a{blank}"),
                    format!("b{blank}")
                ])),
                "{blank:?}"
            );
        }
        assert_eq!(
            split("echo a\\ "),
            Ok(Some(vec!["echo".into(), "a ".into()]))
        );
    }

    #[test]
    fn built_ins_go_through_the_shell() {
        for word in [
            "command", "read", "wait", "type", "hash", "jobs", "alias", "getopts", "local", "time",
            "function", "select",
        ] {
            assert_eq!(split(&format!("{word} x")), Ok(None), "{word}");
            assert!(split(&format!("{word}x y")).unwrap().is_some(), "{word}");
        }
    }

    /// A small deterministic generator (xorshift): no crate, same inputs on
    /// every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, below: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as usize
        }
    }

    /// Commands made of words, blanks, quotes and backslashes, and characters
    /// that are literal in `sh` (no `$`, glob, operator or comment): split by
    /// pidone and by `/bin/sh` (dash on Debian), the same words.
    #[test]
    fn words_are_split_as_sh_splits_them() {
        let pieces = [
            "a", "b", "-x", "=", "a=b", "~", "#", "'", "\"", "\\", " ", "  ", "\t", "'a b'",
            "\"a b\"", "\\ ", "\\'", "\\\"", "\"\\\\\"", "\"\\x\"", "\"'\"", "'\"'", "é", "\u{a0}",
            "\u{b}", "\u{c}", "\u{85}", "\u{2028}", "%", "@", ",", "+", "!x", "]", ":", "''",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut inputs = Vec::new();
        while inputs.len() < 400 {
            let n = 1 + rng.next(8);
            let command: String = (0..n).map(|_| pieces[rng.next(pieces.len())]).collect();
            let command = format!("printf {command}");
            if let Ok(Some(words)) = split(&command) {
                inputs.push((command, words));
            }
        }
        // One shell for all: each command's words, NUL-separated, then a SOH.
        let script: String = inputs
            .iter()
            .map(|(command, _)| {
                let rest = command.strip_prefix("printf").unwrap_or(command);
                format!("set -- {rest}\nfor a; do printf '%s\\0' \"$a\"; done; printf '\\1'\n")
            })
            .collect();
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .expect("run /bin/sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let from_sh: Vec<&str> = text.split('\u{1}').collect();
        assert_eq!(from_sh.len(), inputs.len() + 1);
        for ((command, words), sh) in inputs.iter().zip(from_sh) {
            let mut sh_words: Vec<&str> = sh.split('\0').collect();
            sh_words.pop();
            assert_eq!(&words[1..], &sh_words[..], "{command:?}");
        }
    }
}
