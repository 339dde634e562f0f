//! `.dockerignore`: which files of the build context a build may see.
//!
//! The file at the root of the context lists patterns, one a line:
//!
//! ```text
//! # a comment (only with # in the first column)
//! node_modules            the directory and everything under it
//! **/*.log                *.log at any depth, the root included
//! /secret.txt             the same as secret.txt: paths are from the root
//! *.md
//! !README.md              an exception: README.md is kept after all
//! ```
//!
//! The rules are docker's (its `patternmatcher`, on top of Go's
//! `filepath.Match`):
//!
//! - Each line is trimmed; empty lines are skipped. A line is cleaned as a
//!   path (`./a//b/` is `a/b`, `a/../b` is `b`) and a leading `/` removed.
//! - `*` is any run of characters but `/`, `?` one character but `/`,
//!   `[a-z]` and `[^a-z]` a class, `\` makes the next character literal.
//! - `**` is any number of directories, none included: `**/x` is `x` at any
//!   depth, `a/**` everything under `a`, `a/**/b` is `a/b`, `a/x/b`, `a/x/y/b`.
//! - A pattern that matches a directory excludes what is under it too.
//! - `!pattern` is an exception. The **last** pattern that matches a path
//!   decides: `*.md` then `!README*.md` then `README-secret.md` keeps every
//!   README but the secret one.
//!
//! The Dockerfile and the `.dockerignore` itself may be excluded: the
//! builder still reads them (it needs them), but COPY and ADD do not see
//! them, and neither does the build cache.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why a `.dockerignore` or a context could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error(".dockerignore line {line}: invalid pattern {pattern:?}: {reason}")]
    Pattern {
        line: usize,
        pattern: String,
        reason: &'static str,
    },
    #[error("cannot read {path:?}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    Question,
    /// `[...]`: ranges (single characters are ranges of one), negated with `^`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/` (or `**` before other text): zero or more whole directories.
    AnyDirs,
    /// `**` at the end: anything at all.
    Anything,
}

/// One line of `.dockerignore`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned pattern, without its `!`.
    pub text: String,
    /// `!pattern`: re-include what matches.
    pub exception: bool,
    tokens: Vec<Token>,
}

/// The patterns of a `.dockerignore`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    pub patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` for slash-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            part => parts.push(part),
        }
    }
    match (rooted, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".into(),
        (false, false) => parts.join("/"),
    }
}

// ANCHOR: compile
/// Compiles a pattern; `double_star` says whether `**` is special (it is
/// in `.dockerignore`; it is not in COPY's globs, which are Go's
/// `filepath.Match`).
fn compile(pattern: &str, double_star: bool) -> Result<Vec<Token>, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if double_star && chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::Anything
                } else {
                    Token::AnyDirs
                });
                continue;
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::Question),
            '\\' => {
                i += 1;
                let Some(c) = chars.get(i) else {
                    return Err("it ends with a lone \\");
                };
                tokens.push(Token::Literal(*c));
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("a [ is not closed with ]");
                    };
                    if c == ']' && !ranges.is_empty() {
                        break;
                    }
                    let mut low = c;
                    if c == '\\' {
                        i += 1;
                        low = *chars.get(i).ok_or("a [ is not closed with ]")?;
                    } else if c == ']' {
                        return Err("a character class [] is empty");
                    }
                    let mut high = low;
                    if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|c| *c != ']')
                    {
                        i += 2;
                        high = chars[i];
                        if high == '\\' {
                            i += 1;
                            high = *chars.get(i).ok_or("a [ is not closed with ]")?;
                        }
                        if high < low {
                            return Err("a range in [] goes backwards");
                        }
                    }
                    ranges.push((low, high));
                    i += 1;
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Literal(c)),
        }
        i += 1;
    }
    Ok(tokens)
}
// ANCHOR_END: compile

// ANCHOR: matches
/// Whether `tokens` match all of `path`, trying every way a `*` or `**`
/// can stretch (patterns are short, so plain backtracking is enough).
fn matches(tokens: &[Token], path: &[char]) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return path.is_empty();
    };
    let one = |ok: bool| ok && matches(rest, &path[1..]);
    match token {
        Token::Literal(c) => one(path.first() == Some(c)),
        Token::Question => one(path.first().is_some_and(|c| *c != '/')),
        Token::Class { negated, ranges } => one(path.first().is_some_and(|c| {
            *c != '/' && ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated
        })),
        Token::Star => {
            let stop = path.iter().position(|c| *c == '/').unwrap_or(path.len());
            (0..=stop).any(|n| matches(rest, &path[n..]))
        }
        Token::AnyDirs => {
            matches(rest, path)
                || (1..=path.len()).any(|n| path[n - 1] == '/' && matches(rest, &path[n..]))
        }
        Token::Anything => true,
    }
}
// ANCHOR_END: matches

