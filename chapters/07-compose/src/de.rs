//! From the untyped tree to typed structs: a serde `Deserializer` over
//! [`Node`]s.
//!
//! Why not let serde-saphyr deserialize the structs straight from the
//! text? Because compose substitutes variables *before* it types the file:
//! `replicas: ${REPLICAS:-2}` is a string in the YAML and a number in the
//! model, and `ports: ["${PORT}:80"]` is only a valid port once `PORT` is
//! known. So the text becomes a tree, the tree's strings are substituted,
//! and this deserializer types the result. It is lenient where compose is
//! (a string that holds a number is a number, `"true"` is a boolean) and
//! strict where compose v2 is: a key the model does not have is an error.
//!
//! Every error carries the key path (`services.web.ports[1]`) and the
//! [`Origin`] of the node it is about. Keys that start with `x-` are
//! extension fields: ignored wherever the model has named fields, kept
//! where the mapping is free-form (`environment`, `labels`).

use crate::node::{Key, Node, Origin, Value};
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::fmt;

/// A key path in the file, as compose prints it: `services.web.ports[0]`.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// The top of the file.
    Root,
    /// A mapping entry.
    Key(&'a Path<'a>, &'a str),
    /// A sequence item.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of the entry `key` below this one.
    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    /// The path of item `index` below this one.
    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A typing error: what is wrong, at which key path, where in which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// What is wrong.
    pub message: String,
    /// The key path (`services.web.ports[0]`), empty for the whole file.
    pub path: String,
    /// Where it was written.
    pub at: Option<Origin>,
}

impl fmt::Display for TypeError {
    /// `compose.yaml:3:11: services.web.ports[1]: expected ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for TypeError {}

impl TypeError {
    /// Attaches a place to an error that has none yet: the innermost node
    /// that saw the error is the one the user must fix.
    fn at(mut self, node: &Origin, path: &Path) -> TypeError {
        if self.at.is_none() {
            self.at = Some(node.clone());
            self.path = path.to_string();
        }
        self
    }
}

impl de::Error for TypeError {
    fn custom<T: fmt::Display>(message: T) -> TypeError {
        TypeError {
            message: message.to_string(),
            path: String::new(),
            at: None,
        }
    }

    fn invalid_type(unexpected: de::Unexpected, expected: &dyn de::Expected) -> TypeError {
        de::Error::custom(format_args!("expected {expected}, found {unexpected}"))
    }

    // ANCHOR: unknown_field
    /// An unknown key: docker compose v2 refuses them (its schema says
    /// `additionalProperties: false`), so a typo never goes unnoticed.
    /// Keys that compose knows but this engine does not run are named as
    /// such; others get the closest known key as a suggestion.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> TypeError {
        let message = if crate::model::UNSUPPORTED.contains(&field) {
            format!(
                "`{field}` is a compose key that skiff does not support: remove it, or run this file with docker compose"
            )
        } else {
            match suggestion(field, expected) {
                Some(known) => format!("unknown key `{field}`: did you mean `{known}`?"),
                None => format!("unknown key `{field}`: expected one of {}", list(expected)),
            }
        };
        de::Error::custom(message)
    }
    // ANCHOR_END: unknown_field

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> TypeError {
        let message = match suggestion(variant, expected) {
            Some(known) => format!("unknown value `{variant}`: did you mean `{known}`?"),
            None => format!(
                "unknown value `{variant}`: expected one of {}",
                list(expected)
            ),
        };
        de::Error::custom(message)
    }

    fn missing_field(field: &'static str) -> TypeError {
        de::Error::custom(format_args!("the key `{field}` is required here"))
    }
}

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn suggestion<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (ch05_images::dockerfile::words::distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min()
        .map(|(_, k)| k)
}

fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ANCHOR: from_node
/// Types `node` as `T`, reporting errors with their path and position.
///
/// ```
/// # use serde::Deserialize;
/// use ch07_compose::{de::from_node, node::parse};
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Deploy { replicas: u32 }
/// let node = parse("replicas: '3'\n", "c.yaml").unwrap();
/// assert_eq!(from_node::<Deploy>(&node).unwrap().replicas, 3);
/// let node = parse("replica: 3\n", "c.yaml").unwrap();
/// let err = from_node::<Deploy>(&node).err().unwrap();
/// assert_eq!(err.to_string(), "c.yaml:1:1: replica: unknown key `replica`: did you mean `replicas`?");
/// ```
pub fn from_node<'de, T: serde::Deserialize<'de>>(node: &Node) -> Result<T, TypeError> {
    T::deserialize(NodeDe {
        node,
        path: &Path::Root,
    })
}
// ANCHOR_END: from_node

