//! The instructions of a Dockerfile, as data.
//!
//! Arguments that the builder substitutes variables in (see [`super::expand`])
//! are kept as [`Word`]s: the raw text and where it is, expanded only when
//! the stage runs, because the values (ENV of the base image, ARGs given on
//! the command line) are known only then. Arguments that are never
//! substituted (RUN, CMD, ENTRYPOINT, SHELL, MAINTAINER) are plain strings.

use super::error::{DockerfileError, ErrorKind, Position};
use super::expand::{self, Variables};
use super::healthcheck::Healthcheck;

/// An argument the builder substitutes variables in, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text with its quotes, escapes and `$` references.
    pub raw: String,
    /// Where it starts in the Dockerfile.
    pub position: Position,
}

impl Word {
    /// A word at `position`.
    pub fn new(raw: impl Into<String>, position: Position) -> Word {
        Word {
            raw: raw.into(),
            position,
        }
    }

    /// Substitutes variables and removes quotes and escapes. Errors point
    /// at the `$` or quote that failed, inside `file`.
    pub fn expand(
        &self,
        file: &str,
        escape: char,
        vars: &dyn Variables,
    ) -> Result<String, DockerfileError> {
        expand::expand(&self.raw, escape, vars).map_err(|e| {
            let chars = self.raw[..e.offset.min(self.raw.len())].chars().count();
            let at = Position::new(self.position.line, self.position.column + chars);
            DockerfileError::at(file, at, ErrorKind::Substitution { reason: e.reason })
        })
    }

    /// Checks the syntax of the word's substitutions, with every variable
    /// set (so `${V:?msg}` passes): quotes closed, braces closed, known
    /// modifiers. Called at parse time, so that the error shows before
    /// anything runs.
    pub fn check(&self, file: &str, escape: char) -> Result<(), DockerfileError> {
        let all_set = |_: &str| Some("set".to_string());
        self.expand(file, escape, &all_set).map(|_| ())
    }
}

/// The command of RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `["executable", "arg"]`: run as it is, no shell.
    Exec(Vec<String>),
    /// `command arg`: given to the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
}

impl CommandLine {
    /// The argv to run: the exec form as it is; the shell form appended to
    /// `shell` (`["/bin/sh", "-c"]` unless a SHELL instruction changed it).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            CommandLine::Exec(argv) => argv.clone(),
            CommandLine::Shell(command) => {
                let mut argv = shell.to_vec();
                argv.push(command.clone());
                argv
            }
        }
    }
}

/// The network a RUN step sees (`RUN --network=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunNetwork {
    /// The build's network (`docker build --network`).
    #[default]
    Default,
    /// Only a loopback interface.
    None,
    /// The host's network namespace.
    Host,
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image, a previous stage's name, or `scratch`; may hold `$ARG`s
    /// declared before the first FROM.
    pub image: Word,
    /// `--platform=`: accepted, and substituted like the image.
    pub platform: Option<Word>,
    /// `AS name`, lowercased (stage names are case-insensitive).
    pub name: Option<String>,
}

/// `RUN [--network=...] COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    pub network: RunNetwork,
}

/// One `KEY=VALUE` of ENV or LABEL (both substituted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Word,
    pub value: Word,
}

/// One `NAME[=DEFAULT]` of ARG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// The default, substituted when the ARG is reached.
    pub default: Option<Word>,
    pub position: Position,
}

/// COPY and ADD: sources, destination and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Paths in the context (or in `--from`), globs allowed; ADD also takes URLs.
    pub sources: Vec<Word>,
    /// Where in the image; relative to WORKDIR; a trailing `/` means a directory.
    pub dest: Word,
    /// `--from=STAGE|INDEX|IMAGE` (COPY only).
    pub from: Option<Word>,
    /// `--chown=USER[:GROUP]`.
    pub chown: Option<Word>,
    /// `--chmod=MODE` (octal).
    pub chmod: Option<Word>,
    /// `--link`: accepted; a classic build gives the same files.
    pub link: bool,
    /// `--checksum=sha256:...` (ADD of a URL only).
    pub checksum: Option<Word>,
}

/// `ONBUILD INSTRUCTION`: a trigger stored in the image config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger's text as written (what goes into the config's `OnBuild`).
    pub expression: String,
    /// The trigger, parsed (so that a broken trigger fails this build, not the next).
    pub trigger: Box<Instruction>,
}

/// What an instruction says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From(From),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Expose(Vec<Word>),
    Volume(Vec<Word>),
    Workdir(Word),
    User(Word),
    Shell(Vec<String>),
    StopSignal(Word),
    Healthcheck(Healthcheck),
    Onbuild(Onbuild),
    Copy(Copy),
    Add(Copy),
    Maintainer(String),
}

/// One instruction: what it says, where it is, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Where the instruction word is.
    pub position: Position,
    /// The instruction's name, uppercase (`RUN`).
    pub keyword: &'static str,
    /// The logical line as written, continuations joined: what the build
    /// cache keys on and what `docker build` prints as `Step N/M : ...`.
    pub text: String,
    pub kind: Kind,
}

/// Every instruction the classic builder knows.
pub const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];