/// Go's `filepath.Match`: `*`, `?`, `[...]` and `\`, no `**`, for COPY's
/// source globs. An invalid pattern matches nothing.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    compile(pattern, false).is_ok_and(|tokens| matches(&tokens, &path.chars().collect::<Vec<_>>()))
}

impl Pattern {
    /// Whether this pattern matches `path` itself.
    fn matches_path(&self, path: &str) -> bool {
        matches(&self.tokens, &path.chars().collect::<Vec<_>>())
    }

    /// Whether it matches `path` or one of the directories above it.
    fn matches_or_parent(&self, path: &str) -> bool {
        if self.matches_path(path) {
            return true;
        }
        path.match_indices('/')
            .any(|(end, _)| self.matches_path(&path[..end]))
    }

    /// The text before the first wildcard: what any match must start with.
    fn literal_prefix(&self) -> &str {
        let end = self
            .text
            .find(['*', '?', '[', '\\'])
            .unwrap_or(self.text.len());
        &self.text[..end]
    }
}

impl DockerIgnore {
    // ANCHOR: parse
    /// Reads the patterns of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<DockerIgnore, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            // A comment only when the # is in the first column.
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, body) = match line.strip_prefix('!') {
                Some(body) => (true, body.trim()),
                None => (false, line),
            };
            let error = |reason| IgnoreError::Pattern {
                line: index + 1,
                pattern: line.to_string(),
                reason,
            };
            if body.is_empty() {
                return Err(error("a ! needs a pattern after it"));
            }
            let mut text = clean(body);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let tokens = compile(&text, true).map_err(error)?;
            patterns.push(Pattern {
                text,
                exception,
                tokens,
            });
        }
        Ok(DockerIgnore { patterns })
    }
    // ANCHOR_END: parse

    /// Reads `CONTEXT/.dockerignore`; no file means no patterns.
    pub fn read(context: &Path) -> Result<DockerIgnore, IgnoreError> {
        let path = context.join(".dockerignore");
        match fs::read_to_string(&path) {
            Ok(text) => DockerIgnore::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(source) => Err(IgnoreError::Io { path, source }),
        }
    }

    // ANCHOR: excluded
    /// Whether `path` (relative to the context, `/`-separated) is left out
    /// of the build: the last pattern that matches it, or a directory
    /// above it, decides.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for pattern in &self.patterns {
            // Only a pattern that could change the answer is tried.
            if pattern.exception == excluded && pattern.matches_or_parent(&path) {
                excluded = !pattern.exception;
            }
        }
        excluded
    }
    // ANCHOR_END: excluded

    /// Whether something under the excluded directory `dir` may still be
    /// included by an exception, so that a walk must look inside it.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let dir = format!("{}/", clean(dir));
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            let prefix = p.literal_prefix();
            prefix.starts_with(&dir) || dir.starts_with(prefix)
        })
    }
}

/// What a context entry is (symbolic links are never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A fifo, socket or device node.
    Other,
}

/// One entry of the build context that the build sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Relative to the context root, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
}

// ANCHOR: walk
/// Lists the entries of the context that `ignore` keeps, sorted, parents
/// before children. Nothing outside `context` is read: symbolic links are
/// listed as links, never followed.
pub fn walk(context: &Path, ignore: &DockerIgnore) -> Result<Vec<ContextEntry>, IgnoreError> {
    let mut entries = Vec::new();
    walk_dir(context, "", ignore, &mut entries)?;
    Ok(entries)
}

/// [`walk`] of the directory `dir` of the tree at `root` (relative,
/// `/`-separated, itself not listed; it must not cross a symbolic link):
/// the entries below it, with paths relative to `root`.
pub fn walk_below(
    root: &Path,
    dir: &str,
    ignore: &DockerIgnore,
) -> Result<Vec<ContextEntry>, IgnoreError> {
    let mut entries = Vec::new();
    walk_dir(root, dir, ignore, &mut entries)?;
    Ok(entries)
}

fn walk_dir(
    root: &Path,
    dir: &str,
    ignore: &DockerIgnore,
    out: &mut Vec<ContextEntry>,
) -> Result<(), IgnoreError> {
    let path = root.join(dir);
    let io_error = |source| IgnoreError::Io {
        path: path.clone(),
        source,
    };
    let mut names: Vec<(String, fs::FileType)> = Vec::new();
    for entry in fs::read_dir(&path).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        names.push((name, entry.file_type().map_err(io_error)?));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in names {
        let relative = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        let kind = if file_type.is_symlink() {
            EntryKind::Symlink
        } else if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let excluded = ignore.is_excluded(&relative);
        if !excluded {
            out.push(ContextEntry {
                path: relative.clone(),
                kind,
            });
        }
        if kind == EntryKind::Dir && (!excluded || ignore.may_include_below(&relative)) {
            walk_dir(root, &relative, ignore, out)?;
        }
    }
    Ok(())
}
// ANCHOR_END: walk
