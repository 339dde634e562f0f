//! Loading from real files in a temporary directory.

use super::*;
use std::fs;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let dir = Dir(tempfile::Builder::new()
            .prefix("skiff-compose")
            .tempdir()
            .unwrap());
        for (name, text) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            working_dir: self.path().to_path_buf(),
            ..LoadOptions::default()
        }
    }
}

const WEB: &str = "services:\n  web:\n    image: busybox\n";

#[test]
fn the_default_file_is_found_here_or_above_with_its_override() {
    let dir = Dir::new(&[
        ("compose.yaml", WEB),
        (
            "compose.override.yaml",
            "services:\n  web:\n    user: nobody\n",
        ),
        ("sub/deeper/.keep", ""),
    ]);
    let mut options = dir.options();
    options.working_dir = dir.path().join("sub/deeper");
    let project = load(&options).unwrap();
    assert_eq!(
        project.config_files,
        [
            dir.path().join("compose.yaml"),
            dir.path().join("compose.override.yaml")
        ]
    );
    assert_eq!(project.working_dir, dir.path());
    assert_eq!(project.services["web"].user.as_deref(), Some("nobody"));
}

#[test]
fn the_preferred_name_wins_with_a_warning() {
    let dir = Dir::new(&[
        ("docker-compose.yml", "services: {old: {image: x}}\n"),
        ("compose.yaml", WEB),
    ]);
    let project = load(&dir.options()).unwrap();
    assert!(project.services.contains_key("web"));
    assert!(
        project.warnings[0]
            .message
            .contains("multiple config files"),
        "{:?}",
        project.warnings
    );
}

#[test]
fn no_file_is_a_clear_error() {
    let dir = Dir::new(&[]);
    let err = load(&dir.options()).unwrap_err();
    assert!(
        err.to_string().starts_with("no compose file found in"),
        "{err}"
    );
}

#[test]
fn several_files_merge_in_order() {
    let dir = Dir::new(&[
        (
            "base.yaml",
            "services:\n  web:\n    image: app:1\n    ports: ['8080:80']\n",
        ),
        (
            "prod.yaml",
            "services:\n  web:\n    image: app:2\n    ports: ['8443:443']\n",
        ),
    ]);
    let mut options = dir.options();
    options.files = vec!["base.yaml".into(), "prod.yaml".into()];
    let project = load(&options).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("app:2"));
    assert_eq!(web.ports.len(), 2);
}

#[test]
fn variables_come_from_the_shell_over_dot_env() {
    let dir = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: app:${TAG}\n    environment:\n      - MODE=${MODE:-dev}\n      - WHO=${WHO}\n",
        ),
        (".env", "TAG=1.0\nWHO=dotenv\n"),
    ]);
    let mut options = dir.options();
    options.environment.insert("WHO".into(), "shell".into());
    let project = load(&options).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("app:1.0"));
    assert_eq!(web.environment["MODE"].as_deref(), Some("dev"));
    assert_eq!(web.environment["WHO"].as_deref(), Some("shell"));
}

#[test]
fn env_files_replace_dot_env() {
    let dir = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: app:${TAG:-none}\n",
        ),
        (".env", "TAG=from-dotenv\n"),
        ("a.env", "TAG=a\n"),
        ("b.env", "TAG=b\n"),
    ]);
    let mut options = dir.options();
    options.env_files = vec!["a.env".into(), "b.env".into()];
    assert_eq!(
        load(&options).unwrap().services["web"].image.as_deref(),
        Some("app:b")
    );
    options.env_files = vec!["missing.env".into()];
    assert!(matches!(load(&options), Err(ComposeError::Read { .. })));
}

#[test]
fn unset_variables_warn_once_each() {
    let dir = Dir::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: app:$TAG\n    labels: [a=$TAG]\n",
    )]);
    let project = load(&dir.options()).unwrap();
    let warnings: Vec<String> = project.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["compose.yaml:3:12: the \"TAG\" variable is not set, defaulting to a blank string"]
    );
}

