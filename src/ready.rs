//! Readiness probes (a service's `ready:`): is the service ready yet? Each
//! `check` does one bounded, non-blocking step and says when to ask again; the
//! supervisor's loop owns the waiting (its timer, its wait on `Probe::fd`, its
//! reaping of an `exec` check). No probe sleeps, loops or waits on its own.
//!
//! - `tcp HOST:PORT`, `unix PATH`: a non-blocking connect; a TCP connect still
//!   in progress is looked at on the next check. HOST is an address,
//!   `localhost` or a name of /etc/hosts (no DNS: pidone is static, and a
//!   container's own services are local).
//! - `file PATH`: the path exists.
//! - `exec COMMAND`: the command exits 0. It is started (as the service's user,
//!   in a process group of its own) and the loop reaps it: `Probe::checker` is
//!   its pid, `Probe::exited` hands its status back.
//! - `fd N` (s6's notification-fd): the service writes a line to its descriptor
//!   N. `Notify` is the pipe, made before the spawn: its write end becomes the
//!   child's N (`spawn::Setup::notify`), its read end is `Probe::fd`, which the
//!   loop waits on (keep it out of `spawn::let_go`'s closing: its `keep`
//!   list). Once ready, the probe is dropped and the pipe closed (as
//!   s6-supervise does: a service writes its line once).
//!
//! A failed attempt is tried again after 10 ms, doubling to 1 s.

use crate::config::Ready;
use crate::error::Error;
use crate::spawn;
use crate::user::Credentials;
use libc::c_int;
use nix::errno::Errno;
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The first retry delay, and the longest.
pub const FIRST_DELAY: Duration = Duration::from_millis(10);
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// What a check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Ready,
    /// Check again after this long (or, for `fd N`, when `fd` is readable).
    NotYet {
        retry_in: Duration,
    },
    /// It can never become ready (the command cannot run, the descriptor was
    /// closed without a line): one line saying why.
    Failed(String),
}

/// The pipe of a `ready: fd N`, made before the service is spawned.
#[derive(Debug)]
pub struct Notify {
    read: OwnedFd,
    write: OwnedFd,
    target: c_int,
}

impl Notify {
    /// The pipe for `ready` if it is `fd N`, `None` for the other kinds.
    pub fn new(ready: &Ready) -> Result<Option<Notify>, Error> {
        let &Ready::Fd(target) = ready else {
            return Ok(None);
        };
        if target < 0 {
            return Err(Error::Usage(format!(
                "ready: fd {target}: not a descriptor"
            )));
        }
        let sys = |errno| Error::Sys {
            op: "create a pipe",
            errno,
        };
        // Close-on-exec: no other child inherits it; the spawn's dup2 makes the
        // service's N without the flag.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys)?;
        // Only pidone's end is non-blocking: the service's write stays as it expects.
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
            return Err(sys(Errno::last()));
        }
        Ok(Some(Notify {
            read,
            write,
            target,
        }))
    }

    /// `[write end, N]`, for `spawn::Setup::notify`.
    pub fn child_end(&self) -> [c_int; 2] {
        [self.write.as_raw_fd(), self.target]
    }
}

/// A readiness check in progress for one started service.
#[derive(Debug)]
pub struct Probe {
    kind: Kind,
    /// The delay after the next failed attempt.
    delay: Duration,
    /// No attempt before this.
    next: Instant,
}

#[derive(Debug)]
enum Kind {
    Tcp {
        addrs: Vec<SocketAddr>,
        /// Connects in progress.
        pending: Vec<OwnedFd>,
    },
    Unix(PathBuf),
    File(PathBuf),
    Exec {
        command: Vec<OsString>,
        user: Option<&'static Credentials>,
        /// The check command running now.
        running: Option<Pid>,
        /// Its status, handed back by the loop and not looked at yet.
        status: Option<c_int>,
    },
    Fd {
        read: OwnedFd,
        target: c_int,
    },
}

