//! `save` and `load`: images in one tar file, the way docker moves them
//! between machines without a registry.
//!
//! The tar holds two descriptions of the same blobs, as Docker 25 and later
//! write it:
//!
//! ```text
//! blobs/sha256/<hex>      manifests, configs and layers, named by their digest
//! oci-layout              {"imageLayoutVersion": "1.0.0"}
//! index.json              an OCI image index: one manifest per name, the name
//!                         in the annotations (an OCI image layout, read by
//!                         skopeo's oci-archive: and containerd)
//! manifest.json           docker's own list: [{"Config": "blobs/sha256/...",
//!                         "RepoTags": ["busybox:latest"], "Layers": [...]}]
//!                         (read by `docker load` and skopeo's docker-archive:)
//! ```
//!
//! `save` writes the blobs *as stored*: layers stay compressed, so the
//! manifest in `index.json` is the very manifest that was pulled, and a
//! `load` gives back the same image, digest for digest. (`docker save`
//! writes uncompressed layers; readers of both formats decompress what is
//! compressed.)
//!
//! `load` reads archives of docker (old: `<id>/layer.tar`, with symbolic
//! links for repeated layers; new: as above), of skopeo (`docker-archive:`
//! and `oci-archive:`) and of `save`. It verifies every digest, unpacks
//! every layer, and only then stores anything: a bad archive leaves the
//! store as it was.

mod load;
mod staged;

pub use load::{LoadReport, load, load_file};

use crate::digest::{DigestError, VerifyingReader};
use crate::image::Manifest;
use crate::reference::{DOCKER_HUB, Reference};
use crate::registry::OCI_INDEX;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a save or a load failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("{0} is not an image here: pull or build it first")]
    NoSuchImage(String),
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{archive:?} is not an image archive: {reason}")]
    NotAnArchive { archive: String, reason: String },
    #[error("the archive is damaged: {0}")]
    Damaged(String),
    #[error(
        "the archive holds an image without a name (config {config}): this store keeps images by name; save it by name (NAME:TAG) and load that"
    )]
    Unnamed { config: String },
    #[error("layer {layer}: {source}")]
    Extract {
        layer: String,
        source: crate::extract::ExtractError,
    },
}

/// One entry of docker's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveManifest {
    /// The config's path in the archive.
    pub config: String,
    /// Names, in docker's short form (`busybox:latest`); may be null.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// The layers' paths, bottom first.
    pub layers: Vec<String>,
}

/// Docker's short form of a name: without `docker.io/` and `library/`.
pub fn familiar_name(reference: &Reference) -> Option<String> {
    let tag = reference.tag.as_deref()?;
    let name = if reference.registry == DOCKER_HUB {
        reference
            .repository
            .strip_prefix("library/")
            .unwrap_or(&reference.repository)
            .to_string()
    } else {
        reference.name()
    };
    Some(format!("{name}:{tag}"))
}

fn blob_name(digest: &crate::digest::Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// Appends one file to the tar, with fixed owner and time so that the same
/// images always give the same archive.
fn append(
    tar: &mut tar::Builder<impl Write>,
    name: &str,
    size: u64,
    data: impl std::io::Read,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(if name.ends_with('/') {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    header.set_mode(if name.ends_with('/') { 0o755 } else { 0o644 });
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_data(&mut header, name, data)
}

// ANCHOR: save
/// Writes `images` from `store` as one tar to `out`.
pub fn save(store: &Store, images: &[Reference], out: impl Write) -> Result<(), ArchiveError> {
    let write_error = |source| ArchiveError::Io {
        action: "write",
        path: PathBuf::from("the archive"),
        source,
    };
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::BTreeSet::new();
    let mut index = Vec::new();
    // docker's list groups the names of one image (one config) together.
    let mut docker: BTreeMap<String, ArchiveManifest> = BTreeMap::new();
    for dir in ["blobs/", "blobs/sha256/"] {
        append(&mut tar, dir, 0, std::io::empty()).map_err(write_error)?;
    }
    for reference in images {
        let record = store
            .image(reference)?
            .ok_or_else(|| ArchiveError::NoSuchImage(reference.to_string()))?;
        let manifest_bytes = store.read_blob(&record.manifest)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            ArchiveError::Damaged(format!("the stored manifest of {reference}: {e}"))
        })?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&manifest_bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            .unwrap_or_else(|| crate::registry::OCI_MANIFEST.to_string());
        let mut layers = Vec::new();
        let mut blobs = vec![(record.manifest.clone(), manifest_bytes.len() as u64)];
        blobs.push((
            crate::digest::Digest::parse(&manifest.config.digest)?,
            manifest.config.size,
        ));
        for layer in &manifest.layers {
            let digest = crate::digest::Digest::parse(&layer.digest)?;
            layers.push(blob_name(&digest));
            blobs.push((digest, layer.size));
        }
        for (digest, size) in blobs {
            if !written.insert(digest.clone()) {
                continue;
            }
            let path = store.blob_path(&digest);
            let file = std::fs::File::open(&path).map_err(|source| ArchiveError::Io {
                action: "open",
                path: path.clone(),
                source,
            })?;
            // Every blob is checked on its way into the archive.
            let mut reader = VerifyingReader::new(file);
            append(&mut tar, &blob_name(&digest), size, &mut reader).map_err(write_error)?;
            reader
                .finish(&digest, Some(size))
                .map_err(|source| StoreError::Corrupt {
                    path,
                    source: Box::new(source),
                })?;
        }
        let mut annotations = BTreeMap::new();
        annotations.insert(
            "io.containerd.image.name".to_string(),
            reference.to_string(),
        );
        if let Some(tag) = &reference.tag {
            annotations.insert("org.opencontainers.image.ref.name".to_string(), tag.clone());
        }
        index.push(serde_json::json!({
            "mediaType": media_type,
            "digest": record.manifest.to_string(),
            "size": manifest_bytes.len(),
            "annotations": annotations,
        }));
        let entry = docker
            .entry(record.config.to_string())
            .or_insert_with(|| ArchiveManifest {
                config: blob_name(&record.config),
                repo_tags: Some(Vec::new()),
                layers,
            });
        if let (Some(tags), Some(name)) = (&mut entry.repo_tags, familiar_name(reference)) {
            tags.push(name);
        }
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": index,
    }))
    .expect("an index serializes");
    let docker =
        serde_json::to_vec(&docker.into_values().collect::<Vec<_>>()).expect("a list serializes");
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    for (name, bytes) in [
        ("oci-layout", &layout[..]),
        ("index.json", &index),
        ("manifest.json", &docker),
    ] {
        append(&mut tar, name, bytes.len() as u64, bytes).map_err(write_error)?;
    }
    tar.into_inner()
        .and_then(|mut out| out.flush())
        .map_err(write_error)
}
// ANCHOR_END: save

/// `save -o FILE`: writes the archive next to `path` and renames it into
/// place, so that a failed save leaves no half archive behind.
pub fn save_to_file(store: &Store, images: &[Reference], path: &Path) -> Result<(), ArchiveError> {
    let io_error = |action, source| ArchiveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial).map_err(|e| io_error("create", e))?;
    let result = save(store, images, std::io::BufWriter::new(&file))
        .and_then(|()| file.sync_all().map_err(|e| io_error("flush", e)))
        .and_then(|()| std::fs::rename(&partial, path).map_err(|e| io_error("rename", e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
