//! # Chapter 2: namespaces
//!
//! Chapter 1 started a process. This chapter starts it in a world of its
//! own: its own hostname, process numbers, mounts, IPC objects, network and
//! (optionally) user ids; a root filesystem of its own, switched to with
//! `pivot_root`; the kernel filesystems a program expects; and docker's
//! hardening: a reduced capability set, masked and read-only paths, and
//! `no_new_privs` on request. It also makes the process a *container*: a
//! thing with an id and a name, recorded on disk, that later commands find.
//!
//! - [`namespaces`]: which namespaces, hostname, loopback.
//! - [`mounts`]: private propagation, /proc, /dev, /sys, `pivot_root`, masked paths.
//! - [`caps`]: capabilities, and docker's default set.
//! - [`userns`]: uid and gid maps, written by the parent.
//! - [`seccomp`]: docker's system call filter, and docker's profile format.
//! - [`container`]: the hooks that put all of it between `clone` and `execve`.
//! - [`spec`]: the run spec, everything about a container as data.
//! - [`records`], [`names`]: containers on disk, found by name or id.
//! - [`step`], [`run`]: the run path (create, prepare, start, wait) and the
//!   steps later chapters add to it.
//! - [`exec`]: entering a running container with `setns`.
//! - [`verbs`]: `ps`, `stop`, `kill`, `rm`, `prune`, `inspect`.
//! - [`cli`]: this chapter's flags and verbs, kept by the next.

pub mod caps;
pub mod cli;
pub mod container;
pub mod exec;
pub mod init;
pub mod mounts;
pub mod names;
pub mod namespaces;
pub mod records;
pub mod run;
pub mod seccomp;
pub mod spec;
pub mod step;
pub mod userns;
pub mod verbs;

pub use container::{ContainerError, require_root};
pub use run::{Container, Engine, NamespaceEngine, RunError};
pub use spec::{RunSpec, Spec};
pub use step::{ExitReport, Step, StepError};
