//! The shapes compose accepts in two spellings, read into one.
//!
//! Compose files grew by accretion: `environment` may be a list of
//! `KEY=VALUE` or a mapping, `command` a string or a list, `dns` one
//! address or several. The model keeps one form of each (a map, a list),
//! so everything after this point (merge, `config`, the runner) handles
//! one shape. These functions are serde `deserialize_with` helpers.

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Variables and labels: `KEY` mapped to a value, or to nothing (`None`:
/// "take it from the environment" for `environment`, `args`).
pub type KeyValues = BTreeMap<String, Option<String>>;

/// Reads a scalar as text and parses it with `parse`. The parse runs
/// inside the scalar's own deserializer, so an error points at the scalar
/// (`services.web.mem_limit`), not at the mapping around it.
pub fn from_text<'de, D, T, F>(
    deserializer: D,
    expecting: &'static str,
    parse: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    struct TextVisitor<F> {
        parse: F,
        expecting: &'static str,
    }
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for TextVisitor<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_string(TextVisitor { parse, expecting })
}

/// One `KEY=VALUE` (or `KEY` alone) of the list form.
struct Assignment(String, Option<String>);

impl<'de> Deserialize<'de> for Assignment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Assignment, D::Error> {
        from_text(deserializer, "KEY=VALUE", |text| {
            let (key, value) = match text.split_once('=') {
                Some((key, value)) => (key, Some(value.to_string())),
                None => (text, None),
            };
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{text:?} is not KEY=VALUE: the key must be a word without blanks"
                ));
            }
            Ok(Assignment(key.to_string(), value))
        })
    }
}

// ANCHOR: key_values
/// `["A=1", "B"]` or `{A: 1, B: null}`: both become `{A: Some("1"), B: None}`.
/// Values are text: `A: 1.10` is `"1.10"`, `A: true` is `"true"`.
pub fn key_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<KeyValues, D::Error> {
    struct KeyValuesVisitor;
    impl<'de> Visitor<'de> for KeyValuesVisitor {
        type Value = KeyValues;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of KEY=VALUE or a mapping")
        }
        fn visit_unit<E>(self) -> Result<KeyValues, E> {
            Ok(KeyValues::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyValues, A::Error> {
            let mut out = KeyValues::new();
            while let Some(Assignment(key, value)) = seq.next_element()? {
                out.insert(key, value);
            }
            Ok(out)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<KeyValues, A::Error> {
            let mut out = KeyValues::new();
            while let Some((key, value)) = map.next_entry::<String, Option<String>>()? {
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(KeyValuesVisitor)
}
// ANCHOR_END: key_values

/// Labels: like [`key_values`], a label without a value being empty.
pub fn labels<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(key_values(deserializer)?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// One string or a list of strings: `dns: 1.1.1.1` or `dns: [1.1.1.1, 9.9.9.9]`.
pub fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_unit<E>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E>(self, v: u64) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

// ANCHOR: command
/// `command` and `entrypoint`: a list is the argv as written; a string is
/// cut into words ([`crate::words::split`]), never given to a shell.
/// `entrypoint: ""` or `[]` is an empty argv: "no entrypoint", which
/// clears the image's.
pub fn command<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct CommandVisitor;
    impl<'de> Visitor<'de> for CommandVisitor {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a command string or a list of arguments")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            crate::words::split(v).map(Some).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(vec![v.to_string()]))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut argv = Vec::new();
            while let Some(word) = seq.next_element::<String>()? {
                argv.push(word);
            }
            Ok(Some(argv))
        }
    }
    deserializer.deserialize_any(CommandVisitor)
}
// ANCHOR_END: command

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::node::parse;

    #[derive(Debug, Deserialize)]
    struct Forms {
        #[serde(default, deserialize_with = "key_values")]
        env: KeyValues,
        #[serde(default, deserialize_with = "labels")]
        labels: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "string_or_list")]
        dns: Vec<String>,
        #[serde(default, deserialize_with = "command")]
        command: Option<Vec<String>>,
    }

    fn forms(text: &str) -> Forms {
        from_node(&parse(text, "c.yaml").unwrap()).unwrap()
    }

    fn pairs(env: &KeyValues) -> Vec<(&str, Option<&str>)> {
        env.iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect()
    }

    #[test]
    fn environment_as_list_and_as_map_is_the_same() {
        let list = forms("env: [A=1, 'B=x=y', C, D=]\n");
        let map = forms("env: {A: 1, B: x=y, C: null, D: ''}\n");
        let expected = vec![
            ("A", Some("1")),
            ("B", Some("x=y")),
            ("C", None),
            ("D", Some("")),
        ];
        assert_eq!(pairs(&list.env), expected);
        assert_eq!(pairs(&map.env), expected);
    }

    #[test]
    fn values_are_text_as_written() {
        let f = forms("env: {V: 3.10, T: true, N: 010}\n");
        assert_eq!(
            pairs(&f.env),
            vec![("N", Some("010")), ("T", Some("true")), ("V", Some("3.10"))]
        );
    }

    #[test]
    fn a_bad_list_item_is_pointed_at() {
        let err = from_node::<Forms>(&parse("env:\n  - A=1\n  - =oops\n", "c.yaml").unwrap())
            .unwrap_err();
        assert_eq!(err.path, "env[1]");
        assert!(err.message.contains("not KEY=VALUE"), "{err}");
        let err = from_node::<Forms>(&parse("env: {A: [1]}\n", "c.yaml").unwrap()).unwrap_err();
        assert_eq!(err.path, "env.A");
    }

    #[test]
    fn labels_without_value_are_empty() {
        let f = forms("labels: [traefik.enable=true, marker]\n");
        assert_eq!(f.labels.get("marker").map(String::as_str), Some(""));
        assert_eq!(
            f.labels.get("traefik.enable").map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn one_or_many() {
        assert_eq!(forms("dns: 1.1.1.1\n").dns, ["1.1.1.1"]);
        assert_eq!(
            forms("dns: [1.1.1.1, 9.9.9.9]\n").dns,
            ["1.1.1.1", "9.9.9.9"]
        );
    }

    #[test]
    fn commands_as_string_or_list() {
        assert_eq!(
            forms("command: redis-server --save '' --appendonly yes\n")
                .command
                .unwrap(),
            ["redis-server", "--save", "", "--appendonly", "yes"]
        );
        assert_eq!(
            forms("command: [sh, -c, 'echo $$HOME && sleep 1']\n")
                .command
                .unwrap(),
            ["sh", "-c", "echo $$HOME && sleep 1"]
        );
        assert_eq!(
            forms("command: ''\n").command.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(forms("{}\n").command, None);
        let err = from_node::<Forms>(&parse("command: make && make test\n", "c.yaml").unwrap())
            .unwrap_err();
        assert_eq!(err.path, "command");
        assert!(err.message.contains("shell operator"), "{err}");
    }
}
