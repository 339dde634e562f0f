//! `skiff`: the engine's one binary: the daemon, the shim, the exec helper,
//! and the CLI that talks to the daemon.

use anyhow::Result;
use ch01_process::shell;
use clap::Parser;
use skiff::cli::{Cli, Command};
use skiff::daemon::{self, Host};
use skiff::shim;

fn main() {
    let cli = Cli::parse();
    let root = cli.globals.root.clone();
    if let Command::Shim(args) = &cli.command {
        ch01_process::explain::set_enabled(cli.globals.explain.explain);
        shim::main(&root, args);
    }
    if let Command::ShimLauncher = &cli.command {
        shim::launcher::serve(&root);
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
        Command::ExecHelper {
            container,
            request,
            console_fd,
        } => skiff::api::exec::helper_main(root, &container, &request, console_fd),
        Command::BuildHelper { request } => skiff::api::build::helper_main(root, &request),
        Command::ImagePull { image } => skiff::api::build::image_pull_main(root, &image),
        Command::CpHelper {
            container,
            mode,
            path,
        } => skiff::api::archive::helper_main(root, &container, &mode, &path),
        Command::Shim(_) | Command::ShimLauncher => unreachable!("handled before the shell"),
    }
}
