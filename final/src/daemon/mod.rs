//! The daemon: Docker's API on a unix socket, for the engine's containers.
//!
//! It answers many clients at once, so it runs an asynchronous runtime
//! with threads, and therefore never creates a container itself (a
//! threaded process must not fork into a container: chapter 2). Each start
//! launches a shim (see [`crate::shim`]), which outlives the daemon.
//!
//! The daemon keeps nothing about containers that is not on disk: the
//! records are the truth, and a new daemon finds every container a killed
//! one left, running (its shim alive) or not (its shim gone: released and
//! marked exited, and restarted if its policy says so).

pub mod events;
pub mod health;
pub mod shims;
pub mod state;

use crate::api;
use crate::engine::SkiffEngine;
use events::Events;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The daemon's shared state: the engine, and what lives only as long as
/// the daemon (events, exec sessions, clients waiting for a start).
pub struct Daemon {
    pub engine: SkiffEngine,
    pub root: PathBuf,
    pub events: Events,
    pub execs: Mutex<HashMap<String, api::exec::ExecInstance>>,
    /// Attach clients waiting for a container to start, by container id.
    pub pending_attach: Mutex<HashMap<String, Vec<shims::PendingAttach>>>,
    /// Container exits, for `wait`.
    pub exits: broadcast::Sender<shims::Exit>,
    /// A unique id for this daemon (`docker info`'s ID).
    pub id: String,
    /// The process that forks the shims.
    pub launcher: crate::shim::launcher::Launcher,
}

impl Daemon {
    pub fn open(root: &Path) -> anyhow::Result<Arc<Daemon>> {
        Ok(Arc::new(Daemon {
            engine: SkiffEngine::open(root)?,
            root: root.to_path_buf(),
            events: Events::default(),
            execs: Mutex::new(HashMap::new()),
            pending_attach: Mutex::new(HashMap::new()),
            exits: broadcast::channel(1024).0,
            id: daemon_id(root),
            launcher: crate::shim::launcher::Launcher::new(root),
        }))
    }
}

/// A stable id for the daemon of `root`: kept in `<root>/engine-id`.
fn daemon_id(root: &Path) -> String {
    let path = root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return id.trim().to_string();
    }
    let id = ch02_namespaces::records::new_id();
    let _ = std::fs::write(&path, &id);
    id
}

/// Where the daemon listens: `unix:///run/skiff.sock`, or on loopback
/// only, `tcp://127.0.0.1:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// Why a `-H` value cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("unsupported host {0:?}: use unix:///path/to.sock or tcp://127.0.0.1:PORT")]
    Unsupported(String),
    #[error(
        "{0} is not a loopback address: the API gives root on this machine to whoever reaches it, so it is served on loopback only"
    )]
    NotLoopback(String),
}

impl std::str::FromStr for Host {
    type Err = HostError;

    fn from_str(text: &str) -> Result<Host, HostError> {
        if let Some(path) = text.strip_prefix("unix://") {
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp://") {
            let address: std::net::SocketAddr = address
                .parse()
                .map_err(|_| HostError::Unsupported(text.into()))?;
            if !address.ip().is_loopback() {
                return Err(HostError::NotLoopback(text.into()));
            }
            return Ok(Host::Tcp(address));
        }
        Err(HostError::Unsupported(text.into()))
    }
}

/// The default socket.
pub const DEFAULT_HOST: &str = "unix:///run/skiff.sock";

// ANCHOR: serve
/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(root: &Path, host: &Host) -> anyhow::Result<()> {
    // Still single-threaded: re-run from a sealed copy of the binary, which
    // every shim and exec helper then shares (chapter 1's `sealed_exe`).
    ch01_process::sealed_exe::ensure_sealed()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let daemon = Daemon::open(root)?;
        shims::reconcile(&daemon).await;
        let app = api::router(daemon.clone());
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        match host {
            Host::Unix(path) => {
                let _ = std::fs::remove_file(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let listener = tokio::net::UnixListener::bind(path)?;
                secure_socket(path)?;
                eprintln!("skiff daemon: listening on unix://{}", path.display());
                axum::serve(
                    listener,
                    axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
                )
                .with_graceful_shutdown(shutdown)
                .await?;
                let _ = std::fs::remove_file(path);
            }
            Host::Tcp(address) => {
                let listener = tokio::net::TcpListener::bind(address).await?;
                eprintln!("skiff daemon: listening on tcp://{address}");
                axum::serve(
                    listener,
                    axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
                )
                .with_graceful_shutdown(shutdown)
                .await?;
            }
        }
        // The default bridge goes with the daemon unless a container (kept
        // by its shim) still uses it; the next daemon makes it again.
        if let Err(e) = daemon
            .engine
            .network()
            .networks()
            .remove_default_if_unused()
        {
            eprintln!("skiff daemon: removing the default bridge: {e}");
        }
        anyhow::Ok(())
    })
}
// ANCHOR_END: serve

/// The socket is root's and group `skiff`'s (when the group exists): who
/// can use it can run anything as root.
fn secure_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Ok(Some(group)) = nix::unistd::Group::from_name("skiff") {
        std::os::unix::fs::chown(path, Some(0), Some(group.gid.as_raw()))?;
    }
    Ok(())
}
