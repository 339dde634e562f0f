//! Where a Dockerfile went wrong, and what was expected there.
//!
//! Every error carries the file name, the line and the column (both
//! counted from 1, columns in characters), so that an editor or a learner
//! can jump to it: `Dockerfile:3:5: unknown instruction "RUNN" (did you mean RUN?)`.
//! Errors that belong to no line (a `--target` that names no stage) have
//! no position and print as `Dockerfile: ...`.

use std::fmt;

/// A place in the Dockerfile: line and column, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The physical line, from 1.
    pub line: usize,
    /// The column in that line, in characters, from 1.
    pub column: usize,
}

impl Position {
    /// A position from a line and a column.
    pub fn new(line: usize, column: usize) -> Position {
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A Dockerfile error: the file, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DockerfileError {
    /// The file name as the user gave it (`Dockerfile`, `build/Dockerfile.dev`).
    pub file: String,
    /// Where, when the error belongs to a place in the file.
    pub position: Option<Position>,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl DockerfileError {
    /// An error at `position` of `file`.
    pub fn at(file: &str, position: Position, kind: ErrorKind) -> DockerfileError {
        DockerfileError {
            file: file.to_string(),
            position: Some(position),
            kind,
        }
    }

    /// An error about the whole file.
    pub fn whole(file: &str, kind: ErrorKind) -> DockerfileError {
        DockerfileError {
            file: file.to_string(),
            position: None,
            kind,
        }
    }
}

impl fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// What went wrong, in words a learner can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unknown instruction {word:?}{}", suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownInstruction {
        word: String,
        suggestion: Option<&'static str>,
    },
    #[error(
        "no FROM instruction: a Dockerfile starts with FROM IMAGE (or FROM scratch), after optional ARGs"
    )]
    NoFrom,
    #[error("{found} before the first FROM: only ARG may come before FROM")]
    BeforeFrom { found: String },
    #[error("{instruction} needs {expected}: {usage}")]
    Arguments {
        instruction: &'static str,
        expected: &'static str,
        usage: &'static str,
    },
    #[error("unknown flag --{flag} for {instruction} ({instruction} knows {known})")]
    UnknownFlag {
        instruction: &'static str,
        flag: String,
        known: &'static str,
    },
    #[error("flag --{flag} needs a value: --{flag}=VALUE")]
    FlagNeedsValue { flag: String },
    #[error("flag --{flag} takes true or false, not {value:?}")]
    FlagNotBool { flag: String, value: String },
    #[error("flag --{flag} is given twice")]
    DuplicateFlag { flag: String },
    #[error("--{flag}={value} is not valid: {expected}")]
    BadFlagValue {
        flag: String,
        value: String,
        expected: &'static str,
    },
    #[error("{what} is not supported by this builder: {hint}")]
    Unsupported { what: String, hint: &'static str },
    #[error("invalid escape directive {value:?}: the escape character is \\ or `")]
    BadEscape { value: String },
    #[error("the {name} directive is given twice: a parser directive may appear once")]
    DuplicateDirective { name: String },
    #[error("{instruction} takes NAME=VALUE pairs, but {word:?} has no '='")]
    MissingEquals {
        instruction: &'static str,
        word: String,
    },
    #[error("{instruction} names cannot be blank")]
    BlankName { instruction: &'static str },
    #[error(
        "invalid stage name {name:?}: a stage name starts with a letter and has letters, digits, '-', '_' and '.'"
    )]
    BadStageName { name: String },
    #[error("stage name {name:?} is already used by the stage at line {line}")]
    DuplicateStage { name: String, line: usize },
    #[error("{instruction} needs the JSON form: {usage}")]
    JsonRequired {
        instruction: &'static str,
        usage: &'static str,
    },
    #[error("ONBUILD {instruction} is not allowed: a trigger cannot be {instruction}")]
    OnbuildNotAllowed { instruction: String },
    #[error("bad variable substitution: {reason}")]
    Substitution { reason: String },
    #[error("invalid duration {value:?} for --{flag}: {reason}")]
    BadDuration {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(
        "invalid port {value:?}: EXPOSE takes PORT, PORT/PROTOCOL or FROM-TO/PROTOCOL (tcp, udp or sctp)"
    )]
    BadPort { value: String },
    #[error("invalid stop signal {value:?}: use a name such as SIGTERM or a number such as 15")]
    BadSignal { value: String },
    #[error("{instruction} needs a non-empty value")]
    EmptyValue { instruction: &'static str },
    #[error("target stage {target:?} could not be found: the stages are {known}")]
    UnknownTarget { target: String, known: String },
    #[error("COPY --from={stage} refers to stage {stage}, which does not come before this one")]
    StageNotBefore { stage: String },
}

/// A remark about a Dockerfile that builds anyway (docker prints these as
/// warnings too): an empty continuation line, a JSON form that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub position: Position,
    /// What.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.position, self.message)
    }
}
