//! The build cache: a step done once is not done again.
//!
//! A step's result depends on two things only: the image it starts from
//! and what the step says. The image is named by its id (the digest of its
//! config, which lists every layer's diff_id and the whole history), and
//! the step by its text *after* substitution, with what else it reads:
//!
//! ```text
//! key = sha256( parent image id  "\n"  step )
//!
//! ENV A=$B           step = "/bin/sh -c #(nop)  ENV A=1"       (the history line)
//! RUN make           step = "RUN |1 V=2 /bin/sh -c make"       (with the build args it sees)
//! COPY src/ /app/    step = "COPY ... content=sha256:..."      (a hash of the files' bytes and metadata)
//! ```
//!
//! The entry for a key holds the step's result: the config after it and,
//! when the step made one, its layer. A hit replaces the step (no container
//! runs, no file is copied), and gives the very same config, times
//! included, so the ids after it are the same as in the first build and
//! every later step hits too. A change anywhere (an edited file that a COPY
//! reads, another build arg) changes that step's key, its result, and so
//! the parent id of every step after it: the cache is invalidated from
//! that step on. That is why a Dockerfile copies what changes often (the
//! sources) as late as it can.
//!
//! Entries live in `<root>/build-cache/<key hex>.json`. An entry whose
//! layer is no longer in the store (`rmi` removed it) is a miss.

use super::error::BuildError;
use super::layer::{LayerRef, top_chain};
use crate::digest::{Digest, sha256_of};
use crate::image::ImageConfig;
use crate::store::Store;
use ch01_process::explain;
use std::io::Write;
use std::path::{Path, PathBuf};

// ANCHOR: key
/// The cache key of `step` on the image `parent`.
pub fn key(parent: &Digest, step: &str) -> Digest {
    sha256_of(format!("{parent}\n{step}").as_bytes())
}
// ANCHOR_END: key

/// What a cached step gave.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The config after the step.
    pub config: ImageConfig,
    /// The layer it added, if it added one.
    pub layer: Option<LayerRef>,
}

/// One entry on disk. The config is kept as the exact bytes it had, so
/// that its digest, the image id, stays the same.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    config: String,
    layer: Option<LayerRef>,
}

/// The cache of one engine root.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under `root` (made if missing, root's only).
    pub fn open(root: &Path) -> Result<Cache, BuildError> {
        let dir = root.join("build-cache");
        ch02_namespaces::records::private_dir(&dir).map_err(BuildError::io("create", &dir))?;
        Ok(Cache { dir })
    }

    fn path(&self, key: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    // ANCHOR: get
    /// The result cached for `key`, if it is usable: its layer (on top of
    /// `below`) must still be in `store`, blob and unpacked directory.
    pub fn get(
        &self,
        key: &Digest,
        store: &Store,
        below: &[LayerRef],
    ) -> Result<Option<Hit>, BuildError> {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BuildError::io("read", &path)(e)),
        };
        let invalid = |reason: String| BuildError::Cache {
            path: path.clone(),
            reason,
        };
        let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let config: ImageConfig =
            serde_json::from_str(&entry.config).map_err(|e| invalid(e.to_string()))?;
        if let Some(layer) = &entry.layer {
            let mut stack = below.to_vec();
            stack.push(layer.clone());
            let chain = top_chain(&stack).expect("the stack has this layer");
            if !store.has_blob(&layer.blob) || !store.has_layer(&chain) {
                explain!("cache entry {}: its layer is gone: a miss", key.short());
                return Ok(None);
            }
        }
        Ok(Some(Hit {
            config,
            layer: entry.layer,
        }))
    }
    // ANCHOR_END: get

    /// Forgets every entry, and returns their keys with the bytes each took.
    /// Entries are hints only (a miss runs the step again), so any may go;
    /// the layers they pointed at stay until no image uses them
    /// ([`Store::remove_unreferenced`]).
    pub fn clear(&self) -> Result<Vec<(Digest, u64)>, BuildError> {
        let entries = std::fs::read_dir(&self.dir).map_err(BuildError::io("list", &self.dir))?;
        let mut cleared = Vec::new();
        for entry in entries {
            let entry = entry.map_err(BuildError::io("list", &self.dir))?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let Ok(key) = Digest::parse(&format!("sha256:{hex}")) else {
                continue;
            };
            let path = entry.path();
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).map_err(BuildError::io("remove", &path))?;
            cleared.push((key, size));
        }
        Ok(cleared)
    }

    /// Remembers what the step `key` gave (written aside, then renamed).
    pub fn put(
        &self,
        key: &Digest,
        store: &Store,
        config: &ImageConfig,
        layer: Option<&LayerRef>,
    ) -> Result<(), BuildError> {
        let entry = Entry {
            config: String::from_utf8(super::image::config_bytes(config)).expect("JSON is UTF-8"),
            layer: layer.cloned(),
        };
        let work = store.work_dir("cache")?;
        let tmp = work.path().join("entry.json");
        let mut file = std::fs::File::create(&tmp).map_err(BuildError::io("create", &tmp))?;
        file.write_all(&serde_json::to_vec(&entry).expect("an entry serializes"))
            .and_then(|()| file.sync_all())
            .map_err(BuildError::io("write", &tmp))?;
        let path = self.path(key);
        std::fs::rename(&tmp, &path).map_err(BuildError::io("rename", &tmp))?;
        explain!("cache entry {} written", key.short());
        Ok(())
    }
}
