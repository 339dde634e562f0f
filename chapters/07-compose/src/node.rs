//! The YAML of a compose file as a tree of untyped nodes, each with the
//! place it was written.
//!
//! A compose file is read in two passes, as docker compose reads it:
//! first into an untyped tree (this module), then, after variables are
//! substituted ([`crate::interpolate`]), into typed structs ([`crate::de`]).
//! The tree is what the YAML says and nothing more: mappings, sequences and
//! scalars. YAML's own features are resolved while it is built: anchors
//! (`&base`), aliases (`*base`) and merge keys (`<<: *base`) are expanded
//! by serde-saphyr, so the later passes never see them.
//!
//! Every node remembers its [`Origin`] (file, line, column): an error found
//! two passes later ("`replicas` must be a number") still points at the
//! text the user wrote.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};
use std::fmt;
use std::sync::Arc;

/// Where a node was written: the file, its line and column (both from 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file as the user named it (or as it was found).
    pub file: Arc<str>,
    /// The line, from 1.
    pub line: u64,
    /// The column, from 1.
    pub column: u64,
}

impl fmt::Display for Origin {
    /// `compose.yaml:12:7`, the form editors and terminals turn into links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One node of the tree: a value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where it was written.
    pub at: Origin,
}

/// The value of a node. Scalars keep YAML's resolution of plain scalars
/// (`true` is a boolean, `8080` a number, `8080:80` a string) because the
/// typed pass needs to tell `ports: [80]` from `ports: ["80"]` only rarely,
/// but `config` must print `3.10` as the user wrote it, not as `3.1`:
/// numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing at all (`key:`).
    Null,
    /// `true` or `false` (YAML 1.2: `yes`/`no` are strings, as in compose).
    Bool(bool),
    /// An integer or a float, as written.
    Number(String),
    /// Any other scalar, quoted or not.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order written (merged `<<` entries come last).
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written (errors about unknown keys
/// point at the key, not at its value).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where it was written.
    pub at: Origin,
}

impl Node {
    /// The entry `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, n)| n),
            _ => None,
        }
    }

    /// The node at a path of mapping keys, e.g. `["services", "web", "ports"]`.
    pub fn find(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The key of the entry at a path of mapping keys (where an error about
    /// the entry as a whole should point).
    pub fn find_key(&self, path: &[&str]) -> Option<&Key> {
        let (last, parent) = path.split_last()?;
        match &self.find(parent)?.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == *last)
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// A short description of the node's kind, for "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Malformed YAML: the parser's message and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct YamlError {
    /// Where the parser stopped (line and column 0 when it could not say).
    pub at: Origin,
    /// What the parser says.
    pub message: String,
}

// ANCHOR: parse
/// Parses `text` (the contents of `file`) into a tree.
///
/// YAML 1.2's rules apply (`yes` and `no` stay strings, as in docker
/// compose), a key given twice in one mapping is an error, and YAML tags
/// this engine does not know (compose's `!reset`, `!override`) are errors
/// rather than silently dropped.
///
/// ```
/// use ch07_compose::node::{parse, Value};
/// let tree = parse("x: &x {image: busybox}\nweb:\n  <<: *x\n  ports: [8080:80]\n", "compose.yaml").unwrap();
/// let image = tree.find(&["web", "image"]).unwrap();
/// assert_eq!(image.value, Value::Str("busybox".into()));
/// assert_eq!(image.at.to_string(), "compose.yaml:3:7"); // the `*x` that merged it
/// ```
pub fn parse(text: &str, file: &str) -> Result<Node, YamlError> {
    let file: Arc<str> = Arc::from(file);
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.reject_unsupported_tags = true;
    options.with_snippet = false;
    let raw: Spanned<Raw> = match serde_saphyr::from_str_with_options(text, options) {
        Ok(raw) => raw,
        Err(error) => {
            let location = error.location().unwrap_or(Location::UNKNOWN);
            let message = UserMessageFormatter.format_message(error.without_snippet());
            return Err(YamlError {
                at: origin(&file, &location),
                message: message.into_owned(),
            });
        }
    };
    Ok(convert(raw, &file, text))
}
// ANCHOR_END: parse

fn origin(file: &Arc<str>, location: &Location) -> Origin {
    Origin {
        file: file.clone(),
        line: location.line(),
        column: location.column(),
    }
}

/// Turns serde-saphyr's spanned values into nodes. A float keeps the text
/// it was written with (found from its span in the source).
fn convert(raw: Spanned<Raw>, file: &Arc<str>, text: &str) -> Node {
    let at = origin(file, &raw.referenced);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Integer(n) => Value::Number(n),
        Raw::Float(f) => {
            let span = raw.defined.span();
            let written = span
                .byte_offset()
                .zip(span.byte_len())
                .and_then(|(start, len)| text.get(start as usize..(start + len) as usize))
                .filter(|written| written.trim().parse::<f64>().ok() == Some(f));
            Value::Number(written.map_or_else(|| f.to_string(), |w| w.trim().to_string()))
        }
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|i| convert(i, file, text)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key = Key {
                        at: origin(file, &key.referenced),
                        name: key.value.0,
                    };
                    (key, convert(value, file, text))
                })
                .collect(),
        ),
    };
    Node { value, at }
}

