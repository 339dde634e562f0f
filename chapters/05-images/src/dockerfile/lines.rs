//! From the text of a Dockerfile to logical lines: one per instruction.
//!
//! A Dockerfile is read line by line, with four rules (Docker's reference,
//! "Format" and "Parser directives"):
//!
//! 1. **Parser directives** are comments of the form `# name=value` at the
//!    very top: `escape` (the escape character, `\` or `` ` ``), `syntax`
//!    and `check`. The first line that is not a known directive (an empty
//!    line, another comment, an instruction, an unknown directive) ends
//!    them; after that, `# escape=`` ` is just a comment.
//! 2. **Comments** are lines whose first non-blank character is `#`. A `#`
//!    later in a line is not a comment: `RUN echo #1` echoes `#1`.
//! 3. **Continuations**: a line that ends with the escape character (blanks
//!    after it allowed) goes on with the next line. The escape character is
//!    removed and the lines are joined *without* a newline, the next line's
//!    leading blanks kept. Comment lines and empty lines inside a continued
//!    instruction are skipped (an empty one earns a warning, as in docker).
//! 4. Leading blanks before an instruction are ignored.
//!
//! Each logical line remembers where each of its pieces came from, so that
//! an error in the third line of a continued `RUN` points at that line.

use super::error::{DockerfileError, ErrorKind, Position, Warning};

/// The parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character: `\` unless `# escape=`` ` said otherwise.
    pub escape: char,
    /// `# syntax=...`: which frontend BuildKit would use. Recorded; this
    /// builder implements the syntax itself.
    pub syntax: Option<String>,
    /// `# check=...`: BuildKit's lint settings. Recorded, not used.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// The text of one instruction, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// The joined text, leading blanks of the first line removed.
    pub text: String,
    /// Each piece of `text`: its byte offset in `text` and where its
    /// first character is in the file.
    pieces: Vec<(usize, Position)>,
}

impl LogicalLine {
    /// A logical line made of one piece (for tests and for ONBUILD triggers).
    pub fn single(text: &str, start: Position) -> LogicalLine {
        LogicalLine {
            text: text.to_string(),
            pieces: vec![(0, start)],
        }
    }

    /// Where the character at byte `offset` of `text` is in the file.
    pub fn position(&self, offset: usize) -> Position {
        let (start, at) = self
            .pieces
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .copied()
            .unwrap_or((0, Position::new(1, 1)));
        let chars = self.text[start..offset.min(self.text.len())]
            .chars()
            .count();
        Position::new(at.line, at.column + chars)
    }

    /// The position of the first character.
    pub fn start(&self) -> Position {
        self.position(0)
    }

    /// The same line with its first `n` bytes cut off (positions kept).
    pub fn skip(&self, n: usize) -> LogicalLine {
        let mut pieces: Vec<(usize, Position)> = Vec::new();
        for (start, at) in &self.pieces {
            if *start + self.piece_len(*start) <= n {
                continue;
            }
            if *start >= n {
                pieces.push((start - n, *at));
            } else {
                pieces.push((0, self.position(n)));
            }
        }
        LogicalLine {
            text: self.text[n..].to_string(),
            pieces,
        }
    }

    fn piece_len(&self, start: usize) -> usize {
        let next = self
            .pieces
            .iter()
            .map(|(s, _)| *s)
            .find(|s| *s > start)
            .unwrap_or(self.text.len());
        next - start
    }
}

/// A Dockerfile cut into logical lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    pub directives: Directives,
    pub lines: Vec<LogicalLine>,
    pub warnings: Vec<Warning>,
}

const BLANKS: [char; 2] = [' ', '\t'];

// ANCHOR: directive
/// Reads `# name = value` (blanks allowed around both, name case-insensitive).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(BLANKS);
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..]
        .trim_start_matches(BLANKS)
        .strip_prefix('=')?
        .trim_matches(BLANKS);
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}
// ANCHOR_END: directive

/// Strips a continuation: `Some(text before the escape)` when `line` ends
/// with the escape character (blanks after it allowed).
fn continued(line: &str, escape: char) -> Option<&str> {
    line.trim_end_matches(BLANKS).strip_suffix(escape)
}

// ANCHOR: split
/// Cuts `source` into parser directives and logical lines.
pub fn split(file: &str, source: &str) -> Result<Lines, DockerfileError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let physical: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut directives = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    let mut next = 0;

    // Parser directives: only at the very top.
    while let Some(line) = physical.get(next) {
        let trimmed = line.trim_start_matches(BLANKS);
        let Some((name, value)) = directive(trimmed) else {
            break;
        };
        let position = Position::new(next + 1, line.len() - trimmed.len() + 1);
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            break; // an unknown directive is a comment, and ends the directives
        }
        if seen.contains(&name) {
            return Err(DockerfileError::at(
                file,
                position,
                ErrorKind::DuplicateDirective { name },
            ));
        }
        match name.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(DockerfileError::at(
                            file,
                            position,
                            ErrorKind::BadEscape { value },
                        ));
                    }
                }
            }
            "syntax" => directives.syntax = Some(value),
            _ => directives.check = Some(value),
        }
        seen.push(name);
        next += 1;
    }

    let escape = directives.escape;
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    while next < physical.len() {
        let raw = physical[next];
        let line_no = next + 1;
        next += 1;
        let trimmed = raw.trim_start_matches(BLANKS);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let column = raw[..raw.len() - trimmed.len()].chars().count() + 1;
        let mut logical = LogicalLine {
            text: String::new(),
            pieces: vec![(0, Position::new(line_no, column))],
        };
        let mut piece = trimmed;
        loop {
            match continued(piece, escape) {
                None => {
                    logical.text.push_str(piece);
                    break;
                }
                Some(before) => logical.text.push_str(before),
            }
            // Find the next line that carries text.
            let mut found = None;
            while next < physical.len() {
                let raw = physical[next];
                let line_no = next + 1;
                next += 1;
                let blank = raw.trim_start_matches(BLANKS);
                if blank.starts_with('#') {
                    continue;
                }
                if blank.is_empty() {
                    warnings.push(Warning {
                        position: Position::new(line_no, 1),
                        message: "empty continuation line: docker will make this an error; remove it or end the instruction".into(),
                    });
                    continue;
                }
                found = Some((raw, line_no));
                break;
            }
            let Some((raw, line_no)) = found else {
                break; // the file ended inside the continuation
            };
            logical
                .pieces
                .push((logical.text.len(), Position::new(line_no, 1)));
            piece = raw;
        }
        let text_len = logical.text.trim_end().len();
        logical.text.truncate(text_len);
        if !logical.text.is_empty() {
            lines.push(logical);
        }
    }
    Ok(Lines {
        directives,
        lines,
        warnings,
    })
}
// ANCHOR_END: split
