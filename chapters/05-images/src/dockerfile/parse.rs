//! From one logical line to an [`Instruction`].
//!
//! The first word names the instruction (in any case: `run` is `RUN`).
//! Then come the flags (`--from=build`), then the arguments, read the way
//! that instruction reads them (see [`super::words`]). Arguments that
//! will be substituted are checked for syntax here already, so that an
//! unclosed quote in the 20th instruction fails before the first one runs.

use super::error::{DockerfileError, ErrorKind, Position, Warning};
use super::flags::{BUILDKIT, FlagKind, FlagSpec, NO_FLAGS, flag_word, read_flags};
use super::healthcheck;
use super::instruction::*;
use super::lines::LogicalLine;
use super::words::{self, Piece};

/// One instruction's text being parsed: the line, where the arguments
/// start, the file name and the escape character.
pub(super) struct Cursor<'a> {
    pub(super) file: &'a str,
    pub(super) line: &'a LogicalLine,
    pub(super) escape: char,
    pub(super) keyword: &'static str,
    /// Byte offset of the arguments (after the flags) in `line.text`.
    pub(super) args_at: usize,
    pub(super) warnings: Vec<Warning>,
}

impl Cursor<'_> {
    pub(super) fn position(&self, offset_in_args: usize) -> Position {
        self.line.position(self.args_at + offset_in_args)
    }

    pub(super) fn args(&self) -> &str {
        &self.line.text[self.args_at..]
    }

    pub(super) fn error(&self, offset_in_args: usize, kind: ErrorKind) -> DockerfileError {
        DockerfileError::at(self.file, self.position(offset_in_args), kind)
    }

    pub(super) fn word(&self, piece: &Piece) -> Result<Word, DockerfileError> {
        let word = Word::new(piece.text.clone(), self.position(piece.offset));
        word.check(self.file, self.escape)?;
        Ok(word)
    }

    pub(super) fn needs(&self, expected: &'static str, usage: &'static str) -> DockerfileError {
        self.error(
            0,
            ErrorKind::Arguments {
                instruction: self.keyword,
                expected,
                usage,
            },
        )
    }

    /// RUN/CMD/ENTRYPOINT: the exec form if the text is a JSON array of
    /// strings, else the shell form (with a warning when it looked like JSON).
    pub(super) fn command(&mut self, text: &str, at: usize) -> CommandLine {
        if let Some(argv) = words::json_array(text) {
            return CommandLine::Exec(argv);
        }
        if text.starts_with('[') {
            self.warnings.push(Warning {
                position: self.position(at),
                message: format!(
                    "{} looks like the JSON (exec) form but is not a JSON array of strings \
                     (words need double quotes); it runs as a shell command",
                    self.keyword
                ),
            });
        }
        CommandLine::Shell(text.to_string())
    }

    pub(super) fn refuse_heredocs(&self) -> Result<(), DockerfileError> {
        if let Some(word) = words::whitespace_words(self.args())
            .into_iter()
            .find(|w| words::is_heredoc(&w.text))
        {
            return Err(self.error(
                word.offset,
                ErrorKind::Unsupported {
                    what: format!("the heredoc {}", word.text),
                    hint: "put the script or file in the build context and COPY it, or use line continuations",
                },
            ));
        }
        Ok(())
    }
}

impl Cursor<'_> {
    /// Where the flags began (the arguments before [`read_flags`] moved on).
    pub(super) fn flags_at(&self) -> usize {
        let after_keyword = self.keyword.len();
        let text = &self.line.text;
        after_keyword + (text[after_keyword..].len() - text[after_keyword..].trim_start().len())
    }
}

/// The instruction word's closest known keyword, for "did you mean".
fn suggest(word: &str) -> Option<&'static str> {
    let upper = word.to_ascii_uppercase();
    KEYWORDS
        .iter()
        .map(|k| (words::distance(&upper, k), *k))
        .filter(|(d, _)| *d <= 2 && *d < upper.len())
        .min()
        .map(|(_, k)| k)
}

