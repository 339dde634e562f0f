//! Typing trees: leniency, errors with paths, extension keys.

use super::*;
use crate::node::parse;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Inner {
    port: u16,
    #[serde(default)]
    on: Option<bool>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Outer {
    name: Option<String>,
    #[serde(default)]
    items: Vec<Inner>,
    #[serde(default)]
    free: BTreeMap<String, String>,
}

fn typed(text: &str) -> Result<Outer, TypeError> {
    from_node(&parse(text, "c.yaml").unwrap())
}

#[test]
fn strings_holding_numbers_and_booleans_are_typed() {
    let o = typed("name: 42\nitems:\n  - port: '8080'\n    on: 'yes'\n  - port: 80\n").unwrap();
    assert_eq!(o.name.as_deref(), Some("42"));
    assert_eq!(
        o.items[0],
        Inner {
            port: 8080,
            on: Some(true)
        }
    );
    assert_eq!(o.items[1].port, 80);
}

#[test]
fn type_errors_name_the_path_and_place() {
    let err = typed("items:\n  - port: 80\n  - port: eighty\n").unwrap_err();
    assert_eq!(err.path, "items[1].port");
    assert_eq!(err.at.as_ref().map(|a| (a.line, a.column)), Some((3, 11)));
    assert!(err.message.contains("expected an integer"), "{err}");
    let err = typed("items:\n  - port: 70000\n").unwrap_err();
    assert!(err.message.contains("70000"), "{err}");
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let err = typed("items:\n  - port: 1\n    prot: 2\n").unwrap_err();
    assert_eq!(err.path, "items[0].prot");
    assert_eq!(err.message, "unknown key `prot`: did you mean `port`?");
    assert_eq!(err.at.as_ref().map(|a| (a.line, a.column)), Some((3, 5)));
    let err = typed("zzz: 1\n").unwrap_err();
    assert!(err.message.contains("expected one of `name`"), "{err}");
}

#[test]
fn extension_keys_are_skipped_in_structs_and_kept_in_free_maps() {
    let o = typed("x-anything: {a: 1}\nfree:\n  x-kept: v\n").unwrap();
    assert_eq!(o.free.get("x-kept").map(String::as_str), Some("v"));
}

#[test]
fn missing_required_keys_point_at_the_mapping() {
    let err = typed("items:\n  - on: true\n").unwrap_err();
    assert_eq!(err.path, "items[0]");
    assert!(err.message.contains("`port` is required"), "{err}");
}

#[test]
fn null_is_an_empty_struct_or_collection() {
    let o = typed("items:\nfree:\n").unwrap();
    assert!(o.items.is_empty() && o.free.is_empty());
}

#[test]
fn paths_print_as_compose_prints_them() {
    let root = Path::Root;
    let services = root.key("services");
    let web = services.key("web");
    let ports = web.key("ports");
    assert_eq!(ports.index(2).to_string(), "services.web.ports[2]");
}

#[test]
fn suggestions_only_for_near_misses() {
    assert_eq!(suggestion("imgae", &["image", "init"]), Some("image"));
    assert_eq!(suggestion("dependson", &["depends_on"]), Some("depends_on"));
    assert_eq!(suggestion("zz", &["image", "init"]), None);
}
