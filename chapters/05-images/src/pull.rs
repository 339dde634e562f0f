//! `pull`: from a reference to unpacked layers in the store.
//!
//! 1. Fetch the manifest for the tag (or digest). If it is an index, pick
//!    this machine's platform and fetch that manifest, by digest.
//! 2. Fetch the config, by digest: it lists the layers' *uncompressed*
//!    digests (`diff_ids`) and how to run the image.
//! 3. Fetch each layer not already in the store, in parallel, verifying its
//!    digest and size as it streams; unpack it safely, computing the digest
//!    of the uncompressed stream, which must equal its `diff_id`.
//! 4. Write the image record, atomically: until then the image does not
//!    exist, so an interrupted pull leaves nothing half-visible.

use crate::digest::{Digest, DigestError, sha256_of};
use crate::extract::{self, ExtractError};
use crate::image::{self, ImageConfig, Index, Manifest};
use crate::reference::Reference;
use crate::registry::{Credentials, DOCKER_MANIFEST_LIST, OCI_INDEX, RegistryError, Session};
use crate::store::{ImageRecord, Store, StoreError, chain_ids, now};
use ch01_process::explain;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read};

/// Why a pull failed. Nothing of a failed pull is visible afterwards.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("layer {layer}: {source}")]
    Extract { layer: String, source: ExtractError },
    #[error("{image} has no image for {wanted}; it has: {available}")]
    NoPlatform {
        image: String,
        wanted: String,
        available: String,
    },
    #[error("the registry sent an invalid {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(
        "the {what} of {image} does not match the digest it was asked by: the registry sent other bytes"
    )]
    ManifestDigest { what: &'static str, image: String },
    #[error(
        "layer {layer} unpacks to {actual}, but the image config says {expected}: the layer was tampered with"
    )]
    DiffId {
        layer: String,
        expected: String,
        actual: String,
    },
    #[error("the manifest lists {layers} layers but the config {diff_ids} diff_ids")]
    LayerCount { layers: usize, diff_ids: usize },
}

type Result<T> = std::result::Result<T, PullError>;

fn json<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| PullError::Json { what, source })
}

/// Pulls `reference` into `store` and returns its record, with the default
/// [`extract::Limits`].
pub fn pull(
    store: &Store,
    reference: &Reference,
    credentials: Option<Credentials>,
) -> Result<ImageRecord> {
    pull_with_limits(store, reference, credentials, &extract::Limits::default())
}

// ANCHOR: pull
/// Pulls `reference` into `store` and returns its record; each layer, and
/// all the layers together, are held to `limits`.
pub fn pull_with_limits(
    store: &Store,
    reference: &Reference,
    credentials: Option<Credentials>,
    limits: &extract::Limits,
) -> Result<ImageRecord> {
    // Shared: pulls run side by side, but an `rmi` (exclusive) cannot delete
    // a layer between our `has_layer` and our image record.
    let _lock = store.lock(false)?;
    let mut session = Session::new(reference, credentials)?;
    let mut blobs = Vec::new();

    let asked = reference.reference();
    let (mut media_type, mut bytes) = session.manifest(&asked)?;
    if let Some(pinned) = &reference.digest
        && sha256_of(&bytes) != *pinned
    {
        return Err(PullError::ManifestDigest {
            what: "manifest",
            image: reference.to_string(),
        });
    }
    if media_type.starts_with(OCI_INDEX) || media_type.starts_with(DOCKER_MANIFEST_LIST) {
        let index_digest = store_bytes(store, &bytes)?;
        blobs.push(index_digest);
        let index: Index = json("index", &bytes)?;
        let platform = image::host_platform();
        let Some(chosen) = image::pick(&index, &platform) else {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            return Err(PullError::NoPlatform {
                image: reference.to_string(),
                wanted: format!("{}/{}", platform.os, platform.architecture),
                available: available.join(", "),
            });
        };
        explain!(
            "index: picked {} for {}/{}",
            chosen.digest,
            platform.os,
            platform.architecture
        );
        let digest = Digest::parse(&chosen.digest)?;
        (media_type, bytes) = session.manifest(&digest.to_string())?;
        if sha256_of(&bytes) != digest {
            return Err(PullError::ManifestDigest {
                what: "manifest",
                image: reference.to_string(),
            });
        }
    }
    explain!("manifest: {media_type}");
    let manifest_digest = store_bytes(store, &bytes)?;
    let manifest: Manifest = json("manifest", &bytes)?;

    let config_digest = Digest::parse(&manifest.config.digest)?;
    let response = session.blob(&config_digest)?;
    store.put_blob(&config_digest, Some(manifest.config.size), response)?;
    let config: ImageConfig = json("config", &store.read_blob(&config_digest)?)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(PullError::LayerCount {
            layers: manifest.layers.len(),
            diff_ids: config.rootfs.diff_ids.len(),
        });
    }
    let diff_ids = config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let chains = chain_ids(&diff_ids);

    // Every layer in its own thread: downloads overlap, and so do unpacks.
    // They share one count of uncompressed bytes against the image's cap.
    // On a terminal, each layer gets a progress bar, as docker shows them.
    let budget = extract::ImageBudget::new(limits);
    let bars = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = manifest
            .layers
            .iter()
            .zip(&diff_ids)
            .zip(&chains)
            .map(|((layer, diff_id), chain)| {
                let session = session.clone();
                let bar = bars.add(layer_bar(layer));
                let budget = &budget;
                scope.spawn(move || fetch_layer(store, session, layer, diff_id, chain, budget, bar))
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a layer thread panicked"))
    })?;
    for layer in &manifest.layers {
        blobs.push(Digest::parse(&layer.digest)?);
    }

    let record = ImageRecord {
        reference: reference.to_string(),
        manifest: manifest_digest,
        config: config_digest,
        layers: chains,
        blobs,
        created: now(),
    };
    store.put_image(&record)?;
    Ok(record)
}
// ANCHOR_END: pull

