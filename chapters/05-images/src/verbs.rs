//! The verbs on images: `pull`, `images`, `rmi`, `tag`, `login`, `push`,
//! `save`, `load`, `history`, and `run` of an image. (`build` is
//! [`crate::build`].)

use crate::archive::{self, ArchiveError, LoadReport};
use crate::credentials::{self, CredentialsError};
use crate::engine::{ImageEngine, ImageError};
use crate::history::{self, HistoryError};
use crate::pull::PullError;
use crate::push::{PushError, PushReport};
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
    #[error("{0}")]
    Push(#[from] PushError),
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    History(#[from] HistoryError),
    #[error(
        "refusing to write an archive to a terminal: give a file with -o FILE, or redirect stdout"
    )]
    SaveToTerminal,
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

/// `docker push NAME[:TAG]`, with the credentials `login` stored: prints
/// docker's first line, then one line per blob (on stderr, or progress bars
/// on a terminal); returns the report, whose `Display` is docker's last line.
pub fn push(engine: &ImageEngine, image: &str) -> Result<PushReport, ImageVerbError> {
    let reference = parse(image)?;
    let credentials = credentials::load(engine.root(), &reference.registry)?;
    println!("The push refers to repository [{}]", reference.name());
    Ok(crate::push::push(engine.store(), &reference, credentials)?)
}

/// `docker save [-o FILE] IMAGE...`: to the file, or to stdout (never a terminal).
pub fn save(
    engine: &ImageEngine,
    images: &[String],
    output: Option<&std::path::Path>,
) -> Result<(), ImageVerbError> {
    let references = images
        .iter()
        .map(|image| parse(image))
        .collect::<Result<Vec<_>, _>>()?;
    match output {
        Some(path) => archive::save_to_file(engine.store(), &references, path)?,
        None => {
            use std::io::IsTerminal;
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(ImageVerbError::SaveToTerminal);
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            archive::save(engine.store(), &references, &mut out)?;
            std::io::Write::flush(&mut out).map_err(|source| ArchiveError::Io {
                action: "write",
                path: "stdout".into(),
                source,
            })?;
        }
    }
    Ok(())
}

/// `docker load [-i FILE]`: from the file, or from stdin.
pub fn load(
    engine: &ImageEngine,
    input: Option<&std::path::Path>,
) -> Result<LoadReport, ImageVerbError> {
    Ok(match input {
        Some(path) => archive::load_file(engine.store(), path)?,
        None => archive::load(engine.store(), std::io::stdin().lock(), "stdin")?,
    })
}

/// `docker history [--no-trunc] IMAGE`.
pub fn history(
    engine: &ImageEngine,
    image: &str,
    truncate: bool,
) -> Result<String, ImageVerbError> {
    Ok(history::table(engine.store(), &parse(image)?, truncate)?)
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
        pull_in_child(engine, image, false)?;
    }
    Ok(reference)
}
// ANCHOR_END: run

/// Runs `pull IMAGE` in a child process of this same binary (the build
/// pulls its base images this way too, for the same reason as `run`); the
/// verb is the engine's [`ImageEngine::pull_verb`]. Its report goes to
/// stderr (stdout is the container's); `quiet` keeps it, and shows it only
/// when the pull fails (`build -q`).
pub fn pull_in_child(engine: &ImageEngine, image: &str, quiet: bool) -> Result<(), ImageVerbError> {
    let mut pull = std::process::Command::new("/proc/self/exe");
    if explain::enabled() {
        pull.arg("--explain");
    }
    pull.arg("--root")
        .arg(engine.root())
        .args(engine.pull_verb())
        .arg(image)
        .stdout(std::io::stderr());
    let failed = |e| ImageVerbError::PullChild(image.to_string(), e);
    let success = if quiet {
        let out = pull
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(failed)?;
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    } else {
        pull.status().map_err(failed)?.success()
    };
    if success {
        Ok(())
    } else {
        Err(ImageVerbError::PullFailed(image.to_string()))
    }
}
