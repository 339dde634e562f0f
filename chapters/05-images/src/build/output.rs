//! What a build prints: the lines of docker's classic builder.
//!
//! ```text
//! Step 2/5 : RUN echo hi > /greeting
//!  ---> Running in 4f1c0d2a9b7e          the step's container
//! hi                                     what the command printed
//!  ---> Removed intermediate container 4f1c0d2a9b7e
//!  ---> 0b1b1e3a6e1c                     the image after the step (its id)
//! Step 3/5 : COPY app /app
//!  ---> Using cache                      the cache had the step
//!  ---> 9a8d27c0b1f2
//! Successfully built 7f2d9c5e4a10
//! Successfully tagged app:latest
//! ```
//!
//! With `-q` nothing is printed but the image id at the end.

use super::error::BuildError;
use crate::digest::Digest;
use std::io::Write;

/// The build's printer.
pub struct Progress<'a> {
    out: &'a mut dyn Write,
    quiet: bool,
    /// How many steps the build has.
    pub total: usize,
    /// The step being built (from 1).
    pub step: usize,
}

impl<'a> Progress<'a> {
    pub fn new(out: &'a mut dyn Write, quiet: bool) -> Progress<'a> {
        Progress {
            out,
            quiet,
            total: 0,
            step: 0,
        }
    }

    /// Whether only the final id is printed.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// A line, unless quiet.
    pub fn line(&mut self, text: &str) -> Result<(), BuildError> {
        if self.quiet {
            return Ok(());
        }
        writeln!(self.out, "{text}")
            .and_then(|()| self.out.flush())
            .map_err(BuildError::io("write", "the output"))
    }

    /// A line even when quiet (the final image id).
    pub fn always(&mut self, text: &str) -> Result<(), BuildError> {
        writeln!(self.out, "{text}")
            .and_then(|()| self.out.flush())
            .map_err(BuildError::io("write", "the output"))
    }

    /// `Step N/M : TEXT`, the next step.
    pub fn step(&mut self, text: &str) -> Result<(), BuildError> {
        self.step += 1;
        let line = format!("Step {}/{} : {text}", self.step, self.total);
        self.line(&line)
    }

    /// ` ---> TEXT`.
    pub fn arrow(&mut self, text: &str) -> Result<(), BuildError> {
        self.line(&format!(" ---> {text}"))
    }

    /// ` ---> <short id>`: the image after a step.
    pub fn image(&mut self, id: &Digest) -> Result<(), BuildError> {
        self.arrow(&short(id))
    }
}

/// The 12 hex digits docker shows of an id.
pub fn short(id: &Digest) -> String {
    id.hex()[..12].to_string()
}
