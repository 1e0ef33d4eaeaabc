//! The bench's own cpu cgroup, so that the inits are scheduled as in a container.
//!
//! With `kernel.sched_autogroup_enabled` (most desktop and server kernels), each
//! session of a task in the *root* cpu cgroup is scheduled as a group of its own.
//! A container never sees this: the runtime puts it in a cpu cgroup of its own.
//! Run from a shell in the root cgroup, an init that gives its child a session
//! (pidone, dumb-init) would hand it a scheduling group, and one that gives it a
//! process group only (tini, catatonit) would not: in an RT storm that alone
//! moved an init's CPU per signal by 20 % (benches/README.md). So the bench moves
//! itself, and so everything it starts, into a fresh cpu cgroup, and back at the end.

use pidone::diagnose::Cgroup;
use std::fs;
use std::path::PathBuf;

/// A cpu cgroup this process moved into; dropping it moves back and removes it.
pub struct Moved {
    dir: PathBuf,
    back: PathBuf,
}

impl Drop for Moved {
    fn drop(&mut self) {
        let _ = fs::write(
            self.back.join("cgroup.procs"),
            std::process::id().to_string(),
        );
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Moves this process into a new cpu cgroup when autogroup would otherwise apply.
/// Returns the cgroup (or None) and a line for the results saying which it is.
pub fn leave_autogroup() -> (Option<Moved>, String) {
    let on = fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|s| s.trim() == "1");
    if !on {
        return (None, "autogroup off".into());
    }
    match move_self() {
        Ok(Some(moved)) => {
            let line = format!("in cpu cgroup {} (no autogroup)", moved.dir.display());
            (Some(moved), line)
        }
        Ok(None) => (None, "in a cpu cgroup already (no autogroup)".into()),
        Err(e) => (
            None,
            format!("autogroup ON (cannot make a cpu cgroup: {e}): sessions are scheduled apart"),
        ),
    }
}

/// The cpu hierarchy's mount point when this process sits at its root (found
/// the way pidone finds its memory and pids cgroups).
fn root_cpu_mount() -> Result<Option<PathBuf>, String> {
    let group = Cgroup::find("cpu").ok_or("no cpu cgroup in /proc/self/cgroup")?;
    if group.dir != group.top {
        return Ok(None);
    }
    if group.v2 {
        let enabled = fs::read_to_string(group.top.join("cgroup.subtree_control"))
            .map_err(|e| e.to_string())?;
        if !enabled.split_whitespace().any(|c| c == "cpu") {
            return Err("the cpu controller is not enabled in the root cgroup".into());
        }
    }
    Ok(Some(group.top))
}

fn move_self() -> Result<Option<Moved>, String> {
    let Some(mount) = root_cpu_mount()? else {
        return Ok(None);
    };
    let dir = mount.join(format!("pidone-bench.{}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let moved = Moved { dir, back: mount };
    fs::write(
        moved.dir.join("cgroup.procs"),
        std::process::id().to_string(),
    )
    .map_err(|e| format!("cannot move into {}: {e}", moved.dir.display()))?;
    Ok(Some(moved))
}
