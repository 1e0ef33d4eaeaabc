//! The inits under test: pidone (the shipped build, or `--pidone`), the
//! `--also` builds, and the peers found in /usr/bin (a missing one is skipped
//! with a note), each run from a fresh copy; and the shuffled order of a round.

use crate::nocgroup;
use crate::options::Options;
use std::fs;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The peers of pidone as a PID 1, from Debian (`apt-get install tini dumb-init catatonit`).
pub const PEERS: [&str; 4] = ["tini", "tini-static", "dumb-init", "catatonit"];

/// Whether `name` is a peer, a figure's contender for "best" (not pidone, not
/// an `--also` build, not direct).
pub fn is_peer(name: &str) -> bool {
    PEERS.contains(&name) || crate::supervisors::PEERS.contains(&name)
}

/// One init under test, or the workload alone (`direct`).
pub struct Init {
    pub name: &'static str,
    /// The program and the arguments that come before the workload; empty for direct.
    pub prefix: Vec<String>,
    /// The mount namespace it runs in (`nocgroup`), and where its child says
    /// how long entering it took; `None`: the bench's own.
    pub mount_ns: Option<(RawFd, *mut u64)>,
}

impl Init {
    pub fn argv(&self, workload: &[String]) -> Vec<String> {
        self.prefix.iter().chain(workload).cloned().collect()
    }

    pub fn path(&self) -> Option<&str> {
        self.prefix.first().map(String::as_str)
    }
}

pub fn inits(opts: &Options) -> Result<Vec<Init>, String> {
    let pidone = opts.pidone.to_string_lossy().into_owned();
    if !opts.pidone.exists() {
        return Err(format!(
            "{pidone} is missing: build it with cargo build --release"
        ));
    }
    let mut list = vec![
        Init {
            name: "direct",
            prefix: vec![],
            mount_ns: None,
        },
        Init {
            name: "pidone",
            prefix: vec![pidone.clone(), "--".into()],
            mount_ns: None,
        },
    ];
    if let Some(ns) = nocgroup::wanted(opts) {
        list.push(Init {
            name: nocgroup::NAME,
            prefix: vec![pidone, "--".into()],
            mount_ns: Some(ns),
        });
    }
    for (name, path) in &opts.also {
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        let path = path.to_string_lossy().into_owned();
        list.push(Init {
            name,
            prefix: vec![path, "--".into()],
            mount_ns: None,
        });
    }
    for name in PEERS {
        let path = format!("/usr/bin/{name}");
        if !Path::new(&path).exists() {
            eprintln!(
                "note: {path} is missing, {name} is skipped (apt-get install tini dumb-init catatonit)"
            );
            continue;
        }
        // dumb-init takes the command right away; the others take `--` first.
        let mut prefix = vec![path];
        if name != "dumb-init" {
            prefix.push("--".into());
        }
        list.push(Init {
            name,
            prefix,
            mount_ns: None,
        });
    }
    fresh_copies(&mut list)?;
    Ok(list)
}

/// Copies every init's binary, the peers' too, into one new directory and runs
/// the copies: each file is then written the same way, in one piece. A linker
/// writes its output piecemeal, and the page cache holds such a file in small
/// folios: measured here, pidone straight from `target/` took 49 page faults
/// per start and a `cp` of it 43, worth ~80 us of start+exit time.
pub fn fresh_copies(list: &mut [Init]) -> Result<(), String> {
    let dir = scratch_dir().join("inits");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for init in list.iter_mut().filter(|i| !i.prefix.is_empty()) {
        let copy = dir.join(init.name);
        fs::copy(&init.prefix[0], &copy)
            .map_err(|e| format!("copying {} to {}: {e}", init.prefix[0], copy.display()))?;
        init.prefix[0] = copy.to_string_lossy().into_owned();
    }
    Ok(())
}

/// The inits proper, without `direct`.
pub fn real(inits: &[Init]) -> impl Iterator<Item = &Init> {
    inits.iter().filter(|i| !i.prefix.is_empty())
}

/// The order of round `r`: 0..n shuffled (Fisher-Yates on a splitmix64 of
/// `r`), so nobody is always first, nor always right after the same one (a
/// rotation keeps neighbours: one binary ran 1.3 µs apart from its own copy
/// in the signal latency, by who ran before it).
pub fn order(n: usize, r: usize) -> Vec<usize> {
    let mut state = (r as u64).wrapping_add(1);
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    v
}

/// The run's scratch directory (the inits' copies, callgrind's output, the
/// supervisors' files), removed at the end.
pub fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pidone-bench-{}", std::process::id()))
}
