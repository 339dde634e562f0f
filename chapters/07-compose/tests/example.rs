//! The chapter's example application (`examples/app`) end to end: built,
//! brought up, visited over HTTP on its published port, stopped with
//! Ctrl-C, brought up again with its count kept in the named volume,
//! taken down from another terminal, and gone with `down -v`. The
//! transcripts are the book's "try it".

mod support;

use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{Session, Setup, free_port, http_get, relayout_ps, serialize_races, settings};

/// The example copied into the test's directory.
fn example(setup: &Setup) -> PathBuf {
    let dir = setup.projects().join("app");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/app");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(source)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// GET `path`, retried while the web server comes up.
fn visit(port: u16, path: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match http_get(port, path) {
            Ok((200, body)) => return body,
            other => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "GET {path}: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn the_example_counts_visits_across_down_and_up() {
    let setup = Setup::new();
    let dir = example(&setup);
    let port: u16 = free_port();
    let shown_port = |text: &str| text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:8080");
    // The worker counts a tick at once, then every hour: its one line
    // per `up` says how many `up`s the volume has seen.
    let env = [("WEB_PORT", port.to_string()), ("TICK", "3600".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let compose = |args: &[&str]| {
        let mut command = setup.compose(&dir, args);
        command.envs(env.iter().copied());
        let outcome = skiff_testkit::transcript::run_combined(&mut command, None);
        (outcome.output, outcome.code)
    };
    let mut first = Session::default();
    let mut second = Session::default();

    // 1. Built and brought up; visited; listed; Ctrl-C.
    let mut up = setup.background_env(&dir, &["up", "--build"], &env);
    up.wait_for("counter-worker-1  | 1", Duration::from_secs(90));
    let body = visit(port, "/cgi-bin/visit");
    assert_eq!(body, "visits: 1\nticks 1\nvisits 1\n");
    // web's first healthcheck comes 5 s after its start.
    up.wait_for("counter-web-1  Healthy", Duration::from_secs(30));
    let (ps, code) = compose(&["ps"]);
    assert_eq!(code, 0, "{ps}");
    for name in ["counter-store-1", "counter-web-1", "counter-worker-1"] {
        assert!(ps.contains(name), "{ps}");
    }
    assert!(ps.contains("(healthy)"), "{ps}");
    assert!(ps.contains(&format!("127.0.0.1:{port}->8080/tcp")), "{ps}");
    second.comment("in a second terminal, while up runs");
    second.command("ch07-compose ps", &shown_port(&ps));
    second.comment("GET http://127.0.0.1:8080/cgi-bin/visit (a small HTTP client of the test)");
    second.lines(&body);
    let before_interrupt = up.output();
    up.signal(Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(60)), 130);
    let output = up.output();
    check_stop_order(&output);
    first.command(
        "ch07-compose up --build",
        &serialize_races(&format!(
            "{before_interrupt}^C\n{}",
            &output[before_interrupt.len()..]
        )),
    );
    first.command("echo $?", "130\n");

    // 2. Up again: the count goes on (the volume stayed); `down` from the
    // second terminal stops it.
    let mut up = setup.background_env(&dir, &["up"], &env);
    up.wait_for("counter-worker-1  | 2", Duration::from_secs(60));
    let body = visit(port, "/cgi-bin/visit");
    assert_eq!(body, "visits: 2\nticks 2\nvisits 2\n");
    up.wait_for("counter-web-1  Healthy", Duration::from_secs(30));
    let (down, code) = compose(&["down"]);
    assert_eq!(code, 0, "{down}");
    assert_eq!(up.wait(Duration::from_secs(10)), 143, "{}", up.output());
    let output = up.output();
    check_stop_order(&output);
    first.comment("the same terminal: up again");
    first.command("ch07-compose up", &serialize_races(&output));
    first.command("echo $?", "143\n");
    second.comment("GET http://127.0.0.1:8080/cgi-bin/visit");
    second.lines(&body);
    second.command("ch07-compose down", &down);
    assert!(setup.container_ids().is_empty(), "down left containers");
    let volume = setup.state().join("volumes/counter_counts/_data");
    assert!(
        volume.join("visits").exists(),
        "down without -v keeps the volume"
    );

    // 3. `down -v`: the count starts over.
    let (output, code) = compose(&["down", "-v"]);
    assert_eq!(code, 0, "{output}");
    second.command("ch07-compose down -v", &output);
    assert!(!volume.exists(), "down -v removes the volume");
    let mut up = setup.background_env(&dir, &["up"], &env);
    up.wait_for("counter-worker-1  | 1", Duration::from_secs(60));
    assert_eq!(
        visit(port, "/cgi-bin/visit"),
        "visits: 1\nticks 1\nvisits 1\n"
    );
    let ids = setup.container_ids();
    let network = setup
        .engine()
        .network()
        .networks()
        .get("counter_appnet")
        .unwrap();
    up.signal(Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(60)), 130);
    let (output, code) = compose(&["down", "-v"]);
    assert_eq!(code, 0, "{output}");
    setup.assert_nothing_left(&ids, &[network]);

    let first = first.text;
    let second = relayout_ps(&second.text);
    settings().bind(|| {
        insta::assert_snapshot!("example_up", first);
        insta::assert_snapshot!("example_second_terminal", second);
    });
}

/// Dependents stop before what they depend on: web and worker before
/// store.
fn check_stop_order(output: &str) {
    let at = |needle: &str| {
        output
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{output}"))
    };
    let store = at("Container counter-store-1  Stopping");
    for dependent in ["counter-web-1", "counter-worker-1"] {
        assert!(
            at(&format!("Container {dependent}  Stopped")) < store,
            "{output}"
        );
    }
}
