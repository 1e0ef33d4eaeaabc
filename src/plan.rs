//! `--check`: what pidone would run, as text for a human, from the `Config`
//! alone: the services in start order with their `after`, readiness, user,
//! restart and stop settings. Pure: it runs, looks up and opens nothing (the
//! Procfile was read and checked when the `Config` was built).

use crate::config::{Config, DEFAULT_READY_TIMEOUT, Ready, RestartPolicy, Service, UserSpec};
use crate::error::escape;
use crate::procfile::start_order;
use crate::signals::Name;
use std::fmt::Write;
use std::time::Duration;

/// The plan, one line per fact, ending with a newline.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let stop = stop_signals(config);
    if config.pause {
        let _ = writeln!(out, "pause mode: no workload; INT or TERM ends it with 0");
        return out;
    }
    let Some(services) = &config.procfile else {
        let _ = writeln!(out, "one workload: {}", argv(&config.command));
        let _ = writeln!(out, "  restart: {}", policy(config.restart.policy));
        let _ = writeln!(out, "  stop: {stop}, {}", kill_after(config.grace));
        return out;
    };
    // The parser refused every order error; an empty order cannot happen.
    let order = start_order(services).unwrap_or_else(|_| (0..services.len()).collect());
    let count = services.len();
    let _ = writeln!(
        out,
        "{count} service{}, in start order:",
        if count == 1 { "" } else { "s" }
    );
    for (n, &i) in order.iter().enumerate() {
        service(&mut out, n + 1, &services[i], services, config, &stop);
    }
    out
}

fn service(out: &mut String, n: usize, s: &Service, all: &[Service], config: &Config, stop: &str) {
    let o = &s.options;
    let kind = if o.oneshot {
        " (oneshot: runs to completion; exit 0 does not stop the container)"
    } else {
        ""
    };
    let _ = writeln!(out, "{n}. {}{kind}", s.name);
    let how = match s.command.first().and_then(|a| a.to_str()) {
        Some("/bin/sh") if s.command.len() == 3 => "through /bin/sh -c",
        _ => "exec, no shell",
    };
    let _ = writeln!(out, "   command: {} ({how})", escape(&s.line));
    if !o.after.is_empty() {
        let deps: Vec<String> = o
            .after
            .iter()
            .map(|name| {
                let oneshot = all.iter().any(|d| &d.name == name && d.options.oneshot);
                if oneshot {
                    format!("{name} (once it exited 0)")
                } else {
                    format!("{name} (once ready)")
                }
            })
            .collect();
        let _ = writeln!(out, "   after: {}", deps.join(", "));
    }
    let ready = match &o.ready {
        None => "when started".to_owned(),
        Some(r) => {
            let within = o.ready_timeout.map_or_else(
                || format!("{} (default)", duration(DEFAULT_READY_TIMEOUT)),
                duration,
            );
            format!("{}, within {within}", readiness(r))
        }
    };
    let _ = writeln!(out, "   ready: {ready}");
    if let Some(user) = &o.user {
        let _ = writeln!(out, "   user: {}", user_text(user));
    }
    let restart = o.restart.map_or_else(
        || format!("{} (--restart)", policy(config.restart.policy)),
        policy,
    );
    let _ = writeln!(out, "   restart: {restart}");
    let signal = o
        .stop_signal
        .map_or_else(|| stop.to_owned(), |s| Name(s).to_string());
    let after = o.stop_timeout.or(config.grace);
    let _ = writeln!(out, "   stop: {signal}, {}", kill_after(after));
}

fn stop_signals(config: &Config) -> String {
    let names: Vec<String> = config
        .stop_signals
        .iter()
        .map(|&s| Name(s).to_string())
        .collect();
    format!("the stop signal received ({})", names.join(", "))
}

fn kill_after(grace: Option<Duration>) -> String {
    match grace {
        Some(d) => format!("KILL after {}", duration(d)),
        None => "no KILL (no -t)".to_owned(),
    }
}

