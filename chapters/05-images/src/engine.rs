//! Chapter 5's engine: chapter 4's containers, on an image's layers.
//!
//! An image adds no step to the run path: its layers are chapter 4's
//! layers, its config gives the command and the process's defaults, and the
//! container's record names it. What this engine adds is the store the
//! layers come from, and images in `inspect`.

use crate::image::{self, ImageConfig};
use crate::reference::{self, Reference, ReferenceError};
use crate::store::{ImageRecord, Store, StoreError};
use ch02_namespaces::records::Containers;
use ch02_namespaces::step::Then;
use ch02_namespaces::{Engine, RunError};
use ch03_cgroups::CgroupStep;
use ch03_cgroups::container::EngineError;
use ch04_overlayfs::cli::{StorageFlagError, StorageFlags};
use ch04_overlayfs::spec::Spec;
use ch04_overlayfs::{OverlayEngine, StorageStep};
use std::path::{Path, PathBuf};

/// Why an image could not be found, read or run.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("no image {0} here: pull it first")]
    NotHere(String),
    #[error("the config of image {reference} is not valid: {source}")]
    Config {
        reference: String,
        source: serde_json::Error,
    },
    #[error("{0} has no command (Entrypoint or Cmd): give one after the image name")]
    NoCommand(String),
    #[error("{0}")]
    Flags(#[from] StorageFlagError),
    #[error("{0}")]
    ImageVolume(#[from] image::ImageVolumeError),
    #[error("{0}")]
    Run(#[from] RunError),
}

/// The engine of chapter 5.
pub struct ImageEngine {
    overlay: OverlayEngine,
    store: Store,
    root: PathBuf,
    pull_verb: Vec<String>,
}

impl ImageEngine {
    pub fn open(root: &Path) -> Result<ImageEngine, ImageError> {
        Ok(ImageEngine {
            overlay: OverlayEngine::open(root)?,
            store: Store::open(root)?,
            root: root.to_path_buf(),
            pull_verb: vec!["pull".into()],
        })
    }

    /// The engine, pulling in a child process with `verb` instead of
    /// `pull` (see [`crate::verbs::pull_in_child`]): a binary whose `pull`
    /// means something else (skiff's asks the daemon) names its own verb.
    pub fn with_pull_verb(mut self, verb: &[&str]) -> ImageEngine {
        self.pull_verb = verb.iter().map(|word| word.to_string()).collect();
        self
    }

    /// The words after `--root ROOT` that make this binary pull an image
    /// (the image's name follows them).
    pub fn pull_verb(&self) -> &[String] {
        &self.pull_verb
    }

    pub fn overlay(&self) -> &OverlayEngine {
        &self.overlay
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The record and config of the image `reference`, which must be here.
    pub fn image(&self, reference: &Reference) -> Result<(ImageRecord, ImageConfig), ImageError> {
        let record = self
            .store
            .image(reference)?
            .ok_or_else(|| ImageError::NotHere(reference.to_string()))?;
        let bytes = self.store.read_blob(&record.config)?;
        let config = serde_json::from_slice(&bytes).map_err(|source| ImageError::Config {
            reference: reference.to_string(),
            source,
        })?;
        Ok((record, config))
    }

    // ANCHOR: spec
    /// The spec of a container of the image `reference`: its layers, its
    /// command (`given` replaces `Cmd`), its environment, directory and
    /// user as defaults under the flags, and an anonymous volume for each
    /// of its `VOLUME`s the flags do not mount.
    pub fn spec(
        &self,
        flags: &StorageFlags,
        reference: &Reference,
        given: &[String],
    ) -> Result<Spec, ImageError> {
        self.spec_with_entrypoint(flags, reference, None, given)
    }

    /// [`ImageEngine::spec`], with the image's entrypoint replaced
    /// (`--entrypoint`, see [`image::command_with_entrypoint`]).
    pub fn spec_with_entrypoint(
        &self,
        flags: &StorageFlags,
        reference: &Reference,
        entrypoint: Option<&[String]>,
        given: &[String],
    ) -> Result<Spec, ImageError> {
        let (record, config) = self.image(reference)?;
        let layers = record
            .layers
            .iter()
            .map(|chain| self.store.layer_path(chain))
            .collect();
        let command = image::command_with_entrypoint(&config.config, entrypoint, given);
        if command.is_empty() {
            return Err(ImageError::NoCommand(reference.to_string()));
        }
        let defaults = image::process_defaults(&config.config);
        let mut spec = flags.to_spec(&self.overlay, layers, &command, &defaults)?;
        let volumes = image::image_volumes(&config.config, &spec.storage.mounts)?;
        spec.storage.mounts.extend(volumes);
        Ok(spec)
    }
    // ANCHOR_END: spec

    /// `docker inspect`: containers first, then images, by name.
    pub fn inspect(&self, names: &[String]) -> Result<String, ImageError> {
        let mut found = Vec::new();
        for name in names {
            let container = self
                .containers()
                .find::<ch02_namespaces::Spec>(name)
                .and_then(|record| self.containers().load_json(&record.spec.id));
            match container {
                Ok(json) => found.push(json),
                Err(error) => {
                    let Ok(reference) = reference::parse(name) else {
                        return Err(RunError::from(error).into());
                    };
                    match self.image(&reference) {
                        Ok((_, config)) => {
                            found.push(serde_json::to_value(config).expect("plain data"))
                        }
                        Err(ImageError::NotHere(_)) => {
                            return Err(RunError::from(error).into());
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
        }
        Ok(serde_json::to_string_pretty(&found).expect("plain data"))
    }
}

impl Engine for ImageEngine {
    type Spec = Spec;
    type Steps = Then<CgroupStep, StorageStep>;

    fn containers(&self) -> &Containers {
        self.overlay.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        self.overlay.steps(spec)
    }
}
