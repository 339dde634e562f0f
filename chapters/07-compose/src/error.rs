//! What can go wrong between a compose file and a plan, and the warnings
//! that do not stop it.
//!
//! Every error says which file, where in it (line and column, when the
//! problem is one place), which key (`services.web.ports[0]`) and what to
//! do, because a compose file is something the user edits next.

use crate::de::TypeError;
use crate::dotenv::EnvFileError;
use crate::interpolate::InterpolationError;
use crate::node::{Origin, YamlError};
use std::fmt;
use std::path::PathBuf;

/// Why a project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// No `-f`, and no compose file here or above.
    #[error(
        "no compose file found in {dir} or its parents: create compose.yaml, or name a file with -f"
    )]
    NotFound {
        /// Where the search started.
        dir: PathBuf,
    },
    /// A file that cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// Not YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A `${...}` that cannot be substituted.
    #[error(transparent)]
    Interpolation(#[from] InterpolationError),
    /// YAML, but not a compose file (wrong type, unknown key).
    #[error(transparent)]
    Type(#[from] TypeError),
    /// A malformed `.env`, `--env-file` or `env_file`.
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    /// A compose file, but not a consistent application.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// A rule of the model that the merged files break: a dependency cycle, a
/// network nobody declared...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong and what to do.
    pub message: String,
    /// The key path it is about (empty: the project as a whole).
    pub path: String,
    /// Where that key was written, when it was.
    pub at: Option<Origin>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// Something compose would go on with, but the user should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What happened.
    pub message: String,
    /// Where, when it is one place of a file.
    pub at: Option<Origin>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
