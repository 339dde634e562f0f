//! `push`: an image of the store to a registry, the way `pull` came, backwards.
//!
//! The OCI distribution spec ("Pushing blobs", "Pushing manifests"):
//!
//! ```text
//! for each layer, then the config:
//!   HEAD /v2/<name>/blobs/<digest>             200: the registry has it, skip
//!   POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other repository>
//!                                              201: mounted, no bytes sent
//!                                              202: not mounted; an upload starts
//!   POST /v2/<name>/blobs/uploads/             202 + Location: an upload session
//!   PUT  <location>?digest=<digest>            the bytes in one request (monolithic), 201
//!     or PATCH <location> (Content-Range)      a chunk; 202 + the next Location
//!        ... PUT <location>?digest=<digest>    closes the upload, 201
//! last:
//!   PUT  /v2/<name>/manifests/<tag>            Content-Type: the manifest's media type
//! ```
//!
//! The manifest goes last because a registry refuses (or should refuse) a
//! manifest whose blobs it does not have. The image is pushed *as stored*:
//! the same compressed layers, config and manifest bytes as were pulled
//! (or built), so the digest a pull prints is the digest the push prints.
//!
//! A blob the registry has in another repository can be *mounted* instead
//! of uploaded. The store knows where a blob came from: an image record on
//! the same registry, in another repository, that holds it.
//!
//! Tokens for a push are asked for `repository:NAME:pull,push` (see
//! [`Session::for_push`]).

use crate::digest::{Digest, DigestError};
use crate::image::{Descriptor, Manifest};
use crate::reference::Reference;
use crate::registry::{
    Credentials, DOCKER_MANIFEST, OCI_MANIFEST, Payload, RegistryError, Session, percent_encode,
};
use crate::store::{Store, StoreError};
use ch01_process::explain;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::blocking::Response;
use reqwest::{Method, StatusCode};
use std::io::IsTerminal;

/// Blobs larger than this are sent in chunks (PATCH), smaller ones in one PUT.
pub const CHUNK_THRESHOLD: u64 = 64 << 20;
/// The size of each chunk of a chunked upload.
pub const CHUNK_SIZE: u64 = 16 << 20;

/// Why a push failed. Blobs already sent stay in the registry (they are
/// invisible until a manifest names them, and the next push skips them).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(
        "{0} is not an image here: tag an image with that name first (ch05-images tag IMAGE {0})"
    )]
    NoSuchImage(String),
    #[error(
        "the registry {registry} needs a login to push {image}: log in with `ch05-images login {registry}`"
    )]
    LoginRequired { image: String, registry: String },
    #[error(
        "the registry {registry} refused the push of {image} with the stored credentials: \
         check the user, the password and the user's right to push there"
    )]
    Denied { image: String, registry: String },
    #[error("the stored manifest of {image} is not valid JSON: {source}")]
    Manifest {
        image: String,
        source: serde_json::Error,
    },
    #[error("the registry answered {status} to {action} {what}{}", detail(.body))]
    Refused {
        action: &'static str,
        what: String,
        status: StatusCode,
        body: String,
    },
    #[error("the registry stored {what} under {actual}, not {expected}")]
    WrongDigest {
        what: String,
        expected: String,
        actual: String,
    },
}

fn detail(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", body.chars().take(300).collect::<String>())
    }
}

type Result<T> = std::result::Result<T, PushError>;

/// How blobs are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOptions {
    /// Blobs larger than this go in chunks.
    pub chunk_threshold: u64,
    /// The size of a chunk.
    pub chunk_size: u64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            chunk_threshold: CHUNK_THRESHOLD,
            chunk_size: CHUNK_SIZE,
        }
    }
}

/// What happened to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The registry had it: nothing sent.
    Exists,
    /// Mounted from another repository of the registry: nothing sent.
    Mounted { from: String },
    /// Sent, in `requests` PUT/PATCH requests.
    Uploaded { bytes: u64, requests: usize },
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// `registry/repository:tag`.
    pub reference: String,
    /// The manifest's digest (the same as in the store).
    pub digest: Digest,
    /// The manifest's size in bytes (docker prints it: `size: 527`).
    pub size: u64,
    /// Each blob (layers bottom first, then the config) and its fate.
    pub blobs: Vec<(Digest, BlobOutcome)>,
}

impl PushReport {
    /// Docker's line per layer, top layer first (the config is not shown):
    /// `a1b2c3d4e5f6: Pushed`, `Layer already exists`, `Mounted from REPO`.
    pub fn layer_lines(&self) -> String {
        let layers = &self.blobs[..self.blobs.len().saturating_sub(1)];
        let mut out = String::new();
        for (digest, outcome) in layers.iter().rev() {
            let what = match outcome {
                BlobOutcome::Exists => "Layer already exists".to_string(),
                BlobOutcome::Mounted { from } => format!("Mounted from {from}"),
                BlobOutcome::Uploaded { .. } => "Pushed".to_string(),
            };
            out += &format!("{}: {what}\n", &digest.hex()[..12]);
        }
        out
    }
}

