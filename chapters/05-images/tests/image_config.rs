//! The image config keeps docker's fields, with docker's names, and
//! everything it does not know.

use ch05_images::image::{HealthConfig, History, ImageConfig};

/// A config as `docker inspect`/`docker save` show it (trimmed).
const DOCKER: &str = r#"{
  "architecture": "amd64",
  "author": "me",
  "config": {
    "Hostname": "",
    "User": "app",
    "ExposedPorts": {"80/tcp": {}},
    "Env": ["PATH=/usr/bin"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 30000000000, "Retries": 3},
    "ArgsEscaped": true,
    "Volumes": {"/data": {}},
    "WorkingDir": "/srv",
    "Entrypoint": ["/docker-entrypoint.sh"],
    "OnBuild": ["RUN make"],
    "Labels": {"maintainer": "NGINX Docker Maintainers"},
    "StopSignal": "SIGQUIT",
    "Shell": ["/bin/bash", "-c"]
  },
  "container_config": {"Cmd": ["/bin/sh"]},
  "created": "2026-10-01T08:00:00Z",
  "docker_version": "28.0.1",
  "history": [
    {"created": "2026-10-01T08:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created": "2026-10-01T08:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
  ],
  "os": "linux",
  "os.version": "",
  "variant": "v8",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}
}"#;

#[test]
fn docker_fields_are_read() {
    let config: ImageConfig = serde_json::from_str(DOCKER).unwrap();
    let run = &config.config;
    assert_eq!(run.user.as_deref(), Some("app"));
    assert_eq!(
        run.labels.as_ref().unwrap()["maintainer"],
        "NGINX Docker Maintainers"
    );
    assert!(run.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
    assert!(run.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(run.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(
        run.shell.as_deref(),
        Some(&["/bin/bash".to_string(), "-c".into()][..])
    );
    assert_eq!(run.on_build.as_deref(), Some(&["RUN make".to_string()][..]));
    assert_eq!(
        run.healthcheck,
        Some(HealthConfig {
            test: vec!["CMD-SHELL".into(), "curl -f http://localhost/".into()],
            interval: 30_000_000_000,
            retries: 3,
            ..HealthConfig::default()
        })
    );
    assert_eq!(config.author.as_deref(), Some("me"));
    assert_eq!(config.created.as_deref(), Some("2026-10-01T08:00:00Z"));
    assert_eq!(config.history.len(), 2);
    assert!(config.history[1].empty_layer);
}

#[test]
fn a_config_written_again_loses_nothing() {
    let config: ImageConfig = serde_json::from_str(DOCKER).unwrap();
    let again: serde_json::Value = serde_json::to_value(&config).unwrap();
    let original: serde_json::Value = serde_json::from_str(DOCKER).unwrap();
    assert_eq!(again, original);
}

#[test]
fn empty_fields_are_left_out() {
    let config = ImageConfig {
        history: vec![History {
            created_by: Some("x".into()),
            ..History::default()
        }],
        ..ImageConfig::default()
    };
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["config"], serde_json::json!({}));
    assert_eq!(json["history"], serde_json::json!([{"created_by": "x"}]));
    assert!(json.get("created").is_none() && json.get("author").is_none());
}