fn readiness(ready: &Ready) -> String {
    match ready {
        Ready::Tcp { host, port } if host.contains(':') => format!("tcp [{host}]:{port} accepts"),
        Ready::Tcp { host, port } => format!("tcp {host}:{port} accepts"),
        Ready::Unix(path) => format!(
            "unix socket {} accepts",
            escape(&path.display().to_string())
        ),
        Ready::File(path) => format!("file {} exists", escape(&path.display().to_string())),
        Ready::Exec(command) => format!("{} exits 0", argv(command)),
        Ready::Fd(fd) => format!("a line on its descriptor {fd}"),
    }
}

fn user_text(user: &UserSpec) -> String {
    match user {
        UserSpec::Name(name) => name.clone(),
        UserSpec::Id {
            uid,
            gid: Some(gid),
        } => format!("uid {uid}, gid {gid}"),
        UserSpec::Id { uid, gid: None } => format!("uid {uid}"),
    }
}

fn policy(policy: RestartPolicy) -> String {
    match policy {
        RestartPolicy::No => "never",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    }
    .to_owned()
}

/// `500ms`, `10s`, `1.5s`, `2m`: the shortest that says it exactly.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(3_600_000) && ms > 0 => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) && ms > 0 => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ if ms < 1000 => format!("{ms}ms"),
        _ => format!("{}s", d.as_secs_f64()),
    }
}

/// The words of a command, each quoted when it holds a blank or a quote.
fn argv(words: &[std::ffi::OsString]) -> String {
    let shown: Vec<String> = words
        .iter()
        .map(|w| {
            let w = w.to_string_lossy();
            let plain =
                !w.is_empty() && !w.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c));
            if plain {
                escape(&w).into_owned()
            } else {
                format!("{:?}", w.as_ref())
            }
        })
        .collect();
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfile::parse;

    fn config(procfile: Option<&str>) -> Config {
        let mut config = crate::cli::parse(["pidone", "-t", "5s", "true"].map(Into::into)).unwrap();
        if let Some(text) = procfile {
            config.command.clear();
            config.procfile = Some(parse("Procfile", text).unwrap());
        }
        config
    }

    #[test]
    fn the_plan_lists_services_in_start_order_with_their_settings() {
        let text = "\
web: nginx -g 'daemon off;'
  after: php, migrate
  ready: tcp 127.0.0.1:8080
  stop-signal: QUIT
  stop-timeout: 10s
php: php-fpm -F
  ready: unix /run/php.sock
  ready-timeout: 1500ms
  user: www-data
  restart: on-failure
migrate: ./migrate && echo done
  oneshot: yes
  user: 1000:1000
";
        let plan = render(&config(Some(text)));
        let expected = "\
3 services, in start order:
1. php
   command: php-fpm -F (exec, no shell)
   ready: unix socket /run/php.sock accepts, within 1.5s
   user: www-data
   restart: on-failure
   stop: the stop signal received (TERM, INT, QUIT), KILL after 5s
2. migrate (oneshot: runs to completion; exit 0 does not stop the container)
   command: ./migrate && echo done (through /bin/sh -c)
   ready: when started
   user: uid 1000, gid 1000
   restart: never (--restart)
   stop: the stop signal received (TERM, INT, QUIT), KILL after 5s
3. web
   command: nginx -g 'daemon off;' (exec, no shell)
   after: php (once ready), migrate (once it exited 0)
   ready: tcp 127.0.0.1:8080 accepts, within 1m (default)
   restart: never (--restart)
   stop: QUIT, KILL after 10s
";
        assert_eq!(plan, expected);
    }

    #[test]
    fn a_single_workload_and_pause_mode_have_a_plan_too() {
        assert_eq!(
            render(&config(None)),
            "one workload: true\n  restart: never\n  stop: the stop signal received (TERM, INT, QUIT), KILL after 5s\n"
        );
        let mut c = config(None);
        c.pause = true;
        assert!(render(&c).starts_with("pause mode"));
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_secs(7200)), "2h");
        assert_eq!(duration(Duration::ZERO), "0s");
    }
}
