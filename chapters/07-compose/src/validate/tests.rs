//! Each rule of [`super::validate`], broken once.

use super::*;
use crate::de::from_node;
use crate::model::ComposeFile;
use crate::node::parse;
use crate::resolve::resolve;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn check(text: &str, profiles: &[&str]) -> Result<Project, Invalid> {
    let tree = parse(text, "compose.yaml").unwrap();
    let file: ComposeFile = from_node(&tree).unwrap();
    let sources = Sources { trees: vec![tree] };
    let mut project = resolve(
        file,
        "app".into(),
        PathBuf::from("/srv/app"),
        vec![],
        BTreeMap::new(),
        profiles.iter().map(|p| p.to_string()).collect(),
        &sources,
    )
    .unwrap();
    validate(&mut project, &sources).map(|()| project)
}

fn error(text: &str) -> Invalid {
    check(text, &[]).unwrap_err()
}

#[test]
fn a_sound_project_passes() {
    check(
        "services:\n  web: {image: x, depends_on: {db: {condition: service_healthy}}, networks: {front: {ipv4_address: 10.9.0.5}}, volumes: ['data:/d']}\n  db: {build: ., networks: [front]}\nnetworks:\n  front: {ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.9.0.1}]}}\nvolumes: {data: }\n",
        &[],
    )
    .unwrap();
}

#[test]
fn a_service_needs_an_image_or_a_build() {
    let err = error("services:\n  web:\n    command: [true]\n");
    assert_eq!(err.path, "services.web");
    assert_eq!(err.at.as_ref().map(|a| (a.line, a.column)), Some((2, 3)));
    assert!(
        err.message.contains("neither an image nor a build"),
        "{err}"
    );
}

#[test]
fn dependency_cycles_are_named() {
    let err = error(
        "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}\n",
    );
    assert!(
        err.message.contains("dependency cycle: a -> b -> c -> a"),
        "{err}"
    );
    let err = error("services:\n  a: {image: x, depends_on: [a]}\n");
    assert!(err.message.contains("a -> a"), "{err}");
}

#[test]
fn unknown_dependencies_are_errors_with_a_suggestion() {
    let err = error("services:\n  web: {image: x, depends_on: [dbb]}\n  db: {image: y}\n");
    assert_eq!(err.path, "services.web.depends_on.dbb");
    assert!(
        err.message
            .contains("undefined service \"dbb\": did you mean \"db\"?"),
        "{err}"
    );
}

#[test]
fn a_dependency_in_an_inactive_profile_says_which_profile() {
    let text =
        "services:\n  web: {image: x, depends_on: [db]}\n  db: {image: y, profiles: [dev]}\n";
    let err = check(text, &[]).unwrap_err();
    assert!(
        err.message.contains("only enabled with --profile dev"),
        "{err}"
    );
    check(text, &["dev"]).unwrap();
    let p = check(
        "services:\n  web: {image: x, depends_on: {db: {required: false}}}\n  db: {image: y, profiles: [dev]}\n",
        &[],
    )
    .unwrap();
    assert!(
        p.services["web"].depends_on.is_empty(),
        "an optional missing dependency is dropped"
    );
    assert_eq!(p.warnings.len(), 1);
}

#[test]
fn undeclared_networks_and_volumes_are_errors() {
    let err = error("services:\n  web: {image: x, networks: [frontt]}\nnetworks: {front: }\n");
    assert_eq!(err.path, "services.web.networks");
    assert!(
        err.message
            .contains("undefined network \"frontt\" (did you mean \"front\"?)"),
        "{err}"
    );
    let err = error("services:\n  web: {image: x, volumes: ['data:/data']}\n");
    assert!(err.message.contains("undefined volume \"data\""), "{err}");
    assert!(err.message.contains("./data"), "{err}");
}

#[test]
fn container_name_cannot_be_scaled() {
    let err = error("services:\n  web: {image: x, container_name: web, scale: 2}\n");
    assert_eq!(err.path, "services.web.container_name");
    assert!(err.message.contains("2 replicas"), "{err}");
    let err = error("services:\n  web: {image: x, container_name: web, deploy: {replicas: 3}}\n");
    assert!(err.message.contains("3 replicas"), "{err}");
    let err = error(
        "services:\n  a: {image: x, container_name: same}\n  b: {image: x, container_name: same}\n",
    );
    assert!(err.message.contains("both have container_name"), "{err}");
}

#[test]
fn two_spellings_of_a_setting_must_agree() {
    let err = error("services:\n  web: {image: x, scale: 2, deploy: {replicas: 3}}\n");
    assert!(err.message.contains("disagree"), "{err}");
    let err = error(
        "services:\n  web: {image: x, mem_limit: 1g, deploy: {resources: {limits: {memory: 2g}}}}\n",
    );
    assert_eq!(err.path, "services.web.mem_limit");
    check("services:\n  web: {image: x, mem_limit: 1g, deploy: {resources: {limits: {memory: 1024m}}}}\n", &[]).unwrap();
}

#[test]
fn networks_must_be_buildable_bridges() {
    let err = error("services: {}\nnetworks:\n  n: {driver: overlay}\n");
    assert_eq!(err.path, "networks.n.driver");
    let err = error("services: {}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.1.2.3/24}]}}\n");
    assert!(err.message.contains("host bits"), "{err}");
    let err = error(
        "services: {}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.1.2.0/24, gateway: 10.1.3.1}]}}\n",
    );
    assert!(err.message.contains("not in the subnet"), "{err}");
    let err = error(
        "services:\n  w: {image: x, networks: {n: {ipv4_address: 10.2.0.5}}}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.1.2.0/24}]}}\n",
    );
    assert!(err.message.contains("not in a subnet"), "{err}");
}

#[test]
fn service_names_follow_docker_rules() {
    let err = error("services:\n  'my web': {image: x}\n");
    assert!(err.message.contains("not a valid service name"), "{err}");
}
