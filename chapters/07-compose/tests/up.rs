//! `up` in the foreground: containers started in dependency order, their
//! output behind their names, health and completion awaited, exit codes,
//! restarts, Ctrl-C (once: in order; twice: at once), `down` after a
//! killed `up`. Each test ends with `down` and checks nothing is left.

mod support;

use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Session, Setup, serialize_races, settings};

/// A shell command for a long-running service that stops cleanly on
/// SIGTERM, saying so (a PID 1 without a handler would ignore SIGTERM).
fn service(name: &str) -> String {
    format!(
        "[\"sh\", \"-c\", \"trap 'echo {name} stops; exit 0' TERM; echo {name} runs; sleep 3600 & wait\"]"
    )
}

/// `down -v`, then the check that nothing of `ids` is left.
fn down_and_check(setup: &Setup, dir: &Path, ids: &[String], networks: &[&str]) {
    let networks: Vec<ch06_network::Network> = networks
        .iter()
        .filter_map(|n| setup.engine().network().networks().find(n).ok().flatten())
        .collect();
    let (output, code) = setup.output(dir, &["down", "-v"]);
    assert_eq!(code, 0, "{output}");
    setup.assert_nothing_left(ids, &networks);
}

#[test]
fn transcript_a_one_shot_service() {
    let setup = Setup::new();
    let dir = setup.project(
        "hello",
        "services:\n  hello:\n    image: busybox\n    command: echo hello from compose\n",
    );
    let mut t = Session::default();
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    t.command("ch07-compose up", &output);
    let ids = setup.container_ids();
    assert_eq!(ids.len(), 1);
    let (ps, code) = setup.output(&dir, &["ps", "-a"]);
    assert_eq!(code, 0, "{ps}");
    t.command("ch07-compose ps -a", &ps);
    let (down, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{down}");
    t.command("ch07-compose down", &down);
    setup.assert_nothing_left(&ids, &[]);
    let text = support::relayout_ps(&t.text);
    settings().bind(|| insta::assert_snapshot!("one_shot", text));
}

#[test]
fn transcript_a_dependency_that_never_becomes_healthy_fails_up() {
    let setup = Setup::new();
    let yaml = r#"name: health
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD-SHELL", "echo db is not ready yet; exit 1"]
      interval: 500ms
      retries: 3
  app:
    image: busybox
    command: echo app runs
    depends_on:
      db:
        condition: service_healthy
"#;
    let dir = setup.project("health", yaml);
    let started = Instant::now();
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 125, "{output}");
    assert!(
        output.ends_with(
            "ch07-compose: dependency failed to start: container health-db-1 is unhealthy\nits last healthcheck exited with 1:\ndb is not ready yet\n"
        ),
        "{output}"
    );
    assert!(!output.contains("app runs"), "app started: {output}");
    // Three checks, 500 ms apart, the first 500 ms after the start.
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let ids = setup.container_ids();
    let mut t = Session::default();
    t.command("ch07-compose up", &output);
    t.command("echo $?", "125\n");
    settings().bind(|| insta::assert_snapshot!("unhealthy", t.text));
    down_and_check(&setup, &dir, &ids, &["health_default"]);
}

#[test]
fn a_healthcheck_that_hangs_is_killed_at_its_timeout() {
    let setup = Setup::new();
    let yaml = r#"name: hang
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "sleep", "600"]
      interval: 200ms
      timeout: 300ms
      retries: 2
  app:
    image: busybox
    command: echo app runs
    depends_on:
      db:
        condition: service_healthy
"#;
    let dir = setup.project("hang", yaml);
    let started = Instant::now();
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 125, "{output}");
    assert!(
        output.ends_with(
            "container hang-db-1 is unhealthy\nits last healthcheck exited with -1:\nhealth check exceeded timeout (300ms)\n"
        ),
        "{output}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // The hung checks (their helpers, and the sleeps in the container)
    // are gone with everything else.
    let ids = setup.container_ids();
    down_and_check(&setup, &dir, &ids, &["hang_default"]);
}

