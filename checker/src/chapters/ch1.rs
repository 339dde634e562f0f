//! Chapter 1: the process. The engine starts a command, relays its output
//! and exit status, passes signals on, and stops it as docker does.

use super::{Check, expect_in};
use crate::target::Target;
use nix::sys::signal::{Signal, kill};
use std::time::Duration;

const SPAWNING: &str = "The process > The code > Spawning";
const SUPERVISING: &str = "The process > The code > Supervising";

pub const CHECKS: [Check; 6] = [
    Check {
        chapter: 1,
        id: "1.1",
        name: "runs the command and relays its output",
        hint: SPAWNING,
        run: output,
    },
    Check {
        chapter: 1,
        id: "1.2",
        name: "exits with the command's exit code",
        hint: SUPERVISING,
        run: exit_code,
    },
    Check {
        chapter: 1,
        id: "1.3",
        name: "a command that does not exist exits 127",
        hint: SPAWNING,
        run: not_found,
    },
    Check {
        chapter: 1,
        id: "1.4",
        name: "a command killed by SIGKILL exits 128+9",
        hint: "The process > What and why > The duties of PID 1",
        run: killed,
    },
    Check {
        chapter: 1,
        id: "1.5",
        name: "SIGTERM sent to the engine reaches the command",
        hint: SUPERVISING,
        run: forwards_signals,
    },
    Check {
        chapter: 1,
        id: "1.6",
        name: "--stop-timeout: a command that ignores SIGTERM gets SIGKILL",
        hint: SUPERVISING,
        run: stop_timeout,
    },
];

fn output(target: &Target) -> Result<(), String> {
    let run = target.run(&[], &["sh", "-c", "echo out; echo err >&2"])?;
    run.expect_code(0)?;
    expect_in("standard output", &run.stdout, "out")?;
    expect_in("standard error", &run.stderr, "err")
}

fn exit_code(target: &Target) -> Result<(), String> {
    target.run(&[], &["probe", "exit", "7"])?.expect_code(7)?;
    Ok(())
}

fn not_found(target: &Target) -> Result<(), String> {
    target.run(&[], &["/no/such/program"])?.expect_code(127)?;
    Ok(())
}

fn killed(target: &Target) -> Result<(), String> {
    let mut running = target.start(&[], &["probe", "sleep", "30"])?;
    let command = running.command_pid("probe", Duration::from_secs(10))?;
    // The command is the binary's child, started by us: ours to kill.
    let _ = kill(command, Signal::SIGKILL);
    running.finish(Duration::from_secs(10))?.expect_code(137)?;
    Ok(())
}

fn forwards_signals(target: &Target) -> Result<(), String> {
    let mut running = target.start(&[], &["probe", "signals"])?;
    running.wait_for_output("ready", Duration::from_secs(10))?;
    running.signal(Signal::SIGTERM);
    let finished = running.finish(Duration::from_secs(10))?;
    expect_in("the command's output", &finished.stdout, "got SIGTERM")?;
    finished.expect_code(0)?;
    Ok(())
}

fn stop_timeout(target: &Target) -> Result<(), String> {
    let script = format!("trap '' TERM; echo ready; {} sleep 30", target.probe());
    let mut running = target.start(&["--stop-timeout", "1"], &["sh", "-c", &script])?;
    running.wait_for_output("ready", Duration::from_secs(10))?;
    running.signal(Signal::SIGTERM);
    running
        .finish(Duration::from_secs(10))
        .map_err(|e| format!("{e} (no SIGKILL after the stop timeout)"))?
        .expect_code(137)?;
    Ok(())
}
