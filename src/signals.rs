//! Signal numbers, names and sets, and the one blocking wait of the event loop.
//! pidone installs no signal handler: it blocks every catchable signal and takes
//! them one at a time with `sigtimedwait`, so no code ever runs in signal context.
//! The fault signals are blocked too: one another process sends is forwarded,
//! while a fault pidone itself raises is forced on it by the kernel anyway
//! (blocked or not, it unblocks it and takes the default action).

use libc::c_int;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// Synchronous fault signals. The kernel forces its own on the faulting thread;
/// only the ones another process sends (`kill`, `sigqueue`, `tgkill`) are ever
/// taken from the pending set.
pub const FAULTS: [c_int; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Every signal number the kernel knows, 1 to SIGRTMAX, including the two that
/// glibc keeps for itself (32, 33).
pub fn all() -> std::ops::RangeInclusive<c_int> {
    1..=libc::SIGRTMAX()
}

/// Puts every signal's disposition back to the default. pidone needs none of
/// its own (it takes its signals blocked, with `sigtimedwait`); what matters is
/// what it inherited: with SIGCHLD ignored the kernel reaps pidone's children
/// itself, and pidone would never learn the workload's status (tini and
/// catatonit then wait forever), and an ignored signal stays ignored across
/// exec, in the workload. Done once here, every child starts from the defaults
/// without a syscall per signal of its own between fork and exec.
///
/// The raw syscall, because glibc's `sigaction` refuses 32 and 33. An all-zero
/// kernel sigaction is SIG_DFL with no flags and an empty mask, whatever the
/// architecture's field order.
pub fn default_dispositions() {
    let default_action = [0u64; 4];
    for signo in all().filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        // SAFETY: rt_sigaction reads a live zeroed buffer as large as the
        // kernel's struct and writes nothing (the old-action pointer is null).
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signo,
                default_action.as_ptr(),
                0usize,
                8usize,
            )
        };
    }
}

/// A set of signals (a thin owner of `sigset_t`).
#[derive(Clone, Copy)]
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    pub fn empty() -> Self {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the whole sigset_t it is given.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            SignalSet(set.assume_init())
        }
    }

    pub fn of(signals: &[c_int]) -> Self {
        let mut set = Self::empty();
        for &s in signals {
            set.add(s);
        }
        set
    }

    /// What pidone takes over: every signal but KILL, STOP and glibc's internal
    /// real-time pair (32 and 33, which glibc's `sigfillset` leaves out). A
    /// filled set with 2 removals: adding the 60 others one by one cost ~4 000
    /// start-up instructions.
    pub fn catchable() -> Self {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises the whole sigset_t it is given.
        let mut set = unsafe {
            libc::sigfillset(set.as_mut_ptr());
            SignalSet(set.assume_init())
        };
        for s in [libc::SIGKILL, libc::SIGSTOP] {
            // SAFETY: set.0 is an initialised sigset_t; signo is valid.
            unsafe { libc::sigdelset(&mut set.0, s) };
        }
        set
    }

    pub fn add(&mut self, signo: c_int) {
        // SAFETY: self.0 is an initialised sigset_t; an invalid signo only returns EINVAL.
        unsafe { libc::sigaddset(&mut self.0, signo) };
    }

    pub fn contains(&self, signo: c_int) -> bool {
        // SAFETY: self.0 is an initialised sigset_t.
        unsafe { libc::sigismember(&self.0, signo) == 1 }
    }

    pub fn as_ptr(&self) -> *const libc::sigset_t {
        &self.0
    }

    /// Sets the calling thread's mask to exactly this set.
    pub fn set_mask(&self) -> Result<(), Errno> {
        // SAFETY: self.0 is a valid sigset_t; the old-mask pointer may be null.
        let r = unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
        Errno::result(r).map(drop)
    }
}

/// A signal taken from the pending set, with who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signo: c_int,
    /// The sender's pid (0 when the kernel sent it).
    pub sender: libc::pid_t,
    /// `si_code`: SI_USER for kill(), SI_KERNEL for the kernel, ...
    pub code: c_int,
}

