//! Variable substitution: `${TAG:-latest}` becomes `latest` when `TAG` is
//! unset.
//!
//! Compose substitutes variables in the **values** of the file (never in
//! keys), after the YAML is read and before it is typed. The order matters:
//! `ports: ["${PORT:-8080}:80"]` is only a port once substituted, and a
//! `$` inside a YAML comment or a key is never touched. The variables come
//! from the shell's environment, then from the project's `.env` file (or
//! the `--env-file`s), the shell winning.
//!
//! | form | value |
//! |---|---|
//! | `$VAR`, `${VAR}` | the value, or `""` with a warning when unset |
//! | `${VAR:-default}` | `default` when VAR is unset **or empty** |
//! | `${VAR-default}` | `default` only when VAR is unset |
//! | `${VAR:?message}` | an error when VAR is unset or empty |
//! | `${VAR?message}` | an error when VAR is unset |
//! | `${VAR:+alternative}` | `alternative` when VAR is set and not empty, else `""` |
//! | `${VAR+alternative}` | `alternative` when VAR is set, else `""` |
//! | `$$` | a literal `$` (for the container's shell: `command: echo $$HOME`) |
//!
//! Defaults and alternatives are substituted too, so they nest:
//! `${A:-${B:-c}}`. Any other `$` is an error, as in docker compose: the
//! user meant either a variable or `$$`.

use crate::de::Path;
use crate::node::{Node, Origin, Value};
use std::fmt;

/// What went wrong in one string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    /// A `$` that starts nothing valid, or a `${` never closed.
    #[error(
        "invalid interpolation format in {text:?}: you may need to escape any $ with another $"
    )]
    Invalid {
        /// The whole string.
        text: String,
    },
    /// `${VAR:?message}` or `${VAR?message}` and VAR is missing.
    #[error("required variable {name} is missing a value{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Required {
        /// The variable.
        name: String,
        /// The message written after `?`.
        message: String,
    },
}

/// A substitution error with the place of the string in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {path}: {source}")]
pub struct InterpolationError {
    /// Where the string was written.
    pub at: Origin,
    /// Its key path.
    pub path: String,
    /// What is wrong.
    pub source: SubstError,
}

/// A variable used without a default while unset: compose substitutes an
/// empty string and warns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset {
    /// The variable.
    pub name: String,
    /// Where it was used.
    pub at: Origin,
}

impl fmt::Display for Unset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the {:?} variable is not set, defaulting to a blank string",
            self.at, self.name
        )
    }
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

// ANCHOR: substitute
/// Substitutes the variables of one string. `lookup` gives a variable's
/// value (`None`: unset); the names of variables used unset without a
/// default are pushed to `unset`.
///
/// ```
/// use ch07_compose::interpolate::substitute;
/// let env = |name: &str| (name == "TAG").then(|| "1.2".to_string());
/// let mut unset = Vec::new();
/// let text = substitute("app:${TAG} ${HOST:-${TAG:+tagged}} $$HOME", &env, &mut unset).unwrap();
/// assert_eq!(text, "app:1.2 tagged $HOME");
/// assert!(unset.is_empty());
/// ```
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, SubstError> {
    let invalid = || SubstError::Invalid {
        text: text.to_string(),
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(offset) = text[i..].find('$') {
        out.push_str(&text[i..i + offset]);
        i += offset + 1;
        match bytes.get(i) {
            Some(b'$') => {
                out.push('$');
                i += 1;
            }
            Some(&c) if is_name_start(c) => {
                let end = text[i..]
                    .bytes()
                    .position(|c| !is_name(c))
                    .map_or(text.len(), |n| i + n);
                let name = &text[i..end];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => unset.push(name.to_string()),
                }
                i = end;
            }
            Some(b'{') => {
                let close = matching_brace(text, i + 1).ok_or_else(invalid)?;
                out.push_str(&braced(&text[i + 1..close], lookup, unset, &invalid)?);
                i = close + 1;
            }
            _ => return Err(invalid()),
        }
    }
    out.push_str(&text[i..]);
    Ok(out)
}

/// The inside of `${...}`: a name, then maybe an operator and a word.
fn braced(
    inside: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    invalid: &dyn Fn() -> SubstError,
) -> Result<String, SubstError> {
    let name_len = inside
        .bytes()
        .position(|c| !is_name(c))
        .unwrap_or(inside.len());
    let (name, rest) = inside.split_at(name_len);
    if name.is_empty() || !is_name_start(name.as_bytes()[0]) {
        return Err(invalid());
    }
    let value = lookup(name);
    // "Set" means set and not empty for the operators with a colon.
    let (colon, rest) = match rest.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let usable = |v: &Option<String>| v.as_ref().is_some_and(|v| !(colon && v.is_empty()));
    let Some(op) = rest.chars().next() else {
        if colon {
            return Err(invalid());
        }
        return Ok(value.unwrap_or_else(|| {
            unset.push(name.to_string());
            String::new()
        }));
    };
    let word = &rest[1..];
    match op {
        '-' if usable(&value) => Ok(value.unwrap_or_default()),
        '-' => substitute(word, lookup, unset),
        '+' if usable(&value) => substitute(word, lookup, unset),
        '+' => Ok(String::new()),
        '?' if usable(&value) => Ok(value.unwrap_or_default()),
        '?' => Err(SubstError::Required {
            name: name.to_string(),
            message: substitute(word, lookup, unset)?,
        }),
        _ => Err(invalid()),
    }
}

