//! Signals through the init as PID 1, to `examples/bench_receiver.rs`: the
//! latency of one USR1 at a time (sent here, timestamped by the receiver), on two
//! CPUs and again with everything on one, with the init's CPU per awaited signal;
//! and storms of USR1 and SIGRTMIN+1 sent as fast as possible (init CPU per
//! signal, and how many arrived). Each figure is taken over several fresh
//! instances of each init, in a shuffled order.

use crate::bench_receiver;
use crate::figures::{Figure, Stats};
use crate::inits::{Init, order, real};
use crate::options::Options;
use crate::process::{Running, on_one_cpu};
use std::thread::sleep;
use std::time::Duration;

/// Starts a fresh instance of every init with the receiver in `mode`, waits
/// until each is ready and settled.
fn start_receivers<'a>(inits: &'a [Init], mode: &str) -> Result<Vec<Running<'a>>, String> {
    let mut running = Vec::new();
    for init in real(inits) {
        running.push(Running::start(init, "bench_receiver", &[mode])?);
    }
    for r in &mut running {
        r.expect("ready", Duration::from_secs(10))?;
    }
    sleep(Duration::from_millis(200));
    Ok(running)
}

pub fn bench_latency(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    eprintln!(
        "[5/8] signal latency: {} USR1 to each of {} fresh instances of each init as PID 1, \
         in shuffled order, each awaited; on two CPUs, then on one",
        opts.latency_signals, opts.instances
    );
    let mut figures = Vec::new();
    for (pin, key, title, cpu_key, cpu_title) in [
        (
            false,
            "signal_latency_us",
            "signal latency (µs)",
            "signal_cpu_us",
            "init CPU per awaited signal (µs)",
        ),
        (
            true,
            "signal_latency_1cpu_us",
            "signal latency, one CPU (µs)",
            "signal_cpu_1cpu_us",
            "init CPU per awaited signal, one CPU (µs)",
        ),
    ] {
        let (latency, cpu) = if pin {
            on_one_cpu(|| latency_samples(opts, inits))??
        } else {
            latency_samples(opts, inits)?
        };
        let mut fig = Figure::new(key, title);
        fig.p99 = true;
        let mut fig_cpu = Figure::new(cpu_key, cpu_title);
        for (init, (l, c)) in real(inits).zip(latency.iter().zip(&cpu)) {
            fig.values.push((init.name, Stats::of(l)));
            fig_cpu.values.push((init.name, Stats::of(c)));
        }
        figures.push(fig);
        figures.push(fig_cpu);
    }
    Ok(figures)
}

/// Samples per init, in the order of `real(inits)`.
type Samples = Vec<Vec<f64>>;

/// Latencies in µs, per init, and the init's CPU time per signal of each
/// instance (one wakeup, one forward, back to sleep: no queue builds up). The
/// samples come from several fresh instances of each init, so that no one
/// process's placement (its task, its kernel stack, its pages) decides a figure.
fn latency_samples(opts: &Options, inits: &[Init]) -> Result<(Samples, Samples), String> {
    let n = real(inits).count();
    let (mut latency, mut cpu) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let signals = opts.latency_signals + 20;
    for _ in 0..opts.instances {
        let mut running = start_receivers(inits, "echo")?;
        let cpu0 = running
            .iter()
            .map(Running::cpu_ns)
            .collect::<Result<Vec<_>, _>>()?;
        for k in 0..signals {
            for i in order(n, k) {
                let r = &mut running[i];
                let sent = bench_receiver::monotonic_ns();
                r.signal(libc::SIGUSR1)
                    .map_err(|e| format!("{}: kill: {e}", r.init.name))?;
                let line = r.expect("t ", Duration::from_secs(10))?;
                let got: u64 = line[2..]
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad line '{line}'"))?;
                if k >= 20 {
                    latency[i].push(got.saturating_sub(sent) as f64 / 1e3);
                }
            }
        }
        for (i, r) in running.iter().enumerate() {
            let used = r.cpu_ns()?.saturating_sub(cpu0[i]);
            cpu[i].push(used as f64 / 1e3 / signals as f64);
        }
        for r in running {
            r.stop(true)?;
        }
    }
    Ok((latency, cpu))
}