/// Blocks until a signal of `set` is pending or `deadline` passes (`Ok(None)`).
/// With no deadline it sleeps in the kernel for as long as it takes: no wakeups.
pub fn wait(set: &SignalSet, deadline: Option<Instant>) -> Result<Option<Received>, Errno> {
    loop {
        let timeout = deadline.map(|d| timespec(d.saturating_duration_since(Instant::now())));
        let ts = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set, info and ts (null or a live local) are valid for the call.
        let signo = unsafe { libc::sigtimedwait(&set.0, &mut info, ts) };
        if signo > 0 {
            // SAFETY: the kernel filled info for signal `signo`; si_pid is in every layout we get.
            let sender = unsafe { info.si_pid() };
            return Ok(Some(Received {
                signo,
                sender,
                code: info.si_code,
            }));
        }
        match Errno::last() {
            Errno::EAGAIN => return Ok(None),
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// A duration as the kernel's timeout.
pub fn timespec(left: std::time::Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: left.as_secs() as libc::time_t,
        tv_nsec: left.subsec_nanos() as libc::c_long,
    }
}

/// Takes one pending signal of `set` without sleeping.
pub fn take_pending(set: &SignalSet) -> Result<Option<Received>, Errno> {
    wait(set, Some(Instant::now()))
}

/// A signal number that prints as `TERM`, `RTMIN+3`, or the number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name(pub c_int);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        match Signal::try_from(self.0) {
            Ok(s) => f.write_str(&s.as_str()[3..]),
            Err(_) if (min..=max).contains(&self.0) => write!(f, "RTMIN+{}", self.0 - min),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

/// Parses `15`, `TERM`, `SIGTERM`, `sigterm`, `RTMIN+2`, `SIGRTMAX-1`.
pub fn parse(text: &str) -> Result<c_int, String> {
    let bad = || format!("invalid signal '{text}' (expected a name like TERM or a number)");
    let upper = text.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let signo = if let Ok(n) = bare.parse::<c_int>() {
        n
    } else if let Some(off) = bare.strip_prefix("RTMIN") {
        // Checked: `RTMIN+2147483614` is no signal, not a wrapped number.
        rt_offset(off)
            .and_then(|o| min.checked_add(o))
            .ok_or_else(bad)?
    } else if let Some(off) = bare.strip_prefix("RTMAX") {
        rt_offset(off)
            .and_then(|o| max.checked_add(o))
            .ok_or_else(bad)?
    } else {
        Signal::from_str(&format!("SIG{bare}")).map_err(|_| bad())? as c_int
    };
    if (1..min).contains(&signo) && signo >= 32 {
        return Err(format!(
            "invalid signal '{text}': {signo} is reserved by the C library (not a usable signal)"
        ));
    }
    if (1..=max).contains(&signo) {
        Ok(signo)
    } else {
        Err(bad())
    }
}

/// `""` → 0, `"+3"` → 3, `"-1"` → -1.
fn rt_offset(text: &str) -> Option<c_int> {
    if text.is_empty() {
        return Some(0);
    }
    let digits = |t: &str| {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse::<c_int>().ok())?
    };
    if let Some(n) = text.strip_prefix('+') {
        return digits(n);
    }
    digits(text.strip_prefix('-')?).map(|n| -n)
}

/// dumb-init's `-r FROM:TO` table: what a received signal is forwarded as;
/// 0 means it is dropped. The last rule for a signal wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrites(pub Vec<(c_int, c_int)>);

impl Rewrites {
    pub fn get(&self, from: c_int) -> Option<c_int> {
        self.0
            .iter()
            .rev()
            .find(|(f, _)| *f == from)
            .map(|&(_, to)| to)
    }
}

/// Parses one rewrite rule: `15:3`, `TERM:QUIT`, `sigterm:0`. Both sides take
/// every signal, as dumb-init's do: a rule for KILL or STOP (never received) or
/// for CHLD (always reaped on) is accepted and has no effect.
pub fn parse_rewrite(text: &str) -> Result<(c_int, c_int), String> {
    let (from, to) = text.split_once(':').ok_or_else(|| {
        format!("invalid rewrite '{text}' (expected FROM:TO, e.g. 15:3 or TERM:QUIT)")
    })?;
    let from = parse(from)?;
    let to = if to.trim() == "0" { 0 } else { parse(to)? };
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime() {
        for text in ["15", "TERM", "SIGTERM", "sigterm", " Term "] {
            assert_eq!(parse(text), Ok(libc::SIGTERM), "{text}");
        }
        assert_eq!(parse("RTMIN"), Ok(libc::SIGRTMIN()));
        assert_eq!(parse("SIGRTMIN+3"), Ok(libc::SIGRTMIN() + 3));
        assert_eq!(parse("rtmax-1"), Ok(libc::SIGRTMAX() - 1));
        for bad in [
            "", "0", "65", "-1", "TERMS", "SIGFOO", "RTMIN*2", "RTMAX+1", "RTMINé", "RTMAX-é", "ü",
            "32", "33", "RTMIN-1",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn realtime_offsets_that_overflow_are_refused() {
        for bad in [
            "RTMIN+2147483614",
            "RTMAX+2147483584",
            "RTMIN+2147483647",
            "RTMAX-2147483648",
            "RTMIN-2147483647",
            "RTMAX+99999999999",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with(&format!("invalid signal '{bad}'")), "{err}");
        }
    }

    #[test]
    fn rewrites_parse_and_the_last_rule_wins() {
        assert_eq!(parse_rewrite("15:3"), Ok((libc::SIGTERM, libc::SIGQUIT)));
        assert_eq!(
            parse_rewrite("term:SIGQUIT"),
            Ok((libc::SIGTERM, libc::SIGQUIT))
        );
        assert_eq!(parse_rewrite("TERM:0"), Ok((libc::SIGTERM, 0)));
        for bad in ["15", "15:", ":3", "TERM:99", "1:32", "33:1"] {
            assert!(parse_rewrite(bad).is_err(), "{bad}");
        }
        assert!(parse_rewrite("1:32").unwrap_err().contains("reserved"));
        // Every signal 1-31 and the real-time ones, on both sides.
        for from in (1..32).chain(libc::SIGRTMIN()..=libc::SIGRTMAX()) {
            assert_eq!(parse_rewrite(&format!("{from}:31")), Ok((from, 31)));
            assert_eq!(parse_rewrite(&format!("31:{from}")), Ok((31, from)));
        }
        let table = Rewrites(vec![(libc::SIGTERM, libc::SIGQUIT), (libc::SIGTERM, 0)]);
        assert_eq!(table.get(libc::SIGTERM), Some(0));
        assert_eq!(table.get(libc::SIGINT), None);
    }

    #[test]
    fn names_print_without_sig_prefix() {
        assert_eq!(Name(libc::SIGUSR1).to_string(), "USR1");
        assert_eq!(Name(libc::SIGRTMIN() + 2).to_string(), "RTMIN+2");
        assert_eq!(Name(32).to_string(), "32");
    }

    #[test]
    fn catchable_excludes_kill_stop_and_glibc_internals() {
        let set = SignalSet::catchable();
        for s in [
            libc::SIGTERM,
            libc::SIGCHLD,
            libc::SIGTSTP,
            libc::SIGPIPE,
            libc::SIGSEGV,
            libc::SIGSYS,
            libc::SIGRTMIN(),
            libc::SIGRTMAX(),
        ] {
            assert!(set.contains(s), "{s}");
        }
        let taken = all().filter(|&s| set.contains(s)).count();
        assert_eq!(taken as c_int, libc::SIGRTMAX() - 4);
        for s in [libc::SIGKILL, libc::SIGSTOP, 32, 33] {
            assert!(!set.contains(s), "{s}");
        }
    }
}
