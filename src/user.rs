//! Who a workload runs as (`--user`, a service's `user:`): a `UserSpec`
//! resolved, before anything starts, to the credentials its child takes just
//! before exec (supplementary groups, gid, uid) and to the `HOME`, `USER` and
//! `LOGNAME` it gets. Names are read from /etc/passwd and /etc/group directly
//! (no NSS: pidone is a static binary); a numeric id needs neither file.
//! It does not change pidone's own credentials: pidone stays root.

use crate::config::UserSpec;
use crate::error::Error;
use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

/// A resolved user: what the child sets before exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    /// The primary group: the `:GID` given, else the passwd entry's, else 0.
    pub gid: u32,
    /// Every group the child is in: the primary first, then each group of
    /// /etc/group that lists the user (what initgroups gives).
    pub groups: Vec<u32>,
    /// The passwd entry's home directory, `/` without an entry.
    pub home: OsString,
    /// The passwd entry's name (`USER`, `LOGNAME`); `None` for a number without one.
    pub name: Option<String>,
}

/// Parses `NAME | UID[:GID]` (`--user`, a Procfile's `user:`).
pub fn parse(text: &str) -> Result<UserSpec, String> {
    // u32::MAX is (uid_t)-1, "no change" to the kernel: never an id.
    let number = |s: &str| {
        let n = s.parse::<u32>().ok().filter(|_| !s.starts_with('+'));
        n.filter(|&n| n != u32::MAX)
    };
    match text.split_once(':') {
        Some((uid, gid)) => match (number(uid), number(gid)) {
            (Some(uid), Some(gid)) => Ok(UserSpec::Id {
                uid,
                gid: Some(gid),
            }),
            _ => Err(format!("'{text}' is not UID:GID (two numbers)")),
        },
        None if text.is_empty() => Err("a user name or UID is needed".into()),
        None if text.starts_with(|c: char| c.is_ascii_digit()) && number(text).is_none() => {
            Err(format!("'{text}' is not a UID (0..4294967294)"))
        }
        None => Ok(match number(text) {
            Some(uid) => UserSpec::Id { uid, gid: None },
            None => UserSpec::Name(text.to_owned()),
        }),
    }
}

