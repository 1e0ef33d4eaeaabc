//! Why did it die? One line on a workload death nobody asked for (a signal pidone
//! did not forward, a core dump, the OOM killer), and the limit a failed fork hit.
//!
//! It reads what the kernel already keeps (the memory and pids cgroups of pidone,
//! RLIMIT_NPROC, /proc) and decides nothing: the supervisor logs the line, `error`
//! puts the limits in its message. A file that cannot be read is simply left out.
//! The one file it writes is Kubernetes' termination message.
//!
//! - `cgroup`: which cgroup of a controller pidone is in, and its directory
//!   (cgroup v1, v2, hybrid; /proc/self/cgroup and mountinfo).
//! - `counters`: the OOM counters of that memory cgroup, read before the workload
//!   starts and again when it dies; on v1, the forks failed at `pids.max`, read
//!   when a main process ends and at exit (v1 does not notify them).
//! - `death`: the death line, from the wait status and those counters.
//! - `events`: limit events as they happen (memory and pids cgroups, through
//!   inotify on v2 and an eventfd on v1), one line each.
//! - `fork`: the limit a failed fork most likely hit (RLIMIT_NPROC, pids, memory).
//! - `top`: the largest processes of a cgroup, by RSS or by tasks, for a limit
//!   event's line.
//! - `termination`: Kubernetes' termination message (/dev/termination-log).
//! - `text`: timestamps, durations, sizes, one-line escaping, small file reads.

mod cgroup;
mod counters;
mod death;
mod events;
mod fork;
pub mod termination;
mod text;
pub mod top;

pub use cgroup::Cgroup;
pub use counters::{ForkFailures, MemoryCounters};
pub use death::{Death, death, death_at};
pub use events::Limits;
pub use fork::fork_limits;
pub use termination::TerminationLog;
pub use text::{duration, timestamp};
