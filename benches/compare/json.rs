//! The results file (`benches/results/latest.json`: every figure with its
//! spread, then a flat `figure/init` → median section), and the change of
//! pidone's medians against the previous file, beside the peers' change.

use crate::figures::{Figure, num};
use crate::inits::is_peer;
use std::fmt::Write as _;

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

pub fn to_json(meta: &[(&str, String)], quick: bool, figures: &[Figure]) -> String {
    let mut s = String::from("{\n  \"schema\": 1,\n");
    for (k, v) in meta {
        let _ = writeln!(s, "  {}: {},", json_str(k), json_str(v));
    }
    let _ = writeln!(s, "  \"quick\": {quick},\n  \"figures\": [");
    for (fi, f) in figures.iter().enumerate() {
        let _ = writeln!(
            s,
            "    {{\"key\": {}, \"title\": {}, \"better\": \"{}\", \"values\": {{",
            json_str(f.key),
            json_str(f.title),
            if f.lower_is_better { "lower" } else { "higher" }
        );
        for (vi, (name, st)) in f.values.iter().enumerate() {
            let note = f
                .note(name)
                .map_or(String::new(), |t| format!(", \"note\": {}", json_str(t)));
            let _ = writeln!(
                s,
                "      {}: {{\"median\": {}, \"p10\": {}, \"p90\": {}, \"p99\": {}, \"min\": {}, \"max\": {}, \"n\": {}{note}}}{}",
                json_str(name),
                json_num(st.median),
                json_num(st.p10),
                json_num(st.p90),
                json_num(st.p99),
                json_num(st.min),
                json_num(st.max),
                st.n,
                if vi + 1 < f.values.len() { "," } else { "" }
            );
        }
        let _ = writeln!(
            s,
            "    }}}}{}",
            if fi + 1 < figures.len() { "," } else { "" }
        );
    }
    s.push_str("  ],\n  \"medians\": {\n");
    let flat = flat_medians(figures);
    for (i, (k, v)) in flat.iter().enumerate() {
        let comma = if i + 1 < flat.len() { "," } else { "" };
        let _ = writeln!(s, "    {}: {}{comma}", json_str(k), json_num(*v));
    }
    s.push_str("  }\n}\n");
    s
}

/// `figure/init` → median, the part of the JSON that the next run compares with.
fn flat_medians(figures: &[Figure]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for f in figures {
        for (name, st) in &f.values {
            out.push((format!("{}/{name}", f.key), st.median));
            if f.p99 {
                out.push((format!("{}_p99/{name}", f.key), st.p99));
            }
        }
    }
    out
}

/// Reads the `medians` section back: one `"key": number` per line.
fn read_medians(text: &str) -> Vec<(String, f64)> {
    let Some(start) = text.find("\"medians\"") else {
        return Vec::new();
    };
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('}'))
        .filter_map(|l| {
            let (k, v) = l.trim().trim_end_matches(',').split_once("\": ")?;
            Some((k.trim_start_matches('"').to_string(), v.parse().ok()?))
        })
        .collect()
}

pub fn compare(previous: &str, figures: &[Figure]) -> String {
    let old = read_medians(previous);
    let find = |k: &str| old.iter().find(|(o, _)| o == k).map(|(_, v)| *v);
    let change = |new: f64, old: f64| {
        if old == 0.0 || !old.is_finite() || !new.is_finite() {
            None
        } else {
            Some((new - old) / old * 100.0)
        }
    };
    let mut s = String::new();
    let date = previous
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"date\": "))
        .unwrap_or("?")
        .trim_end_matches(',')
        .trim_matches('"');
    let _ = writeln!(s, "\n## Change since the previous run ({date})\n");
    let _ = writeln!(
        s,
        "The peers' column is the mean change of the peers' medians: it shows how much the machine itself moved.\n"
    );
    let _ = writeln!(
        s,
        "| figure | pidone before | pidone now | change | peers' change |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    let now = flat_medians(figures);
    for (key, new) in &now {
        let Some((fig, init)) = key.split_once('/') else {
            continue;
        };
        if init != "pidone" {
            continue;
        }
        let Some(before) = find(key) else { continue };
        let peers: Vec<f64> = now
            .iter()
            .filter(|(k, _)| {
                k.split_once('/')
                    .is_some_and(|(f, p)| f == fig && is_peer(p))
            })
            .filter_map(|(k, v)| change(*v, find(k)?))
            .collect();
        let pct = |x: Option<f64>| x.map_or("n/a".into(), |p| format!("{p:+.1} %"));
        let peer = (!peers.is_empty()).then(|| peers.iter().sum::<f64>() / peers.len() as f64);
        let _ = writeln!(
            s,
            "| {fig} | {} | {} | {} | {} |",
            num(before),
            num(*new),
            pct(change(*new, before)),
            pct(peer)
        );
    }
    s
}
