//! docker-compose 1.29 (Debian's, a Python client of the Engine API)
//! drives the skiff daemon through chapter 7's example application: a
//! store with a healthcheck that the web and worker services wait for
//! (`depends_on: condition: service_healthy`), a user network with an
//! alias, a port published on 127.0.0.1, a named volume, a service built
//! from a Dockerfile. `up -d`, `ps`, `logs`, `--scale`, `exec` and `down`,
//! as a user types them; then nothing of the project is left: no
//! container, network, volume, veth, bridge or nftables rule.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings};
use skiff_testkit::Transcript;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Debian's docker-compose (1.29.2).
const COMPOSE: &str = "/usr/bin/docker-compose";
/// The project's name: the prefix of every container, network and volume.
const PROJECT: &str = "counter";

/// Chapter 7's example application, copied into the daemon's work
/// directory. docker-compose 1.x does not know the top-level `name:` of
/// the Compose Specification (it takes the project's name from `-p`), so
/// the copy's compose file is the chapter's without that line.
fn example_app(daemon: &TestDaemon) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chapters/07-compose/examples/app");
    let dir = daemon.work().join("app");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&example)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "copy {}", example.display());
    let original = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let name_line = format!("name: {PROJECT}\n");
    assert!(
        original.contains(&name_line),
        "the example names its project"
    );
    std::fs::remove_file(dir.join("compose.yaml")).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        original.replace(&name_line, ""),
    )
    .unwrap();
    dir
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `docker-compose -p counter ARGS` against the daemon, in the app's directory.
fn compose(daemon: &TestDaemon, app: &Path, port: u16, args: &[&str]) -> Command {
    assert!(
        Path::new(COMPOSE).exists(),
        "{COMPOSE} is missing: install Debian's docker-compose (apt-get install docker-compose)"
    );
    let mut command = Command::new(COMPOSE);
    command
        .args(["-p", PROJECT])
        .args(args)
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", daemon.dir.path().join("docker-config"))
        .env("WEB_PORT", port.to_string())
        .env("TICK", "1")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .current_dir(app);
    command
}

/// Records `command` in the transcript; its outcome.
fn record(t: &mut Transcript, mut command: Command) -> skiff_testkit::transcript::Outcome {
    let line = skiff_testkit::transcript::command_line(&command);
    t.run_shown(&line, &mut command, None)
}