// ANCHOR: parse_line
/// Parses one logical line into an instruction (and warnings).
pub fn parse_line(
    file: &str,
    line: &LogicalLine,
    escape: char,
) -> Result<(Instruction, Vec<Warning>), DockerfileError> {
    let word_len = line
        .text
        .find(char::is_whitespace)
        .unwrap_or(line.text.len());
    let word = &line.text[..word_len];
    let Some(keyword) = KEYWORDS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(word))
    else {
        return Err(DockerfileError::at(
            file,
            line.start(),
            ErrorKind::UnknownInstruction {
                word: word.to_string(),
                suggestion: suggest(word),
            },
        ));
    };
    let mut cursor = Cursor {
        file,
        line,
        escape,
        keyword,
        args_at: 0,
        warnings: Vec::new(),
    };
    cursor.args_at = cursor.flags_at();
    let kind = match keyword {
        "FROM" => from(&mut cursor)?,
        "RUN" => run(&mut cursor)?,
        "CMD" | "ENTRYPOINT" => {
            read_flags(&mut cursor, &NO_FLAGS)?;
            let args = cursor.args().to_string();
            if args.is_empty() {
                return Err(cursor.needs(
                    "a command",
                    "CMD [\"executable\", \"arg\"...] or CMD command arg...",
                ));
            }
            let command = cursor.command(&args, 0);
            if keyword == "CMD" {
                Kind::Cmd(command)
            } else {
                Kind::Entrypoint(command)
            }
        }
        "ENV" | "LABEL" => key_values(&mut cursor)?,
        "ARG" => arg(&mut cursor)?,
        "EXPOSE" => {
            read_flags(&mut cursor, &NO_FLAGS)?;
            let ports = words::whitespace_words(cursor.args());
            if ports.is_empty() {
                return Err(cursor.needs("a port", "EXPOSE PORT[/PROTOCOL]..."));
            }
            Kind::Expose(
                ports
                    .iter()
                    .map(|p| cursor.word(p))
                    .collect::<Result<_, _>>()?,
            )
        }
        "VOLUME" => volume(&mut cursor)?,
        "WORKDIR" | "USER" | "STOPSIGNAL" => {
            read_flags(&mut cursor, &NO_FLAGS)?;
            let args = cursor.args().to_string();
            if args.is_empty() {
                return Err(cursor.needs(
                    "an argument",
                    match keyword {
                        "WORKDIR" => "WORKDIR /path",
                        "USER" => "USER NAME[:GROUP] or USER UID[:GID]",
                        _ => "STOPSIGNAL SIGNAL",
                    },
                ));
            }
            let word = cursor.word(&Piece {
                text: args,
                offset: 0,
            })?;
            match keyword {
                "WORKDIR" => Kind::Workdir(word),
                "USER" => Kind::User(word),
                _ => Kind::StopSignal(word),
            }
        }
        "SHELL" => {
            read_flags(&mut cursor, &NO_FLAGS)?;
            match words::json_array(cursor.args()) {
                Some(shell) if !shell.is_empty() => Kind::Shell(shell),
                _ => {
                    return Err(cursor.error(
                        0,
                        ErrorKind::JsonRequired {
                            instruction: "SHELL",
                            usage: "SHELL [\"executable\", \"parameters\"]",
                        },
                    ));
                }
            }
        }
        "HEALTHCHECK" => healthcheck::parse(&mut cursor)?,
        "ONBUILD" => onbuild(&mut cursor)?,
        "COPY" | "ADD" => copy(&mut cursor)?,
        _ => {
            read_flags(&mut cursor, &NO_FLAGS)?;
            let args = cursor.args().to_string();
            if args.is_empty() {
                return Err(cursor.needs("a name", "MAINTAINER NAME"));
            }
            Kind::Maintainer(args)
        }
    };
    let instruction = Instruction {
        position: line.start(),
        keyword,
        text: line.text.clone(),
        kind,
    };
    Ok((instruction, cursor.warnings))
}
// ANCHOR_END: parse_line

fn from(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    const SPEC: FlagSpec = FlagSpec {
        flags: &[("platform", FlagKind::Value)],
        known: "--platform",
    };
    const USAGE: &str = "FROM [--platform=PLATFORM] IMAGE [AS NAME]";
    let flags = read_flags(cursor, &SPEC)?;
    let platform = flag_word(cursor, &flags, "platform")?;
    let args = words::whitespace_words(cursor.args());
    let name = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.text.eq_ignore_ascii_case("as") => {
            let lower = name.text.to_ascii_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(cursor.error(
                    name.offset,
                    ErrorKind::BadStageName {
                        name: name.text.clone(),
                    },
                ));
            }
            Some(lower)
        }
        [] => return Err(cursor.needs("an image", USAGE)),
        _ => return Err(cursor.needs("one or three arguments", USAGE)),
    };
    Ok(Kind::From(From {
        image: cursor.word(&args[0])?,
        platform,
        name,
    }))
}

