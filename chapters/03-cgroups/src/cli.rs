//! The command-line options of `ch03-cgroups run`, kept by later chapters.

use crate::limits::Limits;
use crate::size::{SizeError, parse_cpus, parse_memory_swap, parse_size};
use clap::Args;

/// Options that limit a container.
#[derive(Debug, Clone, Default, Args)]
pub struct CgroupArgs {
    /// The container's name, for `stats`, `pause` and `unpause` (default: random)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Memory limit (e.g. 64m, 1g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Memory plus swap limit; -1 for unlimited swap (default: no swap beyond --memory)
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,

    /// Number of CPUs' worth of time (e.g. 0.5)
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,

    /// Relative CPU weight (docker's default is 1024)
    #[arg(short = 'c', long = "cpu-shares", value_name = "N")]
    pub cpu_shares: Option<u64>,

    /// CPUs the container may run on (e.g. 0, 0-1, 0,2)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,

    /// Maximum number of tasks (processes and threads); -1 for unlimited
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

/// The smallest memory limit accepted, as docker's: below it the runtime
/// itself cannot start the container.
pub const MINIMUM_MEMORY: u64 = 6 * 1024 * 1024;

/// A limit flag that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LimitFlagError {
    #[error("invalid {flag}: {reason}")]
    Unreadable {
        flag: &'static str,
        reason: SizeError,
    },
    #[error("--memory {0} is below the minimum of 6m: a container needs some memory to start")]
    MemoryTooSmall(String),
}

// ANCHOR: limits
impl CgroupArgs {
    /// The limits these flags describe, with docker's meanings.
    ///
    /// With `--memory` and no `--memory-swap`, the container gets no swap:
    /// memory+swap equals memory, so a hog is stopped at the limit instead
    /// of paging the machine to a crawl.
    pub fn to_limits(&self) -> Result<Limits, LimitFlagError> {
        let flag = |flag| move |reason| LimitFlagError::Unreadable { flag, reason };
        let memory = self
            .memory
            .as_deref()
            .map(parse_size)
            .transpose()
            .map_err(flag("--memory"))?;
        if memory.is_some_and(|bytes| bytes < MINIMUM_MEMORY) {
            return Err(LimitFlagError::MemoryTooSmall(
                self.memory.clone().unwrap_or_default(),
            ));
        }
        let mut memory_swap = self
            .memory_swap
            .as_deref()
            .map(parse_memory_swap)
            .transpose()
            .map_err(flag("--memory-swap"))?;
        if memory_swap.is_none() {
            memory_swap = memory.map(|m| m as i64);
        }
        Ok(Limits {
            memory,
            memory_swap,
            cpus: self
                .cpus
                .as_deref()
                .map(parse_cpus)
                .transpose()
                .map_err(flag("--cpus"))?,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
        })
    }
}
// ANCHOR_END: limits
