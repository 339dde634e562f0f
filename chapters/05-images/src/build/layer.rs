//! A step's writable layer, made a layer of the store.
//!
//! A RUN step's container (or a COPY step's scratch stack) leaves its
//! changes in an overlayfs upper directory. To become part of an image they
//! take the form a registry can carry, and the form `pull` would have made:
//!
//! ```text
//! upper/ ──changes::commit──> layer.tar ──gzip──> blob         blobs/sha256/<digest>
//!                             sha256 = diff_id    sha256 = digest
//!        layer.tar ──extract::unpack──> layers/<chain id>/      (as pull unpacks it)
//! ```
//!
//! Two digests, as for every layer (see [`crate::extract`]): the *diff_id*
//! names the uncompressed tar (the config lists it), the blob *digest* the
//! compressed bytes (the manifest lists it). The unpacked directory is named
//! by the chain id, the digest of the whole stack up to this layer
//! ([`crate::store::chain_ids`]).
//!
//! The layer is unpacked from the tar by the same safe extractor that
//! unpacks pulled layers, not moved from upper: the store then holds
//! exactly what any other machine gets when it pulls the image.

use super::error::BuildError;
use crate::digest::Digest;
use crate::extract;
use crate::store::{Store, chain_ids};
use ch01_process::explain;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

/// The OCI media type of a gzip'd layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The OCI media type of an uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// One layer of an image being built: what the manifest and the config say
/// of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerRef {
    /// The sha256 of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// The blob: the sha256 of the bytes a registry stores.
    pub blob: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    pub media_type: String,
}

/// The chain id of the stack `layers` (the last one's), if any.
pub fn top_chain(layers: &[LayerRef]) -> Option<Digest> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    chain_ids(&diff_ids).pop()
}

/// The unpacked directories of `layers`, bottom first.
pub fn layer_dirs(store: &Store, layers: &[LayerRef]) -> Vec<std::path::PathBuf> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    chain_ids(&diff_ids)
        .iter()
        .map(|chain| store.layer_path(chain))
        .collect()
}

/// A writer that hashes (sha256) and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn digest(&self) -> Digest {
        Digest::from_sha256(self.hasher.clone().finalize().into())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ANCHOR: commit_upper
/// Makes the changes in `upper` a layer on top of `below` (the stack so
/// far): the blob and the unpacked directory go into `store`.
pub fn commit_upper(
    store: &Store,
    upper: &Path,
    below: &[LayerRef],
) -> Result<LayerRef, BuildError> {
    let work = store.work_dir("commit")?;
    let tar_path = work.path().join("layer.tar");

    // 1. upper -> layer.tar, hashed on the way: the diff_id.
    let file = File::create(&tar_path).map_err(BuildError::io("create", &tar_path))?;
    let mut tar = Hashing::new(BufWriter::new(file));
    let summary = ch04_overlayfs::changes::commit(upper, &mut tar)?;
    tar.flush().map_err(BuildError::io("write", &tar_path))?;
    let diff_id = tar.digest();
    explain!("layer {}: {summary}", diff_id.short());

    store_layer_tar(store, work.path(), diff_id, below)
}

/// The layer tar `<work>/layer.tar`, whose sha256 is `diff_id`, made a
/// layer of the store on top of `below`: gzip'd into a blob, unpacked as
/// pull unpacks it, the blob stored, the unpacked layer committed.
fn store_layer_tar(
    store: &Store,
    work: &Path,
    diff_id: Digest,
    below: &[LayerRef],
) -> Result<LayerRef, BuildError> {
    let tar_path = work.join("layer.tar");
    let gz_path = work.join("layer.tar.gz");

    // 2. layer.tar -> gzip -> layer.tar.gz, hashed: the blob's digest.
    let file = File::create(&gz_path).map_err(BuildError::io("create", &gz_path))?;
    let mut gz = GzEncoder::new(
        Hashing::new(BufWriter::new(file)),
        flate2::Compression::default(),
    );
    let mut source = File::open(&tar_path).map_err(BuildError::io("open", &tar_path))?;
    io::copy(&mut source, &mut gz).map_err(BuildError::io("compress", &tar_path))?;
    let mut hashed = gz.finish().map_err(BuildError::io("compress", &gz_path))?;
    hashed.flush().map_err(BuildError::io("write", &gz_path))?;
    let (blob, size) = (hashed.digest(), hashed.count);
    drop(hashed);

    // 3. Unpacked as pull unpacks, under the stack's chain id, and only
    //    then 4. the blob into the store (verified again on the way in): a
    //    tar the extractor refuses leaves neither behind.
    let mut stack = below.to_vec();
    let layer = LayerRef {
        diff_id: diff_id.clone(),
        blob: blob.clone(),
        size,
        media_type: OCI_LAYER_GZIP.into(),
    };
    stack.push(layer.clone());
    let chain = top_chain(&stack).expect("the stack has this layer");
    let pending = if store.has_layer(&chain) {
        None
    } else {
        let pending = store.begin_layer(&chain)?;
        let file = File::open(&tar_path).map_err(BuildError::io("open", &tar_path))?;
        let unpacked = extract::unpack(
            BufReader::new(file),
            pending.path(),
            &extract::Limits::default(),
        )?;
        if unpacked.diff_id != diff_id.to_string() {
            return Err(BuildError::LayerChanged {
                expected: diff_id.to_string(),
                actual: unpacked.diff_id,
            });
        }
        Some(pending)
    };
    let file = File::open(&gz_path).map_err(BuildError::io("open", &gz_path))?;
    store.put_blob(&blob, Some(size), BufReader::new(file))?;
    if let Some(pending) = pending {
        pending.commit()?;
    }
    Ok(layer)
}
// ANCHOR_END: commit_upper

// ANCHOR: import_layer
/// `docker import`: the tar of a whole filesystem (plain, or gzip'd as
/// `docker export | gzip` makes it), made a layer by itself. The tar comes
/// from a client: it is unpacked by the extractor that unpacks pulled
/// layers, with the same rules (no path out of the layer, no device).
pub fn import_layer(store: &Store, source: impl io::Read) -> Result<LayerRef, BuildError> {
    let work = store.work_dir("import")?;
    let tar_path = work.path().join("layer.tar");
    let mut source = BufReader::new(source);
    let gzip = io::BufRead::fill_buf(&mut source)
        .map_err(BuildError::io("read", Path::new("the archive")))?
        .starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn io::Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(source))
    } else {
        Box::new(source)
    };
    let file = File::create(&tar_path).map_err(BuildError::io("create", &tar_path))?;
    let mut tar = Hashing::new(BufWriter::new(file));
    io::copy(&mut source, &mut tar).map_err(BuildError::io("read", Path::new("the archive")))?;
    tar.flush().map_err(BuildError::io("write", &tar_path))?;
    let diff_id = tar.digest();
    drop(tar);
    store_layer_tar(store, work.path(), diff_id, &[]).map_err(|error| match error {
        BuildError::Extract(why) => BuildError::NotATar(why),
        other => other,
    })
}
// ANCHOR_END: import_layer

/// Whether `upper` holds no change at all.
pub fn is_empty(upper: &Path) -> Result<bool, BuildError> {
    let mut entries = std::fs::read_dir(upper).map_err(BuildError::io("list", upper))?;
    Ok(entries.next().is_none())
}
