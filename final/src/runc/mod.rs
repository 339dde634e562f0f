//! # skiff-runc: an OCI runtime with runc's command line
//!
//! Docker does not start containers itself: dockerd asks containerd, whose
//! shim (`containerd-shim-runc-v2`) runs `runc create`, `runc start`,
//! `runc kill`, `runc delete`, reading each container's description from a
//! *bundle*: a directory with a root filesystem and a `config.json` in the
//! format of the OCI runtime specification. Any program with runc's
//! command line can take runc's place (`ctr run --runc-binary`, dockerd's
//! `--add-runtime`). skiff-runc is such a program, made of the chapters:
//! the container it runs is chapter 4's spec on chapter 3's cgroups,
//! started by chapter 2's run path and chapter 1's spawn, as `skiff run`'s
//! containers are.
//!
//! - [`config`]: `config.json`, read, with what it asks that we cannot do.
//! - [`spec`]: from the configuration to the chapters' run spec.
//! - [`step`]: the runtime's step of the run path (hooks, the exec fifo,
//!   rlimits, sysctls, the cgroup view), and its engine.
//! - [`lifecycle`]: `create` (a supervisor per container), `start` (the
//!   exec fifo), `kill`, `delete`, `run`.
//! - [`exec`]: `exec`, with chapter 2's `exec`.
//! - [`state`]: the OCI state, derived from the record each time.
//! - [`hooks`], [`console`], [`log`]: hooks, the terminal sent over
//!   `--console-socket`, and the log callers read.
//! - [`info`]: `state`, `list`, `ps`, `pause`, `resume`, `features`, `spec`.
//! - [`cli`]: runc's command line.

pub mod cli;
pub mod config;
pub mod console;
pub mod exec;
pub mod hooks;
pub mod info;
pub mod lifecycle;
pub mod log;
pub mod spec;
pub mod state;
pub mod step;

/// The version of the runtime specification this runtime follows.
pub const OCI_VERSION: &str = "1.0.2";

/// What `--version` prints after the name, as runc prints its own.
pub const VERSION_TEXT: &str = concat!("version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2");