#[test]
fn the_project_name_by_precedence() {
    let dir = Dir::new(&[("My App/compose.yaml", "name: from-file\nservices: {}\n")]);
    let mut options = dir.options();
    options.working_dir = dir.path().join("My App");
    assert_eq!(load(&options).unwrap().name, "from-file");
    options
        .environment
        .insert("COMPOSE_PROJECT_NAME".into(), "from-env".into());
    assert_eq!(load(&options).unwrap().name, "from-env");
    options.project_name = Some("from-flag".into());
    assert_eq!(load(&options).unwrap().name, "from-flag");
    options.project_name = Some("Bad Name".into());
    let err = load(&options).unwrap_err().to_string();
    assert!(
        err.contains("invalid project name \"Bad Name\" (from -p)") && err.contains("\"badname\""),
        "{err}"
    );

    let dir = Dir::new(&[("My App/compose.yaml", "services: {}\n")]);
    let mut options = dir.options();
    options.working_dir = dir.path().join("My App");
    assert_eq!(
        load(&options).unwrap().name,
        "myapp",
        "the directory's name, normalised"
    );
}

#[test]
fn the_project_name_is_a_variable_and_can_use_variables() {
    let dir = Dir::new(&[(
        "compose.yaml",
        "name: ${APP:-shop}\nservices:\n  web: {image: x, labels: [p=$COMPOSE_PROJECT_NAME]}\n",
    )]);
    let project = load(&dir.options()).unwrap();
    assert_eq!(project.name, "shop");
    assert_eq!(project.services["web"].labels["p"], "shop");
}

#[test]
fn profiles_from_flags_or_the_environment() {
    let dir = Dir::new(&[(
        "compose.yaml",
        "services:\n  web: {image: x}\n  dbg: {image: y, profiles: [debug]}\n",
    )]);
    let mut options = dir.options();
    assert_eq!(load(&options).unwrap().services.len(), 1);
    options
        .environment
        .insert("COMPOSE_PROFILES".into(), "debug,other".into());
    assert_eq!(load(&options).unwrap().services.len(), 2);
    options.profiles = vec!["other".into()];
    assert_eq!(
        load(&options).unwrap().services.len(),
        1,
        "--profile replaces COMPOSE_PROFILES"
    );
}

#[test]
fn compose_file_variable_lists_the_files() {
    let dir = Dir::new(&[("a.yaml", WEB), ("b.yaml", "services: {web: {user: me}}\n")]);
    let mut options = dir.options();
    options
        .environment
        .insert("COMPOSE_FILE".into(), "a.yaml:b.yaml".into());
    assert_eq!(
        load(&options).unwrap().services["web"].user.as_deref(),
        Some("me")
    );
}

#[test]
fn version_is_obsolete_and_warned_about() {
    let dir = Dir::new(&[("compose.yaml", "version: '3.8'\nservices: {}\n")]);
    let project = load(&dir.options()).unwrap();
    assert!(
        project.warnings[0]
            .message
            .contains("`version` is obsolete")
    );
    assert_eq!(project.warnings[0].at.as_ref().map(|a| a.line), Some(1));
}

#[test]
fn a_file_that_is_not_a_mapping() {
    for text in ["", "- a\n- b\n"] {
        let dir = Dir::new(&[("compose.yaml", text)]);
        assert!(
            matches!(load(&dir.options()), Err(ComposeError::Invalid(_))),
            "{text:?}"
        );
    }
}

#[test]
fn env_file_of_a_service_is_folded_into_environment() {
    let dir = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: x\n    env_file: [web.env, {path: local.env, required: false}]\n    environment: {B: override}\n",
        ),
        ("web.env", "A=1\nB=2\n"),
    ]);
    let project = load(&dir.options()).unwrap();
    let web = &project.services["web"];
    assert!(web.env_file.is_empty());
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("override"));

    let dir = Dir::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: missing.env\n",
    )]);
    let err = load(&dir.options()).unwrap_err().to_string();
    assert!(
        err.starts_with("compose.yaml:4:5: services.web.env_file: cannot read the env file"),
        "{err}"
    );
}

#[test]
fn errors_name_the_file_they_are_in() {
    let dir = Dir::new(&[
        ("base.yaml", WEB),
        ("over.yaml", "services:\n  web:\n    portz: []\n"),
    ]);
    let mut options = dir.options();
    options.files = vec!["base.yaml".into(), "over.yaml".into()];
    let err = load(&options).unwrap_err().to_string();
    assert_eq!(
        err,
        "over.yaml:3:5: services.web.portz: unknown key `portz`: did you mean `ports`?"
    );
}
