//! A bare name in a request's `Env` (`KEY` without `=`) never reads the
//! daemon's own environment: the docker CLI resolves `-e KEY` on the
//! client's side, so a bare name that reaches the API would otherwise give
//! any client the daemon's variables.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The daemon inherits this test's environment, where cargo sets it.
const DAEMONS_OWN: &str = "CARGO_MANIFEST_DIR";

/// Sends `body` to `path` with POST and returns the answer's body (for an
/// exec's start, what the upgraded connection carried until it closed).
fn post(daemon: &TestDaemon, path: &str, body: &str) -> String {
    let connection = if path.ends_with("/start") {
        "Connection: Upgrade\r\nUpgrade: tcp"
    } else {
        "Connection: close"
    };
    let mut stream = UnixStream::connect(daemon.dir.path().join("skiff.sock")).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: skiff\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{connection}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or(answer)
}

#[test]
fn a_bare_name_in_env_gets_nothing_of_the_daemons_environment() {
    let value = std::env::var(DAEMONS_OWN)
        .unwrap_or_else(|_| panic!("{DAEMONS_OWN} is not set: run this test with cargo test"));
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["pull", &image.name]));
    let body = format!(
        r#"{{"Image":"{}","Cmd":["sleep","60"],"Env":["{DAEMONS_OWN}","SET=yes"],"HostConfig":{{"NetworkMode":"none"}}}}"#,
        image.name
    );
    let created: serde_json::Value =
        serde_json::from_str(&post(&daemon, "/v1.41/containers/create", &body)).unwrap();
    let id = created["Id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {created}"))
        .to_string();
    // Inspect shows the name as sent, as dockerd does ("unset").
    let configured = daemon.ok(daemon.docker(&["inspect", "-f", "{{json .Config.Env}}", &id]));
    let configured: Vec<String> = serde_json::from_str(&configured).unwrap();
    assert!(
        configured.iter().any(|e| e == DAEMONS_OWN),
        "{configured:?}"
    );
    assert!(configured.iter().any(|e| e == "SET=yes"), "{configured:?}");
    daemon.ok(daemon.docker(&["start", &id]));
    let env = daemon.ok(daemon.docker(&["exec", &id, "env"]));
    assert!(env.contains("SET=yes"), "{env}");
    assert!(
        !env.contains(&value),
        "the daemon's {DAEMONS_OWN} leaked: {env}"
    );

    // The same through an exec's own Env.
    let exec: serde_json::Value = serde_json::from_str(&post(
        &daemon,
        &format!("/v1.41/containers/{id}/exec"),
        &format!(r#"{{"Cmd":["env"],"Env":["{DAEMONS_OWN}"],"AttachStdout":true}}"#),
    ))
    .unwrap();
    let exec_id = exec["Id"].as_str().expect("an exec id");
    let output = post(
        &daemon,
        &format!("/v1.41/exec/{exec_id}/start"),
        r#"{"Detach":false,"Tty":true}"#,
    );
    assert!(output.contains("SET=yes"), "{output}");
    assert!(
        !output.contains(&value),
        "the daemon's {DAEMONS_OWN} leaked into the exec: {output}"
    );
    daemon.ok(daemon.docker(&["rm", "-f", &id]));
}