fn run(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    const SPEC: FlagSpec = FlagSpec {
        flags: &[
            ("network", FlagKind::Value),
            ("mount", FlagKind::Refused(BUILDKIT)),
            ("security", FlagKind::Refused(BUILDKIT)),
            ("device", FlagKind::Refused(BUILDKIT)),
        ],
        known: "--network",
    };
    let flags = read_flags(cursor, &SPEC)?;
    let network = match flags.value("network") {
        None | Some(("default", _)) => RunNetwork::Default,
        Some(("none", _)) => RunNetwork::None,
        Some(("host", _)) => RunNetwork::Host,
        Some((value, at)) => {
            return Err(DockerfileError::at(
                cursor.file,
                cursor.line.position(cursor.flags_at() + at),
                ErrorKind::BadFlagValue {
                    flag: "network".into(),
                    value: value.into(),
                    expected: "use default, none or host",
                },
            ));
        }
    };
    let args = cursor.args().to_string();
    if args.is_empty() {
        return Err(cursor.needs(
            "a command",
            "RUN command arg... or RUN [\"executable\", \"arg\"...]",
        ));
    }
    let command = cursor.command(&args, 0);
    if matches!(command, CommandLine::Shell(_)) {
        cursor.refuse_heredocs()?;
    }
    Ok(Kind::Run(Run { command, network }))
}

// ANCHOR: key_values
/// ENV and LABEL: `KEY=VALUE...`, or the old `KEY VALUE` (one pair, the
/// value is the whole rest of the line).
fn key_values(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    let keyword = cursor.keyword;
    read_flags(cursor, &NO_FLAGS)?;
    let pieces = words::quoted_words(cursor.args(), cursor.escape);
    let Some(first) = pieces.first() else {
        return Err(cursor.needs(
            "at least one KEY=VALUE",
            "ENV KEY=VALUE... (LABEL KEY=VALUE...)",
        ));
    };
    let mut pairs = Vec::new();
    if !first.text.contains('=') {
        let key_end = cursor
            .args()
            .find(char::is_whitespace)
            .unwrap_or(cursor.args().len());
        let value_text = cursor.args()[key_end..].trim_start();
        if value_text.is_empty() {
            return Err(cursor.needs("a value", "ENV KEY=VALUE... or the old form ENV KEY VALUE"));
        }
        let value_at = cursor.args().len() - value_text.len();
        pairs.push(KeyValue {
            key: cursor.word(&Piece {
                text: cursor.args()[..key_end].to_string(),
                offset: 0,
            })?,
            value: cursor.word(&Piece {
                text: value_text.to_string(),
                offset: value_at,
            })?,
        });
    } else {
        for piece in &pieces {
            let Some((key, value)) = piece.text.split_once('=') else {
                return Err(cursor.error(
                    piece.offset,
                    ErrorKind::MissingEquals {
                        instruction: keyword,
                        word: piece.text.clone(),
                    },
                ));
            };
            if key.is_empty() {
                return Err(cursor.error(
                    piece.offset,
                    ErrorKind::BlankName {
                        instruction: keyword,
                    },
                ));
            }
            pairs.push(KeyValue {
                key: cursor.word(&Piece {
                    text: key.to_string(),
                    offset: piece.offset,
                })?,
                value: cursor.word(&Piece {
                    text: value.to_string(),
                    offset: piece.offset + key.len() + 1,
                })?,
            });
        }
    }
    Ok(if keyword == "ENV" {
        Kind::Env(pairs)
    } else {
        Kind::Label(pairs)
    })
}
// ANCHOR_END: key_values

fn arg(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    read_flags(cursor, &NO_FLAGS)?;
    let pieces = words::quoted_words(cursor.args(), cursor.escape);
    if pieces.is_empty() {
        return Err(cursor.needs("a name", "ARG NAME[=DEFAULT]..."));
    }
    let mut args = Vec::new();
    for piece in &pieces {
        let (name, default) = match piece.text.split_once('=') {
            Some((name, value)) => (
                name,
                Some(cursor.word(&Piece {
                    text: value.to_string(),
                    offset: piece.offset + name.len() + 1,
                })?),
            ),
            None => (piece.text.as_str(), None),
        };
        if name.is_empty() {
            return Err(cursor.error(piece.offset, ErrorKind::BlankName { instruction: "ARG" }));
        }
        args.push(ArgDecl {
            name: name.to_string(),
            default,
            position: cursor.position(piece.offset),
        });
    }
    Ok(Kind::Arg(args))
}