/// What serde-saphyr hands over before positions are attached.
enum Raw {
    Null,
    Bool(bool),
    Integer(String),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<RawKey>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Integer(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Integer(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

/// A mapping key: compose keys are strings, but `1: x` is valid YAML and
/// reads as the key "1".
struct RawKey(String);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawKey, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RawKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawKey, E> {
                Err(E::custom("a mapping key cannot be empty (null)"))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(text, "compose.yaml").unwrap()
    }

    #[test]
    fn scalars_resolve_as_yaml_1_2() {
        let t = tree("a: true\nb: no\nc: 8080:80\nd: 80\ne: ~\nf:\ng: '5'\nh: 3.10\n");
        let v = |k: &str| t.get(k).unwrap().value.clone();
        assert_eq!(v("a"), Value::Bool(true));
        assert_eq!(v("b"), Value::Str("no".into()));
        assert_eq!(v("c"), Value::Str("8080:80".into()));
        assert_eq!(v("d"), Value::Number("80".into()));
        assert_eq!(v("e"), Value::Null);
        assert_eq!(v("f"), Value::Null);
        assert_eq!(v("g"), Value::Str("5".into()));
        assert_eq!(
            v("h"),
            Value::Number("3.10".into()),
            "a float keeps its text"
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let t = tree("services:\n  web:\n    image: busybox\n");
        let key = t.find_key(&["services", "web", "image"]).unwrap();
        assert_eq!((key.at.line, key.at.column), (3, 5));
        let value = t.find(&["services", "web", "image"]).unwrap();
        assert_eq!((value.at.line, value.at.column), (3, 12));
    }

    #[test]
    fn anchors_aliases_and_merge_keys_are_expanded() {
        let t = tree(
            "x-env: &env\n  A: 1\n  B: 2\nweb:\n  environment:\n    <<: *env\n    B: 3\nlist: &l [1, 2]\nagain: *l\n",
        );
        let env = t.find(&["web", "environment"]).unwrap();
        let Value::Map(entries) = &env.value else {
            panic!("not a map")
        };
        let pairs: Vec<(&str, &Value)> = entries
            .iter()
            .map(|(k, v)| (k.name.as_str(), &v.value))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("B", &Value::Number("3".into())),
                ("A", &Value::Number("1".into()))
            ],
            "an explicit key wins over the merged one"
        );
        let numbers = |key: &str| match &t.get(key).unwrap().value {
            Value::Seq(items) => items.iter().map(|i| i.value.clone()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(numbers("again"), numbers("list"));
    }

    #[test]
    fn malformed_yaml_says_where() {
        let err = parse("services:\n  web:\n    ports: [80\n", "dev.yaml").unwrap_err();
        assert_eq!((&*err.at.file, err.at.line), ("dev.yaml", 3));
        assert!(err.to_string().starts_with("dev.yaml:3:"), "{err}");
        let err = parse("a: 1\na: 2\n", "c.yaml").unwrap_err();
        assert!(err.message.contains("duplicate"), "{err}");
        assert_eq!(err.at.line, 2);
    }

    #[test]
    fn compose_only_tags_are_refused_not_dropped() {
        let err = parse("ports: !reset []\n", "c.yaml").unwrap_err();
        assert!(err.message.contains("!reset"), "{err}");
        assert_eq!(err.at.line, 1);
    }

    #[test]
    fn integer_keys_become_strings() {
        let t = tree("1: one\ntrue: yes\n");
        assert!(t.get("1").is_some() && t.get("true").is_some());
    }
}
