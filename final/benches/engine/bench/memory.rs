//! What a process costs in memory, read from /proc.
//!
//! RSS (`VmRSS` in /proc/PID/status) counts every page the process has
//! mapped in, shared or not: a hundred shims of one binary each count the
//! binary's pages. PSS (`Pss` in /proc/PID/smaps_rollup, Linux 4.14+)
//! divides each shared page among the processes that map it, so the PSS of
//! a hundred shims adds up to what they really take: it is the fairer
//! figure for "memory per container".
//!
//! Both are read from smaps_rollup where it exists: the kernel counts them
//! in one walk of the process's page tables. `VmRSS` is a counter that,
//! before Linux 6.2, each thread brings up to date only every 64 page
//! events, so it can read below the PSS of the same moment (Debian 12's
//! 6.1 kernel does); it is the fallback where there is no smaps_rollup.

use anyhow::{Context, Result};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    /// Bytes.
    pub rss: u64,
    /// Bytes; `None` where the kernel has no smaps_rollup.
    pub pss: Option<u64>,
}

impl Memory {
    /// What the processes `pids` take together.
    pub fn of_all(pids: &[i32]) -> Result<Memory> {
        let mut total = Memory {
            rss: 0,
            pss: Some(0),
        };
        for &pid in pids {
            let one = Memory::of(pid)?;
            total.rss += one.rss;
            total.pss = total.pss.zip(one.pss).map(|(a, b)| a + b);
        }
        Ok(total)
    }

    /// What process `pid` takes.
    pub fn of(pid: i32) -> Result<Memory> {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok();
        let counted = rollup
            .as_deref()
            .and_then(|rollup| Some((kib_field(rollup, "Rss:")?, kib_field(rollup, "Pss:")?)));
        if let Some((rss, pss)) = counted {
            return Ok(Memory {
                rss: rss * 1024,
                pss: Some(pss * 1024),
            });
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("read the memory of process {pid}"))?;
        let rss = kib_field(&status, "VmRSS:")
            .with_context(|| format!("no VmRSS in /proc/{pid}/status"))?;
        Ok(Memory {
            rss: rss * 1024,
            pss: None,
        })
    }

    /// The median of `samples` readings of `pids` taken 200 ms apart: a
    /// daemon's memory moves a little while a timer fires or a GC runs.
    pub fn settled(pids: &[i32], samples: usize) -> Result<Memory> {
        let mut readings = Vec::new();
        for n in 0..samples {
            if n > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            readings.push(Memory::of_all(pids)?);
        }
        let mut rss: Vec<u64> = readings.iter().map(|m| m.rss).collect();
        rss.sort_unstable();
        let mut pss: Option<Vec<u64>> = readings.iter().map(|m| m.pss).collect();
        if let Some(pss) = pss.as_mut() {
            pss.sort_unstable();
        }
        Ok(Memory {
            rss: rss[rss.len() / 2],
            pss: pss.map(|pss| pss[pss.len() / 2]),
        })
    }
}

/// The value of a `Name:   1234 kB` line.
pub fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

/// The parent of process `pid` (field 4 of /proc/PID/stat, read after the
/// command name, which may itself hold spaces and parentheses).
pub fn parent(pid: i32) -> Result<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    let after_name = &stat[stat.rfind(')').context("a malformed stat")? + 1..];
    after_name
        .split_whitespace()
        .nth(1)
        .and_then(|ppid| ppid.parse().ok())
        .with_context(|| format!("no parent in /proc/{pid}/stat"))
}

/// The command line of `pid`, arguments joined by spaces.
pub fn command_line(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .split('\0')
                .filter(|arg| !arg.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