#[test]
fn a_dependency_must_complete_successfully() {
    let setup = Setup::new();
    let yaml = r#"name: seed
services:
  migrate:
    image: busybox
    command: ["sh", "-c", "echo migrating; exit ${MIGRATE_EXIT:-0}"]
  app:
    image: busybox
    command: echo the app starts after the migration
    depends_on:
      migrate:
        condition: service_completed_successfully
"#;
    let dir = setup.project("seed", yaml);
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    let at = |needle: &str| {
        output
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}: {output}"))
    };
    assert!(at("seed-migrate-1 exited with code 0") < at("Container seed-app-1  Started"));
    assert!(
        output.contains("seed-app-1      | the app starts after the migration"),
        "{output}"
    );

    let mut up = setup.compose(&dir, &["up"]);
    up.env("MIGRATE_EXIT", "3");
    let outcome = skiff_testkit::transcript::run_combined(&mut up, None);
    assert_eq!(outcome.code, 125, "{}", outcome.output);
    assert!(
        outcome
            .output
            .ends_with("ch07-compose: service \"migrate\" didn't complete successfully: exit 3\n"),
        "{}",
        outcome.output
    );
    assert!(!outcome.output.contains("the app starts"));
    let ids = setup.container_ids();
    down_and_check(&setup, &dir, &ids, &["seed_default"]);
}

#[test]
fn transcript_abort_on_container_exit_and_exit_code_from() {
    let setup = Setup::new();
    let yaml = format!(
        r#"name: abort
services:
  server:
    image: busybox
    command: {}
  tests:
    image: busybox
    command: ["sh", "-c", "echo running the tests; exit 3"]
    depends_on: [server]
"#,
        service("server")
    );
    let dir = setup.project("abort", &yaml);
    let mut t = Session::default();
    for (args, expected) in [
        (&["up", "--abort-on-container-exit"][..], 3),
        (&["up", "--exit-code-from", "tests"][..], 3),
        (&["up", "--exit-code-from", "server"][..], 0),
    ] {
        let (output, code) = setup.output(&dir, args);
        assert_eq!(code, expected, "{args:?}: {output}");
        let at = |needle: &str| {
            output
                .find(needle)
                .unwrap_or_else(|| panic!("{needle}: {output}"))
        };
        assert!(at("abort-tests-1 exited with code 3") < at("Aborting on container exit..."));
        assert!(at("Aborting on container exit...") < at("abort-server-1  | server stops"));
        let shown = format!("ch07-compose {}", args.join(" "));
        t.command(&shown, &serialize_races(&output));
        t.command("echo $?", &format!("{expected}\n"));
    }
    settings().bind(|| insta::assert_snapshot!("abort", t.text));
    let ids = setup.container_ids();
    down_and_check(&setup, &dir, &ids, &["abort_default"]);
}

#[test]
fn transcript_restart_on_failure_with_back_off() {
    let setup = Setup::new();
    let yaml = r#"name: restarts
services:
  flaky:
    image: busybox
    command: ["sh", "-c", "echo attempt; exit 1"]
    restart: on-failure:2
"#;
    let dir = setup.project("restarts", yaml);
    let (output, code) = setup.output(&dir, &["up"]);
    // Two restarts, then it stays exited: `up` ends, as every container has.
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        output.matches("restarts-flaky-1  | attempt").count(),
        3,
        "{output}"
    );
    assert_eq!(
        output
            .matches("restarts-flaky-1 exited with code 1")
            .count(),
        3,
        "{output}"
    );
    let ids = setup.container_ids();
    assert_eq!(ids.len(), 1, "a restart reuses the container");
    let mut t = Session::default();
    t.command("ch07-compose up", &output);
    settings().bind(|| insta::assert_snapshot!("restarts", t.text));
    down_and_check(&setup, &dir, &ids, &["restarts_default"]);
}

