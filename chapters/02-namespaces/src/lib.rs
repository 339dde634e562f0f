//! # Chapter 2: namespaces
//!
//! Chapter 1 started a process. This chapter starts it in a world of its
//! own: its own hostname, process numbers, mounts, IPC objects, network and
//! (optionally) user ids; a root filesystem of its own, switched to with
//! `pivot_root`; the kernel filesystems a program expects; and docker's
//! hardening: a reduced capability set, masked and read-only paths, and
//! `no_new_privs` on request.
//!
//! - [`namespaces`]: which namespaces, hostname, loopback.
//! - [`mounts`]: private propagation, /proc, /dev, /sys, `pivot_root`, masked paths.
//! - [`caps`]: capabilities, and docker's default set.
//! - [`userns`]: uid and gid maps, written by the parent.
//! - [`seccomp`]: docker's system call filter, and docker's profile format.
//! - [`container`]: the hooks that put all of it between `clone` and `execve`.
//! - [`exec`]: entering a running container with `setns`.
//! - [`cli`]: this chapter's flags, reused by the next.

pub mod caps;
pub mod cli;
pub mod container;
pub mod exec;
pub mod mounts;
pub mod namespaces;
pub mod seccomp;
pub mod userns;

pub use container::{
    ContainerConfig, ContainerError, ContainerHooks, ensure_single_threaded, start,
};
