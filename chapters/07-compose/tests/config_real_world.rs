//! Compose files in the styles found in the wild, resolved as `config`
//! resolves them: anchors and merge keys, substitution with defaults and a
//! `.env`, profiles, short and long syntax mixed, an automatic override
//! file, and the classic `version: "3.9"` file of docker's documentation.
//! Each fixture is copied into a fresh directory (named like the fixture,
//! so the project is named after it) and its `config` output snapshotted.

use ch07_compose::{LoadOptions, load, plan, to_yaml};
use skiff_testkit::snapshot_settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fixture copied into `/tmp/skiff-*/NAME`, removed on drop.
struct Fixture {
    _root: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let root = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
        let dir = root.path().join(name);
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
            &dir,
        );
        Fixture { _root: root, dir }
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            working_dir: self.dir.clone(),
            ..LoadOptions::default()
        }
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What `config` shows: the warnings, then the YAML.
fn config(options: &LoadOptions, command: &str) -> String {
    let project = load(options).unwrap_or_else(|e| panic!("{command}: {e}"));
    let mut out = format!("$ {command}\n");
    for warning in &project.warnings {
        out += &format!("warning: {warning}\n");
    }
    out + &to_yaml(&project)
}

#[test]
fn anchors_and_merge_keys() {
    let fixture = Fixture::new("anchors");
    let out = config(&fixture.options(), "ch07-compose config");
    snapshot_settings().bind(|| insta::assert_snapshot!("config_anchors", out));
}

#[test]
fn interpolation_with_defaults_and_dot_env() {
    let fixture = Fixture::new("interpolation");
    let mut options = fixture.options();
    options.environment = BTreeMap::from([
        ("PORT".into(), "9090".into()),
        ("FROM_SHELL".into(), "yes".into()),
    ]);
    let out = config(&options, "PORT=9090 FROM_SHELL=yes ch07-compose config");
    snapshot_settings().bind(|| insta::assert_snapshot!("config_interpolation", out));
}

#[test]
fn a_required_variable_missing_stops_everything() {
    let fixture = Fixture::new("interpolation");
    std::fs::remove_file(fixture.dir.join(".env")).unwrap();
    let err = load(&fixture.options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "compose.yaml:4:12: services.api.image: required variable API_TAG is missing a value: set API_TAG in .env"
    );
}

#[test]
fn profiles_enable_services() {
    let fixture = Fixture::new("profiles");
    let mut out = config(&fixture.options(), "ch07-compose config");
    let mut options = fixture.options();
    options.profiles = vec!["debug".into()];
    out += &config(&options, "ch07-compose --profile debug config");
    snapshot_settings().bind(|| insta::assert_snapshot!("config_profiles", out));

    options.profiles = vec!["tools".into()];
    let project = load(&options).unwrap();
    assert_eq!(
        project.services.keys().collect::<Vec<_>>(),
        ["app", "db", "migrate"]
    );
}

#[test]
fn short_and_long_syntax_mixed() {
    let fixture = Fixture::new("mixed-syntax");
    let out = config(&fixture.options(), "ch07-compose config");
    snapshot_settings().bind(|| insta::assert_snapshot!("config_mixed_syntax", out));
}

#[test]
fn the_override_file_and_a_production_file() {
    let fixture = Fixture::new("override");
    let mut out = config(&fixture.options(), "ch07-compose config");
    let mut options = fixture.options();
    options.files = vec!["compose.yaml".into(), "compose.prod.yaml".into()];
    options.environment.insert("TAG".into(), "2.0".into());
    out += &config(
        &options,
        "TAG=2.0 ch07-compose -f compose.yaml -f compose.prod.yaml config",
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("config_override", out));
}

#[test]
fn the_classic_documentation_example() {
    let fixture = Fixture::new("classic");
    let out = config(&fixture.options(), "ch07-compose config");
    snapshot_settings().bind(|| insta::assert_snapshot!("config_classic", out));
}

#[test]
fn the_plan_of_a_real_project() {
    let fixture = Fixture::new("anchors");
    let project = load(&fixture.options()).unwrap();
    let scale = BTreeMap::from([("worker".to_string(), 2)]);
    let plan = plan(&project, &scale).unwrap();
    let mut out = String::from("$ ch07-compose up --scale worker=2   (the plan)\n");
    out += &format!(
        "start order: {}\nstop order:  {}\n",
        plan.start_order.join(", "),
        plan.stop_order().join(", ")
    );
    for network in &plan.networks {
        out += &format!("network {} -> {}\n", network.key, network.name);
    }
    for volume in &plan.volumes {
        out += &format!("volume  {} -> {}\n", volume.key, volume.name);
    }
    for container in &plan.containers {
        out += &format!("container {} (image {})\n", container.name, container.image);
    }
    out += "labels of anchors-worker-2:\n";
    let worker = plan
        .containers
        .iter()
        .find(|c| c.name == "anchors-worker-2")
        .unwrap();
    for (key, value) in &worker.labels {
        out += &format!("  {key}={value}\n");
    }
    snapshot_settings().bind(|| insta::assert_snapshot!("plan_anchors", out));
}
