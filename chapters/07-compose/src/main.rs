//! `ch07-compose`: a multi-container application from a compose file, in
//! the foreground.

use anyhow::{Context, Result};
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::require_root;
use ch07_compose::cli::{Cli, Command, Internal, ProjectArgs, UpArgs};
use ch07_compose::engine::ComposeEngine;
use ch07_compose::runner::child::SelfCommand;
use ch07_compose::runner::console::Console;
use ch07_compose::runner::down::{DownOptions, down};
use ch07_compose::runner::up::{UpOptions, up};
use ch07_compose::runner::{self, images};
use ch07_compose::{Project, load, to_yaml};
use clap::Parser;
use std::os::fd::{FromRawFd, OwnedFd};

fn main() {
    let cli = Cli::parse();
    shell::run("ch07-compose", &cli.globals.explain, || {
        if let Command::Config = cli.command {
            // Reading files needs no privilege, and no engine.
            print!("{}", to_yaml(&project(&cli.project)?));
            return Ok(0);
        }
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = ComposeEngine::open(&cli.globals.root)?;
        engine.network().release_stale()?;
        let me = SelfCommand {
            root: cli.globals.root.clone(),
            explain: cli.globals.explain.explain,
        };
        match cli.command {
            Command::Internal(command) => internal(&engine, command),
            command => verb(&engine, &project(&cli.project)?, command, &me),
        }
    })
}

/// Loads the project; its warnings go to stderr.
fn project(args: &ProjectArgs) -> Result<Project> {
    let project = load(&args.load_options()?)?;
    for warning in &project.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(project)
}

// ANCHOR: verbs
fn verb(
    engine: &ComposeEngine,
    project: &Project,
    command: Command,
    me: &SelfCommand,
) -> Result<i32> {
    let console = Console::new(&[], false);
    match command {
        Command::Up(args) => Ok(up(engine, project, &up_options(args), me)?),
        Command::Down {
            volumes,
            remove_orphans,
        } => {
            let options = DownOptions {
                volumes,
                remove_orphans,
            };
            down(engine, project, options, &console)?;
            Ok(0)
        }
        Command::Ps { all } => {
            print!("{}", runner::ps::ps(engine, &project.name, all)?);
            Ok(0)
        }
        Command::Pull { services } => {
            for name in selected(project, services)? {
                if project.services[&name].build.is_some() {
                    eprintln!(" {name} Skipped - the image is built (ch07-compose build)");
                    continue;
                }
                let image = project.image_of(&name);
                eprintln!(" {name} Pulling");
                ch05_images::verbs::pull(engine.images(), &image)?;
                eprintln!(" {name} Pulled");
            }
            Ok(0)
        }
        Command::Build { services } => {
            for name in selected(project, services)? {
                if let Some(build) = &project.services[&name].build {
                    let reference = ch07_compose::translate::reference_of(project, &name)?;
                    images::build_service(engine, project, &name, build, &reference)?;
                }
            }
            Ok(0)
        }
        Command::Exec {
            index,
            service,
            command,
        } => {
            let plan = ch07_compose::plan(project, &Default::default())?;
            let container = plan
                .containers_of(&service)
                .find(|c| c.number == index)
                .with_context(|| format!("service {service:?} has no container number {index}"))?;
            let request = ch02_namespaces::exec::ExecRequest {
                argv: command,
                ..Default::default()
            };
            Ok(ch02_namespaces::exec::exec(
                engine,
                &container.name,
                &request,
            )?)
        }
        Command::Config => {
            print!("{}", to_yaml(project));
            Ok(0)
        }
        Command::Internal(command) => internal(engine, command),
    }
}
// ANCHOR_END: verbs

/// `up`'s flags as the runner's options.
fn up_options(args: UpArgs) -> UpOptions {
    UpOptions {
        build: args.build,
        scale: args.scale.into_iter().collect(),
        abort_on_container_exit: args.abort_on_container_exit,
        exit_code_from: args.exit_code_from,
        services: args.services,
        colour: Console::stdout_is_terminal(),
    }
}

/// The services named, or all, in start order.
fn selected(project: &Project, services: Vec<String>) -> Result<Vec<String>> {
    if services.is_empty() {
        return Ok(ch07_compose::plan::start_order(project));
    }
    for name in &services {
        if !project.services.contains_key(name) {
            anyhow::bail!("no such service: {name:?}");
        }
    }
    Ok(services)
}

/// The verbs this binary gives itself (`up`'s children, the builder's
/// pulls): they need no compose file.
fn internal(engine: &ComposeEngine, command: Internal) -> Result<i32> {
    match command {
        Internal::Supervise { ready_fd, id } => {
            Ok(runner::supervise(engine, &id, ready_fd.and_then(take_fd))?)
        }
        Internal::HealthExec { id, command } => Ok(runner::health_exec(engine, &id, &command)?),
        Internal::PullImage { image } => {
            ch05_images::verbs::pull(engine.images(), &image)?;
            Ok(0)
        }
    }
}

/// The descriptor `up` handed down (see `runner::child`), closed on exec
/// from now on so that the container never inherits it.
fn take_fd(fd: i32) -> Option<OwnedFd> {
    // Only a descriptor that is open is taken.
    nix::fcntl::fcntl(
        // SAFETY: borrowed for this one call; `fd` is a plain number here.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .ok()?;
    // SAFETY: `up` opened this descriptor for this process, and nothing
    // else in it owns it: taking ownership closes it once, when dropped.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .ok()?;
    Some(owned)
}
