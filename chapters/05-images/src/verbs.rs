//! The verbs on images: `pull`, `images`, `rmi`, `tag`, `login`, and `run`
//! of an image.

use crate::credentials::{self, CredentialsError};
use crate::engine::{ImageEngine, ImageError};
use crate::pull::PullError;
use crate::reference::{self, Reference};
use crate::store::ImageRecord;
use ch01_process::explain;
use ch02_namespaces::ExitReport;
use ch04_overlayfs::cli::StorageFlags;

/// Why a verb on images failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageVerbError {
    #[error("{0}")]
    Image(#[from] ImageError),
    #[error("{0}")]
    Pull(#[from] PullError),
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
    #[error("no password on stdin: pipe it in, as in `echo PASSWORD | ... login {0} -u USER`")]
    NoPassword(String),
    #[error("reading the password from stdin: {0}")]
    Stdin(std::io::Error),
    #[error("pulling {0} in a child process: {1}")]
    PullChild(String, std::io::Error),
    #[error("pulling {0} failed (see above)")]
    PullFailed(String),
}

fn parse(image: &str) -> Result<Reference, ImageVerbError> {
    Ok(reference::parse(image).map_err(ImageError::from)?)
}

/// `docker pull`: downloads the image, verifying every digest.
pub fn pull(engine: &ImageEngine, image: &str) -> Result<ImageRecord, ImageVerbError> {
    let reference = parse(image)?;
    let credentials = credentials::load(engine.root(), &reference.registry)?;
    Ok(crate::pull::pull(engine.store(), &reference, credentials)?)
}

/// `docker images`.
pub fn images_table(engine: &ImageEngine) -> Result<String, ImageVerbError> {
    let mut out = format!("{:<50} {:<14} {:>8}\n", "REFERENCE", "IMAGE ID", "LAYERS");
    for record in engine.store().images().map_err(ImageError::from)? {
        out += &format!(
            "{:<50} {:<14} {:>8}\n",
            record.reference,
            &record.config.hex()[..12],
            record.layers.len()
        );
    }
    Ok(out)
}

/// `docker rmi`: untags `image`, and deletes the layers no other image
/// uses; returns what it printed.
pub fn rmi(engine: &ImageEngine, image: &str) -> Result<String, ImageVerbError> {
    let reference = parse(image)?;
    let removed = engine
        .store()
        .remove_image(&reference)
        .map_err(ImageError::from)?;
    let mut out = format!("Untagged: {reference}\n");
    for layer in removed {
        out += &format!("Deleted: {layer}\n");
    }
    Ok(out)
}

/// `docker tag SOURCE TARGET`.
pub fn tag(engine: &ImageEngine, source: &str, target: &str) -> Result<(), ImageVerbError> {
    engine
        .store()
        .tag(&parse(source)?, &parse(target)?)
        .map_err(ImageError::from)?;
    Ok(())
}

/// `docker login REGISTRY -u USER`, the password on stdin.
pub fn login(
    engine: &ImageEngine,
    registry: &str,
    user: &str,
    stdin: &mut impl std::io::Read,
) -> Result<(), ImageVerbError> {
    let mut password = String::new();
    stdin
        .read_to_string(&mut password)
        .map_err(ImageVerbError::Stdin)?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(ImageVerbError::NoPassword(registry.to_string()));
    }
    Ok(credentials::store(engine.root(), registry, user, password)?)
}

// ANCHOR: run
/// `docker run IMAGE`: its layers under chapter 4's overlay, its config as
/// the defaults. A missing image is pulled first *by another process*: the
/// pull starts threads (HTTP, parallel layers), and a process that has
/// threads must not create containers (chapter 2).
pub fn run(
    engine: &ImageEngine,
    flags: &StorageFlags,
    image: &str,
    command: &[String],
) -> Result<ExitReport, ImageVerbError> {
    let reference = ensure_image(engine, image)?;
    let spec = engine.spec(flags, &reference, command)?;
    let exit = ch02_namespaces::run::run(engine, spec, Some(reference.to_string()))
        .map_err(ImageError::from)?;
    Ok(exit)
}

/// The reference `image` names, pulled (by another process) when it is not
/// here yet.
pub fn ensure_image(engine: &ImageEngine, image: &str) -> Result<Reference, ImageVerbError> {
    let reference = parse(image)?;
    if engine
        .store()
        .image(&reference)
        .map_err(ImageError::from)?
        .is_none()
    {
        eprintln!("Unable to find image '{reference}' locally");
        pull_in_child(engine, image)?;
    }
    Ok(reference)
}
// ANCHOR_END: run

/// Runs `pull IMAGE` in a child process of this same binary.
fn pull_in_child(engine: &ImageEngine, image: &str) -> Result<(), ImageVerbError> {
    let mut pull = std::process::Command::new("/proc/self/exe");
    if explain::enabled() {
        pull.arg("--explain");
    }
    let status = pull
        .arg("--root")
        .arg(engine.root())
        .args(["pull", image])
        // Like docker run, report the pull on stderr: stdout is the container's.
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| ImageVerbError::PullChild(image.to_string(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageVerbError::PullFailed(image.to_string()))
    }
}
