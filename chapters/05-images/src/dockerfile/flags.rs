//! Flags: `--name=value` and `--name` before an instruction's arguments.
//!
//! Every instruction reads the words that start with `--` at the front of
//! its arguments as flags (docker does the same, so `CMD --help` is an
//! unknown flag, not a command). Each instruction has its own list; the
//! flags only BuildKit has are refused with a message that says so.

use super::error::{DockerfileError, ErrorKind};
use super::instruction::Word;
use super::parse::Cursor;
use super::words;

/// How a flag takes its value.
#[derive(Clone, Copy)]
pub(super) enum FlagKind {
    /// `--name=value`.
    Value,
    /// `--name`, `--name=true` or `--name=false`.
    Bool,
    /// A flag of BuildKit's that the classic builder does not have.
    Refused(&'static str),
}

/// The flags one instruction accepts, and how its help names them.
pub(super) struct FlagSpec {
    pub(super) flags: &'static [(&'static str, FlagKind)],
    pub(super) known: &'static str,
}

pub(super) const NO_FLAGS: FlagSpec = FlagSpec {
    flags: &[],
    known: "no flags",
};
pub(super) const BUILDKIT: &str = "it needs BuildKit, and this is a classic builder";

/// Parsed flags: name, value (`None` for a bare boolean) and where.
pub(super) struct Flags(pub(super) Vec<(String, Option<String>, usize)>);

impl Flags {
    pub(super) fn value(&self, name: &str) -> Option<(&str, usize)> {
        self.0
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, at)| (v.as_deref().unwrap_or(""), *at))
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.0
            .iter()
            .find(|(n, _, _)| n == name)
            .is_some_and(|(_, v, _)| v.as_deref().is_none_or(|v| v.eq_ignore_ascii_case("true")))
    }
}

/// Reads the flags at the start of the arguments, checks them against
/// `spec`, and moves the cursor past them.
pub(super) fn read_flags(cursor: &mut Cursor, spec: &FlagSpec) -> Result<Flags, DockerfileError> {
    let (pieces, rest) = words::flags(cursor.args());
    let mut flags: Vec<(String, Option<String>, usize)> = Vec::new();
    for piece in pieces {
        let body = &piece.text[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let error = |kind| cursor.error(piece.offset, kind);
        let Some((_, kind)) = spec.flags.iter().find(|(n, _)| *n == name) else {
            return Err(error(ErrorKind::UnknownFlag {
                instruction: cursor.keyword,
                flag: name.to_string(),
                known: spec.known,
            }));
        };
        match (kind, &value) {
            (FlagKind::Refused(hint), _) => {
                return Err(error(ErrorKind::Unsupported {
                    what: format!("{} --{name}", cursor.keyword),
                    hint,
                }));
            }
            (FlagKind::Value, None) => {
                return Err(error(ErrorKind::FlagNeedsValue { flag: name.into() }));
            }
            (FlagKind::Bool, Some(v))
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
            {
                return Err(error(ErrorKind::FlagNotBool {
                    flag: name.into(),
                    value: v.clone(),
                }));
            }
            _ => {}
        }
        if flags.iter().any(|(n, _, _)| n == name) {
            return Err(error(ErrorKind::DuplicateFlag { flag: name.into() }));
        }
        flags.push((name.to_string(), value, piece.offset));
    }
    cursor.args_at += rest;
    Ok(Flags(flags))
}

/// A flag's value as a [`Word`] (flags of COPY/ADD/FROM are substituted).
pub(super) fn flag_word(
    cursor: &Cursor,
    flags: &Flags,
    name: &str,
) -> Result<Option<Word>, DockerfileError> {
    // Flag offsets were taken before the cursor moved past the flags: they
    // are relative to the start of the line's arguments, which is where
    // the flags began.
    match flags.value(name) {
        None => Ok(None),
        Some((value, at)) => {
            // Point at the value, after `--name=`.
            let position = cursor
                .line
                .position(cursor.flags_at() + at + name.len() + 3);
            let word = Word::new(value, position);
            word.check(cursor.file, cursor.escape)?;
            Ok(Some(word))
        }
    }
}
