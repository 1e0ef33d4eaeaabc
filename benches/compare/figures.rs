//! Figures: samples to statistics (median, p10/p90/p99, min/max), the ratio
//! to the best peer, one figure's table and the summary of all. It measures
//! nothing.

use crate::inits::is_peer;
use crate::nocgroup;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Stats {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Stats {
            median: q(0.5),
            p10: q(0.1),
            p90: q(0.9),
            p99: q(0.99),
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
            n: v.len(),
        }
    }

    pub fn one(x: f64) -> Stats {
        Stats::of(&[x])
    }
}

pub struct Figure {
    pub key: &'static str,
    pub title: &'static str,
    pub lower_is_better: bool,
    /// Show p99 next to the median (latencies).
    pub p99: bool,
    /// Context, not a contest: no ratio to the best peer (e.g. what the kernel coalesced).
    pub info: bool,
    pub values: Vec<(&'static str, Stats)>,
    /// Per-init remarks printed in the table (e.g. static or not).
    pub notes: Vec<(&'static str, String)>,
}

impl Figure {
    pub fn new(key: &'static str, title: &'static str) -> Figure {
        Figure {
            key,
            title,
            lower_is_better: true,
            p99: false,
            info: false,
            values: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<Stats> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    /// The best median among the peers (not pidone, not direct).
    pub fn best_peer(&self) -> Option<(&'static str, f64)> {
        if self.info {
            return None;
        }
        self.best_peer_by(|s| s.median)
    }

    /// The peer with the best `stat` (a median, a p99), by the figure's sense.
    pub fn best_peer_by(&self, stat: fn(&Stats) -> f64) -> Option<(&'static str, f64)> {
        let peers = self
            .values
            .iter()
            .map(|(n, s)| (*n, stat(s)))
            .filter(|(n, x)| is_peer(n) && x.is_finite());
        if self.lower_is_better {
            peers.min_by(|a, b| a.1.total_cmp(&b.1))
        } else {
            peers.max_by(|a, b| a.1.total_cmp(&b.1))
        }
    }

    /// The remark on `name`'s value, if any.
    pub fn note(&self, name: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// 3 significant digits, no exponent.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 100.0 || (x - x.round()).abs() < 0.005 && a < 1e15 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

pub fn ratio(x: f64, best: f64) -> String {
    if !x.is_finite() || !best.is_finite() {
        "n/a".into()
    } else if best == 0.0 {
        if x == 0.0 { "=".into() } else { "∞".into() }
    } else {
        format!("×{:.2}", x / best)
    }
}

pub fn print_figure(f: &Figure, direct_ratio: bool) -> String {
    let mut s = String::new();
    let best = f.best_peer();
    let better = match (f.info, f.lower_is_better) {
        (true, _) => "context, no winner",
        (false, true) => "lower is better",
        (false, false) => "higher is better",
    };
    let _ = writeln!(s, "\n### {} ({better})\n", f.title);
    let spread = if f.p99 {
        "p10–p90 | p99"
    } else {
        "p10–p90 (min–max)"
    };
    let extra = if direct_ratio { " | ÷ direct" } else { "" };
    let _ = writeln!(s, "| init | median | {spread} | ÷ best peer{extra} | n |");
    let cols = 5 + usize::from(f.p99) + usize::from(direct_ratio);
    let _ = writeln!(s, "|{}", "---|".repeat(cols));
    for (name, st) in &f.values {
        let note = f.note(name).map_or(String::new(), |t| format!(" ({t})"));
        let spread = if st.n <= 1 {
            if f.p99 {
                "— | —".into()
            } else {
                "—".into()
            }
        } else if f.p99 {
            format!("{}–{} | {}", num(st.p10), num(st.p90), num(st.p99))
        } else {
            format!(
                "{}–{} ({}–{})",
                num(st.p10),
                num(st.p90),
                num(st.min),
                num(st.max)
            )
        };
        let vs_best = best.map_or("—".into(), |(_, b)| ratio(st.median, b));
        let vs_direct = match (direct_ratio, f.get("direct")) {
            (true, Some(d)) => format!(" | {}", ratio(st.median, d.median)),
            (true, None) => " | n/a".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {name}{note} | {} | {spread} | {vs_best}{vs_direct} | {} |",
            num(st.median),
            st.n
        );
    }
    if let Some((name, _)) = best {
        let _ = writeln!(s, "\nbest peer: {name}");
    }
    s
}

/// One row per figure, one column per init (medians), and pidone ÷ best peer.
pub fn summary(figures: &[&Figure], names: &[&'static str]) -> String {
    let mut s = String::new();
    // The two wait points of issue 14 side by side, when both ran.
    let pair = names.contains(&nocgroup::NAME);
    let (pair_head, pair_rule) = if pair {
        (format!(" pidone ÷ {} |", nocgroup::NAME), "---|")
    } else {
        (String::new(), "")
    };
    let _ = writeln!(
        s,
        "| figure | {} | pidone ÷ best peer |{pair_head}",
        names.join(" | ")
    );
    let _ = writeln!(s, "|---|{}---|{pair_rule}", "---|".repeat(names.len()));
    let pair_ratio = |f: &Figure, stat: fn(&Stats) -> f64| {
        if !pair {
            return String::new();
        }
        match (f.get("pidone"), f.get(nocgroup::NAME)) {
            (Some(p), Some(q)) => format!(" {} |", ratio(stat(&p), stat(&q))),
            _ => " — |".into(),
        }
    };
    for f in figures {
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                let v = f.get(n).map_or("—".into(), |st| num(st.median));
                match f.note(n) {
                    Some(t) if f.key == "binary_kib" => format!("{v} ({t})"),
                    _ => v,
                }
            })
            .collect();
        let r = match (f.get("pidone"), f.best_peer()) {
            (Some(p), Some((name, b))) => format!("{} ({name})", ratio(p.median, b)),
            _ => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {r} |{}",
            f.title,
            cells.join(" | "),
            pair_ratio(f, |st| st.median)
        );
        if f.p99 {
            let cells: Vec<String> = names
                .iter()
                .map(|n| f.get(n).map_or("—".into(), |st| num(st.p99)))
                .collect();
            let r = match (f.get("pidone"), f.best_peer_by(|st| st.p99)) {
                (Some(p), Some((name, b))) => format!("{} ({name})", ratio(p.p99, b)),
                _ => "—".into(),
            };
            let title = f.title.replace("(", "p99 (");
            let _ = writeln!(
                s,
                "| {title} | {} | {r} |{}",
                cells.join(" | "),
                pair_ratio(f, |st| st.p99)
            );
        }
    }
    s
}
