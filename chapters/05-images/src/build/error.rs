//! Why a build failed.
//!
//! A failure inside a step is reported with the step, as docker's classic
//! builder shows it (`Step 3/5 : RUN make`), so that the learner knows
//! which line of the Dockerfile to look at: `step 3/5 (RUN make): the
//! command '/bin/sh -c make' returned a non-zero code: 2`.

use crate::digest::DigestError;
use crate::dockerfile::DockerfileError;
use crate::dockerignore::IgnoreError;
use crate::engine::ImageError;
use crate::extract::ExtractError;
use crate::reference::ReferenceError;
use crate::store::StoreError;
use crate::verbs::ImageVerbError;
use ch02_namespaces::RunError;
use ch04_overlayfs::changes::ChangesError;
use ch04_overlayfs::cli::StorageFlagError;
use ch04_overlayfs::layers::LayerError;
use std::path::PathBuf;

/// Why a build failed. Nothing of a failed step is kept: no container, no
/// layer, no image record.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A step failed; `source` says how.
    #[error("step {step}/{total} ({text}): {source}")]
    Step {
        step: usize,
        total: usize,
        text: String,
        source: Box<BuildError>,
    },
    #[error("{0}")]
    Dockerfile(#[from] DockerfileError),
    #[error("cannot read the Dockerfile {path:?}: {source}")]
    ReadDockerfile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the build context {0:?} is not a directory: give the directory whose files COPY and ADD take"
    )]
    NoContext(PathBuf),
    #[error("{0}")]
    Ignore(#[from] IgnoreError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Image(#[from] ImageError),
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    #[error("{0}")]
    Digest(#[from] DigestError),
    #[error("{0}")]
    Pull(#[from] ImageVerbError),
    #[error("{0}")]
    Flags(#[from] StorageFlagError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Changes(#[from] ChangesError),
    #[error("{0}")]
    Layers(#[from] LayerError),
    #[error("the new layer does not unpack: {0}")]
    Extract(#[from] ExtractError),
    #[error(
        "the archive is not the tar of a filesystem (plain or gzip'd, as docker export writes it): {0}"
    )]
    NotATar(ExtractError),
    /// Docker's own words for a RUN that failed.
    #[error("the command '{command}' returned a non-zero code: {code}")]
    NonZero { command: String, code: i32 },
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// What a child process of the build (a copy, a download) reported.
    #[error("{what}: {message}")]
    Child { what: String, message: String },
    #[error(
        "the new layer unpacks to {actual}, but it was written as {expected}: the layer changed while it was read"
    )]
    LayerChanged { expected: String, actual: String },
    #[error(
        "the cache entry {path:?} is not valid: {reason}; delete it (or build with --no-cache)"
    )]
    Cache { path: PathBuf, reason: String },
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error(
        "--from={name} names no stage before this one ({stages}) and no image that could be pulled: {source}"
    )]
    From {
        name: String,
        stages: String,
        source: Box<BuildError>,
    },
    #[error("the stored {what} of {image} is not valid: {source}; pull or build the image again")]
    Corrupt {
        image: String,
        what: &'static str,
        source: serde_json::Error,
    },
}

/// Why the files of a COPY or ADD could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("forbidden path outside the build context: {0} (COPY and ADD read only below CONTEXT)")]
    OutsideContext(String),
    #[error(
        "file not found in build context or excluded by .dockerignore: {0} (check the path, relative to CONTEXT, and .dockerignore)"
    )]
    NotInContext(String),
    #[error("no source files were specified: {0} matches nothing")]
    NoMatch(String),
    #[error(
        "when using COPY with more than one source file, the destination must be a directory and end with a /: {0}"
    )]
    NotADirectory(String),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error(
        "cannot determine a file name from the URL {0}: end the destination without a / to name it"
    )]
    NoFileName(String),
    #[error("downloading {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("the checksum of {url} is {actual}, not {expected} as --checksum says")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
}

impl BuildError {
    /// An I/O error with what was being done, and to what.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    }
}
