//! The network as a step of chapter 2's run path.
//!
//! ```text
//! prepare       stale attachments released (a killed supervisor's ports and
//!               addresses); for container:NAME, that container's netns opened;
//!               Attachment::prepare: an address, the host ports, the hosts files
//!   ── clone (CLONE_NEWNET unless host or container:NAME) ──
//! in the child  container:NAME: setns into the opened netns (chapter 2 does it)
//! in_parent     Attachment::join: the veth pair, eth0's address and route,
//!               the DNS responder, the DNAT rules
//! before_pivot  /etc/hosts, /etc/hostname, /etc/resolv.conf bind-mounted
//! while it runs the supervisor polls the DNS responder beside its signals
//! release       Attachment::release, or from the record on disk when another
//!               process cleans up after a killed supervisor
//! ```

use crate::attachment::{self, AttachError, Attachment, Identity};
use crate::request::NetworkMode;
use crate::spec::Spec;
use crate::store::NetworkStore;
use ch01_process::{HookError, explain};
use ch02_namespaces::records::Containers;
use ch02_namespaces::{Step, StepError};
use ch04_overlayfs::resolve::{Create, open_creating};
use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Why `--network container:NAME` cannot join NAME's namespace.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// NAME does not run.
    #[error("container {0} is not running: start it before sharing its network")]
    NotRunning(String),
    /// Its namespace could not be opened.
    #[error("cannot open the network namespace of container {name}: {source}")]
    Open {
        /// The container.
        name: String,
        /// What the kernel said.
        source: std::io::Error,
    },
}

/// A container's network, as a step of the run path. Built from the spec
/// alone ([`NetworkStep::new`]); `prepare` does the work.
pub struct NetworkStep {
    store: NetworkStore,
    containers: Containers,
    who: Identity,
    request: crate::request::NetworkRequest,
    /// Paths the user mounted a volume on: a volume on `/etc/hosts` wins
    /// over ours, as in docker.
    user_targets: Vec<PathBuf>,
    /// While the container is prepared or runs: its attachment.
    attachment: Option<Attachment>,
    /// `container:NAME`: that container's network namespace.
    joined: Option<OwnedFd>,
    /// The hosts files to bind-mount, with their targets.
    files: Vec<(PathBuf, &'static str)>,
}

impl NetworkStep {
    /// The step of the container `spec` describes, with its networks in
    /// `store` and its neighbours' records in `containers`.
    pub fn new(store: NetworkStore, containers: Containers, spec: &Spec) -> NetworkStep {
        let container = &spec.storage.limited.container;
        NetworkStep {
            store,
            containers,
            who: Identity {
                id: container.id.clone(),
                name: container.name.clone(),
                hostname: container.hostname.clone(),
            },
            request: spec.network.clone(),
            user_targets: spec
                .storage
                .storage
                .mounts
                .iter()
                .map(|m| m.target.clone())
                .collect(),
            attachment: None,
            joined: None,
            files: Vec::new(),
        }
    }

    /// Opens the network namespace of the running container `id`.
    fn open_joined(&self, id: &str) -> Result<OwnedFd, JoinError> {
        let record = self
            .containers
            .find::<ch02_namespaces::Spec>(id)
            .ok()
            .filter(|r| r.is_running());
        let Some(pid) = record.as_ref().and_then(|r| r.state.pid) else {
            return Err(JoinError::NotRunning(id.to_string()));
        };
        let opened = crate::netns::open_of_process(Pid::from_raw(pid.pid)).map_err(|source| {
            JoinError::Open {
                name: id.to_string(),
                source,
            }
        })?;
        // Opened by pid: make sure the pid was still that container's.
        if !pid.is_alive() {
            return Err(JoinError::NotRunning(id.to_string()));
        }
        Ok(opened)
    }
}

fn step_error(what: &str) -> impl FnOnce(AttachError) -> StepError + '_ {
    move |e| StepError::new(what, e)
}

// ANCHOR: step
impl Step for NetworkStep {
    fn prepare(&mut self) -> Result<(), StepError> {
        // What killed supervisors left (their host ports, their addresses)
        // is released first: a restarted container may need it.
        attachment::release_orphans(&self.store).map_err(step_error("releasing stale networks"))?;
        if let NetworkMode::Container(other) = &self.request.mode {
            self.joined = Some(
                self.open_joined(other)
                    .map_err(|e| StepError::new("--network", e))?,
            );
        }
        let attached = Attachment::prepare(&self.store, &self.who, &self.request)
            .map_err(step_error("attaching the container to its network"))?;
        self.files = attached
            .files()
            .mounts()
            .into_iter()
            .filter(|(_, target)| !self.user_targets.iter().any(|t| t == Path::new(target)))
            .map(|(source, target)| (source.to_path_buf(), target))
            .collect();
        self.attachment = Some(attached);
        Ok(())
    }

    fn network_namespace(&self) -> Option<BorrowedFd<'_>> {
        self.joined.as_ref().map(AsFd::as_fd)
    }

    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        match &mut self.attachment {
            Some(attached) => attached
                .join(child)
                .map_err(|e| HookError::new("plugging the container into its network", e)),
            None => Ok(()),
        }
    }

    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        bind_files(rootfs, &self.files)
    }

    fn watch_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.attachment
            .as_ref()
            .and_then(Attachment::dns_fd)
            .into_iter()
            .collect()
    }

    fn on_ready(&mut self, fd: RawFd) {
        if let Some(attached) = &mut self.attachment
            && attached.dns_fd().is_some_and(|dns| dns.as_raw_fd() == fd)
        {
            attached.handle_dns();
        }
    }

    fn release(&mut self) -> Result<(), StepError> {
        self.files.clear();
        self.joined = None;
        let released = match self.attachment.take() {
            Some(attached) => attached.release(),
            // Another process, after this container's supervisor died.
            None => attachment::release(&self.store, &self.who.id).map(drop),
        };
        released.map_err(step_error("releasing the network"))
    }
}
// ANCHOR_END: step

// ANCHOR: bind_files
/// Bind-mounts each file on its target in the container's root. The target
/// is resolved inside the root (an image's `/etc/resolv.conf` is often a
/// symbolic link, absolute, to a file that does not exist: it is followed
/// *inside* the root, and what is missing is created there).
///
/// The sources are looked up here, in the child: a bind mount's source must
/// be in the caller's mount namespace, so a descriptor opened by the parent
/// before `clone` (in the host's) would be refused with EINVAL.
fn bind_files(rootfs: &Path, files: &[(PathBuf, &'static str)]) -> Result<(), HookError> {
    if files.is_empty() {
        return Ok(());
    }
    let root = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| HookError::new(format!("open({})", rootfs.display()), e))?;
    for (source, target) in files {
        let inside = Path::new(target.trim_start_matches('/'));
        let target_fd =
            open_creating(root.as_fd(), inside, Create::File, OFlag::O_PATH).map_err(|e| {
                HookError::new(
                    format!("{}({target})", e.step),
                    format!("{} ({})", e.errno.desc(), e.path.display()),
                )
            })?;
        let on = format!("/proc/self/fd/{}", target_fd.as_raw_fd());
        explain!(
            "mount({:?}, {on:?} (the container's {target}), NULL, MS_BIND)",
            source.display()
        );
        mount(
            Some(source.as_path()),
            on.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| HookError::new(format!("bind-mounting {target}"), e))?;
    }
    Ok(())
}
// ANCHOR_END: bind_files
