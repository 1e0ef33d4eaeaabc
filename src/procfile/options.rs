//! A service's options: the indented `key: value` lines right below its line
//! (foreman and honcho read only `name:` lines at the start, so they ignore
//! these), parsed into `config::ServiceOptions`; and the start order that
//! `after` gives, checked for unknown services and cycles.

use super::words;
use crate::cli::parse_duration;
use crate::config::{Ready, RestartPolicy, Service, ServiceOptions, UserSpec};
use crate::error::{Error, escape};
use crate::signals;
use std::ffi::OsString;
use std::path::PathBuf;

/// The keys, in the order `--check` and the messages list them.
pub const KEYS: [&str; 8] = [
    "after",
    "ready",
    "ready-timeout",
    "oneshot",
    "restart",
    "stop-signal",
    "stop-timeout",
    "user",
];

/// Sets the option of one `key: value` line in `options`; `seen` holds the
/// keys already given to this service. The error is the message without the
/// file and line.
pub fn set(
    options: &mut ServiceOptions,
    seen: &mut Vec<&'static str>,
    line: &str,
) -> Result<(), String> {
    let Some((key, value)) = line.split_once(':') else {
        return Err(format!(
            "expected 'key: value' (an indented line is an option of the service above), got '{}'",
            escape(line)
        ));
    };
    let (key, value) = (
        key.trim_matches([' ', '\t']),
        value.trim_matches([' ', '\t']),
    );
    let Some(&key) = KEYS.iter().find(|&&k| k == key) else {
        return Err(format!(
            "unknown option '{}' (expected {})",
            escape(key),
            KEYS.join(", ")
        ));
    };
    if seen.contains(&key) {
        return Err(format!("option '{key}' given twice"));
    }
    seen.push(key);
    if value.is_empty() {
        return Err(format!("no value for '{key}'"));
    }
    let bad = |expected: &str| format!("invalid {key} '{}' (expected {expected})", escape(value));
    match key {
        "after" => {
            for name in value.split(',').map(|n| n.trim_matches([' ', '\t'])) {
                if !super::valid_name(name) {
                    return Err(bad("service names separated by commas"));
                }
                if !options.after.iter().any(|a| a == name) {
                    options.after.push(name.to_owned());
                }
            }
        }
        "ready" => {
            options.ready = Some(ready(value).map_err(|e| {
                e.unwrap_or_else(|| {
                    bad("tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N")
                })
            })?)
        }
        "ready-timeout" => {
            options.ready_timeout =
                Some(parse_duration(value).map_err(|_| bad("a duration, e.g. 30s"))?)
        }
        "oneshot" => {
            options.oneshot = match value {
                "yes" => true,
                "no" => false,
                _ => return Err(bad("yes or no")),
            }
        }
        "restart" => {
            options.restart = Some(match value {
                "never" | "no" => RestartPolicy::No,
                "on-failure" => RestartPolicy::OnFailure,
                "always" => RestartPolicy::Always,
                _ => return Err(bad("never, on-failure or always")),
            })
        }
        "stop-signal" => {
            options.stop_signal =
                Some(signals::parse(value).map_err(|_| bad("a signal, e.g. TERM or QUIT"))?)
        }
        "stop-timeout" => {
            options.stop_timeout =
                Some(parse_duration(value).map_err(|_| bad("a duration, e.g. 10s"))?)
        }
        _ => options.user = Some(user(value).ok_or_else(|| bad("NAME or UID[:GID]"))?),
    }
    Ok(())
}

/// `tcp HOST:PORT | unix PATH | file PATH | exec COMMAND | fd N`. `Err(None)`:
/// the value's shape is wrong; `Err(Some(why))`: a more precise message.
fn ready(value: &str) -> Result<Ready, Option<String>> {
    let (kind, rest) = value
        .split_once([' ', '\t'])
        .map(|(k, r)| (k, r.trim_matches([' ', '\t'])))
        .ok_or(None)?;
    match kind {
        "tcp" => {
            let (host, port) = rest.rsplit_once(':').ok_or(None)?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port: u16 = port.parse().ok().filter(|&p| p != 0).ok_or(None)?;
            if host.is_empty() || host.contains([' ', '\t']) {
                return Err(None);
            }
            Ok(Ready::Tcp {
                host: host.to_owned(),
                port,
            })
        }
        "unix" => Ok(Ready::Unix(PathBuf::from(rest))),
        "file" => Ok(Ready::File(PathBuf::from(rest))),
        "exec" => {
            let argv = match words::split(rest).map_err(|why| Some(format!("ready exec: {why}")))? {
                Some(words) => words.into_iter().map(OsString::from).collect(),
                None => ["/bin/sh", "-c", rest]
                    .into_iter()
                    .map(OsString::from)
                    .collect(),
            };
            Ok(Ready::Exec(argv))
        }
        // 0, 1 and 2 are the service's stdio; s6 takes 3 and up too.
        "fd" => match rest.parse::<libc::c_int>() {
            Ok(n) if (3..=1023).contains(&n) => Ok(Ready::Fd(n)),
            _ => Err(Some(format!(
                "invalid ready fd '{}' (expected a descriptor from 3 to 1023)",
                escape(rest)
            ))),
        },
        _ => Err(None),
    }
}

