//! `skiff compose` through the daemon: `up -d` (dependencies waited for by
//! their healthchecks), `ps`, `logs`, `--scale`, the containers seen by
//! the docker CLI through compose's labels, and `down -v` leaving nothing.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::process::Command;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

/// A store that serves a counter file once it has written it (its
/// healthcheck says when), and a web service that reads it by the store's
/// name, published on a port of 127.0.0.1.
fn compose_file(image: &str) -> String {
    format!(
        r#"services:
  store:
    image: {image}
    command: ["sh", "-c", "sleep 0.3; echo 41 > /data/count; echo store ready; exec httpd -f -p 80 -h /data"]
    volumes:
      - data:/data
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/data/count"]
      interval: 200ms
      retries: 3
  web:
    image: {image}
    depends_on:
      store:
        condition: service_healthy
    command: ["sh", "-c", "wget -q -O - http://store/count; mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www"]
    ports:
      - "127.0.0.1::80"
    stop_grace_period: 1s
volumes:
  data:
"#
    )
}

#[test]
fn transcript_compose() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    std::fs::write(
        daemon.work().join("compose.yaml"),
        compose_file(&image.name),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut all = vec!["compose", "-p", "shop"];
        all.extend_from_slice(args);
        daemon.skiff(&all)
    };

    let mut t = Transcript::new();
    t.comment("up -d: the store first; web once the store's healthcheck passes");
    assert_eq!(record(&mut t, &image, compose(&["up", "-d"])), 0);
    record(&mut t, &image, compose(&["ps"]));
    // The web container prints what it read from the store before it
    // serves: wait for that line (up -d returns once it started).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon.ok(compose(&["logs", "web"])).contains("41") {
        assert!(std::time::Instant::now() < deadline, "web printed nothing");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.comment("web found the store by its service name");
    record(&mut t, &image, compose(&["logs", "web"]));

    t.comment("three replicas of web; the store is kept as it is");
    assert_eq!(
        record(&mut t, &image, compose(&["up", "-d", "--scale", "web=3"])),
        0
    );
    t.comment("the docker CLI sees them by compose's labels");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "ps",
            "--filter",
            "label=com.docker.compose.project=shop",
            "--format",
            "{{.Names}} {{.Label \"com.docker.compose.service\"}} {{.Label \"com.docker.compose.container-number\"}}",
        ]),
    );
    t.comment("docker-compose 1.29 (a client of the API) sees the same project by its labels");
    let mut theirs = Command::new("/usr/bin/docker-compose");
    theirs
        .args(["-p", "shop", "-f", "compose.yaml", "ps"])
        .env("DOCKER_HOST", daemon.host())
        .current_dir(daemon.work());
    record(&mut t, &image, theirs);

    t.comment("back to one");
    assert_eq!(
        record(&mut t, &image, compose(&["up", "-d", "--scale", "web=1"])),
        0
    );

    t.comment("down -v: containers, the network and the volume go");
    assert_eq!(record(&mut t, &image, compose(&["down", "-v"])), 0);
    record(&mut t, &image, daemon.docker(&["ps", "-aq"]));
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "network",
            "ls",
            "--filter",
            "label=com.docker.compose.project=shop",
            "-q",
        ]),
    );
    record(&mut t, &image, daemon.docker(&["volume", "ls", "-q"]));

    t.comment("a dependency that never becomes healthy stops up, with its reason");
    std::fs::write(
        daemon.work().join("compose.yaml"),
        compose_file(&image.name).replace(
            r#"["CMD", "test", "-f", "/data/count"]"#,
            r#"["CMD-SHELL", "echo no count yet; exit 1"]"#,
        ),
    )
    .unwrap();
    assert_ne!(record(&mut t, &image, compose(&["up", "-d"])), 0);
    assert_eq!(record(&mut t, &image, compose(&["down", "-v"])), 0);

    // The ps table's columns are laid out again once its times and ports
    // are replaced (they are as wide as this run's were).
    let text = skiff_testkit::transcript::scrub(
        t.text(),
        &[
            (
                r"(Less than a second|About a minute|\d+ (second|minute)s?) ago",
                "[TIME] ago",
            ),
            (
                r"Up (Less than a second|About a minute|\d+ (second|minute)s?)",
                "Up [TIME]",
            ),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        ],
    );
    settings().bind(|| insta::assert_snapshot!("compose", text));
}

/// `up` without `-d`: the containers' output behind their names, until
/// Ctrl-C, which stops them (the daemon keeps the stopped containers).
#[test]
fn up_in_the_foreground_follows_the_output_until_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    std::fs::write(
        daemon.work().join("compose.yaml"),
        format!(
            "services:\n  ticker:\n    image: {}\n    command: [\"sh\", \"-c\", \"echo first; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done\"]\n",
            image.name
        ),
    )
    .unwrap();
    let mut up = daemon.skiff(&["compose", "-p", "fg", "up"]);
    let mut child = up
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push(line.clone());
        if line.contains("first") {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l == "Attaching to fg-ticker-1")
            && seen.iter().any(|l| l.starts_with("fg-ticker-1  | first")),
        "{seen:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(rest.iter().any(|l| l.ends_with("| bye")), "{rest:?}");
    let state = daemon.ok(daemon.docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]));
    assert_eq!(state.trim(), "fg-ticker-1 exited");
    daemon.ok(daemon.skiff(&["compose", "-p", "fg", "down"]));
}