/// A progress bar for one layer's download, labelled with its short digest.
fn layer_bar(layer: &image::Descriptor) -> ProgressBar {
    let label = layer
        .digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect::<String>();
    // Hidden until the MultiProgress adopts it: a bar made with
    // `ProgressBar::new` draws itself on the terminal at its first change,
    // and that frame would stay there, above the ones the MultiProgress
    // draws.
    let bar = ProgressBar::with_draw_target(Some(layer.size), ProgressDrawTarget::hidden())
        .with_prefix(label);
    let style =
        ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}")
            .expect("a valid template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("downloading");
    bar
}

/// Ends a layer's report with `line`: printed off a terminal (where the
/// bars are hidden), and on a terminal the bar's last frame, so that a
/// terminal ends up showing the same lines as a log.
fn finish(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
        return;
    }
    bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
    bar.finish_with_message(line);
}

/// Stores bytes we already hold (a manifest or index) under their digest.
fn store_bytes(store: &Store, bytes: &[u8]) -> Result<Digest> {
    let digest = sha256_of(bytes);
    store.put_blob(&digest, Some(bytes.len() as u64), bytes)?;
    Ok(digest)
}

// ANCHOR: fetch_layer
/// Downloads one layer and unpacks it into the store, in one pass: the
/// bytes from the network go to the blob file (verified against the
/// layer's digest at the end) and, through a pipe, to the extractor (which
/// computes the diff_id). The layer is committed only when both agree.
fn fetch_layer(
    store: &Store,
    mut session: Session,
    layer: &image::Descriptor,
    diff_id: &Digest,
    chain: &Digest,
    budget: &extract::ImageBudget,
    bar: ProgressBar,
) -> Result<()> {
    let digest = Digest::parse(&layer.digest)?;
    if store.has_layer(chain) {
        finish(&bar, format!("{}: already exists", digest.short()));
        return Ok(());
    }
    let unpack_error = |source| PullError::Extract {
        layer: digest.short(),
        source,
    };
    let from_file = || -> Result<_> {
        let pending = store.begin_layer(chain)?;
        let blob = store.blob_path(&digest);
        let file = std::fs::File::open(&blob).map_err(|source| StoreError::Io {
            action: "open",
            path: blob.clone(),
            source,
        })?;
        let unpacked =
            extract::unpack_in_image(file, pending.path(), budget).map_err(unpack_error)?;
        Ok((pending, unpacked))
    };
    let (pending, unpacked) = if store.has_blob(&digest) {
        // The compressed blob is here already (an earlier or a parallel
        // pull downloaded it): unpack from the file.
        from_file()?
    } else {
        let pending = store.begin_layer(chain)?;
        let (pipe_out, pipe_in) = std::io::pipe().map_err(|source| StoreError::Io {
            action: "create a pipe for",
            path: pending.path().to_path_buf(),
            source,
        })?;
        let passed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let download = Tee {
            inner: session.blob(&digest)?,
            copy: Some(pipe_in),
            bar: bar.clone(),
            passed: passed.clone(),
        };
        bar.set_message("pulling");
        let (stored, unpacked) = std::thread::scope(|scope| {
            let extractor =
                scope.spawn(|| extract::unpack_in_image(pipe_out, pending.path(), budget));
            // put_blob reads the download to its end; the Tee's pipe closes
            // when the download (and with it the Tee) is dropped.
            let stored = store.put_blob(&digest, Some(layer.size), download);
            (
                stored,
                extractor.join().expect("the extractor thread panicked"),
            )
        });
        // A wrong blob explains a failed extraction, so it is reported first.
        stored?;
        if passed.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            // Another pull stored the blob between our check and our
            // download, so put_blob read nothing: unpack from its file.
            drop(pending);
            from_file()?
        } else {
            (pending, unpacked.map_err(unpack_error)?)
        }
    };
    if unpacked.diff_id != diff_id.to_string() {
        return Err(PullError::DiffId {
            layer: digest.short(),
            expected: diff_id.to_string(),
            actual: unpacked.diff_id,
        });
    }
    pending.commit()?;
    let done = format!(
        "{}: pull complete ({} bytes)",
        digest.short(),
        unpacked.bytes
    );
    finish(&bar, done);
    Ok(())
}

/// Passes a download through to its reader, copying every byte into a pipe
/// (for the extractor) and counting it into a progress bar.
struct Tee<R> {
    inner: R,
    /// `None` once the extractor stopped reading (it failed, or finished).
    copy: Option<std::io::PipeWriter>,
    bar: ProgressBar,
    /// How many bytes went through.
    passed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        self.passed
            .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        if let Some(pipe) = &mut self.copy
            && std::io::Write::write_all(pipe, &buf[..n]).is_err()
        {
            // The extractor is gone; its own result says why.
            self.copy = None;
        }
        if n == 0 {
            self.copy = None; // end of the download: close the pipe
        }
        Ok(n)
    }
}
// ANCHOR_END: fetch_layer