/// `NAME` (looked up in /etc/passwd before anything starts) or `UID[:GID]`.
fn user(value: &str) -> Option<UserSpec> {
    let id = |t: &str| t.parse::<u32>().ok().filter(|&n| n != u32::MAX);
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return match value.split_once(':') {
            Some((uid, gid)) => Some(UserSpec::Id {
                uid: id(uid)?,
                gid: Some(id(gid)?),
            }),
            None => Some(UserSpec::Id {
                uid: id(value)?,
                gid: None,
            }),
        };
    }
    // The characters useradd accepts (and `$` at the end, for machine accounts).
    let body = value.strip_suffix('$').unwrap_or(value);
    let ok = !body.is_empty()
        && !body.starts_with('-')
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && value.len() <= 32;
    ok.then(|| UserSpec::Name(value.to_owned()))
}

/// Why the order of the services cannot be: a service is after one that does
/// not exist, or `after` goes round in a cycle.
#[derive(Debug, PartialEq, Eq)]
pub enum OrderError {
    /// Service `service` is after `name`, which no service is called.
    Unknown { service: usize, name: String },
    /// The services of the cycle, in `after` order, the first repeated at the end.
    Cycle(Vec<usize>),
}

/// The order to start `services` in: each after those it is `after`,
/// otherwise in file order (a stable topological sort).
pub fn order(services: &[Service]) -> Result<Vec<usize>, OrderError> {
    let index = |name: &str| services.iter().position(|s| s.name == name);
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(services.len());
    for (service, s) in services.iter().enumerate() {
        let mut list = Vec::new();
        for name in &s.options.after {
            let Some(i) = index(name) else {
                return Err(OrderError::Unknown {
                    service,
                    name: name.clone(),
                });
            };
            list.push(i);
        }
        deps.push(list);
    }
    let mut done = vec![false; services.len()];
    let mut order = Vec::with_capacity(services.len());
    while order.len() < services.len() {
        let next = (0..services.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => return Err(OrderError::Cycle(cycle(&deps, &done))),
        }
    }
    Ok(order)
}

/// A cycle among the services not `done` (each of which waits for another of
/// them): walk from the first, then rotate it to start at its first in file order.
fn cycle(deps: &[Vec<usize>], done: &[bool]) -> Vec<usize> {
    let mut path: Vec<usize> = Vec::new();
    let mut at = done.iter().position(|d| !d).unwrap_or(0);
    while !path.contains(&at) {
        path.push(at);
        match deps[at].iter().find(|&&d| !done[d]) {
            Some(&d) => at = d,
            None => break,
        }
    }
    let from = path.iter().position(|&p| p == at).unwrap_or(0);
    let mut ring = path.split_off(from);
    if let Some(min) = ring
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| **s)
        .map(|(i, _)| i)
    {
        ring.rotate_left(min);
    }
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

/// `a -> b -> a`, by name.
pub fn describe_cycle(services: &[Service], ring: &[usize]) -> String {
    let names: Vec<&str> = ring.iter().map(|&i| services[i].name.as_str()).collect();
    names.join(" -> ")
}

