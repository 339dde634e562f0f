//! Order, names, labels and hashes of a plan.

use super::*;
use crate::de::from_node;
use crate::load::Sources;
use crate::model::ComposeFile;
use crate::node::parse;
use crate::resolve::resolve;
use std::path::PathBuf;

fn project(text: &str) -> Project {
    let tree = parse(text, "compose.yaml").unwrap();
    let file: ComposeFile = from_node(&tree).unwrap();
    resolve(
        file,
        "shop".into(),
        PathBuf::from("/srv/shop"),
        vec![
            PathBuf::from("/srv/shop/compose.yaml"),
            PathBuf::from("/srv/shop/compose.prod.yaml"),
        ],
        BTreeMap::new(),
        vec![],
        &Sources { trees: vec![tree] },
    )
    .unwrap()
}

const APP: &str = "services:
  web: {image: web, depends_on: {api: {condition: service_healthy}}, scale: 2}
  api: {image: api, depends_on: [db, cache]}
  db: {image: db}
  cache: {image: cache, deploy: {replicas: 3}}
  admin: {build: ./admin, depends_on: [db], container_name: shop-admin}
volumes: {data: {}, old: {external: true}}
";

#[test]
fn dependencies_start_first_and_stop_last() {
    let p = project(APP);
    let order = start_order(&p);
    assert_eq!(order, ["cache", "db", "admin", "api", "web"]);
    let position = |n: &str| order.iter().position(|o| o == n).unwrap();
    for (name, service) in &p.services {
        for dependency in service.depends_on.keys() {
            assert!(
                position(dependency) < position(name),
                "{dependency} before {name}"
            );
        }
    }
    let plan = plan(&p, &BTreeMap::new()).unwrap();
    assert_eq!(plan.stop_order(), ["web", "api", "admin", "db", "cache"]);
}

#[test]
fn containers_are_numbered_per_replica() {
    let plan = plan(&project(APP), &BTreeMap::new()).unwrap();
    let names: Vec<&str> = plan.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "shop-cache-1",
            "shop-cache-2",
            "shop-cache-3",
            "shop-db-1",
            "shop-admin",
            "shop-api-1",
            "shop-web-1",
            "shop-web-2"
        ]
    );
    assert_eq!(
        plan.containers_of("web")
            .map(|c| c.number)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let admin = plan.containers_of("admin").next().unwrap();
    assert_eq!(
        admin.image, "shop-admin",
        "a built image is named PROJECT-SERVICE"
    );
}

#[test]
fn scale_overrides_the_file() {
    let scale = BTreeMap::from([("web".to_string(), 3), ("cache".to_string(), 0)]);
    let plan = plan(&project(APP), &scale).unwrap();
    assert_eq!(plan.containers_of("web").count(), 3);
    assert_eq!(plan.containers_of("cache").count(), 0);
    let err = super::plan(&project(APP), &BTreeMap::from([("admin".to_string(), 2)])).unwrap_err();
    assert!(err.message.contains("container_name"), "{err}");
    let err = super::plan(&project(APP), &BTreeMap::from([("nope".to_string(), 2)])).unwrap_err();
    assert!(err.message.contains("no such service"), "{err}");
    assert_eq!(parse_scale("web=3"), Ok(("web".to_string(), 3)));
    assert!(parse_scale("web").is_err() && parse_scale("web=x").is_err());
}

#[test]
fn resources_are_prefixed_and_labelled() {
    let plan = plan(&project(APP), &BTreeMap::new()).unwrap();
    let volumes: Vec<(&str, &str, bool)> = plan
        .volumes
        .iter()
        .map(|v| (v.key.as_str(), v.name.as_str(), v.external))
        .collect();
    assert_eq!(
        volumes,
        [("data", "shop_data", false), ("old", "old", true)]
    );
    assert_eq!(plan.networks[0].name, "shop_default");
    assert_eq!(plan.networks[0].labels[LABEL_NETWORK], "default");
    assert_eq!(plan.volumes[0].labels[LABEL_PROJECT], "shop");
}

#[test]
fn containers_carry_the_compose_labels() {
    let p = project(APP);
    let labels = labels(&p, "web", 2, false);
    assert_eq!(labels[LABEL_PROJECT], "shop");
    assert_eq!(labels[LABEL_SERVICE], "web");
    assert_eq!(labels[LABEL_CONTAINER_NUMBER], "2");
    assert_eq!(labels[LABEL_ONEOFF], "False");
    assert_eq!(labels[LABEL_WORKING_DIR], "/srv/shop");
    assert_eq!(
        labels[LABEL_CONFIG_FILES],
        "/srv/shop/compose.yaml,/srv/shop/compose.prod.yaml"
    );
    assert_eq!(labels[LABEL_DEPENDS_ON], "api:service_healthy:false");
    assert_eq!(labels[LABEL_CONFIG_HASH], config_hash(&p.services["web"]));
    assert_eq!(labels[LABEL_CONFIG_HASH].len(), 64);
    assert!(labels.contains_key(LABEL_VERSION));
    assert_eq!(super::labels(&p, "web", 1, true)[LABEL_ONEOFF], "True");
}

#[test]
fn the_hash_changes_with_the_config_but_not_with_the_count() {
    let base = project("services: {web: {image: web:1, scale: 1}}\n");
    let scaled = project("services: {web: {image: web:1, scale: 5, build: ./x}}\n");
    let replicas = project("services: {web: {image: web:1, deploy: {replicas: 4}}}\n");
    let changed = project("services: {web: {image: web:2}}\n");
    let env = project("services: {web: {image: web:1, environment: [A=1]}}\n");
    let hash = |p: &Project| config_hash(&p.services["web"]);
    assert_eq!(hash(&base), hash(&scaled));
    assert_eq!(
        hash(&base),
        hash(&project("services: {web: {image: web:1}}\n"))
    );
    assert_ne!(hash(&base), hash(&changed));
    assert_ne!(hash(&base), hash(&env));
    assert_ne!(hash(&replicas), hash(&changed));
}

#[test]
fn up_of_some_services_brings_their_dependencies() {
    let p = project(APP);
    assert_eq!(
        with_dependencies(&p, &["api".into()]).unwrap(),
        ["cache", "db", "api"]
    );
    assert_eq!(with_dependencies(&p, &["db".into()]).unwrap(), ["db"]);
    assert!(with_dependencies(&p, &["nope".into()]).is_err());
}
