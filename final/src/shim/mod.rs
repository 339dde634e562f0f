//! The shim: one small process per running container.
//!
//! The daemon serves many clients with many threads, and must be able to
//! restart (an upgrade, a crash) without taking the containers with it. So
//! it never runs a container itself: for each start it launches this
//! binary again as `skiff shim`, a process of its own that
//!
//! 1. leaves the daemon's process tree (a double fork, a session of its
//!    own), so that the daemon's death is not its death;
//! 2. while still single-threaded, runs the chapters' run path (prepare,
//!    start) for the container, with the container's stdio on pipes (or a
//!    terminal) that the shim holds;
//! 3. then copies the container's output into its log, and to the clients
//!    attached through its socket `<container dir>/attach.sock`;
//! 4. waits for the container (chapter 1's supervisor: signals, orphans,
//!    exit status), records how it ended, and exits.
//!
//! It tells the daemon how the start went on a pipe the daemon gave it
//! (`--status-fd`): `listening`, once its socket accepts attach clients,
//! then `started` or `failed CODE MESSAGE`.

pub mod attach;
pub mod io;
pub mod launcher;
pub mod memory;

use crate::engine::{SkiffEngine, Spec};
use crate::logs::{LogWriter, log_path};
use ch02_namespaces::Container;
use ch02_namespaces::records::now;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What the daemon asked of the shim.
#[derive(Debug, Clone, clap::Args)]
pub struct ShimArgs {
    /// The container's id
    pub id: String,
    /// The pipe to report the start on
    #[arg(long)]
    pub status_fd: Option<RawFd>,
    /// How many attach clients wait for the start: they are let in first,
    /// so that they miss nothing the container prints
    #[arg(long, default_value_t = 0)]
    pub attached: usize,
}

/// Runs the shim; never returns.
pub fn main(root: &Path, args: &ShimArgs) -> ! {
    let mut status = args.status_fd.map(|fd| {
        // SAFETY: the daemon passed us this descriptor, open, for us alone.
        File::from(unsafe { OwnedFd::from_raw_fd(fd) })
    });
    memory::one_arena();
    detach();
    let code = match run(root, args, &mut status) {
        Ok(code) => code,
        Err(error) => {
            let message = ch01_process::exit::report(error.as_ref());
            if let Some(status) = status.as_mut() {
                let code = ch01_process::shell::exit_code(&error);
                let _ = writeln!(status, "failed {code} {message}");
            }
            125
        }
    };
    std::process::exit(code)
}

/// Leaves the daemon: fork (the parent exits at once, so the daemon's
/// wait returns and the shim is adopted by the host's init), then a
/// session of its own, away from the daemon's terminal and signals.
fn detach() {
    // SAFETY: the shim is single-threaded here; the child goes on with
    // our code, the parent only exits.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // SAFETY: _exit ends the process without running anything else.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Child) => {
            let _ = nix::unistd::setsid();
        }
        Err(_) => {}
    }
}

// ANCHOR: run
fn run(root: &Path, args: &ShimArgs, status: &mut Option<File>) -> anyhow::Result<i32> {
    let engine = SkiffEngine::open(root)?;
    let container = Container::open(&engine, &args.id)?;
    let spec: Spec = container.record().spec.clone();
    let dir = engine.dir(&args.id);
    std::env::set_current_dir(&dir)?;

    // The container's stdio: pipes, or a terminal, held by us.
    let stdio = io::Stdio::new(&spec)?;
    let path = log_path(&dir, &args.id);
    let log = if spec.engine.log.none {
        LogWriter::discarding(&path)
    } else {
        LogWriter::open(&path, spec.engine.log.max_size, spec.engine.log.max_file)?
    };
    let log = Arc::new(Mutex::new(log));
    let mut server = attach::Server::bind(Path::new("attach.sock"), &spec, stdio.input())?;
    report(status, "listening");
    server.accept_waiting(args.attached)?;
    drop(spec);

    // Still single-threaded: the container is created from here.
    stdio.install()?;
    let started = container.prepare().and_then(|p| p.start());
    stdio.release()?;
    let running = started?;
    report(status, "started");
    drop(status.take());
    // Setting up took memory (the spec parsed, the container's files
    // written, deep calls on the stack) that is free now but still
    // resident: it goes back to the kernel, since this process lives as
    // long as the container and needs little from here on.
    memory::give_back_setup_memory();

    // From here on, threads: the container exists.
    let pumps = stdio.pump(log.clone(), server.clients());
    let listener = server.serve_in_background();
    let exit = running.wait();
    for pump in pumps {
        let _ = pump.join();
    }
    drop(listener);
    let _ = std::fs::remove_file(dir.join("attach.sock"));
    Ok(exit?.code())
}
// ANCHOR_END: run

fn report(status: &mut Option<File>, line: &str) {
    if let Some(file) = status.as_mut() {
        let _ = writeln!(file, "{line}");
    }
}

/// The time for log lines.
pub fn log_time() -> u64 {
    now()
}
