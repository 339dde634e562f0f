//! `load`: images from a tar of `save`, `docker save` or skopeo.
//!
//! Three passes, so that nothing is stored from an archive that turns out
//! bad at its last byte:
//!
//! 1. **stage**: every file of the tar into a work directory of the store,
//!    with the archive's symbolic and hard links remembered (old `docker
//!    save` links repeated layers); no name may leave the archive.
//! 2. **verify**: find the images (docker's `manifest.json`, else the OCI
//!    `index.json`), hash every blob, and unpack every layer into a pending
//!    directory, checking each against the config's `diff_ids`.
//! 3. **store**: commit the layers, store the blobs, write the records.

use super::staged::{Staged, clean, damaged};
use super::{ArchiveError, ArchiveManifest};
use crate::digest::{Digest, sha256_of};
use crate::extract::{self, Compression};
use crate::image::{self, ImageConfig, Index, Manifest};
use crate::reference::{self, Reference};
use crate::registry::{DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::store::{ImageRecord, PendingLayer, Store, chain_ids, now};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One image a load stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The canonical name (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The config digest: the image id.
    pub config: Digest,
    pub manifest: Digest,
}

/// What a load did (docker prints `Loaded image: NAME` for each).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadReport {
    pub images: Vec<LoadedImage>,
}

impl std::fmt::Display for LoadReport {
    /// Docker's lines: `Loaded image: busybox:latest`, one per name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for image in &self.images {
            let name = reference::parse(&image.reference)
                .ok()
                .and_then(|r| super::familiar_name(&r))
                .unwrap_or_else(|| image.reference.clone());
            writeln!(f, "Loaded image: {name}")?;
        }
        Ok(())
    }
}

/// A layer file of an image in the archive.
struct LayerFile {
    path: PathBuf,
    digest: Digest,
    size: u64,
    compression: Compression,
}

/// An image found in the archive, verified but not stored yet.
struct Found {
    names: Vec<Reference>,
    config: Digest,
    config_bytes: Vec<u8>,
    /// The manifest (from the OCI index, or made up from docker's list).
    manifest: Vec<u8>,
    layers: Vec<LayerFile>,
}

