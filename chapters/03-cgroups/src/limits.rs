//! What a container may use: the limits of `docker run`, as plain data.
//!
//! Every field is optional: `None` leaves the kernel's default, which is
//! "no limit" (or, for `cpu_shares`, the default weight). The units are the
//! ones users think in (bytes, CPUs, shares); [`Cgroup`](crate::Cgroup)
//! translates them into what each cgroup version wants:
//!
//! | field         | docker flag      | cgroup v2                    | cgroup v1                                  |
//! |---------------|------------------|------------------------------|--------------------------------------------|
//! | `memory`      | `--memory`       | `memory.max`                 | `memory.limit_in_bytes`                    |
//! | `memory_swap` | `--memory-swap`  | `memory.swap.max` (swap only)| `memory.memsw.limit_in_bytes` (mem + swap) |
//! | `cpus`        | `--cpus`         | `cpu.max` = `QUOTA PERIOD`   | `cpu.cfs_quota_us`, `cpu.cfs_period_us`    |
//! | `cpu_shares`  | `--cpu-shares`   | `cpu.weight` (1..10000)      | `cpu.shares` (2..262144)                   |
//! | `cpuset_cpus` | `--cpuset-cpus`  | `cpuset.cpus`                | `cpuset.cpus`                              |
//! | `pids_limit`  | `--pids-limit`   | `pids.max`                   | `pids.max`                                 |

// ANCHOR: limits
/// The resource limits of one container: chapter 3's section of the run
/// spec (`"limits": {"memory": 67108864}` in a container's record).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Hard memory limit in bytes. Above it, the kernel reclaims the
    /// container's memory (page cache, swap) and, when that is not enough,
    /// its OOM killer kills a process of the container, never one outside it.
    pub memory: Option<u64>,
    /// Limit on memory **plus** swap in bytes, as docker counts it; `-1` is
    /// unlimited swap. Setting it equal to `memory` forbids swapping.
    /// Requires `memory`.
    pub memory_swap: Option<i64>,
    /// CPU time, in CPUs: `0.5` lets the container run half of every
    /// 100 ms period; when it has used its share, its threads wait (they are
    /// *throttled*) until the next period starts.
    pub cpus: Option<f64>,
    /// Relative CPU weight when CPUs are busy (docker's default is 1024).
    /// It only matters under contention, and never caps an idle machine.
    pub cpu_shares: Option<u64>,
    /// The CPUs the container may run on, in the kernel's list format:
    /// `"0"`, `"0-1"`, `"0,2-3"`.
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes (tasks, in fact: threads count) in the
    /// container; `fork` and `clone` fail with `EAGAIN` beyond it. Zero or a
    /// negative number means unlimited, as in docker.
    pub pids_limit: Option<i64>,
}
// ANCHOR_END: limits

impl Limits {
    /// Whether no limit at all is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}