fn volume(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    read_flags(cursor, &NO_FLAGS)?;
    let paths: Vec<Word> = match words::json_array(cursor.args()) {
        Some(list) => list
            .into_iter()
            .map(|p| {
                let word = Word::new(p, cursor.position(0));
                word.check(cursor.file, cursor.escape).map(|_| word)
            })
            .collect::<Result<_, _>>()?,
        None => words::whitespace_words(cursor.args())
            .iter()
            .map(|p| cursor.word(p))
            .collect::<Result<_, _>>()?,
    };
    if paths.is_empty() {
        return Err(cursor.needs("a path", "VOLUME /path... or VOLUME [\"/path\"...]"));
    }
    Ok(Kind::Volume(paths))
}

fn onbuild(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    read_flags(cursor, &NO_FLAGS)?;
    if cursor.args().is_empty() {
        return Err(cursor.needs("an instruction", "ONBUILD INSTRUCTION ARGUMENTS"));
    }
    let inner_line = cursor.line.skip(cursor.args_at);
    let (trigger, warnings) = parse_line(cursor.file, &inner_line, cursor.escape)?;
    cursor.warnings.extend(warnings);
    if matches!(trigger.keyword, "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(cursor.error(
            0,
            ErrorKind::OnbuildNotAllowed {
                instruction: trigger.keyword.into(),
            },
        ));
    }
    Ok(Kind::Onbuild(Onbuild {
        expression: inner_line.text.clone(),
        trigger: Box::new(trigger),
    }))
}

fn copy(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    const COPY: FlagSpec = FlagSpec {
        flags: &[
            ("from", FlagKind::Value),
            ("chown", FlagKind::Value),
            ("chmod", FlagKind::Value),
            ("link", FlagKind::Bool),
            ("parents", FlagKind::Refused(BUILDKIT)),
            ("exclude", FlagKind::Refused(BUILDKIT)),
        ],
        known: "--from, --chown, --chmod, --link",
    };
    const ADD: FlagSpec = FlagSpec {
        flags: &[
            ("chown", FlagKind::Value),
            ("chmod", FlagKind::Value),
            ("link", FlagKind::Bool),
            ("checksum", FlagKind::Value),
            ("keep-git-dir", FlagKind::Refused(BUILDKIT)),
            ("unpack", FlagKind::Refused(BUILDKIT)),
            ("exclude", FlagKind::Refused(BUILDKIT)),
        ],
        known: "--chown, --chmod, --link, --checksum",
    };
    let is_copy = cursor.keyword == "COPY";
    let flags = read_flags(cursor, if is_copy { &COPY } else { &ADD })?;
    let words: Vec<Word> = match words::json_array(cursor.args()) {
        Some(list) => list
            .into_iter()
            .map(|p| {
                let word = Word::new(p, cursor.position(0));
                word.check(cursor.file, cursor.escape).map(|_| word)
            })
            .collect::<Result<_, _>>()?,
        None => {
            cursor.refuse_heredocs()?;
            words::whitespace_words(cursor.args())
                .iter()
                .map(|p| cursor.word(p))
                .collect::<Result<_, _>>()?
        }
    };
    let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(cursor.needs(
            "at least a source and a destination",
            if is_copy {
                "COPY [--from=STAGE] [--chown=USER:GROUP] [--chmod=MODE] SRC... DEST"
            } else {
                "ADD [--chown=USER:GROUP] [--chmod=MODE] SRC... DEST"
            },
        ));
    };
    let copy = Copy {
        sources: sources.to_vec(),
        dest: dest.clone(),
        from: flag_word(cursor, &flags, "from")?,
        chown: flag_word(cursor, &flags, "chown")?,
        chmod: flag_word(cursor, &flags, "chmod")?,
        link: flags.bool("link"),
        checksum: flag_word(cursor, &flags, "checksum")?,
    };
    Ok(if is_copy {
        Kind::Copy(copy)
    } else {
        Kind::Add(copy)
    })
}