#[test]
fn transcript_ctrl_c_stops_dependents_first() {
    let setup = Setup::new();
    let yaml = format!(
        r#"name: chain
services:
  a:
    image: busybox
    command: {}
  b:
    image: busybox
    command: {}
    depends_on: [a]
  c:
    image: busybox
    command: {}
    depends_on: [b]
"#,
        service("a"),
        service("b"),
        service("c")
    );
    let dir = setup.project("chain", &yaml);
    let mut up = setup.background(&dir, &["up"]);
    let before = up.wait_for("chain-c-1  | c runs", Duration::from_secs(30));
    let at = |text: &str, needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    // Started in dependency order...
    assert!(at(&before, "chain-a-1  Started") < at(&before, "chain-b-1  Started"));
    assert!(at(&before, "chain-b-1  Started") < at(&before, "chain-c-1  Started"));
    let ids = setup.container_ids();
    up.signal(Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(30)), 130);
    let output = up.output();
    // ...stopped in the reverse order, each once the one after it stopped.
    let after = &output[before.len()..];
    assert!(at(after, "chain-c-1  | c stops") < at(after, "Container chain-b-1  Stopping"));
    assert!(at(after, "chain-b-1  | b stops") < at(after, "Container chain-a-1  Stopping"));
    assert!(at(after, "Container chain-b-1  Stopped") < at(after, "chain-a-1  | a stops"));
    let mut t = Session::default();
    t.command(
        "ch07-compose up",
        &serialize_races(&format!("{before}^C\n{after}")),
    );
    t.command("echo $?", "130\n");
    settings().bind(|| insta::assert_snapshot!("ctrl_c", t.text));
    down_and_check(&setup, &dir, &ids, &["chain_default"]);
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let setup = Setup::new();
    // sleep as PID 1 has no handler: SIGTERM does nothing to it.
    let yaml = r#"name: stubborn
services:
  stubborn:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1m
"#;
    let dir = setup.project("stubborn", yaml);
    let mut up = setup.background(&dir, &["up"]);
    up.wait_for("stubborn-stubborn-1  Started", Duration::from_secs(30));
    let ids = setup.container_ids();
    up.signal(Signal::SIGINT);
    up.wait_for("stubborn-stubborn-1  Stopping", Duration::from_secs(10));
    let asked = Instant::now();
    up.signal(Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(20)), 130);
    assert!(asked.elapsed() < Duration::from_secs(20));
    let output = up.output();
    assert!(output.contains("Killing..."), "{output}");
    assert!(
        output.contains("stubborn-stubborn-1 exited with code 137"),
        "{output}"
    );
    down_and_check(&setup, &dir, &ids, &["stubborn_default"]);
}

#[test]
fn down_cleans_up_after_a_killed_up() {
    let setup = Setup::new();
    let yaml = format!(
        "name: orphaned\nservices:\n  server:\n    image: busybox\n    command: {}\n",
        service("server")
    );
    let dir = setup.project("orphaned", &yaml);
    let mut up = setup.background(&dir, &["up"]);
    up.wait_for("orphaned-server-1  | server runs", Duration::from_secs(30));
    let ids = setup.container_ids();
    // Killed: it cannot stop anything. The supervisors it started run on.
    up.signal(Signal::SIGKILL);
    up.wait(Duration::from_secs(5));
    let (ps, code) = setup.output(&dir, &["ps"]);
    assert_eq!(code, 0, "{ps}");
    assert!(ps.contains("orphaned-server-1"), "{ps}");
    let (down, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{down}");
    assert!(
        down.contains("Container orphaned-server-1  Stopped"),
        "{down}"
    );
    assert!(
        down.contains("Container orphaned-server-1  Removed"),
        "{down}"
    );
    down_and_check(&setup, &dir, &ids, &["orphaned_default"]);
}

#[test]
fn pull_fetches_the_images_of_the_services() {
    let setup = Setup::new();
    let image = format!("{}/test/busybox:v1", setup.registry().host());
    let yaml = format!(
        "name: pulled\nservices:\n  one:\n    image: {image}\n    command: echo pulled and run\n"
    );
    let dir = setup.project("pulled", &yaml);
    let (output, code) = setup.output(&dir, &["pull"]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(" one Pulled"), "{output}");
    let engine = setup.engine();
    let reference = ch05_images::reference::parse(&image).unwrap();
    assert!(engine.images().store().image(&reference).unwrap().is_some());
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("pulled-one-1  | pulled and run"),
        "{output}"
    );
    let ids = setup.container_ids();
    down_and_check(&setup, &dir, &ids, &["pulled_default"]);
}

#[test]
fn up_pulls_a_missing_image() {
    let setup = Setup::new();
    let image = setup.push_fresh("test/fresh");
    let yaml =
        format!("name: fetched\nservices:\n  one:\n    image: {image}\n    command: echo ok\n");
    let dir = setup.project("fetched", &yaml);
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(" one Pulling"), "{output}");
    assert!(output.contains("fetched-one-1  | ok"), "{output}");
    let ids = setup.container_ids();
    down_and_check(&setup, &dir, &ids, &["fetched_default"]);
}
