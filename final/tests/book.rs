//! The engine chapter's transcripts: Docker's API spoken by hand with curl,
//! and a container that outlives its daemon. Each command is shown as a
//! learner types it against `skiff daemon` started with its defaults
//! (`/var/lib/skiff`, `/run/skiff.sock`); the test runs it against a daemon
//! of its own, and the filters put the defaults back into what is shown.

mod harness;

use harness::{Daemon, SKIFF, regex_escape, settings};
use skiff_testkit::Transcript;
use skiff_testkit::transcript::Outcome;
use std::process::Command;

const SHOWN_SOCKET: &str = "/run/skiff.sock";
const SHOWN_ROOT: &str = "/var/lib/skiff";

/// What the learner's shell would show instead of the test's own paths.
fn shown(daemon: &Daemon, line: &str) -> String {
    line.replace(&daemon.socket().display().to_string(), SHOWN_SOCKET)
        .replace(&daemon.root().display().to_string(), SHOWN_ROOT)
        .replace(&daemon.registry.host(), "127.0.0.1:PORT")
}

/// Runs `line` with `sh -c`, where `/run/skiff.sock` and `/var/lib/skiff`
/// stand for this daemon's socket and root, and records it as shown.
fn shell(t: &mut Transcript, daemon: &Daemon, line: &str) -> Outcome {
    let real = line
        .replace(SHOWN_SOCKET, &daemon.socket().display().to_string())
        .replace(SHOWN_ROOT, &daemon.root().display().to_string());
    let mut command = Command::new("sh");
    command
        .args(["-c", &real])
        .env("PATH", path_with_skiff())
        .env("SKIFF_HOST", daemon.host())
        .current_dir(daemon.dir.path());
    let outcome = t.run_shown(&shown(daemon, line), &mut command, None);
    assert!(
        !outcome.output.contains("not found"),
        "{line}: {}",
        outcome.output
    );
    outcome
}

