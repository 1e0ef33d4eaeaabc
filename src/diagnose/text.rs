//! The small texts of diagnose: how times, durations, sizes and commands are
//! written in a line, and how a small /proc or cgroup file is read.
//!
//! No policy: the other modules decide what to say.

use std::ffi::OsString;
use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// UTC, ISO 8601: `2026-11-23T17:20:05Z`.
pub fn timestamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let (hh, mm, ss) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Days since 1970-01-01 → (year, month, day) of the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `250ms`, `3.2s`, `2m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let secs = d.as_secs();
    if ms < 1000 {
        format!("{ms}ms")
    } else if secs < 60 {
        format!("{:.1}s", (ms / 100) as f64 / 10.0)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// The command as one short line: arguments joined by spaces, at most 80 characters.
pub(super) fn quote(command: &[OsString]) -> String {
    let joined = command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    short(&one_line(&joined))
}

/// At most 80 characters, the last one `…` when it was longer.
pub(super) fn short(line: &str) -> String {
    const MAX: usize = 80;
    if line.chars().count() <= MAX {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(MAX - 1).collect();
    short.push('…');
    short
}

/// Control characters (a newline in an argument or a cgroup name) shown escaped,
/// so that a message stays one line.
pub(super) fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `512 B`, `64.0 MiB`.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A file holding one number.
pub(super) fn number(path: &Path) -> Option<u64> {
    read_text(path)?.trim().parse().ok()
}

/// A small file of /proc or a cgroup, read without asking its size (a /proc
/// file has none) into a buffer of one size, so that each read reuses the
/// chunk the last one freed (it stays in malloc's per-size cache).
/// `fs::read_to_string` grows a buffer from 32 bytes, and each chunk freed on
/// the way stays cached, and resident, for pidone's whole life.
pub(super) fn read_text(path: impl AsRef<Path>) -> Option<String> {
    let mut text = String::with_capacity(256);
    let file = fs::File::open(path).ok()?;
    file.take(1 << 16).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of `key` in a flat-keyed file (`oom_kill 3`).
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(key))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn timestamps_are_utc_iso_8601() {
        assert_eq!(timestamp(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(at(1_709_251_199)), "2024-02-29T23:59:59Z");
        assert_eq!(timestamp(at(1_795_454_405)), "2026-11-23T17:20:05Z");
        assert_eq!(timestamp(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn civil_from_days_round_trips_the_calendar() {
        // Walk day by day from 1970 to 2400 and check it against a naive calendar.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..157_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[m as usize - 1] {
                (d, m) = (1, m + 1);
                if m > 12 {
                    (m, y) = (1, y + 1);
                }
            }
        }
    }

    #[test]
    fn durations_read_like_a_human_wrote_them() {
        let ms = Duration::from_millis;
        assert_eq!(duration(ms(0)), "0ms");
        assert_eq!(duration(ms(999)), "999ms");
        assert_eq!(duration(ms(1000)), "1.0s");
        assert_eq!(duration(ms(3250)), "3.2s");
        assert_eq!(duration(ms(59_999)), "59.9s");
        assert_eq!(duration(ms(65_000)), "1m05s");
        assert_eq!(duration(ms(3_599_000)), "59m59s");
        assert_eq!(duration(ms(3_720_000)), "1h02m");
        assert_eq!(duration(Duration::from_secs(90_000)), "25h00m");
    }

    #[test]
    fn commands_are_one_short_line() {
        let cmd = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(quote(&cmd(&["php-fpm", "-F"])), "php-fpm -F");
        assert_eq!(quote(&cmd(&["echo", "a\nb"])), "echo a\\nb");
        let long = quote(&cmd(&["x", &"é".repeat(200)]));
        assert_eq!(long.chars().count(), 80);
        assert!(long.ends_with('…'), "{long}");
        use std::os::unix::ffi::OsStringExt;
        let bad = vec![OsString::from_vec(vec![b'a', 0xff])];
        assert_eq!(quote(&bad), "a\u{fffd}");
    }
    #[test]
    fn sizes_read_plainly() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn flat_keyed_files_parse() {
        let control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(keyed(control, "oom_kill"), Some(2));
        assert_eq!(keyed(control, "under_oom"), Some(0));
        let events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "nope"), None);
    }
}