impl std::fmt::Display for PushReport {
    /// Docker's last line of a push: `v1: digest: sha256:... size: 527`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = crate::reference::parse(&self.reference)
            .map(|r| r.reference())
            .unwrap_or_default();
        write!(f, "{tag}: digest: {} size: {}", self.digest, self.size)
    }
}

/// Pushes `reference` from `store` with the default options.
pub fn push(
    store: &Store,
    reference: &Reference,
    credentials: Option<Credentials>,
) -> Result<PushReport> {
    push_with(store, reference, credentials, &PushOptions::default())
}

/// The manifest's media type: its own `mediaType`, else told from the config's.
fn manifest_media_type(bytes: &[u8], manifest: &Manifest) -> String {
    let declared = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string));
    declared.unwrap_or_else(|| {
        if manifest
            .config
            .media_type
            .starts_with("application/vnd.docker.")
        {
            DOCKER_MANIFEST.into()
        } else {
            OCI_MANIFEST.into()
        }
    })
}

// ANCHOR: push
/// Pushes `reference` from `store`: blobs first (in parallel), the manifest last.
pub fn push_with(
    store: &Store,
    reference: &Reference,
    credentials: Option<Credentials>,
    options: &PushOptions,
) -> Result<PushReport> {
    let record = store
        .image(reference)?
        .ok_or_else(|| PushError::NoSuchImage(reference.to_string()))?;
    let manifest_bytes = store.read_blob(&record.manifest)?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|source| PushError::Manifest {
            image: reference.to_string(),
            source,
        })?;
    let media_type = manifest_media_type(&manifest_bytes, &manifest);
    let mut blobs: Vec<Descriptor> = manifest.layers.clone();
    blobs.push(manifest.config.clone());
    for blob in &blobs {
        let digest = Digest::parse(&blob.digest)?;
        if !store.has_blob(&digest) {
            return Err(StoreError::MissingBlob(digest).into());
        }
    }
    let mut session = Session::for_push(reference, credentials)?;
    let denied = |error: PushError, session: &Session| match error {
        PushError::Registry(RegistryError::Unauthorized { image, registry }) => {
            if session.has_credentials() {
                PushError::Denied { image, registry }
            } else {
                PushError::LoginRequired { image, registry }
            }
        }
        PushError::Registry(RegistryError::LoginRequired { image, registry }) => {
            PushError::LoginRequired { image, registry }
        }
        other => other,
    };
    // One request first, so that the token (or the refusal) is known
    // before the threads start, each with a copy of the session.
    let first = Digest::parse(&blobs[0].digest)?;
    let first_exists = blob_exists(&mut session, &first).map_err(|e| denied(e, &session))?;

    let bars = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let outcomes: Vec<BlobOutcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = blobs
            .iter()
            .enumerate()
            .map(|(i, blob)| {
                let mut session = session.clone();
                let bar = bars.add(blob_bar(blob));
                let known = (i == 0).then_some(first_exists);
                scope.spawn(move || {
                    push_blob(store, &mut session, blob, known, options, &bar)
                        .map_err(|e| denied(e, &session))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a push thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;

    let tag = reference.reference();
    let url = session.url("manifests", &tag);
    let response = session
        .send(
            Method::PUT,
            &url,
            &[("Content-Type", media_type.clone())],
            &Payload::Bytes(&manifest_bytes),
        )
        .map_err(|e| denied(e.into(), &session))?;
    let response = expect(response, &[StatusCode::CREATED], "push the manifest", &tag)?;
    check_digest(&response, &record.manifest, "the manifest")?;
    explain!(
        "manifest {} pushed as {tag} ({media_type})",
        record.manifest.short()
    );
    Ok(PushReport {
        reference: reference.to_string(),
        digest: record.manifest.clone(),
        size: manifest_bytes.len() as u64,
        blobs: blobs
            .iter()
            .map(|b| Digest::parse(&b.digest))
            .collect::<std::result::Result<Vec<_>, _>>()?
            .into_iter()
            .zip(outcomes)
            .collect(),
    })
}
// ANCHOR_END: push

/// `HEAD /v2/<name>/blobs/<digest>`: whether the registry has the blob.
fn blob_exists(session: &mut Session, digest: &Digest) -> Result<bool> {
    let url = session.url("blobs", &digest.to_string());
    let response = session.send(Method::HEAD, &url, &[], &Payload::Empty)?;
    match response.status() {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        status => Err(PushError::Refused {
            action: "check",
            what: digest.to_string(),
            status,
            body: String::new(),
        }),
    }
}

/// Repositories of the same registry that the store knows hold `digest`.
fn mount_sources(store: &Store, reference: &Reference, digest: &Digest) -> Result<Vec<String>> {
    let mut sources = Vec::new();
    for record in store.images()? {
        let Ok(other) = crate::reference::parse(&record.reference) else {
            continue;
        };
        if other.registry == reference.registry
            && other.repository != reference.repository
            && record.referenced_blobs().any(|d| d == digest)
            && !sources.contains(&other.repository)
        {
            sources.push(other.repository);
        }
    }
    Ok(sources)
}

// ANCHOR: push_blob
/// Makes sure the registry has one blob: it has it, or a mount, or an upload.
fn push_blob(
    store: &Store,
    session: &mut Session,
    blob: &Descriptor,
    known: Option<bool>,
    options: &PushOptions,
    bar: &ProgressBar,
) -> Result<BlobOutcome> {
    let digest = Digest::parse(&blob.digest)?;
    let exists = match known {
        Some(exists) => exists,
        None => blob_exists(session, &digest)?,
    };
    if exists {
        finish(bar);
        return Ok(BlobOutcome::Exists);
    }
    let uploads = session.url("blobs", "uploads/");
    let mut location = None;
    for from in mount_sources(store, session.reference(), &digest)? {
        let url = format!(
            "{uploads}?mount={}&from={}",
            percent_encode(&digest.to_string()),
            percent_encode(&from)
        );
        let response = session.send(Method::POST, &url, &[], &Payload::Empty)?;
        match response.status() {
            StatusCode::CREATED => {
                finish(bar);
                return Ok(BlobOutcome::Mounted { from });
            }
            // Not mounted (the registry may not have it there after all):
            // the answer opened an ordinary upload instead.
            StatusCode::ACCEPTED => {
                location = Some(upload_location(session, &response, &digest)?);
                break;
            }
            _ => {}
        }
    }
    let mut location = match location {
        Some(location) => location,
        None => {
            let response = session.send(Method::POST, &uploads, &[], &Payload::Empty)?;
            let response = expect(
                response,
                &[StatusCode::ACCEPTED],
                "start the upload of",
                &digest.to_string(),
            )?;
            upload_location(session, &response, &digest)?
        }
    };
    let path = store.blob_path(&digest);
    let octets = ("Content-Type", "application/octet-stream".to_string());
    let mut requests = 0;
    let mut body = Payload::File {
        path: &path,
        offset: 0,
        len: blob.size,
    };
    if blob.size > options.chunk_threshold {
        // PATCH one chunk after another, each to the Location the last
        // answer gave; the closing PUT then carries no bytes.
        let mut offset = 0;
        while offset < blob.size {
            let len = options.chunk_size.min(blob.size - offset);
            let range = ("Content-Range", format!("{offset}-{}", offset + len - 1));
            let chunk = Payload::File {
                path: &path,
                offset,
                len,
            };
            let response =
                session.send(Method::PATCH, &location, &[octets.clone(), range], &chunk)?;
            let response = expect(
                response,
                &[StatusCode::ACCEPTED],
                "take a chunk of",
                &digest.to_string(),
            )?;
            location = upload_location(session, &response, &digest)?;
            offset += len;
            requests += 1;
            bar.set_position(offset);
        }
        body = Payload::Empty;
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = format!(
        "{location}{separator}digest={}",
        percent_encode(&digest.to_string())
    );
    let response = session.send(Method::PUT, &url, &[octets], &body)?;
    let response = expect(
        response,
        &[StatusCode::CREATED],
        "take",
        &digest.to_string(),
    )?;
    check_digest(&response, &digest, &digest.to_string())?;
    requests += 1;
    finish(bar);
    Ok(BlobOutcome::Uploaded {
        bytes: blob.size,
        requests,
    })
}
// ANCHOR_END: push_blob

fn upload_location(session: &Session, response: &Response, digest: &Digest) -> Result<String> {
    match response
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
    {
        Some(location) => Ok(session.resolve(location)),
        None => Err(PushError::Refused {
            action: "give an upload location for",
            what: digest.to_string(),
            status: response.status(),
            body: String::new(),
        }),
    }
}

/// The response if its status is one of `ok`, else an error with its body.
fn expect(
    response: Response,
    ok: &[StatusCode],
    action: &'static str,
    what: &str,
) -> Result<Response> {
    if ok.contains(&response.status()) {
        return Ok(response);
    }
    let status = response.status();
    Err(PushError::Refused {
        action,
        what: what.to_string(),
        status,
        body: response.text().unwrap_or_default(),
    })
}

/// Compares the registry's `Docker-Content-Digest` (when it sends one).
fn check_digest(response: &Response, expected: &Digest, what: &str) -> Result<()> {
    match response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
    {
        Some(actual) if actual != expected.to_string() => Err(PushError::WrongDigest {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
        _ => Ok(()),
    }
}

fn blob_bar(blob: &Descriptor) -> ProgressBar {
    let label: String = blob
        .digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    // Hidden until the MultiProgress adopts it: a bar made with
    // `ProgressBar::new` draws itself on the terminal at its first change,
    // and that frame would stay there, above the ones the MultiProgress
    // draws.
    let bar = ProgressBar::with_draw_target(Some(blob.size), ProgressDrawTarget::hidden())
        .with_prefix(label);
    let style =
        ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}")
            .expect("a valid template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("pushing");
    bar
}

fn finish(bar: &ProgressBar) {
    // The caller prints the report's lines in docker's order once every
    // blob is done (the threads finish in any order): on a terminal the
    // bar goes away when its blob is done, so that the terminal ends up
    // showing the same lines as a log.
    bar.finish_and_clear();
}
