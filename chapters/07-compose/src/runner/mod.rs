//! The runner: a project brought up, watched, and taken down, on chapter
//! 6's engine.
//!
//! - [`up`]: images, networks, volumes, containers; then [`run`], the loop
//!   that starts them in dependency order, prints their output, runs their
//!   healthchecks, restarts them by policy and stops them in reverse order;
//!   [`member`]: one container as the loop sees it.
//! - [`down`], [`ps`]: from any process, by the records' labels.
//! - [`child`]: the processes `up` starts (a supervisor per container, a
//!   helper per healthcheck); [`supervise`] and [`health_exec`] are what
//!   those processes do.
//! - [`console`]: `name-1  | ` prefixes and colours; [`health`],
//!   [`restart`]: docker's rules for health and restarts, with time passed
//!   in (tested without a kernel).
//! - [`images`], [`resources`], [`create`]: what exists before anything
//!   starts; [`attended`]: what a running `up` notes beside each record.

pub mod attended;
pub mod child;
pub mod console;
pub mod create;
pub mod down;
pub mod health;
pub mod images;
pub mod member;
pub mod ps;
pub mod resources;
pub mod restart;
pub mod run;
pub mod up;

use crate::engine::ComposeEngine;
use ch02_namespaces::exec::{ExecError, ExecRequest, exec};
use ch02_namespaces::{Container, RunError};
use std::io::Write;
use std::os::fd::OwnedFd;

// ANCHOR: supervise
/// What one supervisor process does (`ch07-compose supervise ID`): chapter
/// 2's run path for one container that exists, in the foreground. Once
/// the container's program runs, one byte on `ready` says so to `up`.
/// The exit code is the container's.
pub fn supervise(
    engine: &ComposeEngine,
    id: &str,
    ready: Option<OwnedFd>,
) -> Result<i32, RunError> {
    let running = Container::open(engine, id)?.prepare()?.start()?;
    if let Some(ready) = ready {
        let _ = std::fs::File::from(ready).write_all(b"1");
    }
    Ok(running.wait()?.code())
}
// ANCHOR_END: supervise

/// What a healthcheck process does (`ch07-compose health-exec ID --
/// COMMAND`): chapter 2's `exec`, with the container's environment,
/// directory and user.
pub fn health_exec(engine: &ComposeEngine, id: &str, argv: &[String]) -> Result<i32, ExecError> {
    let request = ExecRequest {
        argv: argv.to_vec(),
        ..ExecRequest::default()
    };
    exec(engine, id, &request)
}