impl Credentials {
    /// Resolves `spec` from /etc/passwd and /etc/group. Fails when pidone is
    /// not root (it could not change user), when a name is not in
    /// /etc/passwd, or when /etc/passwd cannot be read for a name.
    pub fn resolve(spec: &UserSpec) -> Result<Credentials, Error> {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 {
            return Err(Error::Usage(format!(
                "cannot run a workload as user '{}': pidone is not root (uid {euid})",
                Shown(spec)
            )));
        }
        let read = |path: &str| match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            // FROM scratch: no /etc/passwd; a number needs none.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Usage(format!(
                "cannot read {path}: {}",
                crate::envfile::io_text(&e)
            ))),
        };
        let passwd = read(PASSWD)?;
        let group = read(GROUP)?;
        Credentials::from_files(spec, passwd.as_deref(), group.as_deref()).map_err(Error::Usage)
    }

    /// `resolve`'s lookup, given the two files' contents (`None`: no such file).
    pub fn from_files(
        spec: &UserSpec,
        passwd: Option<&[u8]>,
        group: Option<&[u8]>,
    ) -> Result<Credentials, String> {
        let mut entries = passwd.into_iter().flat_map(lines).filter_map(Entry::parse);
        let (entry, gid) = match spec {
            UserSpec::Name(name) => {
                let Some(entry) = entries.find(|e| e.name == name.as_bytes()) else {
                    let why = if passwd.is_some() {
                        "not in /etc/passwd"
                    } else {
                        "there is no /etc/passwd (give UID:GID)"
                    };
                    return Err(format!("unknown user '{name}': {why}"));
                };
                let gid = entry.gid;
                (Some(entry), gid)
            }
            &UserSpec::Id { uid, gid } => {
                let entry = entries.find(|e| e.uid == uid);
                // Without an entry or a GID: group 0, as docker --user, gosu and su-exec.
                let gid = gid.or(entry.as_ref().map(|e| e.gid)).unwrap_or(0);
                (entry, gid)
            }
        };
        let uid = match (&entry, spec) {
            (Some(e), _) => e.uid,
            (None, UserSpec::Id { uid, .. }) => *uid,
            (None, UserSpec::Name(_)) => unreachable!("a name without an entry returned above"),
        };
        let mut groups = vec![gid];
        if let Some(entry) = &entry {
            let listed = group
                .into_iter()
                .flat_map(lines)
                .filter_map(|line| member_of(line, entry.name));
            for g in listed {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        Ok(Credentials {
            uid,
            gid,
            groups,
            home: entry.as_ref().map_or_else(
                || OsString::from("/"),
                |e| OsStr::from_bytes(e.home).to_owned(),
            ),
            name: entry.map(|e| String::from_utf8_lossy(e.name).into_owned()),
        })
    }

    /// A copy that lives as long as pidone, for `spawn::Setup` (which is `Copy`).
    /// Credentials are resolved once, before anything starts: one per service.
    pub fn leak(self) -> &'static Credentials {
        Box::leak(Box::new(self))
    }

    /// pidone's environment with `HOME`, `USER` and `LOGNAME` of this user (no
    /// `USER`/`LOGNAME` for a number without a passwd entry: root's would be
    /// wrong), as the child's `envp`.
    pub fn environment(&self) -> Vec<CString> {
        let ours = |k: &OsStr| matches!(k.as_bytes(), b"HOME" | b"USER" | b"LOGNAME");
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !ours(k))
            .filter_map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).ok())
            .collect();
        env.extend(CString::new([b"HOME=", self.home.as_bytes()].concat()).ok());
        if let Some(name) = &self.name {
            env.extend(CString::new(format!("USER={name}")).ok());
            env.extend(CString::new(format!("LOGNAME={name}")).ok());
        }
        env
    }

    /// In the child, before exec: groups, gid, uid, in that order (setuid last:
    /// after it the others are not allowed). Raw system calls only: the C
    /// library's wrappers would broadcast to "other threads" of a CLONE_VM
    /// child, which are pidone's. Allocates nothing.
    pub(crate) fn apply(&self) -> Result<(), (&'static str, Errno)> {
        let groups: &[u32] = &self.groups;
        // SAFETY: plain system calls on the calling process; `groups` is a live
        // slice of gid_t-sized values for the length passed.
        unsafe {
            if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
                return Err(("set the supplementary groups", Errno::last()));
            }
            if libc::syscall(libc::SYS_setgid, self.gid) != 0 {
                return Err(("set the group id", Errno::last()));
            }
            if libc::syscall(libc::SYS_setuid, self.uid) != 0 {
                return Err(("set the user id", Errno::last()));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Credentials {
    /// `app (uid 1000, gid 1000, groups 1000,27)`, for messages and the plan.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name} ")?;
        }
        let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
        write!(
            f,
            "(uid {}, gid {}, groups {})",
            self.uid,
            self.gid,
            groups.join(",")
        )
    }
}

/// A `UserSpec` as written.
struct Shown<'a>(&'a UserSpec);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            UserSpec::Name(name) => f.write_str(name),
            UserSpec::Id { uid, gid: None } => write!(f, "{uid}"),
            UserSpec::Id {
                uid,
                gid: Some(gid),
            } => write!(f, "{uid}:{gid}"),
        }
    }
}

fn lines(file: &[u8]) -> impl Iterator<Item = &[u8]> {
    file.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// A line of /etc/passwd: `name:password:uid:gid:gecos:home:shell`.
struct Entry<'a> {
    name: &'a [u8],
    uid: u32,
    gid: u32,
    home: &'a [u8],
}

impl<'a> Entry<'a> {
    /// `None` for a line that is not an entry (blank, a comment, NIS `+`/`-`).
    fn parse(line: &'a [u8]) -> Option<Entry<'a>> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let [name, _, uid, gid, _, home, ..] = fields[..] else {
            return None;
        };
        if name.is_empty() || matches!(name[0], b'#' | b'+' | b'-') {
            return None;
        }
        Some(Entry {
            name,
            uid: number(uid)?,
            gid: number(gid)?,
            home,
        })
    }
}

/// The gid of a line of /etc/group (`name:password:gid:member,...`) that lists `user`.
fn member_of(line: &[u8], user: &[u8]) -> Option<u32> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
    let [name, _, gid, members, ..] = fields[..] else {
        return None;
    };
    if name.is_empty() || name[0] == b'#' {
        return None;
    }
    members
        .split(|&b| b == b',')
        .any(|m| m.trim_ascii() == user)
        .then(|| number(gid))?
}

