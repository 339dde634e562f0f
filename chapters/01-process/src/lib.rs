//! # Chapter 1: the process
//!
//! A container is a process. Before we isolate it (chapter 2), limit it
//! (chapter 3) or give it an image (chapters 4 and 5), we have to start it,
//! wait for it, pass signals to it and report how it ended, the way PID 1 of
//! every container must. This crate does exactly that, and every later
//! chapter starts its containers through it.
//!
//! - [`spawn`]: `fork` + `execve`, with hooks for the steps later chapters
//!   put between the two, and errors reported back from the child.
//! - [`supervise`]: the supervisor loop: forwards signals, reaps orphans,
//!   escalates to SIGKILL after a stop timeout, returns the exit status.
//! - [`exit`]: exit statuses, and why a killed process "exits" with 128 + N.
//! - [`explain`]: the `--explain` narration every chapter binary offers.
//! - [`user`]: running as another user (`--user`).
//! - [`sealed_exe`]: the engine re-executes itself from a sealed copy in
//!   memory, so that no container can rewrite its binary (CVE-2019-5736).
//! - [`cli`]: the command-line options of this chapter, reused by the next.
//! - [`shell`]: what every chapter binary's `main` shares: `--explain`, the
//!   error report and the exit code.

pub mod cli;
pub mod exit;
pub mod explain;
pub mod sealed_exe;
pub mod shell;
pub mod spawn;
pub mod supervise;
pub mod terminal;
pub mod user;

pub use exit::ExitStatus;
pub use spawn::{
    Child, HookError, NoHooks, ProcessSpec, SpawnError, SpawnHooks, SpawnOptions, Then, spawn,
};
pub use supervise::{NoWatch, SuperviseOptions, Supervisor, Watch};
