//! Every init as PID 1 over a sleeping workload (`examples/bench_sleeper.rs`):
//! its memory (VmRSS, RssAnon from /proc/PID/status, Pss from smaps_rollup,
//! over several starts), its binary's size (and whether it is static), and its
//! wakeups (context switches) over an idle window.

use crate::figures::{Figure, Stats};
use crate::inits::{Init, real};
use crate::options::Options;
use crate::process::{Running, ctx_switches, proc_field, proc_file};
use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Whether the ELF file has a PT_INTERP header (a dynamic loader): `None` if unreadable.
fn dynamic(path: &str) -> Option<bool> {
    let data = fs::read(path).ok()?;
    if data.get(..4)? != b"\x7fELF" || *data.get(4)? != 2 || *data.get(5)? != 1 {
        return None; // only 64-bit little-endian is parsed
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)?, u16_at(0x38)?);
    let interp = (0..phnum as usize).any(|i| {
        let o = phoff + i * phentsize as usize;
        data.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    });
    Some(interp)
}

/// Memory is read over this many starts of every init: where the kernel puts
/// the stack in its first page (ASLR) moves the stack's resident size by a page
/// from one start to the next, for every init alike.
const MEMORY_ROUNDS: usize = 7;

pub fn bench(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[2/8] memory ({MEMORY_ROUNDS} starts) and [3/8] idle wakeups: every init as PID 1 over a \
         sleeping workload, {} s window",
        opts.idle.as_secs()
    );
    let inits: Vec<&Init> = real(inits).collect();
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new()]; inits.len()];
    let mut running = Vec::new();
    for round in 0..MEMORY_ROUNDS {
        running = inits
            .iter()
            .map(|init| Running::start(init, "bench_sleeper", &[]))
            .collect::<Result<_, _>>()?;
        for r in &mut running {
            r.expect("ready", Duration::from_secs(10))?;
        }
        // Let every init finish its set-up and fall asleep.
        sleep(Duration::from_millis(500));
        for (r, sample) in running.iter().zip(&mut samples) {
            let status = proc_file(r.pid, "status").unwrap_or_default();
            let rollup = proc_file(r.pid, "smaps_rollup").unwrap_or_default();
            let get = |t: &str, k: &str| proc_field(t, k).unwrap_or(f64::NAN);
            sample[0].push(get(&status, "VmRSS:"));
            sample[1].push(get(&status, "RssAnon:"));
            sample[2].push(get(&rollup, "Pss:"));
        }
        if round + 1 < MEMORY_ROUNDS {
            for r in running.drain(..) {
                r.stop(true)?;
            }
        }
    }
    let mut rss = Figure::new("rss_kib", "VmRSS (KiB)");
    let mut anon = Figure::new("rss_anon_kib", "RssAnon (KiB)");
    let mut pss = Figure::new("pss_kib", "Pss (KiB)");
    let mut size = Figure::new("binary_kib", "binary size (KiB)");
    let mut wake = Figure::new("wakeups_per_10s", "idle wakeups per 10 s");
    let mut before = Vec::new();
    for (r, [vm, an, ps]) in running.iter().zip(&samples) {
        let name = r.init.name;
        rss.values.push((name, Stats::of(vm)));
        anon.values.push((name, Stats::of(an)));
        pss.values.push((name, Stats::of(ps)));
        let path = r.init.path().unwrap_or_default();
        let bytes = fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64);
        size.values.push((name, Stats::one(bytes / 1024.0)));
        let kind = match dynamic(path) {
            Some(true) => "dynamic",
            Some(false) => "static",
            None => "?",
        };
        size.notes.push((name, kind.into()));
        before.push(ctx_switches(r.pid));
    }
    let t0 = Instant::now();
    sleep(opts.idle);
    let window = t0.elapsed().as_secs_f64();
    for (r, b) in running.iter().zip(before) {
        let n = match (b, ctx_switches(r.pid)) {
            (Some(b), Some(a)) => (a - b) * 10.0 / window,
            _ => f64::NAN,
        };
        wake.values.push((r.init.name, Stats::one(n)));
    }
    for r in running {
        r.stop(true)?;
    }
    Ok(vec![rss, anon, pss, size, wake])
}