impl Probe {
    /// A probe of `ready` for a service just spawned: `notify` is the pipe
    /// `Notify::new` made before the spawn (needed for `fd N`; pidone's copy
    /// of its write end is closed here), `user` who an `exec` check runs as.
    /// Errors: a HOST that cannot be resolved, `fd N` without its pipe.
    pub fn start(
        ready: &Ready,
        notify: Option<Notify>,
        user: Option<&'static Credentials>,
    ) -> Result<Probe, Error> {
        let kind = match ready {
            Ready::Tcp { host, port } => Kind::Tcp {
                addrs: resolve(host, *port)?,
                pending: Vec::new(),
            },
            Ready::Unix(path) => Kind::Unix(path.clone()),
            Ready::File(path) => Kind::File(path.clone()),
            Ready::Exec(command) if command.is_empty() => {
                return Err(Error::Usage("ready: exec needs a command".into()));
            }
            Ready::Exec(command) => Kind::Exec {
                command: command.clone(),
                user,
                running: None,
                status: None,
            },
            Ready::Fd(n) => match notify {
                Some(Notify { read, target, .. }) if target == *n => Kind::Fd { read, target },
                _ => {
                    return Err(Error::Usage(format!(
                        "ready: fd {n} needs its pipe made before the spawn (ready::Notify)"
                    )));
                }
            },
        };
        Ok(Probe {
            kind,
            delay: FIRST_DELAY,
            next: Instant::now(),
        })
    }

    /// One non-blocking step: is the service ready now? Called early, it does
    /// nothing and says how long is left.
    pub fn check(&mut self) -> Check {
        let now = Instant::now();
        let due = match &self.kind {
            Kind::Fd { .. } => true,
            Kind::Exec { status, .. } => status.is_some() || now >= self.next,
            _ => now >= self.next,
        };
        if !due {
            return Check::NotYet {
                retry_in: self.next - now,
            };
        }
        let found = match &mut self.kind {
            Kind::Tcp { addrs, pending } => tcp(addrs, pending),
            Kind::Unix(path) => unix(path),
            Kind::File(path) => Step::from(path.exists()),
            Kind::Exec {
                command,
                user,
                running,
                status,
            } => exec(command, *user, running, status),
            Kind::Fd { read, target } => return notified(read, *target),
        };
        match found {
            Step::Ready => Check::Ready,
            Step::Failed(why) => Check::Failed(why),
            // A connect in progress: look again after one delay, without
            // counting a failure.
            Step::Waiting => Check::NotYet {
                retry_in: self.delay,
            },
            Step::Running => Check::NotYet {
                retry_in: MAX_DELAY,
            },
            Step::Again => {
                let retry_in = self.delay;
                self.next = now + retry_in;
                self.delay = (self.delay * 2).min(MAX_DELAY);
                Check::NotYet { retry_in }
            }
        }
    }

    /// The descriptor the loop waits on (readable: check now), for `fd N`.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            Kind::Fd { read, .. } => Some(read.as_fd()),
            _ => None,
        }
    }

    /// The `exec` check running now: the loop reaps it and calls `exited` at
    /// once (dropping the probe before that would signal a reaped pid).
    pub fn checker(&self) -> Option<Pid> {
        match self.kind {
            Kind::Exec { running, .. } => running,
            _ => None,
        }
    }

    /// The reaped `checker`'s wait status; the next `check` looks at it.
    pub fn exited(&mut self, wait_status: c_int) {
        if let Kind::Exec {
            running, status, ..
        } = &mut self.kind
        {
            *running = None;
            *status = Some(wait_status);
        }
    }
}

