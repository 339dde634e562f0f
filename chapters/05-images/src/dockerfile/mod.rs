//! Dockerfiles: the recipe of an image, read as docker's classic builder reads it.
//!
//! ```text
//! # syntax=docker/dockerfile:1        parser directives (lines)
//! ARG BASE=busybox                    global ARGs: for FROM lines only
//! FROM $BASE AS build                 a stage (plan)
//! WORKDIR /src                        config + a directory (state)
//! COPY . .                            a layer: files from the context
//! RUN make                            a layer: what a command changed
//! FROM scratch                        the last stage is the image
//! COPY --from=build /src/app /app
//! CMD ["/app"]                        config only
//! ```
//!
//! Reading a Dockerfile goes in four steps, one module each:
//!
//! 1. [`lines`]: parser directives, comments and continuations, down to
//!    one logical line per instruction;
//! 2. [`parse`]: each line to an [`Instruction`] (with [`words`] to cut
//!    arguments the way each instruction cuts them, `flags` for the
//!    `--name=value` before them, [`healthcheck`] for HEALTHCHECK);
//! 3. [`plan`]: global ARGs, FROM lines, `--target` and the stages needed;
//! 4. [`state`]: while a stage is built, what each instruction does to the
//!    image config, with variables substituted ([`expand`]) and values
//!    checked ([`values`]).
//!
//! Errors name the file, line and column ([`DockerfileError`]).

pub mod error;
pub mod expand;
mod flags;
mod gotext;
pub mod healthcheck;
pub mod instruction;
pub mod lines;
pub mod parse;
pub mod plan;
pub mod state;
pub mod values;
pub mod words;

pub use error::{DockerfileError, ErrorKind, Position, Warning};
pub use healthcheck::Healthcheck;
pub use instruction::{
    ArgDecl, CommandLine, Copy, From, Instruction, KeyValue, Kind, Onbuild, Run, RunNetwork, Word,
};
pub use lines::Directives;
pub use plan::{Base, BuildOptions, Plan, PlannedStage};
pub use state::{StageState, Step};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The file name, for messages.
    pub file: String,
    pub directives: Directives,
    /// The ARGs before the first FROM (the global scope).
    pub global_args: Vec<ArgDecl>,
    /// The stages, in file order (at least one).
    pub stages: Vec<Stage>,
    /// Remarks that do not stop the build.
    pub warnings: Vec<Warning>,
}

/// One stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage's index (what `COPY --from=0` names).
    pub index: usize,
    pub from: From,
    /// Where the FROM is.
    pub position: Position,
    /// The FROM line as written.
    pub text: String,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The stage's name (`AS name`), lowercased.
    pub fn name(&self) -> Option<&str> {
        self.from.name.as_deref()
    }
}

// ANCHOR: parse
/// Parses a Dockerfile. `file` is the name used in messages.
pub fn parse(file: &str, source: &str) -> Result<Dockerfile, DockerfileError> {
    let split = lines::split(file, source)?;
    let escape = split.directives.escape;
    let mut warnings = split.warnings;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for line in &split.lines {
        let (instruction, more) = parse::parse_line(file, line, escape)?;
        warnings.extend(more);
        match (instruction.kind, stages.last_mut()) {
            (Kind::From(from), _) => {
                if let Some(name) = &from.name
                    && let Some(earlier) = stages.iter().find(|s| s.name() == Some(name))
                {
                    return Err(DockerfileError::at(
                        file,
                        instruction.position,
                        ErrorKind::DuplicateStage {
                            name: name.clone(),
                            line: earlier.position.line,
                        },
                    ));
                }
                stages.push(Stage {
                    index: stages.len(),
                    from,
                    position: instruction.position,
                    text: instruction.text,
                    instructions: Vec::new(),
                });
            }
            (Kind::Arg(decls), None) => global_args.extend(decls),
            (kind, Some(stage)) => stage.instructions.push(Instruction {
                kind,
                ..instruction
            }),
            (_, None) => {
                return Err(DockerfileError::at(
                    file,
                    instruction.position,
                    ErrorKind::BeforeFrom {
                        found: instruction.keyword.to_string(),
                    },
                ));
            }
        }
    }
    if stages.is_empty() {
        return Err(DockerfileError::whole(file, ErrorKind::NoFrom));
    }
    warnings.sort_by_key(|w| w.position);
    Ok(Dockerfile {
        file: file.to_string(),
        directives: split.directives,
        global_args,
        stages,
        warnings,
    })
}
// ANCHOR_END: parse

/// Parses an ONBUILD trigger of a base image (`RUN make`), reported at
/// the FROM that ran it.
pub fn parse_trigger(
    file: &str,
    text: &str,
    escape: char,
    at: Position,
) -> Result<Instruction, DockerfileError> {
    let line = lines::LogicalLine::single(text.trim(), at);
    let (instruction, _) = parse::parse_line(file, &line, escape)?;
    if matches!(instruction.keyword, "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(DockerfileError::at(
            file,
            at,
            ErrorKind::OnbuildNotAllowed {
                instruction: instruction.keyword.into(),
            },
        ));
    }
    Ok(instruction)
}
