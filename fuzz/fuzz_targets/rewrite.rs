//! `-r FROM:TO` and the signal names in it (`TERM`, `15`, `RTMIN+3`).
//! Checked: no panic; what parses is a usable signal (1..=SIGRTMAX, not the C
//! library's 32 and 33), TO may be 0; a parsed signal's name parses back to it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pidone::signals;

fn usable(signo: libc::c_int) -> bool {
    (1..=libc::SIGRTMAX()).contains(&signo) && !(32..libc::SIGRTMIN()).contains(&signo)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signo) = signals::parse(text) {
        assert!(usable(signo), "{text:?} -> {signo}");
        let name = signals::Name(signo).to_string();
        assert_eq!(signals::parse(&name), Ok(signo), "{text:?} -> {name}");
    }
    if let Ok((from, to)) = signals::parse_rewrite(text) {
        assert!(usable(from), "{text:?} -> {from}");
        assert!(to == 0 || usable(to), "{text:?} -> {to}");
    }
});