/// A check command still running when its probe goes (the service died, the
/// container stops) is killed with its group; the loop reaps it as any child.
impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(pid) = self.checker() {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// What one attempt found.
enum Step {
    Ready,
    /// Not ready: try again after the back-off.
    Again,
    /// A connect is in progress: look again after one delay.
    Waiting,
    /// The check command runs: its exit wakes the loop (SIGCHLD), which hands
    /// its status back; no timer is needed but a slow safety net.
    Running,
    Failed(String),
}

impl From<bool> for Step {
    fn from(ready: bool) -> Step {
        if ready { Step::Ready } else { Step::Again }
    }
}

fn tcp(addrs: &[SocketAddr], pending: &mut Vec<OwnedFd>) -> Step {
    if !pending.is_empty() {
        let mut connected = false;
        pending.retain(|fd| {
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll on a live pollfd, timeout 0: never blocks.
            if unsafe { libc::poll(&mut p, 1, 0) } <= 0 {
                return true;
            }
            connected |= socket_error(fd) == 0;
            false
        });
        if connected {
            pending.clear();
            return Step::Ready;
        }
        if !pending.is_empty() {
            // Still connecting after a whole delay: drop it and start afresh.
            pending.clear();
            return Step::Again;
        }
    }
    for addr in addrs {
        let (storage, len) = sockaddr(addr);
        match connect(storage_family(addr), &storage, len) {
            Ok(true) => return Step::Ready,
            Ok(false) => {}
            Err(Some(fd)) => pending.push(fd),
            Err(None) => {}
        }
    }
    if pending.is_empty() {
        Step::Again
    } else {
        Step::Waiting
    }
}

fn unix(path: &std::path::Path) -> Step {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Step::Failed(format!(
            "ready: unix {}: the path is too long",
            path.display()
        ));
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    // SAFETY: storage is at least as large as sockaddr_un and zeroed.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: copying a sockaddr_un into the larger, suitably aligned storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&addr as *const libc::sockaddr_un).cast::<u8>(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            std::mem::size_of::<libc::sockaddr_un>(),
        )
    };
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // A Unix connect never stays in progress; EAGAIN (a full backlog) is "not yet".
    Step::from(matches!(connect(libc::AF_UNIX, &storage, len), Ok(true)))
}

/// A non-blocking connect: `Ok(true)` connected, `Ok(false)` refused (or any
/// other error), `Err(Some(fd))` in progress.
fn connect(
    family: c_int,
    addr: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Result<bool, Option<OwnedFd>> {
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket has no memory arguments.
    let raw = unsafe { libc::socket(family, flags, 0) };
    if raw < 0 {
        return Ok(false);
    }
    // SAFETY: a descriptor just returned to us, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: addr points to `len` valid bytes of a sockaddr.
    let r = unsafe { libc::connect(raw, (addr as *const libc::sockaddr_storage).cast(), len) };
    if r == 0 {
        return Ok(true);
    }
    match Errno::last() {
        Errno::EINPROGRESS => Err(Some(fd)),
        _ => Ok(false),
    }
}

fn socket_error(fd: &OwnedFd) -> c_int {
    let mut error: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `error`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut error as *mut c_int).cast(),
            &mut len,
        )
    };
    if r < 0 { Errno::last() as c_int } else { error }
}

fn storage_family(addr: &SocketAddr) -> c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: plain data; all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn exec(
    command: &[OsString],
    user: Option<&'static Credentials>,
    running: &mut Option<Pid>,
    status: &mut Option<c_int>,
) -> Step {
    if let Some(status) = status.take() {
        return Step::from(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    if running.is_some() {
        return Step::Running;
    }
    let setup = spawn::Setup {
        session: true,
        user,
        ..Default::default()
    };
    match spawn::spawn(command, setup) {
        Ok(pid) => {
            *running = Some(pid);
            Step::Running
        }
        Err(e) => Step::Failed(format!("ready: exec: {e}")),
    }
}

fn notified(read: &OwnedFd, target: c_int) -> Check {
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: read into a live buffer of its length; the descriptor is non-blocking.
        let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => {
                return Check::Failed(format!(
                    "it closed descriptor {target} without writing a line (ready: fd {target})"
                ));
            }
            n if n > 0 => {
                if buf[..n as usize].contains(&b'\n') {
                    return Check::Ready;
                }
            }
            _ if Errno::last() == Errno::EINTR => {}
            // EAGAIN: nothing yet; the loop wakes when the descriptor is readable.
            _ => {
                return Check::NotYet {
                    retry_in: MAX_DELAY,
                };
            }
        }
    }
}

/// HOST:PORT's addresses, without DNS: an address (`[::1]` too), `localhost`,
/// or the names of /etc/hosts.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let ips = addresses(bare, &hosts);
    if ips.is_empty() {
        return Err(Error::Usage(format!(
            "ready: tcp {host}:{port}: cannot resolve '{host}' (pidone takes an address, \
             localhost, or a name of /etc/hosts)"
        )));
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// `resolve`'s lookup, given /etc/hosts.
fn addresses(host: &str, hosts: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    let mut ips: Vec<IpAddr> = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(host)).then_some(ip)
        })
        .collect();
    if ips.is_empty() && host.eq_ignore_ascii_case("localhost") {
        ips = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
    }
    ips
}

