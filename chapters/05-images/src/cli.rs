//! The command line of `ch05-images`: `run IMAGE`, and the verbs on images.

use crate::engine::{ImageEngine, ImageError};
use crate::verbs::{self, ImageVerbError};
use ch02_namespaces::cli::Verbs as ContainerVerbs;
use ch02_namespaces::{Engine, ExitReport};
use ch03_cgroups::cli::Verbs as CgroupVerbs;
use ch04_overlayfs::cli::{StorageFlags, StorageVerbError, Verbs as OverlayVerbs};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `ch05-images run IMAGE [COMMAND]`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: StorageFlags,

    /// Not a flag of this chapter: refused with an explanation
    #[arg(long, hide = true, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// The image to run
    pub image: String,

    /// The command, replacing the image's Cmd
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Why `run` was refused before it began.
#[derive(Debug, thiserror::Error)]
pub enum RunFlagError {
    #[error(
        "--rootfs is not a flag of ch05-images: its containers run an image (ch05-images run IMAGE); to run a directory, use ch04-overlayfs run --rootfs {0}"
    )]
    Rootfs(String),
    #[error("{0}")]
    Image(#[from] ImageVerbError),
}

impl RunArgs {
    /// Runs the container in the foreground.
    pub fn run(&self, engine: &ImageEngine) -> Result<ExitReport, RunFlagError> {
        if let Some(rootfs) = &self.rootfs {
            return Err(RunFlagError::Rootfs(rootfs.display().to_string()));
        }
        Ok(verbs::run(engine, &self.flags, &self.image, &self.command)?)
    }
}

/// The verbs of chapters 2 to 4, and those on images.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    #[command(flatten)]
    Overlay(OverlayVerbs),
    /// Download an image from its registry
    Pull { image: String },
    /// List the images here
    Images,
    /// Remove images, and the layers no other image uses
    Rmi {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Store credentials for a registry (the password is read from stdin)
    Login {
        registry: String,
        #[arg(short, long)]
        username: String,
    },
}

/// Why a verb of chapter 5 failed.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{0}")]
    Overlay(#[from] StorageVerbError),
    #[error("{0}")]
    Image(#[from] ImageVerbError),
}

impl From<ImageError> for VerbError {
    fn from(error: ImageError) -> Self {
        VerbError::Image(error.into())
    }
}

impl Verbs {
    /// Whether the verb enters a running container (chapter 2's `exec`).
    pub fn enters_container(&self) -> bool {
        matches!(self, Verbs::Overlay(verb) if verb.enters_container())
    }

    /// Carries out the verb; returns the exit code.
    pub fn execute(self, engine: &ImageEngine) -> Result<i32, VerbError> {
        self.execute_with(engine, engine)
    }

    /// Carries out the verb: the container verbs with `containers` (a later
    /// chapter's engine, whose steps a container's removal must undo), the
    /// image verbs with `engine`; returns the exit code.
    pub fn execute_with<E: Engine>(
        self,
        containers: &E,
        engine: &ImageEngine,
    ) -> Result<i32, VerbError> {
        match self {
            // `inspect` knows images too.
            Verbs::Overlay(OverlayVerbs::Cgroup(CgroupVerbs::Container(
                ContainerVerbs::Inspect { containers },
            ))) => {
                println!("{}", engine.inspect(&containers)?);
                Ok(0)
            }
            Verbs::Overlay(verb) => Ok(verb.execute(containers, engine.overlay())?),
            Verbs::Pull { image } => {
                let record = verbs::pull(engine, &image)?;
                println!("Digest: {}", record.manifest);
                println!("Downloaded image for {}", record.reference);
                Ok(0)
            }
            Verbs::Images => {
                print!("{}", verbs::images_table(engine)?);
                Ok(0)
            }
            Verbs::Rmi { images } => {
                for image in images {
                    print!("{}", verbs::rmi(engine, &image)?);
                }
                Ok(0)
            }
            Verbs::Tag { source, target } => {
                verbs::tag(engine, &source, &target)?;
                Ok(0)
            }
            Verbs::Login { registry, username } => {
                verbs::login(engine, &registry, &username, &mut std::io::stdin())?;
                println!("Login Succeeded");
                Ok(0)
            }
        }
    }
}