/// `PATH` with the directory of the skiff binary under test first.
fn path_with_skiff() -> String {
    let dir = std::path::Path::new(SKIFF).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Filters that show the daemon's defaults in the place of its test paths.
fn book_settings(daemon: &Daemon) -> insta::Settings {
    let mut s = settings(daemon);
    s.add_filter(r"\[TMP\]/root", SHOWN_ROOT);
    s.add_filter(
        r"unix://\[TMP\]/skiff\.sock",
        format!("unix://{SHOWN_SOCKET}"),
    );
    s.add_filter(&regex_escape(SKIFF), "skiff");
    s
}

// ANCHOR: api_by_hand
#[test]
fn transcript_api_by_hand() {
    let daemon = Daemon::start();
    daemon.pull();
    let image = &daemon.image;
    let mut t = Transcript::new();
    let curl = "curl -s --unix-socket /run/skiff.sock";
    t.comment("is anybody there? (HEAD or GET /_ping; the version is in a header)");
    let ping = shell(
        &mut t,
        &daemon,
        &format!("{curl} -D - http://localhost/_ping | grep -i -e '^api-version' -e '^OK'"),
    );
    assert!(ping.output.contains("1.47"), "{}", ping.output);
    t.comment("create: the JSON body of `docker create`, the answer is an id");
    // stdout and stderr are two pipes, read by two threads of the shim:
    // nothing orders what arrives on one against the other, so the pause
    // keeps the log's order the same from run to run.
    let body = format!(
        r#"{{"Image":"{image}","Cmd":["sh","-c","echo hello; sleep 0.1; echo oops >&2; exit 3"]}}"#
    );
    let created = shell(
        &mut t,
        &daemon,
        &format!(
            "{curl} -H 'Content-Type: application/json' -d '{body}' \
             'http://localhost/v1.47/containers/create?name=hello'"
        ),
    );
    assert!(created.output.starts_with("{\"Id\":"), "{}", created.output);
    t.comment("start answers 204 No Content at once; wait answers when it exits");
    let started = shell(
        &mut t,
        &daemon,
        &format!(
            "{curl} -X POST -w '%{{http_code}}\\n' http://localhost/v1.47/containers/hello/start"
        ),
    );
    assert_eq!(started.output.trim(), "204");
    let waited = shell(
        &mut t,
        &daemon,
        &format!("{curl} -X POST http://localhost/v1.47/containers/hello/wait"),
    );
    assert!(
        waited.output.contains("\"StatusCode\":3"),
        "{}",
        waited.output
    );
    t.comment(
        "logs: each chunk behind 8 bytes: the stream (1 stdout, 2 stderr), three zeros, the length in four bytes",
    );
    let logs = shell(
        &mut t,
        &daemon,
        &format!(
            "{curl} 'http://localhost/v1.47/containers/hello/logs?stdout=1&stderr=1' | od -A n -c"
        ),
    );
    assert!(logs.output.contains("h   e   l   l   o"), "{}", logs.output);
    t.comment("errors are JSON too, with Docker's status codes");
    let missing = shell(
        &mut t,
        &daemon,
        &format!("{curl} -w ' %{{http_code}}\\n' http://localhost/v1.47/containers/nope/json"),
    );
    assert!(missing.output.contains("404"), "{}", missing.output);
    let removed = shell(
        &mut t,
        &daemon,
        &format!("{curl} -X DELETE -w '%{{http_code}}\\n' http://localhost/v1.47/containers/hello"),
    );
    assert_eq!(removed.output.trim(), "204");
    book_settings(&daemon).bind(|| insta::assert_snapshot!("api_by_hand", t.text()));
}
// ANCHOR_END: api_by_hand

#[test]
fn transcript_shim_outlives_daemon() {
    let mut daemon = Daemon::start();
    daemon.pull();
    let mut t = Transcript::new();
    // `[s]kiff` matches "skiff" but not the text of this very command line.
    let engine = "ps -o ppid=,args= $(pgrep -f '[s]kiff --root /var/lib/skiff ')";
    t.comment("skiff daemon runs in another terminal");
    let run = shell(
        &mut t,
        &daemon,
        &format!(
            "skiff run -d --name counter {} sh -c 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'",
            daemon.image
        ),
    );
    assert_eq!(run.code, 0, "{}", run.output);
    t.comment(
        "the daemon, its shim launcher, and the shim that holds the container: its parent is 1, not the daemon",
    );
    let before = shell(&mut t, &daemon, engine);
    let shim_parent = shim_parent(&before.output);
    let mut s = book_settings(&daemon);
    s.add_filter(&format!(r"(?m)^ *{} ", std::process::id()), "[SHELL] ");
    // Where a subreaper adopts orphans (a service manager, a CI runner),
    // the shim's parent is that process instead of 1: the same fact.
    s.add_filter(&format!(r"(?m)^ *{shim_parent} skiff"), "      1 skiff");
    let daemon_pid = daemon.process.as_ref().unwrap().id();
    s.add_filter(&format!(r"(?m)^ *{daemon_pid} skiff"), "[DAEMON] skiff");
    assert_ne!(
        Some(shim_parent),
        daemon.process.as_ref().map(|p| p.id()),
        "the shim must not be the daemon's child"
    );
    t.comment("the daemon dies without a chance to clean up");
    let mut kill = Command::new("kill");
    kill.args(["-9", &daemon_pid.to_string()]);
    t.run_shown(
        "kill -9 $(pgrep -f -- '-H unix:///run/skiff.sock daemon')",
        &mut kill,
        None,
    );
    daemon.process.take().unwrap().wait().unwrap();
    let lines_then = log_lines(&daemon);
    shell(&mut t, &daemon, "skiff ps");
    shell(&mut t, &daemon, engine);
    harness::eventually("more ticks while the daemon is away", || {
        log_lines(&daemon) > lines_then + 2
    });
    t.comment("a new daemon: skiff daemon, in the other terminal again");
    daemon.launch();
    shell(
        &mut t,
        &daemon,
        "skiff ps --format '{{.Names}} {{.Status}}'",
    );
    let tail = shell(&mut t, &daemon, "skiff logs --tail 1 counter");
    assert!(tail.output.starts_with("tick "), "{}", tail.output);
    shell(&mut t, &daemon, "skiff rm -f counter");
    shell(&mut t, &daemon, engine);
    s.add_filter(r"tick \d+", "tick [N]");
    s.bind(|| insta::assert_snapshot!("shim_outlives_daemon", t.text()));
}

/// The port the book shows for the published web service.
const SHOWN_PORT: &str = "8080";

// ANCHOR: compose_outlives_daemon
#[test]
fn transcript_compose_outlives_daemon() {
    let mut daemon = Daemon::start();
    // A port free now, shown as 8080.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut t = Transcript::new();
    t.comment("an application: a page served by httpd, its data in a volume");
    let file = format!(
        r#"cat > compose.yaml <<'EOF'
services:
  web:
    image: {}
    command: ["sh", "-c", "echo served > /www/index.html; exec httpd -f -p 80 -h /www"]
    volumes:
      - www:/www
    ports:
      - "127.0.0.1:{port}:80"
    restart: always
    stop_signal: SIGKILL
volumes:
  www:
EOF"#,
        daemon.image
    );
    shell(&mut t, &daemon, &file);
    let up = shell(&mut t, &daemon, "skiff compose -p shop up -d");
    assert_eq!(up.code, 0, "{}", up.output);
    let url = format!("http://127.0.0.1:{port}/");
    harness::eventually("the page is served", || {
        Command::new("busybox")
            .args(["wget", "-q", "-O", "/dev/null", &url])
            .status()
            .is_ok_and(|s| s.success())
    });
    t.comment("the daemon is killed: nothing of the application was in it");
    let daemon_pid = daemon.process.as_ref().unwrap().id();
    let mut kill = Command::new("kill");
    kill.args(["-9", &daemon_pid.to_string()]);
    t.run_shown(
        "kill -9 $(pgrep -f -- '-H unix:///run/skiff.sock daemon')",
        &mut kill,
        None,
    );
    daemon.process.take().unwrap().wait().unwrap();
    let served = shell(&mut t, &daemon, &format!("busybox wget -q -O - {url}"));
    assert_eq!(served.output.trim(), "served", "{}", served.output);
    t.comment("a new daemon finds the application as it was");
    daemon.launch();
    shell(&mut t, &daemon, "skiff compose -p shop ps --all");
    let down = shell(&mut t, &daemon, "skiff compose -p shop down -v");
    assert_eq!(down.code, 0, "{}", down.output);
    // The ps table is laid out again once its times and ports are shown
    // as the book shows them.
    let registry = regex_escape(&daemon.registry.host());
    let published = format!(r"127\.0\.0\.1:{port}\b");
    let shown_port = format!("127.0.0.1:{SHOWN_PORT}");
    let text = skiff_testkit::transcript::scrub(
        t.text(),
        &[
            (registry.as_str(), "127.0.0.1:PORT"),
            (published.as_str(), shown_port.as_str()),
            (
                r"Up (Less than a second|About a minute|\d+ seconds?)",
                "Up [WHEN]",
            ),
            (
                r"(Less than a second|About a minute|\d+ seconds?) ago",
                "[WHEN] ago",
            ),
        ],
    );
    book_settings(&daemon).bind(|| insta::assert_snapshot!("compose_outlives_daemon", text));
}
// ANCHOR_END: compose_outlives_daemon

/// The parent pid on the line of `ps -o ppid=,args=` that runs the shim.
fn shim_parent(ps: &str) -> u32 {
    ps.lines()
        .find(|line| line.contains(" shim "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no shim in:\n{ps}"))
}

/// How many lines the containers have logged so far, read from their log
/// files (`<root>/containers/<id>/<id>-json.log`): the daemon may be gone.
fn log_lines(daemon: &Daemon) -> usize {
    let containers = daemon.root().join("containers");
    let mut count = 0;
    for entry in std::fs::read_dir(&containers).unwrap() {
        let dir = entry.unwrap().path();
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        if let Ok(log) = std::fs::read_to_string(dir.join(format!("{id}-json.log"))) {
            count += log.lines().count();
        }
    }
    count
}
