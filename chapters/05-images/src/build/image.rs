//! The image a stage is building: a config and layers, from the base image
//! to the finished image record.
//!
//! Docker's classic builder leaves an *intermediate image* after each step:
//! the config so far and the layers so far. Its id is the digest of its
//! config, and since the config lists every layer's diff_id (and the
//! history with its times), the id pins the whole image: two steps with
//! the same parent id started from the same files and the same config. The
//! build cache keys on it.

use super::error::BuildError;
use super::layer::{LayerRef, OCI_LAYER_GZIP, OCI_LAYER_TAR};
use crate::digest::{Digest, sha256_of};
use crate::image::{ImageConfig, Manifest, RootFs, host_platform};
use crate::reference::Reference;
use crate::registry::OCI_MANIFEST;
use crate::store::{ImageRecord, Store, chain_ids, now};

/// The OCI media type of an image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The bytes of a config as the builder stores it. The same config always
/// gives the same bytes (serde writes struct fields in order, and every map
/// is sorted), so its digest is a stable id.
pub fn config_bytes(config: &ImageConfig) -> Vec<u8> {
    serde_json::to_vec(config).expect("an image config serializes")
}

/// An intermediate image's id: the digest of its config.
pub fn image_id(config: &ImageConfig) -> Digest {
    sha256_of(&config_bytes(config))
}

/// The config `FROM scratch` starts with: this machine's platform, no
/// layers, nothing to run.
pub fn scratch_config() -> ImageConfig {
    let platform = host_platform();
    ImageConfig {
        architecture: platform.architecture,
        os: platform.os,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        },
        ..ImageConfig::default()
    }
}

/// An OCI media type for a base image's layer (a docker media type names
/// the same bytes).
fn oci_layer_type(media_type: &str) -> String {
    if media_type.ends_with("tar") {
        OCI_LAYER_TAR.into()
    } else {
        OCI_LAYER_GZIP.into()
    }
}

/// The config and layers of an image of the store.
pub fn stored(
    store: &Store,
    record: &ImageRecord,
) -> Result<(ImageConfig, Vec<LayerRef>), BuildError> {
    let invalid = |what, source| BuildError::Corrupt {
        image: record.reference.clone(),
        what,
        source,
    };
    let manifest: Manifest = serde_json::from_slice(&store.read_blob(&record.manifest)?)
        .map_err(|e| invalid("manifest", e))?;
    let config: ImageConfig = serde_json::from_slice(&store.read_blob(&record.config)?)
        .map_err(|e| invalid("config", e))?;
    let mut layers = Vec::new();
    for (descriptor, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        layers.push(LayerRef {
            diff_id: Digest::parse(diff_id)?,
            blob: Digest::parse(&descriptor.digest)?,
            size: descriptor.size,
            media_type: oci_layer_type(&descriptor.media_type),
        });
    }
    Ok((config, layers))
}

// ANCHOR: store_image
/// Stores the finished image: its config and an OCI manifest as blobs,
/// then one record per tag. Returns the manifest's digest.
pub fn store_image(
    store: &Store,
    config: &ImageConfig,
    layers: &[LayerRef],
    tags: &[Reference],
) -> Result<Digest, BuildError> {
    let config_bytes = config_bytes(config);
    let config_digest = sha256_of(&config_bytes);
    store.put_blob(
        &config_digest,
        Some(config_bytes.len() as u64),
        &config_bytes[..],
    )?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": config_digest,
            "size": config_bytes.len(),
        },
        "layers": layers.iter().map(|layer| serde_json::json!({
            "mediaType": layer.media_type,
            "digest": layer.blob,
            "size": layer.size,
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let manifest_digest = sha256_of(&manifest_bytes);
    store.put_blob(
        &manifest_digest,
        Some(manifest_bytes.len() as u64),
        &manifest_bytes[..],
    )?;
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    for tag in tags {
        store.put_image(&ImageRecord {
            reference: tag.to_string(),
            manifest: manifest_digest.clone(),
            config: config_digest.clone(),
            layers: chain_ids(&diff_ids),
            blobs: layers.iter().map(|l| l.blob.clone()).collect(),
            created: now(),
        })?;
    }
    Ok(manifest_digest)
}
// ANCHOR_END: store_image