/// The digest encoded in an archive name (`blobs/sha256/<hex>`, `<hex>.json`), if any.
fn named_digest(name: &str) -> Option<Digest> {
    let name = clean(name)?;
    let hex = name
        .strip_prefix("blobs/sha256/")
        .or_else(|| name.strip_suffix(".json").filter(|n| !n.contains('/')))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

fn layer_file(path: &Path) -> Result<LayerFile, ArchiveError> {
    let io_error = |source| ArchiveError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut buffer = vec![0; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io_error)?;
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend_from_slice(&buffer[..n.min(4 - head.len())]);
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    let compression = Compression::detect(&head).map_err(|source| ArchiveError::Extract {
        layer: path.display().to_string(),
        source,
    })?;
    Ok(LayerFile {
        path: path.to_path_buf(),
        digest: Digest::from_sha256(hasher.finalize().into()),
        size,
        compression,
    })
}

fn parse_names(names: &[String]) -> Result<Vec<Reference>, ArchiveError> {
    names
        .iter()
        .map(|n| reference::parse(n).map_err(|e| damaged(format!("the name {n:?}: {e}"))))
        .collect()
}

/// The OCI index's manifests, an inner index resolved to this machine's platform.
/// A manifest of the OCI index: its names, digest and bytes.
type Indexed = (Vec<String>, Digest, Vec<u8>);

fn index_images(staged: &Staged) -> Result<Vec<Indexed>, ArchiveError> {
    let index: Index = serde_json::from_slice(&staged.bytes("index.json")?)
        .map_err(|e| damaged(format!("index.json: {e}")))?;
    let mut found = Vec::new();
    for descriptor in &index.manifests {
        let annotations = descriptor.annotations.clone().unwrap_or_default();
        // docker writes the whole name here; skopeo's oci-archive: the name it was given.
        let name = annotations.get("io.containerd.image.name").or_else(|| {
            annotations
                .get("org.opencontainers.image.ref.name")
                .filter(|n| n.contains(['/', ':']))
        });
        let (mut digest, mut bytes) = staged.blob(descriptor)?;
        if descriptor.media_type == OCI_INDEX || descriptor.media_type == DOCKER_MANIFEST_LIST {
            let inner: Index = serde_json::from_slice(&bytes)
                .map_err(|e| damaged(format!("index {digest}: {e}")))?;
            let Some(chosen) = image::pick(&inner, &image::host_platform()) else {
                continue;
            };
            (digest, bytes) = staged.blob(chosen)?;
        }
        found.push((name.into_iter().cloned().collect(), digest, bytes));
    }
    Ok(found)
}

// ANCHOR: find
/// Finds and verifies the images of the archive (nothing is stored yet).
fn find(staged: &Staged, label: &str) -> Result<Vec<Found>, ArchiveError> {
    let indexed = if staged.has("index.json") {
        index_images(staged)?
    } else {
        Vec::new()
    };
    let mut found = Vec::new();
    if staged.has("manifest.json") {
        let list: Vec<ArchiveManifest> = serde_json::from_slice(&staged.bytes("manifest.json")?)
            .map_err(|e| damaged(format!("manifest.json: {e}")))?;
        for entry in list {
            let config_bytes = staged.bytes(&entry.config)?;
            let config = sha256_of(&config_bytes);
            if named_digest(&entry.config).is_some_and(|named| named != config) {
                return Err(damaged(format!(
                    "{} does not match its digest",
                    entry.config
                )));
            }
            let mut layers = Vec::new();
            for name in &entry.layers {
                let layer = layer_file(staged.file(name)?)?;
                if named_digest(name).is_some_and(|named| named != layer.digest) {
                    return Err(damaged(format!("{name} does not match its digest")));
                }
                layers.push(layer);
            }
            // The OCI index's manifest for the same config and layers, if
            // there is one: then the image keeps its manifest digest.
            let same = |bytes: &[u8]| {
                serde_json::from_slice::<Manifest>(bytes).is_ok_and(|m| {
                    m.config.digest == config.to_string()
                        && m.layers.len() == layers.len()
                        && m.layers
                            .iter()
                            .zip(&layers)
                            .all(|(d, l)| d.digest == l.digest.to_string())
                })
            };
            let from_index = indexed.iter().find(|(_, _, bytes)| same(bytes));
            let mut names = parse_names(&entry.repo_tags.clone().unwrap_or_default())?;
            if let Some((index_names, _, _)) = from_index {
                for name in parse_names(index_names)? {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            let manifest = match from_index {
                Some((_, _, bytes)) => bytes.clone(),
                None => made_up_manifest(&config, config_bytes.len(), &layers),
            };
            found.push(Found {
                names,
                config,
                config_bytes,
                manifest,
                layers,
            });
        }
    } else if staged.has("index.json") {
        for (names, digest, bytes) in indexed {
            let manifest: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| damaged(format!("manifest {digest}: {e}")))?;
            let (config, config_bytes) = staged.blob(&manifest.config)?;
            let mut layers = Vec::new();
            for descriptor in &manifest.layers {
                let digest = Digest::parse(&descriptor.digest)?;
                let layer = layer_file(staged.file(&format!(
                    "blobs/{}/{}",
                    digest.algorithm(),
                    digest.hex()
                ))?)?;
                if layer.digest != digest || layer.size != descriptor.size {
                    return Err(damaged(format!(
                        "layer {digest} does not match its digest or size"
                    )));
                }
                layers.push(layer);
            }
            found.push(Found {
                names: parse_names(&names)?,
                config,
                config_bytes,
                manifest: bytes,
                layers,
            });
        }
    } else {
        return Err(ArchiveError::NotAnArchive {
            archive: label.to_string(),
            reason: "it has neither docker's manifest.json nor an OCI index.json".into(),
        });
    }
    if let Some(unnamed) = found.iter().find(|f| f.names.is_empty()) {
        return Err(ArchiveError::Unnamed {
            config: unnamed.config.to_string(),
        });
    }
    Ok(found)
}
// ANCHOR_END: find

/// An OCI manifest for an image that came without one (docker's list only).
fn made_up_manifest(config: &Digest, config_size: usize, layers: &[LayerFile]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let media_type = match l.compression {
                Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                Compression::None => "application/vnd.oci.image.layer.v1.tar",
            };
            serde_json::json!({ "mediaType": media_type, "digest": l.digest.to_string(), "size": l.size })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.to_string(),
            "size": config_size,
        },
        "layers": layers,
    }))
    .expect("a manifest serializes")
}

