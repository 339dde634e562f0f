//! The run spec: everything about a container to run, as data.
//!
//! Flags are turned into a spec at the edge (the binary's `cli` module), and
//! everything below the edge works from the spec alone: the run path, the
//! container's record on disk, the verbs that act on it later (`exec`, `rm`),
//! and, in the engine, the shim that receives it as JSON. Each chapter adds
//! one section and keeps the ones below unchanged:
//!
//! ```text
//! chapter 2   id, name, hostname, rootfs, process, isolation, caps, ...   (this module)
//! chapter 3   + limits                      memory, cpus, pids
//! chapter 4   + storage                     layers, volumes
//! chapter 6   + network                     networks, ports, DNS
//! ```
//!
//! A later chapter's spec holds the one below (serialised flat, with
//! `#[serde(flatten)]`) and dereferences to it, so `spec.process` works at
//! every level. [`RunSpec`] is what the run path needs of any of them.

use crate::caps::{CapSet, CapSets};
use crate::mounts::{MASKED_PATHS, READONLY_PATHS};
use crate::namespaces::{Isolation, NetworkMode, PidMode};
use crate::seccomp::SeccompMode;
use crate::userns::IdMap;
use ch01_process::ProcessSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

// ANCHOR: spec
/// Chapter 2's section of the run spec: a process in namespaces, on a root
/// filesystem of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// 64 hex digits, unique; the first 12 are the short form people type.
    pub id: String,
    /// Unique among containers; chosen at random when not given.
    pub name: String,
    pub hostname: String,
    /// The directory that becomes `/`.
    pub rootfs: PathBuf,
    /// What runs: argv, environment, working directory, user.
    pub process: ProcessSpec,
    pub isolation: Isolation,
    /// The capabilities the container's processes keep.
    pub caps: CapSet,
    /// The five capability sets, when they are not docker's (`caps` as
    /// bounding, permitted and effective, nothing inheritable or ambient).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_sets: Option<CapSets>,
    /// `--security-opt no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=...`: docker's default filter unless told.
    #[serde(default)]
    pub seccomp: SeccompMode,
    /// The id map, used when `isolation.userns` is set.
    pub id_map: IdMap,
    /// On a stop request, seconds between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `--rm`: remove the container when it exits.
    #[serde(default)]
    pub auto_remove: bool,
    /// A read-only root, and the paths hidden or read-only in it.
    #[serde(default)]
    pub filesystem: Filesystem,
    /// `--init`: chapter 1's supervisor runs as PID 1, the command as its
    /// child (see [`crate::init`]).
    #[serde(default)]
    pub init: bool,
}
// ANCHOR_END: spec

/// What the container may see and change of its files: docker's masked
/// and read-only paths (unless an OCI configuration lists others), and
/// `--read-only`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filesystem {
    /// The root is mounted read-only (volumes stay as they are).
    pub read_only: bool,
    /// Hidden: a file under /dev/null, a directory under an empty tmpfs.
    pub masked_paths: Vec<PathBuf>,
    /// Bound read-only onto themselves.
    pub readonly_paths: Vec<PathBuf>,
}

impl Default for Filesystem {
    fn default() -> Self {
        Filesystem {
            read_only: false,
            masked_paths: MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: READONLY_PATHS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// What the run path needs of any chapter's spec: the chapter 2 section
/// it starts from, and serde to keep it in the container's record.
pub trait RunSpec: Serialize + serde::de::DeserializeOwned + Clone {
    fn container(&self) -> &Spec;
    fn container_mut(&mut self) -> &mut Spec;
}

impl RunSpec for Spec {
    fn container(&self) -> &Spec {
        self
    }

    fn container_mut(&mut self) -> &mut Spec {
        self
    }
}

/// Why a spec cannot be run, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no root filesystem given: name a directory holding the container's files")]
    NoRootfs,
    #[error("root filesystem {0:?} does not exist: give a directory holding the container's files")]
    MissingRootfs(PathBuf),
    #[error("root filesystem {0:?} is not a directory")]
    RootfsNotDirectory(PathBuf),
    #[error(
        "the host's {0} namespace cannot be combined with a user namespace: a user namespace cannot use the host's {0} namespace's kernel filesystems"
    )]
    HostWithUserns(&'static str),
    #[error(
        "another container's network namespace cannot be joined from a user namespace of its own: it belongs to another user namespace, where this one has no privilege; drop --userns"
    )]
    JoinedWithUserns,
    #[error("no command to run")]
    NoCommand,
}

impl Spec {
    /// Checks what can be checked before anything is created, so that a
    /// bad combination costs nothing to undo. The root filesystem is
    /// checked later, by [`Spec::check_rootfs`]: a later chapter makes it
    /// while preparing (chapter 4 mounts its layers there).
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.process.argv.is_empty() {
            return Err(SpecError::NoCommand);
        }
        if self.rootfs.as_os_str().is_empty() {
            return Err(SpecError::NoRootfs);
        }
        if self.isolation.userns {
            if self.isolation.network == NetworkMode::Host {
                return Err(SpecError::HostWithUserns("network"));
            }
            if self.isolation.pid == PidMode::Host {
                return Err(SpecError::HostWithUserns("pid"));
            }
            if self.isolation.network == NetworkMode::Joined {
                return Err(SpecError::JoinedWithUserns);
            }
        }
        Ok(())
    }

    /// Checks that the root filesystem is a directory.
    pub fn check_rootfs(&self) -> Result<(), SpecError> {
        match std::fs::metadata(&self.rootfs) {
            Err(_) => Err(SpecError::MissingRootfs(self.rootfs.clone())),
            Ok(meta) if !meta.is_dir() => Err(SpecError::RootfsNotDirectory(self.rootfs.clone())),
            Ok(_) => Ok(()),
        }
    }

    /// The id's short form, as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// The environment every container starts with, before the image's and
/// the user's: docker's `PATH`, the hostname, and root's home.
pub fn base_env(hostname: &str) -> Vec<String> {
    vec![
        format!("PATH={}", ch01_process::spawn::DEFAULT_PATH),
        format!("HOSTNAME={hostname}"),
        "HOME=/root".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userns::DEFAULT_MAP;

    fn spec() -> Spec {
        Spec {
            id: "ab".repeat(32),
            name: "web".into(),
            hostname: "abababababab".into(),
            rootfs: "/srv/rootfs".into(),
            process: ProcessSpec {
                argv: vec!["sh".into()],
                ..ProcessSpec::default()
            },
            isolation: Isolation::default(),
            caps: CapSet::docker_default(),
            cap_sets: None,
            no_new_privileges: false,
            seccomp: SeccompMode::Default,
            id_map: DEFAULT_MAP,
            stop_timeout: None,
            auto_remove: false,
            init: false,
            filesystem: Filesystem::default(),
        }
    }

    #[test]
    fn a_spec_survives_json() {
        let spec = spec();
        let json = serde_json::to_string(&spec).unwrap();
        assert!(
            json.contains(r#""caps":["CHOWN","DAC_OVERRIDE","FOWNER""#),
            "{json}"
        );
        let back: Spec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn userns_with_host_namespaces_is_refused() {
        let mut spec = spec();
        spec.isolation.userns = true;
        spec.isolation.network = NetworkMode::Host;
        assert!(matches!(
            spec.validate(),
            Err(SpecError::HostWithUserns("network"))
        ));
    }
}
