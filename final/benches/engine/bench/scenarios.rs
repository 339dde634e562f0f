//! What is measured, the same way for every engine.
//!
//! Timed scenarios go round by round, and in each round every lane (skiff
//! with its CLI, skiff with the docker CLI, dockerd) takes its turn: a
//! moment of noise from the rest of the machine then slows all of them,
//! not one. The first `--warmup` rounds are thrown away.

use super::interrupt;
use super::memory::{self, Memory};
use super::options::Options;
use super::process::Cli;
use super::report::Column;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::time::Duration;

/// One client pointed at one daemon.
pub struct Lane {
    pub column: Column,
    pub cli: Cli,
    /// Why this lane stopped being measured, after a failure.
    pub broken: Option<String>,
}

/// Milliseconds by column, for one measured phase.
pub type Samples = BTreeMap<Column, Vec<f64>>;

/// Runs `step` once per lane per round; `step` returns the durations of
/// its `phases.len()` phases. A failing skiff lane fails the bench; a
/// failing comparison lane is reported broken, loudly, and left out.
pub fn rounds(
    lanes: &mut [Lane],
    options: &Options,
    phases: &[&str],
    step: impl Fn(&Cli) -> Result<Vec<Duration>>,
) -> Result<Vec<Samples>> {
    let mut samples = vec![Samples::new(); phases.len()];
    for round in 0..options.warmup + options.iterations {
        for lane in lanes.iter_mut().filter(|lane| lane.broken.is_none()) {
            match step(&lane.cli) {
                Ok(durations) => {
                    if round < options.warmup {
                        continue;
                    }
                    for (phase, duration) in durations.iter().enumerate() {
                        samples[phase]
                            .entry(lane.column)
                            .or_default()
                            .push(duration.as_secs_f64() * 1000.0);
                    }
                }
                Err(error) => {
                    interrupt::check()?;
                    if lane.column == Column::Skiff {
                        return Err(error.context(format!("skiff failed at {}", phases[0])));
                    }
                    let reason = format!("failed at {}: {error:#}", phases[0]);
                    eprintln!(
                        "\n!!! {} IS LEFT OUT FROM HERE ON: {reason}\n",
                        lane.column.heading().to_uppercase()
                    );
                    lane.broken = Some(reason);
                    for phase in samples.iter_mut() {
                        phase.remove(&lane.column);
                    }
                }
            }
        }
    }
    Ok(samples)
}

/// `run --rm --network none IMAGE true`: create, start, wait, remove.
pub fn run_rm(lanes: &mut [Lane], options: &Options, image: &str) -> Result<Samples> {
    let phases = ["run --rm true"];
    let mut samples = rounds(lanes, options, &phases, |cli| {
        let (took, _) = cli.timed(&["run", "--rm", "--network", "none", image, "true"])?;
        Ok(vec![took])
    })?;
    Ok(samples.remove(0))
}

/// The phases of [`lifecycle`], in the order of its samples.
pub const LIFECYCLE: [&str; 4] = [
    "run -d sleep",
    "exec true",
    "rm -f",
    "run -d + exec + rm -f",
];

/// `run -d` a sleeping container, `exec` `true` in it, `rm -f` it.
pub fn lifecycle(lanes: &mut [Lane], options: &Options, image: &str) -> Result<Vec<Samples>> {
    rounds(lanes, options, &LIFECYCLE, |cli| {
        let args = ["run", "-d", "--network", "none", image, "sleep", "3600"];
        let (run, id) = cli.timed(&args)?;
        let id = id.trim();
        let (exec, _) = cli.timed(&["exec", id, "true"])?;
        let (rm, _) = cli.timed(&["rm", "-f", id])?;
        Ok(vec![run, exec, rm, run + exec + rm])
    })
}

/// Starts `count` sleeping containers and returns their ids.
pub fn fill(cli: &Cli, count: u32, image: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for _ in 0..count {
        interrupt::check()?;
        let args = ["run", "-d", "--network", "none", image, "sleep", "86400"];
        ids.push(cli.run(&args)?.trim().to_string());
    }
    Ok(ids)
}

/// `ps` of the running containers, which must list exactly `count`.
pub fn ps(lanes: &mut [Lane], options: &Options, count: u32) -> Result<Samples> {
    let phases = ["ps"];
    let mut samples = rounds(lanes, options, &phases, |cli| {
        let (took, listing) = cli.timed(&["ps"])?;
        let listed = listing.lines().count().saturating_sub(1);
        if listed != count as usize {
            bail!("ps listed {listed} containers, not the {count} running:\n{listing}");
        }
        Ok(vec![took])
    })?;
    Ok(samples.remove(0))
}

/// The memory of the shim of each container `ids`: the parent of the
/// container's first process (`State.Pid`), checked to be a shim: its
/// command line must contain `marker`.
pub fn shims(cli: &Cli, ids: &[String], marker: &str) -> Result<Vec<Memory>> {
    let mut args = vec!["inspect", "--format", "{{.State.Pid}}"];
    args.extend(ids.iter().map(String::as_str));
    let pids = cli.run(&args)?;
    let mut found = Vec::new();
    for line in pids.lines() {
        let pid: i32 = line
            .trim()
            .parse()
            .with_context(|| format!("a container pid, not {line:?}"))?;
        let shim = memory::parent(pid)?;
        let command = memory::command_line(shim);
        if !command.contains(marker) {
            bail!("the parent of container process {pid} is not a shim ({marker}): {command}");
        }
        found.push(Memory::of(shim)?);
    }
    if found.len() != ids.len() {
        bail!(
            "inspect gave {} pids for {} containers",
            found.len(),
            ids.len()
        );
    }
    Ok(found)
}