/// The deserializer of one node.
pub struct NodeDe<'a> {
    node: &'a Node,
    path: &'a Path<'a>,
}

impl<'a> NodeDe<'a> {
    fn fail(&self, error: TypeError) -> TypeError {
        error.at(&self.node.at, self.path)
    }

    /// The scalar's text, when the node is a scalar a string can be read from.
    fn text(&self) -> Option<String> {
        match &self.node.value {
            Value::Str(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn invalid<T>(&self, expected: &str) -> Result<T, TypeError> {
        Err(self.fail(de::Error::custom(format_args!(
            "expected {expected}, found {}{}",
            self.node.kind(),
            self.text().map(|t| format!(" {t:?}")).unwrap_or_default()
        ))))
    }

    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let parsed = match &self.node.value {
            Value::Number(t) | Value::Str(t) => {
                let t = t.trim();
                if let Ok(n) = t.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = t.parse::<i64>() {
                    visitor.visit_i64(n)
                } else {
                    return self.invalid("an integer");
                }
            }
            _ => return self.invalid("an integer"),
        };
        parsed.map_err(|e| self.fail(e))
    }

    fn float<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Number(t) | Value::Str(t) => match t.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => visitor.visit_f64(f).map_err(|e| self.fail(e)),
                _ => self.invalid("a number"),
            },
            _ => self.invalid("a number"),
        }
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        skip_extensions: bool,
    ) -> Result<V::Value, TypeError> {
        let empty = Vec::new();
        let entries = match &self.node.value {
            Value::Map(entries) => entries,
            Value::Null => &empty,
            _ => return self.invalid("a mapping"),
        };
        let access = MapDe {
            entries: entries
                .iter()
                .filter(|(k, _)| !(skip_extensions && k.name.starts_with("x-")))
                .collect(),
            next: 0,
            path: self.path,
        };
        visitor.visit_map(access).map_err(|e| self.fail(e))
    }
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = TypeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(t) => {
                if let Ok(n) = t.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = t.parse::<i64>() {
                    visitor.visit_i64(n)
                } else {
                    visitor.visit_f64(t.parse::<f64>().unwrap_or(f64::NAN))
                }
            }
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
                path: self.path,
            }),
            Value::Map(_) => return self.map(visitor, false),
        };
        result.map_err(|e| self.fail(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let value = match &self.node.value {
            Value::Bool(b) => *b,
            // Compose's own conversion of substituted strings: `read_only: ${RO:-no}`.
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" => true,
                "false" | "no" | "n" | "off" => false,
                _ => return self.invalid("a boolean (true or false)"),
            },
            _ => return self.invalid("a boolean (true or false)"),
        };
        visitor.visit_bool(value).map_err(|e| self.fail(e))
    }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.integer(v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.float(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.float(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match self.text() {
            Some(text) => visitor.visit_string(text).map_err(|e| self.fail(e)),
            None => self.invalid("a string"),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(v)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(v)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match self.node.value {
            Value::Null => visitor.visit_none().map_err(|e| self.fail(e)),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let items: &[Node] = match &self.node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => return self.invalid("a sequence"),
        };
        let access = SeqDe {
            items: items.iter(),
            index: 0,
            path: self.path,
        };
        visitor.visit_seq(access).map_err(|e| self.fail(e))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.map(visitor, false)
    }

    /// A struct is a schema object: its `x-` keys are extensions, skipped.
    /// `key:` with nothing after it is the struct with every default.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        self.map(visitor, true)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        match self.text() {
            Some(text) => {
                let unit: de::value::StringDeserializer<TypeError> = text.into_deserializer();
                visitor.visit_enum(unit).map_err(|e| self.fail(e))
            }
            None => self.invalid("a string"),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    path: &'a Path<'a>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = TypeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TypeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, path: &path }).map(Some)
    }
}

struct MapDe<'a> {
    entries: Vec<&'a (Key, Node)>,
    next: usize,
    path: &'a Path<'a>,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = TypeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TypeError> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let path = self.path.key(&key.name);
        let key_de: de::value::StrDeserializer<TypeError> = key.name.as_str().into_deserializer();
        seed.deserialize(key_de)
            .map(Some)
            .map_err(|e| e.at(&key.at, &path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TypeError> {
        let (key, node) = self.entries[self.next];
        self.next += 1;
        let path = self.path.key(&key.name);
        seed.deserialize(NodeDe { node, path: &path })
    }
}

#[cfg(test)]
mod tests;
