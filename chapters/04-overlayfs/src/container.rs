//! A container whose root is a layer stack, with volumes: one more step of
//! chapter 2's run path.
//!
//! The writable layer lives as long as the container (`create` makes it,
//! `remove` deletes it). Chapter 2 left two places in the root
//! filesystem's setup for the rest: before the root is bound, we mount the
//! overlay at the directory that becomes the root; after /proc, /dev and
//! /sys, before `pivot_root`, we mount the volumes, while their host paths
//! are still reachable. Both happen in the container's own mount namespace:
//! when its last process ends, the kernel unmounts them, even after a
//! SIGKILL.

use crate::layers::LayerStack;
use crate::spec::Spec;
use crate::volumes::{Mount, VolumeSource, VolumeStore, mount_volumes};
use ch01_process::HookError;
use ch02_namespaces::records::{Containers, Record};
use ch02_namespaces::step::{StepError, Then};
use ch02_namespaces::userns::IdMap;
use ch02_namespaces::{Engine, RunError, Step};
use ch03_cgroups::CgroupStep;
use ch03_cgroups::container::{CgroupEngine, EngineError};
use std::path::{Path, PathBuf};

// ANCHOR: overlay_root
/// The storage of a container, as a step of the run path.
pub struct StorageStep {
    stack: LayerStack,
    mounts: Vec<Mount>,
    volumes: VolumeStore,
    /// The engine's directory, and the id map of a container in a user
    /// namespace, whose root must be let in (see [`crate::userns`]).
    root: PathBuf,
    userns: Option<IdMap>,
    /// Each mount with its host source, found by `prepare`.
    resolved: Vec<(Mount, PathBuf)>,
    /// The anonymous volumes stay when the container goes.
    keep_anonymous: bool,
}

impl Step for StorageStep {
    fn create(&mut self) -> Result<(), StepError> {
        self.stack
            .create()
            .map_err(|e| StepError::new("creating the writable layer", e))?;
        if let Some(map) = self.userns {
            crate::userns::grant(&self.root, &self.stack, map)
                .map_err(|e| StepError::new("opening the layers to the user namespace", e))?;
        }
        // Named and anonymous volumes are created with the container, as
        // docker does (a file copied into one before the first start
        // lands in it).
        for mount in &self.mounts {
            let created = match &mount.source {
                VolumeSource::Named(name) => self.volumes.create(name),
                VolumeSource::Anonymous(name) => self.volumes.create_anonymous(name),
                VolumeSource::Bind(_) | VolumeSource::Tmpfs => continue,
            };
            created.map_err(|e| {
                let name = mount.source.volume_name().unwrap_or_default();
                StepError::new(format!("volume {name}"), e)
            })?;
        }
        Ok(())
    }

    fn prepare(&mut self) -> Result<(), StepError> {
        self.resolved =
            self.mounts
                .iter()
                .map(|mount| {
                    let source = self.volumes.resolve(mount).map_err(|e| {
                        StepError::new(format!("volume {}", mount.target.display()), e)
                    })?;
                    Ok((mount.clone(), source))
                })
                .collect::<Result<_, StepError>>()?;
        Ok(())
    }

    fn before_bind(&mut self, _rootfs: &Path) -> Result<(), HookError> {
        self.stack
            .mount()
            .map_err(|e| HookError::new("mounting the layers", e))
    }

    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        mount_volumes(rootfs, &self.resolved).map_err(|e| HookError::new("mounting volumes", e))
    }

    fn remove(&mut self) -> Result<(), StepError> {
        self.stack
            .remove()
            .map_err(|e| StepError::new("removing the writable layer", e))?;
        if !self.keep_anonymous {
            self.volumes
                .remove_anonymous(&self.mounts, &[])
                .map_err(|e| StepError::new("removing the anonymous volumes", e))?;
        }
        Ok(())
    }
}
// ANCHOR_END: overlay_root

/// Chapter 4's engine: chapter 3's containers, on layers, with volumes.
pub struct OverlayEngine {
    cgroups: CgroupEngine,
    root: PathBuf,
    volumes: VolumeStore,
}

impl OverlayEngine {
    /// The engine whose containers, layers' links and volumes are under `root`.
    pub fn open(root: &Path) -> Result<OverlayEngine, EngineError> {
        Ok(OverlayEngine {
            cgroups: CgroupEngine::open(root)?,
            root: root.to_path_buf(),
            volumes: VolumeStore::new(root),
        })
    }

    /// The engine of the chapter below, for the verbs it owns.
    pub fn cgroups(&self) -> &CgroupEngine {
        &self.cgroups
    }

    pub fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    /// Where the root filesystem of container `id` appears: its `merged/`.
    pub fn rootfs_of(&self, id: &str) -> PathBuf {
        self.containers().dir(id).join("merged")
    }

    /// The layer stack of a container.
    pub fn stack(&self, spec: &Spec) -> LayerStack {
        LayerStack::new(
            &self.root,
            &self.containers().dir(&spec.id),
            &spec.storage.layers,
        )
    }

    /// Named and anonymous volumes that a container uses, running or not:
    /// `volume rm` and `volume prune` leave them alone.
    pub fn volumes_in_use(&self) -> Result<Vec<String>, RunError> {
        let records: Vec<Record<Spec>> = self.containers().list()?;
        Ok(records
            .iter()
            .flat_map(|r| &r.spec.storage.mounts)
            .filter_map(|mount| mount.source.volume_name().map(String::from))
            .collect())
    }
}

impl Engine for OverlayEngine {
    type Spec = Spec;
    type Steps = Then<CgroupStep, StorageStep>;

    fn containers(&self) -> &Containers {
        self.cgroups.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        self.cgroups.steps(&spec.limited).then(StorageStep {
            stack: self.stack(spec),
            mounts: spec.storage.mounts.clone(),
            volumes: self.volumes.clone(),
            root: self.root.clone(),
            userns: spec.isolation.userns.then_some(spec.id_map),
            resolved: Vec::new(),
            keep_anonymous: spec.storage.keep_anonymous,
        })
    }
}