/// The index of the `}` that closes a `${` whose inside starts at `start`,
/// counting the `${` nested in defaults (and skipping `$$`).
fn matching_brace(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}
// ANCHOR_END: substitute

// ANCHOR: interpolate
/// Substitutes every string value of the tree, in place. Keys are left
/// alone, and so are numbers and booleans (they hold no `$`).
pub fn interpolate(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<Unset>,
) -> Result<(), InterpolationError> {
    walk(node, &Path::Root, lookup, unset)
}

fn walk(
    node: &mut Node,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<Unset>,
) -> Result<(), InterpolationError> {
    match &mut node.value {
        Value::Str(text) if text.contains('$') => {
            let mut names = Vec::new();
            *text = substitute(text, lookup, &mut names).map_err(|source| InterpolationError {
                at: node.at.clone(),
                path: path.to_string(),
                source,
            })?;
            unset.extend(names.into_iter().map(|name| Unset {
                name,
                at: node.at.clone(),
            }));
        }
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(index), lookup, unset)?;
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                walk(value, &path.key(&key.name), lookup, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}
// ANCHOR_END: interpolate

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;
    use std::collections::HashMap;

    fn env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("SET", "value"),
            ("EMPTY", ""),
            ("PORT", "8080"),
            ("B", "bee"),
        ])
    }

    fn sub(text: &str) -> Result<(String, Vec<String>), SubstError> {
        let env = env();
        let lookup = move |name: &str| env.get(name).map(|v| v.to_string());
        let mut unset = Vec::new();
        substitute(text, &lookup, &mut unset).map(|s| (s, unset))
    }

    fn ok(text: &str) -> String {
        sub(text).unwrap().0
    }

    #[test]
    fn the_table_of_forms() {
        let cases = [
            ("$SET", "value"),
            ("${SET}", "value"),
            ("pre${SET}post", "prevaluepost"),
            ("$SET.x", "value.x"),
            ("${UNSET:-d}", "d"),
            ("${EMPTY:-d}", "d"),
            ("${SET:-d}", "value"),
            ("${UNSET-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${UNSET:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${SET:?boom}", "value"),
            ("${EMPTY?boom}", ""),
            ("$$", "$"),
            ("$$SET", "$SET"),
            ("a $$ b", "a $ b"),
            ("${UNSET:-}", ""),
            ("${PORT}:80", "8080:80"),
            ("no dollar", "no dollar"),
            (
                "${UNSET:-with spaces and : colons}",
                "with spaces and : colons",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ok(text), expected, "{text}");
        }
    }

    #[test]
    fn defaults_nest_and_are_substituted() {
        assert_eq!(ok("${A:-${B:-c}}"), "bee");
        assert_eq!(ok("${A:-${C:-c}}"), "c");
        assert_eq!(ok("${A:-$B-x}"), "bee-x");
        assert_eq!(ok("${A:-x$${y}}"), "x${y}");
        assert_eq!(ok("${SET:+${PORT}}"), "8080");
    }

    #[test]
    fn unset_variables_are_blank_and_reported() {
        let (text, unset) = sub("$NOPE and ${ALSO_NOT}").unwrap();
        assert_eq!(text, " and ");
        assert_eq!(unset, vec!["NOPE", "ALSO_NOT"]);
        let (_, unset) = sub("${NOPE:-fine}").unwrap();
        assert!(unset.is_empty(), "a default means no warning");
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        let err = sub("${UNSET:?set it in .env}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "required variable UNSET is missing a value: set it in .env"
        );
        let err = sub("${EMPTY:?}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "required variable EMPTY is missing a value"
        );
        let err = sub("${UNSET?}").unwrap_err();
        assert!(matches!(err, SubstError::Required { .. }));
    }

    #[test]
    fn stray_dollars_are_errors() {
        for text in [
            "cost: 5$", "$1", "${}", "${1A}", "${A", "${A:}", "${A!x}", "$ x",
        ] {
            assert!(
                matches!(sub(text), Err(SubstError::Invalid { .. })),
                "{text}: {:?}",
                sub(text)
            );
        }
    }

    #[test]
    fn the_tree_walk_substitutes_values_not_keys() {
        let mut tree = parse(
            "services:\n  web:\n    image: app:${TAG:-dev}\n    ports: ['${PORT}:80', 9000]\n    labels:\n      $KEY: ${SET}\n",
            "c.yaml",
        )
        .unwrap();
        let env = env();
        let lookup = move |name: &str| env.get(name).map(|v| v.to_string());
        let mut unset = Vec::new();
        interpolate(&mut tree, &lookup, &mut unset).unwrap();
        let image = tree.find(&["services", "web", "image"]).unwrap();
        assert_eq!(image.value, Value::Str("app:dev".into()));
        let Value::Seq(ports) = &tree.find(&["services", "web", "ports"]).unwrap().value else {
            panic!()
        };
        assert_eq!(ports[0].value, Value::Str("8080:80".into()));
        assert!(tree.find(&["services", "web", "labels", "$KEY"]).is_some());
    }

    #[test]
    fn errors_name_file_path_and_position() {
        let mut tree = parse(
            "services:\n  db:\n    environment:\n      - PASSWORD=${PW:?set PW}\n",
            "prod.yaml",
        )
        .unwrap();
        let lookup = |_: &str| None;
        let err = interpolate(&mut tree, &lookup, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prod.yaml:4:9: services.db.environment[0]: required variable PW is missing a value: set PW"
        );
    }
}