/// Records `command | sort`: for lists whose order is the order in which
/// containers that compose creates in parallel happened to be made.
fn record_sorted(t: &mut Transcript, command: Command) -> skiff_testkit::transcript::Outcome {
    let line = format!(
        "{} | sort",
        skiff_testkit::transcript::command_line(&command)
    );
    let mut piped = Command::new("sh");
    piped
        .args(["-c", "\"$@\" | sort", "sh"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => piped.env(key, value),
            None => piped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        piped.current_dir(dir);
    }
    t.run_shown(&line, &mut piped, None)
}

/// docker-compose works on the services in parallel: the lines saying a
/// container was created, started, stopped or removed come in the order
/// the work ended. Each run of them is put in the order of the steps
/// (every `Stopping` before every `Removing`, as compose waits for one
/// step to end before the next), then of the names, so the transcript is
/// the same from run to run. The line that announces a step (`Creating x
/// ...` before its `done`) is left out, as a terminal overwrites it.
fn settle_progress(text: &str) -> String {
    const STEPS: [&str; 6] = [
        "is up-to-date",
        "Recreating",
        "Creating",
        "Starting",
        "Stopping",
        "Removing",
    ];
    let progress = regex::Regex::new(
        r"^(Creating|Starting|Stopping|Removing|Recreating) \S+ +\.\.\. (done|error)$|^\S+ is up-to-date$",
    )
    .unwrap();
    let announce =
        regex::Regex::new(r"^(Creating|Starting|Stopping|Removing|Recreating) \S+ +\.\.\. ?$")
            .unwrap();
    let step = |line: &str| {
        STEPS
            .iter()
            .position(|s| line.starts_with(s) || line.ends_with(s))
    };
    let mut out = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut Vec<String>| {
        run.sort_by_key(|line| (step(line), line.clone()));
        out.append(run);
    };
    for line in text.lines() {
        if announce.is_match(line) {
            continue;
        }
        if progress.is_match(line) {
            run.push(line.to_string());
            continue;
        }
        flush(&mut run, &mut out);
        out.push(line.to_string());
    }
    flush(&mut run, &mut out);
    out.join("\n") + "\n"
}

/// Waits until `check` says yes, or fails with `what`.
fn wait_until(daemon: &TestDaemon, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} after 60s\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `nft list table inet skiff` ("" when there is none).
fn nft_table() -> String {
    let out = Command::new("nft")
        .args(["list", "table", "inet", "skiff"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn docker_compose_runs_the_example_app() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    // The example's services use `busybox:latest`: the test's busybox,
    // tagged so (nothing is pulled from the internet).
    daemon.ok(daemon.docker(&["pull", &image.name]));
    daemon.ok(daemon.docker(&["tag", &image.name, "busybox:latest"]));
    let app = example_app(&daemon);
    let port = free_port();
    let run = |args: &[&str]| compose(&daemon, &app, port, args);
    let mut t = Transcript::new();

    t.comment("builds web, creates the network and the volume, starts store, waits for its healthcheck, then starts web and worker");
    let up = record(&mut t, run(&["up", "-d"]));
    assert_eq!(up.code, 0, "{}\n{}", up.output, daemon.log());
    wait_until(&daemon, "web is not healthy", || {
        daemon
            .ok(daemon.docker(&["inspect", "-f", "{{.State.Health.Status}}", "counter_web_1"]))
            .trim()
            == "healthy"
    });
    let ps = record(&mut t, run(&["ps"]));
    assert_eq!(ps.code, 0, "{}", ps.output);
    assert!(ps.output.contains("Up (healthy)"), "{}", ps.output);

    t.comment("the published port, from the host; web reaches the store by its alias kv");
    let mut visit = Command::new(skiff_testkit::rootfs::BUSYBOX);
    visit.args([
        "wget",
        "-q",
        "-O-",
        &format!("http://127.0.0.1:{port}/cgi-bin/visit"),
    ]);
    let visited = t.run_shown(
        "wget -q -O- http://127.0.0.1:WEB_PORT/cgi-bin/visit",
        &mut visit,
        None,
    );
    assert!(
        visited.output.starts_with("visits: 1\n"),
        "{}",
        visited.output
    );

    wait_until(&daemon, "the worker printed nothing", || {
        let out = daemon.ok(daemon.docker(&["logs", "counter_worker_1"]));
        !out.trim().is_empty()
    });
    let logs = record(&mut t, run(&["logs", "--no-color", "--tail=1", "worker"]));
    assert!(logs.output.contains("worker_1  | "), "{}", logs.output);

    t.comment("two more workers; store and web are left as they are");
    let scaled = record(&mut t, run(&["up", "-d", "--scale", "worker=3"]));
    assert_eq!(scaled.code, 0, "{}\n{}", scaled.output, daemon.log());
    wait_until(&daemon, "web is not healthy again", || {
        daemon
            .ok(daemon.docker(&["inspect", "-f", "{{.State.Health.Status}}", "counter_web_1"]))
            .trim()
            == "healthy"
    });
    let ps = record(&mut t, run(&["ps"]));
    assert_eq!(
        ps.output.matches("counter_worker_").count(),
        3,
        "{}",
        ps.output
    );

    t.comment("a command in a running service's container; the counters are in the volume");
    let exec = record(&mut t, run(&["exec", "-T", "store", "cat", "/data/visits"]));
    assert_eq!(exec.output, "1\n");
    let exec = record(
        &mut t,
        run(&[
            "exec",
            "-T",
            "worker",
            "sh",
            "-c",
            "wget -q -O- http://kv:6379/cgi-bin/get | grep visits",
        ]),
    );
    assert_eq!(exec.output, "visits 1\n");

    t.comment("the docker CLI sees compose's labels");
    record_sorted(
        &mut t,
        daemon.docker(&[
            "ps",
            "--filter",
            "label=com.docker.compose.project=counter",
            "--format",
            "{{.Names}} {{.Label \"com.docker.compose.service\"}} {{.Label \"com.docker.compose.container-number\"}}",
        ]),
    );

    // What `down` must take away: the containers' veth pairs, the
    // network's bridge and its rules, the published port's rules.
    let ids = daemon.ok(daemon.docker(&["ps", "-q", "--no-trunc"]));
    let veths: Vec<String> = ids.lines().map(ch06_network::endpoint::veth_name).collect();
    assert_eq!(veths.len(), 5, "{ids}");
    assert!(veths.iter().all(|v| link_exists(v)), "{veths:?}");
    let network_id =
        daemon.ok(daemon.docker(&["network", "inspect", "-f", "{{.Id}}", "counter_appnet"]));
    let network_id = network_id.trim().to_string();
    // Chapter 6 names a network's bridge after its id.
    let bridge = format!("skiff-{}", &network_id[..9]);
    assert!(link_exists(&bridge), "bridge {bridge}");
    let rules = nft_table();
    assert!(rules.contains(&network_id), "{rules}");
    assert!(rules.contains(&format!("dport {port}")), "{rules}");

    t.comment("down stops and removes the containers, the network and (-v) the volume");
    let down = record(&mut t, run(&["down", "-v"]));
    assert_eq!(down.code, 0, "{}\n{}", down.output, daemon.log());
    record(
        &mut t,
        daemon.docker(&["ps", "-a", "--format", "{{.Names}}"]),
    );
    record(
        &mut t,
        daemon.docker(&["network", "ls", "--format", "{{.Name}}"]),
    );
    record(
        &mut t,
        daemon.docker(&["volume", "ls", "--format", "{{.Name}}"]),
    );
    for veth in &veths {
        assert!(!link_exists(veth), "{veth} left behind");
    }
    assert!(!link_exists(&bridge), "{bridge} left behind");
    let rules = nft_table();
    assert!(!rules.contains(&network_id), "rules left behind:\n{rules}");
    assert!(
        !rules.contains(&format!("dport {port}")),
        "port rules left behind:\n{rules}"
    );

    let mut s = settings();
    s.add_filter(&format!(r"\b{port}\b"), "WEB_PORT");
    s.add_filter(r"(ticks|visits|worker_\d  \|) \d+", "$1 [N]");
    // Compose's tables are as wide as their longest cell.
    s.add_filter(r"-{20,}", "[RULE]");
    // Its progress lines are padded to the longest name it had printed
    // when each one was written: parallel creations race for the width.
    s.add_filter(
        r"(?m)^(Creating|Starting|Stopping|Removing) (\S+) +\.\.\. ",
        "$1 $2 ... ",
    );
    let text = settle_progress(t.text());
    s.bind(|| insta::assert_snapshot!("docker_compose", text));
}
