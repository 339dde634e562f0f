//! The other verbs, and `up` run again: `build` tags a service's image,
//! `exec` runs a command in a service's container, a changed service is
//! recreated and an unchanged one kept, orphans are reported by `down`
//! and removed with `--remove-orphans`; keys no chapter implements are
//! refused before anything is made.

mod support;

use nix::sys::signal::Signal;
use std::time::Duration;
use support::Setup;

#[test]
fn build_tags_the_image_of_a_service() {
    let setup = Setup::new();
    let dir = setup.project(
        "built",
        "services:\n  app:\n    build: ./app\n    command: cat /greeting\n",
    );
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\nRUN echo built by compose > /greeting\n",
    )
    .unwrap();
    let (output, code) = setup.output(&dir, &["build"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Successfully tagged built-app:latest"),
        "{output}"
    );
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    assert!(!output.contains("Building"), "built again: {output}");
    assert!(
        output.contains("built-app-1  | built by compose"),
        "{output}"
    );
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
}

#[test]
fn exec_runs_in_the_container_of_a_service() {
    let setup = Setup::new();
    let dir = setup.project(
        "execd",
        "services:\n  box:\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n    hostname: the-box\n    environment:\n      GREETING: hello\n    stop_signal: SIGKILL\n",
    );
    let mut up = setup.background(&dir, &["up"]);
    up.wait_for("execd-box-1  Started", Duration::from_secs(30));
    let (output, code) = setup.output(
        &dir,
        &["exec", "box", "sh", "-c", "echo $GREETING from $(hostname)"],
    );
    assert_eq!((output.as_str(), code), ("hello from the-box\n", 0));
    let (output, code) = setup.output(&dir, &["exec", "box", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7, "{output}");
    let (output, code) = setup.output(&dir, &["exec", "--index", "2", "box", "true"]);
    assert_ne!(code, 0);
    assert!(output.contains("has no container number 2"), "{output}");
    up.signal(Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(30)), 130);
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
}

#[test]
fn a_changed_service_is_recreated_and_an_unchanged_one_kept() {
    let setup = Setup::new();
    let yaml = |word: &str| {
        format!(
            "name: again\nservices:\n  same:\n    image: busybox\n    command: echo same\n  changing:\n    image: busybox\n    command: echo {word}\n"
        )
    };
    let dir = setup.project("again", &yaml("first"));
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    let engine = setup.engine();
    let id = |name: &str| skiff_testkit::container_id(&setup.state(), name).unwrap();
    let (same, changing) = (id("again-same-1"), id("again-changing-1"));
    std::fs::write(dir.join("compose.yaml"), yaml("second")).unwrap();
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Container again-changing-1  Recreated"),
        "{output}"
    );
    assert!(output.contains("again-changing-1  | second"), "{output}");
    assert!(!output.contains("again-same-1  Recreate"), "{output}");
    assert_eq!(id("again-same-1"), same, "the unchanged container was kept");
    assert_ne!(id("again-changing-1"), changing);
    drop(engine);
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
}

#[test]
fn orphans_are_reported_and_removed_on_request() {
    let setup = Setup::new();
    let both = "name: orphans\nservices:\n  kept:\n    image: busybox\n    command: echo kept\n  dropped:\n    image: busybox\n    command: echo dropped\n";
    let dir = setup.project("orphans", both);
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    let ids = setup.container_ids();
    assert_eq!(ids.len(), 2, "{output}");
    let network = setup
        .engine()
        .network()
        .networks()
        .get("orphans_default")
        .unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        "name: orphans\nservices:\n  kept:\n    image: busybox\n    command: echo kept\n",
    )
    .unwrap();
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Found orphan containers ([orphans-dropped-1])"),
        "{output}"
    );
    // An exited container holds no address: the network goes, as
    // docker's does.
    assert!(
        output.contains("Network orphans_default  Removed"),
        "{output}"
    );
    assert_eq!(setup.container_ids().len(), 1);
    let (output, code) = setup.output(&dir, &["down", "--remove-orphans"]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Container orphans-dropped-1  Removed"),
        "{output}"
    );
    setup.assert_nothing_left(&ids, &[network]);
}

#[test]
fn what_no_chapter_implements_is_refused_before_anything_is_made() {
    let setup = Setup::new();
    let dir = setup.project(
        "refused-subpath",
        "services:\n  one:\n    image: busybox\n    command: \"true\"\n    volumes:\n      - {type: volume, source: data, target: /data, volume: {subpath: sub}}\nvolumes:\n  data: {}\n",
    );
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 125, "{output}");
    assert!(
        output.contains("service \"one\": volume.subpath on /data is not supported"),
        "{output}"
    );
    assert!(setup.container_ids().is_empty(), "a container was made");
}

#[test]
fn an_anonymous_volume_lives_as_long_as_its_container() {
    let setup = Setup::new();
    let dir = setup.project(
        "anonymous",
        "services:\n  one:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo kept > /data/f; grep -c ' /data ' /proc/mounts\"]\n    volumes: [/data]\n",
    );
    let (output, code) = setup.output(&dir, &["up"]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("one-1  | 1"), "a volume on /data: {output}");
    let volumes = || setup.engine().images().overlay().volumes().list().unwrap();
    assert_eq!(volumes().len(), 1, "the container keeps its volume");
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
    assert!(volumes().is_empty(), "it went with the container");
}
