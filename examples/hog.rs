//! A workload that eats memory until the kernel stops it, for the OOM tests.
//!
//! ```text
//! hog [MAX_MIB]    allocate and touch memory 1 MiB at a time; exit 1 after
//!                  MAX_MIB (default 4096) if nothing killed it first
//! ```

use std::process::exit;

fn main() {
    let max: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 4096,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: hog [MAX_MIB]");
            exit(100)
        }
    };
    const MIB: usize = 1 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..max {
        // Writing every page makes the kernel really back (and charge) it.
        let mut chunk = vec![0u8; MIB];
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        held.push(std::hint::black_box(chunk));
    }
    eprintln!("hog: allocated {} MiB and nothing stopped me", held.len());
    exit(1)
}