/// The order to start `services` in (see `order`), for the supervisor: the
/// Procfile parser has already refused what would fail here.
pub fn start_order(services: &[Service]) -> Result<Vec<usize>, Error> {
    order(services).map_err(|e| {
        Error::Usage(match e {
            OrderError::Unknown { service, name } => format!(
                "'{}' is after '{}', which is no service",
                services[service].name,
                escape(&name)
            ),
            OrderError::Cycle(ring) => {
                format!("a cycle in 'after': {}", describe_cycle(services, &ring))
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use std::time::Duration;

    fn options(text: &str) -> Vec<ServiceOptions> {
        let services = parse("Procfile", text).unwrap();
        services.into_iter().map(|s| s.options).collect()
    }

    fn error(text: &str) -> String {
        parse("Procfile", text).unwrap_err()
    }

    #[test]
    fn every_key_fills_its_option() {
        let text = "\
php: php-fpm -F
  ready: unix /run/php/php-fpm.sock
  ready-timeout: 30s
  user: www-data
  stop-signal: QUIT
  stop-timeout: 10s
web: nginx -g 'daemon off;'
\tafter: php, migrate
  ready: tcp 127.0.0.1:8080
  restart: on-failure
migrate: ./manage.py migrate
  oneshot: yes
  user: 1000:1001
  restart: never
# a comment between
  ready: exec test -e /tmp/x
worker: w
  ready: fd 3
  user: 33
  after: migrate
  restart: always
  oneshot: no
";
        let o = options(text);
        assert_eq!(
            o[0].ready,
            Some(Ready::Unix("/run/php/php-fpm.sock".into()))
        );
        assert_eq!(o[0].ready_timeout, Some(Duration::from_secs(30)));
        assert_eq!(o[0].user, Some(UserSpec::Name("www-data".into())));
        assert_eq!(o[0].stop_signal, Some(libc::SIGQUIT));
        assert_eq!(o[0].stop_timeout, Some(Duration::from_secs(10)));
        assert_eq!(o[1].after, ["php", "migrate"]);
        assert_eq!(
            o[1].ready,
            Some(Ready::Tcp {
                host: "127.0.0.1".into(),
                port: 8080
            })
        );
        assert_eq!(o[1].restart, Some(RestartPolicy::OnFailure));
        assert!(o[2].oneshot);
        assert_eq!(
            o[2].user,
            Some(UserSpec::Id {
                uid: 1000,
                gid: Some(1001)
            })
        );
        assert_eq!(o[2].restart, Some(RestartPolicy::No));
        assert_eq!(
            o[2].ready,
            Some(Ready::Exec(
                ["test", "-e", "/tmp/x"].map(OsString::from).to_vec()
            ))
        );
        assert_eq!(o[3].ready, Some(Ready::Fd(3)));
        assert_eq!(o[3].user, Some(UserSpec::Id { uid: 33, gid: None }));
        assert_eq!(o[3].restart, Some(RestartPolicy::Always));
        assert!(!o[3].oneshot);
        let o = options("a: x\n  ready: tcp [::1]:80\n");
        assert_eq!(
            o[0].ready,
            Some(Ready::Tcp {
                host: "::1".into(),
                port: 80
            })
        );
        let o = options("a: x\n  ready: exec curl -f \"$URL\"\n");
        assert_eq!(
            o[0].ready,
            Some(Ready::Exec(
                ["/bin/sh", "-c", "curl -f \"$URL\""]
                    .map(OsString::from)
                    .to_vec()
            ))
        );
        assert_eq!(options("a: x\n")[0], ServiceOptions::default());
    }

    #[test]
    fn bad_options_are_errors_at_their_line() {
        for (text, message) in [
            (
                "  after: b\na: x\n",
                "Procfile:1: an indented line is an option of the service above it, and no service is above",
            ),
            (
                "a: x\n  afte: b\n",
                "Procfile:2: unknown option 'afte' (expected after, ready, ready-timeout, oneshot, restart, stop-signal, stop-timeout, user) (service 'a')",
            ),
            (
                "a: x\n  web: nginx\n",
                "Procfile:2: unknown option 'web' (expected after, ready, ready-timeout, oneshot, restart, stop-signal, stop-timeout, user) (service 'a')",
            ),
            (
                "a: x\n  oneshot\n",
                "Procfile:2: expected 'key: value' (an indented line is an option of the service above), got 'oneshot' (service 'a')",
            ),
            (
                "a: x\n  oneshot:\n",
                "Procfile:2: no value for 'oneshot' (service 'a')",
            ),
            (
                "a: x\n  oneshot: yes\n  oneshot: no\n",
                "Procfile:3: option 'oneshot' given twice (service 'a')",
            ),
            (
                "a: x\n  oneshot: maybe\n",
                "Procfile:2: invalid oneshot 'maybe' (expected yes or no) (service 'a')",
            ),
            (
                "a: x\n  restart: sometimes\n",
                "Procfile:2: invalid restart 'sometimes' (expected never, on-failure or always) (service 'a')",
            ),
            (
                "a: x\n  stop-signal: FOO\n",
                "Procfile:2: invalid stop-signal 'FOO' (expected a signal, e.g. TERM or QUIT) (service 'a')",
            ),
            (
                "a: x\n  stop-timeout: soon\n",
                "Procfile:2: invalid stop-timeout 'soon' (expected a duration, e.g. 10s) (service 'a')",
            ),
            (
                "a: x\n  ready-timeout: 1x\n",
                "Procfile:2: invalid ready-timeout '1x' (expected a duration, e.g. 30s) (service 'a')",
            ),
            (
                "a: x\n  user: -x\n",
                "Procfile:2: invalid user '-x' (expected NAME or UID[:GID]) (service 'a')",
            ),
            (
                "a: x\n  user: 1:x\n",
                "Procfile:2: invalid user '1:x' (expected NAME or UID[:GID]) (service 'a')",
            ),
            (
                "a: x\n  user: 4294967295\n",
                "Procfile:2: invalid user '4294967295' (expected NAME or UID[:GID]) (service 'a')",
            ),
            (
                "a: x\n  ready: http x\n",
                "Procfile:2: invalid ready 'http x' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
            (
                "a: x\n  ready: tcp localhost\n",
                "Procfile:2: invalid ready 'tcp localhost' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
            (
                "a: x\n  ready: tcp :80\n",
                "Procfile:2: invalid ready 'tcp :80' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
            (
                "a: x\n  ready: tcp h:0\n",
                "Procfile:2: invalid ready 'tcp h:0' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
            (
                "a: x\n  ready: unix\n",
                "Procfile:2: invalid ready 'unix' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
            (
                "a: x\n  ready: fd 1\n",
                "Procfile:2: invalid ready fd '1' (expected a descriptor from 3 to 1023) (service 'a')",
            ),
            (
                "a: x\n  ready: exec echo 'x\n",
                "Procfile:2: ready exec: unterminated single quote (service 'a')",
            ),
            (
                "a: x\n  after: b c\n",
                "Procfile:2: invalid after 'b c' (expected service names separated by commas) (service 'a')",
            ),
            (
                "a: x\n  after: b,\n",
                "Procfile:2: invalid after 'b,' (expected service names separated by commas) (service 'a')",
            ),
            (
                "a: x\n\n  after: b\n",
                "Procfile:3: 'a' is after 'b', which is no service",
            ),
            (
                "a: x\n  after: b\nb: y\n  after: a\n",
                "Procfile:2: a cycle in 'after': a -> b -> a",
            ),
            (
                "a: x\n  after: a\n",
                "Procfile:2: a cycle in 'after': a -> a",
            ),
            (
                "c: z\na: x\n  after: b\nb: y\n  oneshot: yes\n  after: c, a\n",
                "Procfile:3: a cycle in 'after': a -> b -> a",
            ),
            (
                "a: x\n  ready: x\u{1b}[1m\n",
                "Procfile:2: invalid ready 'x\\u{1b}[1m' (expected tcp HOST:PORT, unix PATH, file PATH, exec COMMAND or fd N) (service 'a')",
            ),
        ] {
            assert_eq!(error(text), message, "{text:?}");
        }
    }

    #[test]
    fn the_start_order_follows_after_then_the_file() {
        let order = |text: &str| start_order(&parse("Procfile", text).unwrap()).unwrap();
        assert_eq!(order("a: x\nb: y\nc: z\n"), [0, 1, 2]);
        assert_eq!(order("web: x\n  after: php\nphp: y\n"), [1, 0]);
        assert_eq!(
            order("web: x\n  after: php, mig\nphp: y\n  after: mig\nlog: l\nmig: m\n"),
            [2, 3, 1, 0]
        );
        let mut services = parse("Procfile", "a: x\nb: y\n").unwrap();
        services[0].options.after = vec!["b".into()];
        services[1].options.after = vec!["a".into()];
        assert_eq!(
            start_order(&services).unwrap_err().to_string(),
            "a cycle in 'after': a -> b -> a"
        );
        services[1].options.after = vec!["zz".into()];
        assert_eq!(
            start_order(&services).unwrap_err().to_string(),
            "'b' is after 'zz', which is no service"
        );
    }
}