/// The sha256 of a layer file's uncompressed content.
fn diff_id_of(layer: &LayerFile) -> Result<String, ArchiveError> {
    let file = File::open(&layer.path).map_err(|source| ArchiveError::Io {
        action: "read",
        path: layer.path.clone(),
        source,
    })?;
    let mut reader: Box<dyn Read> = match layer.compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::None => Box::new(file),
    };
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher)
        .map_err(|e| damaged(format!("layer {}: {e}", layer.digest)))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// `load -i FILE`.
pub fn load_file(store: &Store, path: &Path) -> Result<LoadReport, ArchiveError> {
    let file = File::open(path).map_err(|source| ArchiveError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    load(store, io::BufReader::new(file), &path.display().to_string())
}

// ANCHOR: load
/// Loads every image of the archive read from `reader` (`label` names it in errors).
pub fn load(store: &Store, reader: impl Read, label: &str) -> Result<LoadReport, ArchiveError> {
    let _lock = store.lock(false)?;
    let staged = Staged::read(store, reader, label)?;
    let found = find(&staged, label)?;

    // Verify every layer against its config; unpack the new ones (pending).
    let mut pending: BTreeMap<Digest, PendingLayer> = BTreeMap::new();
    let mut chains_of = Vec::new();
    for image in &found {
        let config: ImageConfig = serde_json::from_slice(&image.config_bytes)
            .map_err(|e| damaged(format!("config {}: {e}", image.config)))?;
        let diff_ids = config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        if diff_ids.len() != image.layers.len() {
            return Err(damaged(format!(
                "config {} lists {} layers, the archive has {}",
                image.config,
                diff_ids.len(),
                image.layers.len()
            )));
        }
        let chains = chain_ids(&diff_ids);
        for ((layer, diff_id), chain) in image.layers.iter().zip(&diff_ids).zip(&chains) {
            let actual = if store.has_layer(chain) || pending.contains_key(chain) {
                diff_id_of(layer)?
            } else {
                let layer_pending = store.begin_layer(chain)?;
                let file = File::open(&layer.path).map_err(|source| ArchiveError::Io {
                    action: "read",
                    path: layer.path.clone(),
                    source,
                })?;
                let unpacked =
                    extract::unpack(file, layer_pending.path(), &extract::Limits::default())
                        .map_err(|source| ArchiveError::Extract {
                            layer: layer.digest.short(),
                            source,
                        })?;
                pending.insert(chain.clone(), layer_pending);
                unpacked.diff_id
            };
            if actual != diff_id.to_string() {
                return Err(damaged(format!(
                    "layer {} unpacks to {actual}, but its config says {diff_id}",
                    layer.digest
                )));
            }
        }
        chains_of.push(chains);
    }

    // Everything checked: store it.
    for layer in pending.into_values() {
        layer.commit()?;
    }
    let mut report = LoadReport::default();
    for (image, chains) in found.iter().zip(chains_of) {
        store.put_blob(
            &image.config,
            Some(image.config_bytes.len() as u64),
            &image.config_bytes[..],
        )?;
        let manifest = sha256_of(&image.manifest);
        store.put_blob(
            &manifest,
            Some(image.manifest.len() as u64),
            &image.manifest[..],
        )?;
        for layer in &image.layers {
            let file = File::open(&layer.path).map_err(|source| ArchiveError::Io {
                action: "read",
                path: layer.path.clone(),
                source,
            })?;
            store.put_blob(&layer.digest, Some(layer.size), file)?;
        }
        for name in &image.names {
            store.put_image(&ImageRecord {
                reference: name.to_string(),
                manifest: manifest.clone(),
                config: image.config.clone(),
                layers: chains.clone(),
                blobs: image.layers.iter().map(|l| l.digest.clone()).collect(),
                created: now(),
            })?;
            report.images.push(LoadedImage {
                reference: name.to_string(),
                config: image.config.clone(),
                manifest: manifest.clone(),
            });
        }
    }
    Ok(report)
}
// ANCHOR_END: load