fn number(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\n\
        # a comment\n\
        \n\
        +nis::::::\n\
        app:x:1000:1001:App,,,:/home/app:/bin/sh\n\
        other:x:1002:1002::/srv/other:/bin/sh\r\n";
    const GROUP: &[u8] = b"root:x:0:\n\
        app:x:1001:\n\
        docker:x:999:other,app\n\
        video:x:44: app \n\
        staff:x:50:other\n";

    fn name(n: &str) -> UserSpec {
        UserSpec::Name(n.into())
    }

    #[test]
    fn a_name_gets_its_entry_and_every_group_listing_it() {
        let c = Credentials::from_files(&name("app"), Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((c.uid, c.gid), (1000, 1001));
        assert_eq!(c.groups, [1001, 999, 44]);
        assert_eq!(c.home, "/home/app");
        assert_eq!(c.name.as_deref(), Some("app"));
        let o = Credentials::from_files(&name("other"), Some(PASSWD), None).unwrap();
        assert_eq!(
            (o.uid, o.groups, o.home),
            (1002, vec![1002], "/srv/other".into())
        );
    }

    #[test]
    fn an_unknown_name_is_an_error() {
        let e = Credentials::from_files(&name("nope"), Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(e, "unknown user 'nope': not in /etc/passwd");
        let e = Credentials::from_files(&name("app"), None, None).unwrap_err();
        assert!(e.contains("no /etc/passwd"), "{e}");
        // A name that is not an entry's name, but a NIS line's or a comment's.
        assert!(Credentials::from_files(&name("+nis"), Some(PASSWD), None).is_err());
    }

    #[test]
    fn a_number_needs_no_passwd_and_defaults_to_group_0() {
        let id = |uid, gid| UserSpec::Id { uid, gid };
        let c = Credentials::from_files(&id(4242, None), None, None).unwrap();
        assert_eq!((c.uid, c.gid, c.groups, c.name), (4242, 0, vec![0], None));
        assert_eq!(c.home, "/");
        let c = Credentials::from_files(&id(4242, Some(7)), Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((c.gid, c.groups), (7, vec![7]));
        // A number with an entry is that entry, with the GID given if any.
        let c = Credentials::from_files(&id(1000, Some(5)), Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((c.gid, c.groups), (5, vec![5, 999, 44]));
        assert_eq!(c.name.as_deref(), Some("app"));
        let c = Credentials::from_files(&id(1000, None), Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(c.gid, 1001);
    }

    #[test]
    fn specs_parse() {
        assert_eq!(parse("app"), Ok(name("app")));
        assert_eq!(
            parse("1000"),
            Ok(UserSpec::Id {
                uid: 1000,
                gid: None
            })
        );
        assert_eq!(
            parse("1000:50"),
            Ok(UserSpec::Id {
                uid: 1000,
                gid: Some(50)
            })
        );
        assert!(parse("app:50").is_err());
        assert!(parse("1000:").is_err());
        assert!(parse("").is_err());
        assert_eq!(parse("+5"), Ok(name("+5")));
        assert!(parse("4294967295").is_err(), "(uid_t)-1");
        assert!(parse("1:4294967295").is_err());
        assert!(parse("99999999999").is_err());
    }

    #[test]
    fn the_environment_names_the_user() {
        let c = Credentials::from_files(&name("app"), Some(PASSWD), None).unwrap();
        let env = c.environment();
        let has = |s: &str| env.iter().any(|e| e.as_bytes() == s.as_bytes());
        assert!(has("HOME=/home/app") && has("USER=app") && has("LOGNAME=app"));
        let homes = env
            .iter()
            .filter(|e| e.as_bytes().starts_with(b"HOME="))
            .count();
        assert_eq!(homes, 1);
        let n = Credentials::from_files(&UserSpec::Id { uid: 9, gid: None }, None, None).unwrap();
        let env = n.environment();
        assert!(!env.iter().any(|e| e.as_bytes().starts_with(b"USER=")));
        assert_eq!(n.to_string(), "(uid 9, gid 0, groups 0)");
        assert_eq!(c.to_string(), "app (uid 1000, gid 1001, groups 1001)");
    }
}