/// `tcp 127.0.0.1:9000`, as the Procfile says it (for messages and the plan).
impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ready::Tcp { host, port } if host.contains(':') && !host.starts_with('[') => {
                write!(f, "tcp [{host}]:{port}")
            }
            Ready::Tcp { host, port } => write!(f, "tcp {host}:{port}"),
            Ready::Unix(path) => write!(f, "unix {}", path.display()),
            Ready::File(path) => write!(f, "file {}", path.display()),
            Ready::Exec(command) => {
                let words: Vec<_> = command.iter().map(|w| w.to_string_lossy()).collect();
                write!(f, "exec {}", words.join(" "))
            }
            Ready::Fd(n) => write!(f, "fd {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pidone-ready-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn probe(ready: &Ready) -> Probe {
        Probe::start(ready, None, None).unwrap()
    }

    /// Checks until the probe says something other than NotYet, at most `n` times.
    fn settle(p: &mut Probe, n: usize) -> Check {
        for _ in 0..n {
            match p.check() {
                Check::NotYet { retry_in } => {
                    assert!(retry_in <= MAX_DELAY, "{retry_in:?}");
                    std::thread::sleep(retry_in)
                }
                other => return other,
            }
        }
        Check::NotYet {
            retry_in: Duration::ZERO,
        }
    }

    #[test]
    fn tcp_is_ready_once_something_listens() {
        // A port that nothing listens on: bind, note it, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ready = Ready::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let mut p = probe(&ready);
        assert!(matches!(p.check(), Check::NotYet { .. }));
        let _listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(settle(&mut p, 50), Check::Ready);
    }

    #[test]
    fn the_back_off_doubles_up_to_a_second_and_an_early_check_does_nothing() {
        let d = dir("backoff");
        let mut p = probe(&Ready::File(d.join("never")));
        let mut delays = Vec::new();
        for _ in 0..10 {
            p.next = Instant::now(); // due now, as if the delay had passed
            match p.check() {
                Check::NotYet { retry_in } => delays.push(retry_in.as_millis()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        // Not due: nothing is tried, and what is left is said.
        match p.check() {
            Check::NotYet { retry_in } => assert!(retry_in <= MAX_DELAY),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn unix_is_ready_once_the_socket_listens() {
        let d = dir("unix");
        let path = d.join("php.sock");
        let mut p = probe(&Ready::Unix(path.clone()));
        assert!(matches!(p.check(), Check::NotYet { .. }), "no socket yet");
        let _l = UnixListener::bind(&path).unwrap();
        assert_eq!(settle(&mut p, 50), Check::Ready);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn file_is_ready_once_it_exists() {
        let d = dir("file");
        let path = d.join("ready");
        let mut p = probe(&Ready::File(path.clone()));
        assert!(matches!(p.check(), Check::NotYet { .. }));
        std::fs::write(&path, "").unwrap();
        assert_eq!(settle(&mut p, 50), Check::Ready);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn exec_runs_the_command_and_the_caller_reaps_it() {
        let run = |cmd: &[&str]| {
            let cmd = cmd.iter().map(OsString::from).collect();
            let mut p = probe(&Ready::Exec(cmd));
            // Running: its exit wakes the loop; the timer is only a safety net.
            let retry_in = MAX_DELAY;
            assert_eq!(p.check(), Check::NotYet { retry_in });
            let pid = p.checker().expect("a check running");
            // The loop's part: reap it, hand the status back.
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            assert_eq!(
                unsafe { libc::waitpid(pid.as_raw(), &mut status, 0) },
                pid.as_raw()
            );
            assert!(
                matches!(p.check(), Check::NotYet { .. }),
                "not handed back yet"
            );
            p.exited(status);
            assert_eq!(p.checker(), None);
            p.check()
        };
        assert_eq!(run(&["true"]), Check::Ready);
        assert!(matches!(run(&["false"]), Check::NotYet { .. }));
        let mut p = probe(&Ready::Exec(vec!["/nonexistent/check".into()]));
        let failed = p.check();
        let Check::Failed(why) = failed else {
            panic!("{failed:?}")
        };
        assert!(why.contains("cannot execute '/nonexistent/check'"), "{why}");
    }

    #[test]
    fn fd_is_ready_on_a_line_and_failed_on_a_close_without_one() {
        let ready = Ready::Fd(3);
        let notify = Notify::new(&ready).unwrap().expect("a pipe for fd N");
        let [write, target] = notify.child_end();
        assert_eq!(target, 3);
        // The service's end: a copy of the write end, as the spawn's dup2 makes.
        // SAFETY: dup of a descriptor we own; the copy is owned by the File.
        let mut service = unsafe { std::fs::File::from_raw_fd(libc::dup(write)) };
        let mut p = Probe::start(&ready, Some(notify), None).unwrap();
        assert!(p.fd().is_some());
        assert!(matches!(p.check(), Check::NotYet { .. }));
        service.write_all(b"rea").unwrap();
        assert!(matches!(p.check(), Check::NotYet { .. }), "no newline yet");
        service.write_all(b"dy\n").unwrap();
        assert_eq!(p.check(), Check::Ready);

        let notify = Notify::new(&ready).unwrap().unwrap();
        // SAFETY: as above.
        let service = unsafe { std::fs::File::from_raw_fd(libc::dup(notify.child_end()[0])) };
        let mut p = Probe::start(&ready, Some(notify), None).unwrap();
        drop(service);
        assert!(matches!(p.check(), Check::Failed(_)));
        assert!(
            Probe::start(&ready, None, None).is_err(),
            "fd N needs its pipe"
        );
        assert!(Notify::new(&Ready::File("/x".into())).unwrap().is_none());
    }

    /// The spawn's side: the pipe's write end becomes the service's descriptor N,
    /// also when it already has that number (close-on-exec cleared).
    #[test]
    fn a_spawned_service_writes_its_line_to_descriptor_n() {
        for same in [false, true] {
            let mut notify = Notify::new(&Ready::Fd(7)).unwrap().expect("a pipe");
            if same {
                notify.target = notify.write.as_raw_fd();
            }
            let target = notify.target;
            let ready = Ready::Fd(target);
            let script = format!("echo ready >&{target}");
            let command: Vec<OsString> = ["/bin/sh", "-c", &script].map(OsString::from).into();
            let setup = spawn::Setup {
                notify: Some(notify.child_end()),
                ..Default::default()
            };
            let pid = spawn::spawn(&command, setup).unwrap();
            let mut p = Probe::start(&ready, Some(notify), None).unwrap();
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid.as_raw(), &mut status, 0) };
            assert_eq!(status, 0, "the shell could write to descriptor {target}");
            assert_eq!(p.check(), Check::Ready);
        }
    }

    #[test]
    fn hosts_resolve_without_dns() {
        let hosts =
            "127.0.0.1 localhost\n10.0.0.7  db db.local # the database\n::1 ip6-localhost\n";
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(addresses("10.1.2.3", ""), [ip("10.1.2.3")]);
        assert_eq!(addresses("::1", ""), [ip("::1")]);
        assert_eq!(addresses("DB.local", hosts), [ip("10.0.0.7")]);
        assert_eq!(addresses("localhost", hosts), [ip("127.0.0.1")]);
        assert_eq!(addresses("localhost", ""), [ip("127.0.0.1"), ip("::1")]);
        assert!(addresses("the", hosts).is_empty());
        assert!(resolve("no.such.host.invalid", 80).is_err());
        assert_eq!(resolve("[::1]", 80).unwrap(), ["[::1]:80".parse().unwrap()]);
    }

    #[test]
    fn ready_is_shown_as_written() {
        let tcp = Ready::Tcp {
            host: "::1".into(),
            port: 9,
        };
        assert_eq!(tcp.to_string(), "tcp [::1]:9");
        assert_eq!(Ready::Fd(3).to_string(), "fd 3");
        let exec = Ready::Exec(vec!["pg_isready".into(), "-q".into()]);
        assert_eq!(exec.to_string(), "exec pg_isready -q");
    }
}