/// Sends `count` signals `signo` to the init as fast as it can, then the report
/// signal; returns (init CPU ns, received USR1, received RT).
fn storm_batch(r: &mut Running, signo: i32, count: usize) -> Result<(u64, u64, u64), String> {
    let report = libc::SIGRTMIN() + 2;
    let cpu0 = r.cpu_ns()?;
    for _ in 0..count {
        loop {
            match r.signal(signo) {
                Ok(()) => break,
                // A full real-time queue (RLIMIT_SIGPENDING): let the init catch up.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    sleep(Duration::from_micros(50))
                }
                Err(e) => return Err(format!("{}: kill: {e}", r.init.name)),
            }
        }
    }
    // The report signal has the highest number: the kernel hands it over last,
    // after every signal sent before it, both to the init and to the receiver.
    r.signal(report)
        .map_err(|e| format!("{}: kill: {e}", r.init.name))?;
    let line = r.expect("c ", Duration::from_secs(60))?;
    let cpu1 = r.cpu_ns()?;
    let mut f = line[2..]
        .split_whitespace()
        .map(|x| x.parse::<u64>().unwrap_or(0));
    Ok((cpu1 - cpu0, f.next().unwrap_or(0), f.next().unwrap_or(0)))
}

pub fn bench_storms(opts: &Options, inits: &[Init]) -> Result<Vec<Figure>, String> {
    let total = opts.storm_batches * opts.storm_batch;
    eprintln!(
        "[6/8] signal storms: {total} USR1, then {total} SIGRTMIN+1, to each init as PID 1 \
         ({} interleaved batches of {}, over {} fresh instances of each init)",
        opts.storm_batches, opts.storm_batch, opts.instances
    );
    let rt = libc::SIGRTMIN() + 1;
    let n = real(inits).count();
    let mut figures = Vec::new();
    for (signo, key_cpu, title_cpu, key_recv, title_recv) in [
        (
            libc::SIGUSR1,
            "storm_usr1_cpu_us",
            "USR1 storm: init CPU per sent (µs)",
            "storm_usr1_received_pct",
            "USR1 storm: % received (coalesced)",
        ),
        (
            rt,
            "storm_rt_cpu_us",
            "RT storm: init CPU per signal (µs)",
            "storm_rt_received_pct",
            "RT storm: % received (100 = none lost)",
        ),
    ] {
        let mut cpu = vec![Vec::new(); n];
        let mut recv = vec![Vec::new(); n];
        // A fresh instance of each init every `per` batches (see latency_samples).
        let per = opts.storm_batches.div_ceil(opts.instances);
        for first in (0..opts.storm_batches).step_by(per) {
            let mut running = start_receivers(inits, "count")?;
            for b in first..(first + per).min(opts.storm_batches) {
                for i in order(n, b) {
                    let (ns, usr1, rts) = storm_batch(&mut running[i], signo, opts.storm_batch)?;
                    let got = if signo == rt { rts } else { usr1 };
                    cpu[i].push(ns as f64 / 1e3 / opts.storm_batch as f64);
                    recv[i].push(got as f64 * 100.0 / opts.storm_batch as f64);
                }
            }
            for r in running {
                r.stop(true)?;
            }
        }
        let mut fc = Figure::new(key_cpu, title_cpu);
        let mut fr = Figure::new(key_recv, title_recv);
        fr.lower_is_better = false;
        // Standard signals coalesce: how many a burst leaves depends on who runs
        // when, not on the init. The RT storm is the fair CPU and loss check.
        fc.info = signo != rt;
        fr.info = signo != rt;
        for (i, init) in real(inits).enumerate() {
            fc.values.push((init.name, Stats::of(&cpu[i])));
            fr.values.push((init.name, Stats::of(&recv[i])));
        }
        figures.push(fc);
        figures.push(fr);
    }
    Ok(figures)
}
