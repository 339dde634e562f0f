//! # skiff, the engine
#![recursion_limit = "256"]
//!
//! The chapters build every mechanism of a container engine; this crate
//! makes them a product, as Docker's architecture does:
//!
//! ```text
//! skiff CLI ── HTTP on /run/skiff.sock ──> skiff daemon ── spawns ──> skiff shim ──> container
//! (a client)   (Docker's Engine API)        (many threads)             (one per container)
//! ```
//!
//! - [`engine`]: the engine's containers: the chapters' spec with the
//!   engine's own section (restart policy, logs, terminal, labels).
//! - [`daemon`]: the daemon: the API server, events, shims and restarts.
//! - [`api`]: Docker's Engine API, endpoint by endpoint.
//! - [`shim`]: one small process per container that outlives the daemon.
//! - [`logs`], [`frames`]: docker's json-file logs, and its multiplexed stream.
//! - [`client`], [`cli`]: the `skiff` CLI, a client of the API.
//! - [`template`]: `--format`'s Go templates.
//! - [`runc`]: `skiff-runc`, an OCI runtime with runc's command line.
//! - [`copy`]: `cp` and `export`: files in and out of a container's root.
//! - [`base64`]: the encoding of docker's JSON headers.

pub mod api;
pub mod base64;
pub mod cli;
pub mod client;
pub mod compose;
pub mod copy;
pub mod daemon;
pub mod detach;
pub mod engine;
pub mod frames;
pub mod logs;
pub mod runc;
pub mod shim;
pub mod template;
