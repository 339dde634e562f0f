//! Before compose: the example application run by hand with chapter 6's
//! binary, one `run` per container (a terminal each), the network and
//! volume made first, the store's readiness checked by eye, everything
//! stopped and removed by hand, in the right order. And chapter 6's
//! binary knows nothing of compose files.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Session, Setup, free_port, http_get, settings};

/// A `ch06-network run` in the background (a terminal of its own).
struct Terminal(Child);

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ch06(setup: &Setup, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(skiff_testkit::workspace_bin("ch06-network"));
    command
        .current_dir(dir)
        .env("SKIFF_ROOT", setup.state())
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(args);
    command
}

#[test]
fn transcript_three_runs_by_hand_and_one_file() {
    let setup = Setup::new();
    let dir = setup.projects().join("app");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/app");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(source)
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    let port = free_port();
    let published = format!("127.0.0.1:{port}:8080");
    let mut t = Session::default();
    let step = |t: &mut Session, args: &[&str]| {
        let outcome = skiff_testkit::transcript::run_combined(&mut ch06(&setup, &dir, args), None);
        assert_eq!(outcome.code, 0, "{args:?}: {}", outcome.output);
        let shown =
            skiff_testkit::transcript::command_line(Command::new("ch06-network").args(args));
        t.command(
            &shown.replace(&published, "127.0.0.1:8080:8080"),
            &outcome.output,
        );
    };

    t.comment("before: chapter 6, by hand, in the order the application needs");
    step(&mut t, &["build", "-q", "-t", "counter-web:dev", "web"]);
    step(&mut t, &["network", "create", "counter_appnet"]);
    step(&mut t, &["volume", "create", "counter_counts"]);
    let store: &[&str] = &[
        "run",
        "--name",
        "counter-store-1",
        "--network",
        "counter_appnet",
        "--network-alias",
        "store",
        "--network-alias",
        "kv",
        "-v",
        "./store:/srv:ro",
        "-v",
        "counter_counts:/data",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "6379",
        "-h",
        "/srv",
    ];
    let web: &[&str] = &[
        "run",
        "--name",
        "counter-web-1",
        "--network",
        "counter_appnet",
        "--network-alias",
        "web",
        "-p",
        &published,
        "-e",
        "STORE_URL=http://kv:6379",
        "counter-web:dev",
    ];
    let worker: &[&str] = &[
        "run",
        "--name",
        "counter-worker-1",
        "--network",
        "counter_appnet",
        "--network-alias",
        "worker",
        "-e",
        "TICK=3600",
        "busybox",
        "sh",
        "-c",
        "while true; do wget -q -O- http://kv:6379/cgi-bin/incr?ticks; sleep $TICK; done",
    ];
    let mut terminals = Vec::new();
    for (n, args) in [store, web, worker].into_iter().enumerate() {
        let shown =
            skiff_testkit::transcript::command_line(Command::new("ch06-network").args(args));
        t.comment(&format!("terminal {}:", n + 2));
        t.command(&shown.replace(&published, "127.0.0.1:8080:8080"), "");
        let child = ch06(&setup, &dir, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        terminals.push(Terminal(child));
        if n == 0 {
            // By hand: wait until the store answers before starting the
            // services that use it.
            wait_until(|| {
                ch06(
                    &setup,
                    &dir,
                    &[
                        "exec",
                        "counter-store-1",
                        "wget",
                        "-q",
                        "-O",
                        "/dev/null",
                        "http://127.0.0.1:6379/cgi-bin/get",
                    ],
                )
                .output()
                .is_ok_and(|o| o.status.success())
            });
        }
    }
    let body = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http_get(port, "/cgi-bin/visit") {
                Ok((200, body)) if body.starts_with("visits: 1") => break body,
                other => assert!(Instant::now() < deadline, "{other:?}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    t.comment("terminal 5: GET http://127.0.0.1:8080/cgi-bin/visit");
    t.lines(body.lines().next().unwrap());
    t.comment("and to take it down, the reverse order, by hand");
    for name in ["counter-worker-1", "counter-web-1", "counter-store-1"] {
        step(&mut t, &["stop", "-t", "3", name]);
    }
    step(
        &mut t,
        &["rm", "counter-worker-1", "counter-web-1", "counter-store-1"],
    );
    step(&mut t, &["network", "rm", "counter_appnet"]);
    drop(terminals);

    t.comment("chapter 6's binary has no idea of a compose file");
    let outcome = skiff_testkit::transcript::run_combined(&mut ch06(&setup, &dir, &["up"]), None);
    assert_eq!(outcome.code, 2, "{}", outcome.output);
    t.command("ch06-network up", &outcome.output);
    t.comment("after: one file, and `ch07-compose up` (Ctrl-C or `down` stops it all, in order)");
    let text = t.text;
    settings().bind(|| insta::assert_snapshot!("before_after", text));
    assert!(setup.container_ids().is_empty());
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "not ready after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}
