//! pidone's cgroups: which cgroup of each controller pidone is in, and where its
//! directory is, on cgroup v1, v2 or hybrid hosts (/proc/self/cgroup, mountinfo).
//!
//! It only finds directories; what is read in them is the other modules' business.

use super::text::read_text;
use std::fs;
use std::path::PathBuf;

/// One controller's cgroup of this process, and where it is in the file system
/// (public for the benchmark, which moves itself out of the root cpu cgroup).
#[derive(Debug, PartialEq, Eq)]
pub struct Cgroup {
    /// As /proc/self/cgroup names it: `/docker/abc`.
    pub name: String,
    /// The cgroup's directory.
    pub dir: PathBuf,
    /// The directory the hierarchy is mounted on (an ancestor of `dir`, or `dir`).
    pub top: PathBuf,
    pub v2: bool,
}

impl Cgroup {
    /// pidone's cgroup for `controller`: the v1 hierarchy that has it, else the v2 one.
    /// The usual mount point (/sys/fs/cgroup, /sys/fs/cgroup/CONTROLLER) is
    /// tried first; /proc/self/mountinfo, long on a busy host and costly to
    /// generate, is read only when the cgroup's directory is not there (a v1
    /// hierarchy mounted elsewhere, or mounted from a cgroup below the root, as
    /// Docker does without a cgroup namespace).
    pub fn find(controller: &str) -> Option<Cgroup> {
        Self::find_where(controller, |group| group.dir.is_dir())
    }

    /// `find`, where `usable` tells whether the cgroup found at the usual mount
    /// point is there (and may open what it needs from it on the way).
    pub(super) fn find_where(
        controller: &str,
        usable: impl FnOnce(&Cgroup) -> bool,
    ) -> Option<Cgroup> {
        let cgroups = read_text("/proc/self/cgroup")?;
        locate(&cgroups, "", controller)
            .filter(|group| usable(group))
            .or_else(|| {
                let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                locate(&cgroups, &mountinfo, controller)
            })
    }

    /// `(name, dir)` of this cgroup and each ancestor up to the hierarchy's top.
    pub(super) fn ancestry(&self) -> Vec<(String, PathBuf)> {
        let mut levels = Vec::new();
        let mut name = self.name.as_str();
        let mut dir = self.dir.as_path();
        loop {
            levels.push((name.to_owned(), dir.to_path_buf()));
            if dir == self.top {
                return levels;
            }
            match (dir.parent(), name.rsplit_once('/')) {
                (Some(up), Some((parent, _))) => {
                    dir = up;
                    name = if parent.is_empty() { "/" } else { parent };
                }
                _ => return levels,
            }
        }
    }
}

/// Finds `controller`'s cgroup from the texts of /proc/self/cgroup and
/// /proc/self/mountinfo (the usual /sys/fs/cgroup paths when mountinfo lacks it).
fn locate(cgroups: &str, mountinfo: &str, controller: &str) -> Option<Cgroup> {
    let v1 = cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    });
    let (v2, name) = match v1 {
        Some(path) => (false, path),
        None => (true, cgroups.lines().find_map(|l| l.strip_prefix("0::"))?),
    };
    let want = (!v2).then_some(controller);
    let (root, top) = mount_of(mountinfo, want).unwrap_or_else(|| {
        let top = match want {
            Some(c) => format!("/sys/fs/cgroup/{c}"),
            None => "/sys/fs/cgroup".to_owned(),
        };
        ("/".to_owned(), PathBuf::from(top))
    });
    // A cgroup outside the mount's root (another cgroup namespace) is out of reach.
    let inside = if root == "/" {
        name
    } else {
        name.strip_prefix(root.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))?
    };
    let inside = inside.trim_start_matches('/');
    if inside.split('/').any(|part| part == "..") {
        return None;
    }
    let dir = if inside.is_empty() {
        top.clone()
    } else {
        top.join(inside)
    };
    Some(Cgroup {
        name: name.to_owned(),
        dir,
        top,
        v2,
    })
}

/// The root and mount point of the v1 hierarchy holding `controller`, or of
/// the v2 hierarchy when `controller` is `None`.
fn mount_of(mountinfo: &str, controller: Option<&str>) -> Option<(String, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mount: Vec<&str> = mount.split(' ').collect();
        let fs: Vec<&str> = fs.split(' ').collect();
        let (root, point) = (mount.get(3)?, mount.get(4)?);
        let (fstype, options) = (*fs.first()?, fs.get(2).copied().unwrap_or(""));
        let found = match controller {
            Some(c) => fstype == "cgroup" && options.split(',').any(|o| o == c),
            None => fstype == "cgroup2",
        };
        found.then(|| (unescape(root), PathBuf::from(unescape(point))))
    })
}

/// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn cgroups_are_found_in_v1_v2_and_hybrid() {
        let cgroups =
            "8:pids:/docker/abc\n4:memory:/docker/abc\n2:cpu,cpuacct:/\n0::/system.slice\n";
        let memory = locate(cgroups, MOUNTINFO, "memory").unwrap();
        assert_eq!(memory.name, "/docker/abc");
        // The memory hierarchy is mounted from /docker/abc (a container's view).
        assert_eq!(memory.dir, Path::new("/sys/fs/cgroup/memory"));
        assert!(!memory.v2);
        let pids = locate(cgroups, MOUNTINFO, "pids").unwrap();
        assert_eq!(pids.dir, Path::new("/sys/fs/cgroup/pids/docker/abc"));
        let names: Vec<String> = pids.ancestry().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["/docker/abc", "/docker", "/"]);
        assert_eq!(pids.ancestry()[2].1, Path::new("/sys/fs/cgroup/pids"));
        let cpu = locate(cgroups, MOUNTINFO, "cpuacct").unwrap();
        assert_eq!(cpu.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // Hybrid: a controller v1 lacks falls to the unified hierarchy.
        let io = locate(cgroups, MOUNTINFO, "io").unwrap();
        assert!(io.v2);
        assert_eq!(io.dir, Path::new("/sys/fs/cgroup/unified/system.slice"));
        // Pure v2, with no mountinfo: the usual place.
        let v2 = locate("0::/kubepods/pod1\n", "", "memory").unwrap();
        assert_eq!(v2.dir, Path::new("/sys/fs/cgroup/kubepods/pod1"));
        assert_eq!(v2.ancestry().len(), 3);
        // Out of the mount's reach (another cgroup namespace).
        assert_eq!(locate("4:memory:/other\n", MOUNTINFO, "memory"), None);
        assert_eq!(locate("0::/../x\n", "", "memory"), None);
        assert_eq!(locate("", MOUNTINFO, "memory"), None);
    }
    #[test]
    fn mountinfo_fields_unescape() {
        assert_eq!(unescape(r"/a\040b\\x"), r"/a b\\x");
        assert_eq!(unescape(r"/a\134b"), r"/a\b");
    }
}
