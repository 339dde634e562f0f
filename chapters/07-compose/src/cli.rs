//! The command line of `ch07-compose`: docker compose's options and verbs.
//!
//! ```text
//! ch07-compose [-f FILE]... [-p PROJECT] [--env-file FILE] [--profile NAME]...
//!              [--project-directory DIR] [--root DIR] COMMAND
//!   config                    the resolved model, as YAML
//!   up [--build] [--scale SERVICE=N]... [--abort-on-container-exit]
//!      [--exit-code-from SERVICE] [SERVICE...]
//!   down [-v] [--remove-orphans]
//!   ps [-a]      pull [SERVICE...]      build [SERVICE...]
//!   exec [--index N] SERVICE COMMAND...
//! ```
//!
//! The project options come before the command, as with docker compose;
//! `--root` (the engine's state, as in every chapter) may go anywhere.

use crate::load::LoadOptions;
use crate::plan::parse_scale;
use ch02_namespaces::cli::Globals;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Which project: the files, the variables, the name, the profiles.
#[derive(Debug, Clone, Default, Args)]
pub struct ProjectArgs {
    /// A compose file (repeat to merge several; default: compose.yaml here or above)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The project name (default: the file's `name:`, or the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "PROJECT")]
    pub project_name: Option<String>,

    /// A file of variables for ${...} (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,

    /// Enable the services of a profile (repeat for several)
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,

    /// The project directory (default: the first file's directory)
    #[arg(long = "project-directory", value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
}

impl ProjectArgs {
    /// What [`crate::load`] needs: these options, the current directory
    /// and the shell's environment.
    pub fn load_options(&self) -> std::io::Result<LoadOptions> {
        Ok(LoadOptions {
            working_dir: std::env::current_dir()?,
            files: self.files.clone(),
            project_directory: self.project_directory.clone(),
            project_name: self.project_name.clone(),
            env_files: self.env_files.clone(),
            profiles: self.profiles.clone(),
            environment: std::env::vars().collect(),
        })
    }
}

/// `up`'s options.
#[derive(Debug, Clone, Default, Args)]
pub struct UpArgs {
    /// Build images before starting, even when they exist
    #[arg(long)]
    pub build: bool,

    /// Run N containers of SERVICE (overrides the file's scale and deploy.replicas)
    #[arg(long = "scale", value_name = "SERVICE=N", value_parser = parse_scale)]
    pub scale: Vec<(String, u32)>,

    /// Stop every container when one exits
    #[arg(long = "abort-on-container-exit")]
    pub abort_on_container_exit: bool,

    /// Exit with SERVICE's exit code (implies --abort-on-container-exit)
    #[arg(long = "exit-code-from", value_name = "SERVICE")]
    pub exit_code_from: Option<String>,

    /// Start only these services (and what they depend on)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// The verbs.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the resolved project as YAML
    Config,
    /// Create and start the project's containers, in the foreground
    Up(UpArgs),
    /// Stop and remove the project's containers and networks
    Down {
        /// Remove the named volumes too
        #[arg(short = 'v', long)]
        volumes: bool,
        /// Remove the containers of services no longer in the file
        #[arg(long = "remove-orphans")]
        remove_orphans: bool,
    },
    /// List the project's containers
    Ps {
        /// Show stopped containers too
        #[arg(short, long)]
        all: bool,
    },
    /// Pull the services' images
    Pull {
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Build the services' images
    Build {
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Run a command in a running container of a service
    Exec {
        /// Which container of the service (1, 2, ...)
        #[arg(long, default_value_t = 1)]
        index: u32,
        /// The service
        service: String,
        /// The command and its arguments
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    #[command(flatten)]
    Internal(Internal),
}

/// The verbs this binary gives itself: `up`'s children and the
/// builder's pulls. Hidden from `--help`; they need no compose file.
#[derive(Debug, Clone, Subcommand)]
pub enum Internal {
    /// Run one container of a project in the foreground
    #[command(hide = true)]
    Supervise {
        /// The descriptor to write one byte on once the container runs
        #[arg(long = "ready-fd")]
        ready_fd: Option<i32>,
        id: String,
    },
    /// Run a healthcheck in a container
    #[command(hide = true, name = "health-exec")]
    HealthExec {
        id: String,
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
    /// Pull one image
    #[command(hide = true, name = "pull-image")]
    PullImage { image: String },
}

impl Command {
    /// Whether the command enters a container, or starts processes that
    /// do: it then runs from a sealed copy of this binary (chapter 1).
    pub fn enters_container(&self) -> bool {
        matches!(
            self,
            Command::Up(_)
                | Command::Build { .. }
                | Command::Exec { .. }
                | Command::Internal(Internal::Supervise { .. } | Internal::HealthExec { .. })
        )
    }
}

// The binary's whole command line: the global flags, the project's flags
// and one command. `main.rs` parses its arguments with it, and the book's
// checker (`tests/`) parses every command line the book shows with it, so
// that a page cannot show a flag the binary does not have. (The doc comment
// below is clap's `--help` text.)
/// Chapter 7 of skiff: compose: an application of several containers from one file
#[derive(Debug, clap::Parser)]
#[command(name = "ch07-compose", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(subcommand)]
    pub command: Command,
}
