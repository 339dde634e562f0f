//! The command line of `ch05-images`: `run IMAGE`, and the verbs on images.

use crate::build::{BuildError, BuildRequest};
use crate::dockerfile::BuildOptions;
use crate::engine::{ImageEngine, ImageError};
use crate::reference::{self, ReferenceError};
use crate::verbs::{self, ImageVerbError};
use ch02_namespaces::cli::Globals;
use ch02_namespaces::cli::Verbs as ContainerVerbs;
use ch02_namespaces::namespaces::NetworkMode;
use ch02_namespaces::{Engine, ExitReport};
use ch03_cgroups::cli::Verbs as CgroupVerbs;
use ch04_overlayfs::cli::{StorageFlags, StorageVerbError, Verbs as OverlayVerbs};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
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
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Send an image to its registry (with the credentials of `login`)
    Push {
        #[arg(value_name = "NAME[:TAG]")]
        image: String,
    },
    /// Write images to a tar archive that docker load reads (stdout without -o)
    Save {
        /// Write to FILE instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
    },
    /// Read images from a tar archive of save, docker save or skopeo (stdin without -i)
    Load {
        /// Read FILE instead of stdin
        #[arg(short, long, value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Show how an image was made, step by step
    History {
        /// Show the whole CREATED BY of each step
        #[arg(long)]
        no_trunc: bool,
        image: String,
    },
}

/// `ch05-images build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name the image NAME[:TAG] (repeat for more names; without one, the
    /// image stays only in the build cache)
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,

    /// The Dockerfile (default: CONTEXT/Dockerfile)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Set a build-time variable: NAME=VALUE, or NAME to pass ours on
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,

    /// Build up to this stage (by name) and make it the image
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Run every step, using no cached result
    #[arg(long)]
    pub no_cache: bool,

    /// The network of RUN steps: none (only loopback) or host
    #[arg(long, value_name = "MODE", value_enum, default_value = "none")]
    pub network: NetworkMode,

    /// Add a label to the image: KEY=VALUE
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,

    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,

    /// The build context: the directory COPY and ADD read from
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,
}

/// Why the flags of `build` are not a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildFlagError {
    #[error("-t {tag}: {source}")]
    Tag {
        tag: String,
        source: Box<ReferenceError>,
    },
    #[error("--build-arg {0}: a build arg needs a name (NAME=VALUE)")]
    BuildArg(String),
    #[error("--label {0}: a label needs a key (KEY=VALUE)")]
    Label(String),
}

impl BuildArgs {
    /// The build these flags ask for.
    pub fn request(&self) -> Result<BuildRequest, BuildFlagError> {
        let mut tags = Vec::new();
        for tag in &self.tags {
            tags.push(reference::parse(tag).map_err(|source| BuildFlagError::Tag {
                tag: tag.clone(),
                source: Box::new(source),
            })?);
        }
        let mut build_args = BTreeMap::new();
        for arg in &self.build_args {
            match arg.split_once('=') {
                Some(("", _)) => return Err(BuildFlagError::BuildArg(arg.clone())),
                Some((name, value)) => {
                    build_args.insert(name.to_string(), value.to_string());
                }
                // docker: a bare NAME takes our value, and is unset without one.
                None if arg.is_empty() => return Err(BuildFlagError::BuildArg(arg.clone())),
                None => {
                    if let Ok(value) = std::env::var(arg) {
                        build_args.insert(arg.clone(), value);
                    }
                }
            }
        }
        let mut labels = BTreeMap::new();
        for label in &self.labels {
            let (key, value) = label.split_once('=').unwrap_or((label, ""));
            if key.is_empty() {
                return Err(BuildFlagError::Label(label.clone()));
            }
            labels.insert(key.to_string(), value.to_string());
        }
        Ok(BuildRequest {
            context: self.context.clone(),
            dockerfile: self.file.clone(),
            tags,
            options: BuildOptions {
                target: self.target.clone(),
                build_args,
            },
            no_cache: self.no_cache,
            network: self.network,
            labels,
            quiet: self.quiet,
        })
    }
}

/// Why a verb of chapter 5 failed.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{0}")]
    Overlay(#[from] StorageVerbError),
    #[error("{0}")]
    Image(#[from] ImageVerbError),
    #[error("{0}")]
    BuildFlags(#[from] BuildFlagError),
    #[error("{0}")]
    Build(Box<BuildError>),
}

impl From<BuildError> for VerbError {
    fn from(error: BuildError) -> Self {
        VerbError::Build(Box::new(error))
    }
}

impl From<ImageError> for VerbError {
    fn from(error: ImageError) -> Self {
        VerbError::Image(error.into())
    }
}

impl Verbs {
    /// Whether the verb enters a running container (chapter 2's `exec`).
    pub fn enters_container(&self) -> bool {
        match self {
            Verbs::Overlay(verb) => verb.enters_container(),
            // RUN steps run containers.
            Verbs::Build(_) => true,
            _ => false,
        }
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
            Verbs::Build(args) => {
                crate::build::build(engine, &args.request()?, &mut std::io::stdout())?;
                Ok(0)
            }
            Verbs::Push { image } => {
                let report = verbs::push(engine, &image)?;
                println!("{}{report}", report.layer_lines());
                Ok(0)
            }
            Verbs::Save { output, images } => {
                verbs::save(engine, &images, output.as_deref())?;
                Ok(0)
            }
            Verbs::Load { input } => {
                print!("{}", verbs::load(engine, input.as_deref())?);
                Ok(0)
            }
            Verbs::History { no_trunc, image } => {
                print!("{}", verbs::history(engine, &image, !no_trunc)?);
                Ok(0)
            }
        }
    }
}

// The binary's whole command line: the global flags and one command.
// `main.rs` parses its arguments with it, and the book's checker (`tests/`)
// parses every command line the book shows with it, so that a page cannot
// show a flag the binary does not have. (The doc comment below is clap's
// `--help` text.)
/// Chapter 5 of skiff: images: pull, build, push, save, load, history, images, rmi, tag, inspect, login, run
#[derive(Debug, clap::Parser)]
#[command(name = "ch05-images", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container of IMAGE
    Run(Box<RunArgs>),
    #[command(flatten)]
    Verbs(Verbs),
}

impl Command {
    /// Whether the command enters a container: it then runs from a sealed
    /// copy of this binary (see chapter 1's `sealed_exe`).
    pub fn enters_container(&self) -> bool {
        match self {
            Command::Run(_) => true,
            Command::Verbs(verbs) => verbs.enters_container(),
        }
    }
}
