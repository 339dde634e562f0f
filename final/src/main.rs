//! `skiff`: the engine's one binary: the daemon, the shim, the exec helper,
//! and the CLI that talks to the daemon.

use anyhow::Result;
use ch01_process::shell;
use ch02_namespaces::cli::Globals;
use clap::{Parser, Subcommand};
use skiff::daemon::{self, Host};
use skiff::shim::{self, ShimArgs};

/// skiff: a container engine with Docker's API
#[derive(Debug, Parser)]
#[command(name = "skiff", version)]
struct Cli {
    #[command(flatten)]
    globals: Globals,

    /// The daemon's socket: unix:///path.sock, or tcp://127.0.0.1:PORT (loopback only)
    #[arg(short = 'H', long = "host", global = true, env = "SKIFF_HOST", default_value = daemon::DEFAULT_HOST)]
    host: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: Docker's Engine API on the socket of -H
    Daemon,
    /// Run one container for the daemon (started by the daemon)
    #[command(hide = true)]
    Shim(ShimArgs),
    /// Run one exec session for the daemon (started by the daemon)
    #[command(hide = true, name = "exec-helper")]
    ExecHelper {
        container: String,
        #[arg(long)]
        request: String,
    },
    #[command(flatten)]
    Client(skiff::cli::Verbs),
}

fn main() {
    let cli = Cli::parse();
    let root = cli.globals.root.clone();
    if let Command::Shim(args) = &cli.command {
        ch01_process::explain::set_enabled(cli.globals.explain.explain);
        shim::main(&root, args);
    }
    let host = cli.host.clone();
    shell::run("skiff", &cli.globals.explain, || {
        run(&root, &host, cli.command)
    })
}

fn run(root: &std::path::Path, host: &str, command: Command) -> Result<i32> {
    match command {
        Command::Daemon => {
            ch02_namespaces::require_root()?;
            let host: Host = host.parse()?;
            daemon::run(root, &host)?;
            Ok(0)
        }
        Command::Client(verbs) => verbs.execute(host),
        Command::ExecHelper { container, request } => {
            skiff::api::exec::helper_main(root, &container, &request)
        }
        Command::Shim(_) => unreachable!("handled before the shell"),
    }
}
