//! Env files: the project's `.env` and a service's `env_file:`.
//!
//! One variable per line, `KEY=VALUE`, as docker compose reads them:
//!
//! ```text
//! # a comment
//! export TAG=1.36            # `export ` is allowed (the file can be sourced)
//! GREETING="hello\nworld"    # double quotes: escapes, and ${VAR} substituted
//! PASSWORD='pa$$w0rd'        # single quotes: taken literally
//! URL=http://${HOST:-db}:5432/app   # unquoted: substituted, ` #` starts a comment
//! DEBUG                      # no value: the caller decides (inherit it)
//! ```
//!
//! Substitution uses the variables defined earlier in the same file, then
//! the environment compose runs in. A quoted value may span lines.
//!
//! The project's `.env` feeds the substitution of the compose files (and
//! `COMPOSE_PROJECT_NAME`, `COMPOSE_PROFILES`, `COMPOSE_FILE`); a
//! service's `env_file` feeds only that service's containers.

use crate::interpolate::substitute;
use std::collections::BTreeMap;

/// A malformed env file line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct EnvFileError {
    /// The file.
    pub file: String,
    /// The line (from 1).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The variables of one file, in order; `None` for `KEY` without `=`.
pub type Entries = Vec<(String, Option<String>)>;

// ANCHOR: parse
/// Parses the text of an env file. `lookup` gives the variables of the
/// environment, for `${VAR}` in values.
///
/// ```
/// use ch07_compose::dotenv::parse;
/// let env = parse("A=1\nexport B=\"${A}-two\" # note\nC='$A'\n", "x.env", &|_| None).unwrap();
/// assert_eq!(env[1], ("B".to_string(), Some("1-two".to_string())));
/// assert_eq!(env[2].1.as_deref(), Some("$A"));
/// ```
pub fn parse(
    text: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Entries, EnvFileError> {
    let mut entries: Entries = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let fail = |message: String| EnvFileError {
            file: file.to_string(),
            line: index + 1,
            message,
        };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let trimmed = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let (key, rest) = match trimmed.split_once('=') {
            Some((key, rest)) => (key.trim_end(), Some(rest.trim_start())),
            None => (trimmed.trim_end(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(fail(format!("expected KEY=VALUE, found {line:?}")));
        }
        let Some(rest) = rest else {
            entries.push((key.to_string(), None));
            continue;
        };
        let known: BTreeMap<&str, &str> = entries
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
            .collect();
        let lookup_here = |name: &str| {
            known
                .get(name)
                .map(|v| v.to_string())
                .or_else(|| lookup(name))
        };
        let expand = |raw: &str| {
            substitute(raw, &lookup_here, &mut Vec::new()).map_err(|e| fail(format!("{key}: {e}")))
        };
        let value = match rest.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let mut body = rest[1..].to_string();
                let closed = loop {
                    if let Some(end) = closing_quote(&body, quote) {
                        let after = body[end + 1..].trim();
                        if !(after.is_empty() || after.starts_with('#')) {
                            return Err(fail(format!(
                                "unexpected text after the closing quote of {key}"
                            )));
                        }
                        body.truncate(end);
                        break true;
                    }
                    match lines.next() {
                        Some((_, next)) => {
                            body.push('\n');
                            body.push_str(next);
                        }
                        None => break false,
                    }
                };
                if !closed {
                    return Err(fail(format!("the value of {key} has no closing {quote}")));
                }
                if quote == '\'' {
                    body
                } else {
                    expand(&unescape(&body))?
                }
            }
            _ => {
                let value = match rest.find(" #").or_else(|| rest.find("\t#")) {
                    Some(comment) => &rest[..comment],
                    None => rest,
                };
                expand(value.trim_end())?
            }
        };
        entries.push((key.to_string(), Some(value)));
    }
    Ok(entries)
}
// ANCHOR_END: parse

/// The index of the quote that closes a value (a `\"` does not close).
fn closing_quote(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if quote == '"' && !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

/// The escapes of a double-quoted value. `\$` stays `$$`, so that the
/// substitution that follows leaves a literal `$`.
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('$') => out.push_str("$$"),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> Entries {
        parse(text, ".env", &|name| {
            (name == "HOME").then(|| "/root".to_string())
        })
        .unwrap()
    }

    fn value(text: &str) -> Option<String> {
        env(text).pop().unwrap().1
    }

    #[test]
    fn comments_blanks_and_export() {
        let e = env("# c\n\n  A=1\nexport B=2\n   # indented comment\n");
        assert_eq!(
            e,
            vec![
                ("A".into(), Some("1".into())),
                ("B".into(), Some("2".into()))
            ]
        );
    }

    #[test]
    fn unquoted_values() {
        assert_eq!(value("A=  spaced out  "), Some("spaced out".into()));
        assert_eq!(value("A=x # comment"), Some("x".into()));
        assert_eq!(value("A=x#not-a-comment"), Some("x#not-a-comment".into()));
        assert_eq!(value("A="), Some("".into()));
        assert_eq!(value("A=b=c"), Some("b=c".into()));
    }

    #[test]
    fn quoted_values() {
        assert_eq!(value("A='$HOME \\n'"), Some("$HOME \\n".into()));
        assert_eq!(value("A=\"$HOME\\tx\""), Some("/root\tx".into()));
        assert_eq!(value("A=\"say \\\"hi\\\"\" # c"), Some("say \"hi\"".into()));
        assert_eq!(value("A=\"cost \\$5\""), Some("cost $5".into()));
        assert_eq!(value("A=\"line1\nline2\"\n"), Some("line1\nline2".into()));
        assert_eq!(value("A='# not a comment'"), Some("# not a comment".into()));
    }

    #[test]
    fn substitution_from_the_file_then_the_environment() {
        let e = env("HOST=db\nURL=postgres://${HOST}:${PORT:-5432}/x\nH=$HOME\n");
        assert_eq!(e[1].1.as_deref(), Some("postgres://db:5432/x"));
        assert_eq!(e[2].1.as_deref(), Some("/root"));
    }

    #[test]
    fn a_key_alone_has_no_value() {
        assert_eq!(env("DEBUG\n"), vec![("DEBUG".into(), None)]);
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\nnot a line\n", "app.env", &|_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app.env:2: expected KEY=VALUE, found \"not a line\""
        );
        let err = parse("A=\"open\nB=2\n", "app.env", &|_| None).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("no closing"), "{err}");
        let err = parse("A='x' y\n", "app.env", &|_| None).unwrap_err();
        assert!(err.message.contains("after the closing quote"), "{err}");
        let err = parse("A=${B:?needed}\n", "app.env", &|_| None).unwrap_err();
        assert!(err.message.contains("required variable B"), "{err}");
    }
}
