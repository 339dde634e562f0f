//! The whole command line of the `skiff` binary: the global flags, the
//! daemon's socket, and one command (the daemon, the hidden helpers the
//! daemon starts, or a client verb). `main.rs` parses its arguments with
//! it, and the book's checker (`tests/`) parses every `skiff` command line
//! the book shows with it, so that a page cannot show a flag the binary
//! does not have.

use crate::daemon;
use crate::shim::ShimArgs;
use ch02_namespaces::cli::Globals;
use clap::{Parser, Subcommand};

/// skiff: a container engine with Docker's API
#[derive(Debug, Parser)]
#[command(name = "skiff", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    /// The daemon's socket: unix:///path.sock, or tcp://127.0.0.1:PORT (loopback only)
    #[arg(short = 'H', long = "host", global = true, env = "SKIFF_HOST", default_value = daemon::DEFAULT_HOST)]
    pub host: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: Docker's Engine API on the socket of -H
    Daemon,
    /// Run one container for the daemon (started by the daemon)
    #[command(hide = true)]
    Shim(ShimArgs),
    /// Fork the daemon's shims (started by the daemon)
    #[command(hide = true, name = "shim-launcher")]
    ShimLauncher,
    /// Run one exec session for the daemon (started by the daemon)
    #[command(hide = true, name = "exec-helper")]
    ExecHelper {
        container: String,
        #[arg(long)]
        request: String,
        /// With a terminal: the socket (an inherited descriptor) where the
        /// terminal opened inside the container is sent
        #[arg(long = "console-fd")]
        console_fd: Option<i32>,
    },
    /// Run one build for the daemon (started by the daemon)
    #[command(hide = true, name = "build-helper")]
    BuildHelper {
        #[arg(long)]
        request: String,
    },
    /// Pull an image into the store, here (started by a build's helper)
    #[command(hide = true, name = "image-pull")]
    ImagePull { image: String },
    /// Copy files in or out of a container for the daemon (started by the daemon)
    #[command(hide = true, name = "cp-helper")]
    CpHelper {
        container: String,
        #[arg(long)]
        mode: String,
        #[arg(long)]
        path: String,
    },
    #[command(flatten)]
    Client(super::Verbs),
}
