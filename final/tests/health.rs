//! Healthchecks run by the daemon: `--health-cmd` and its timings, the
//! image's `HEALTHCHECK`, `State.Health`, `ps`'s `(healthy)`, the
//! `health=` filter and the `health_status` events, driven by the docker CLI.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::process::Command;
use std::time::{Duration, Instant};

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

/// Waits until container `name`'s health is `status`.
fn wait_for_health(daemon: &TestDaemon, name: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = daemon.ok(daemon.docker(&["inspect", "-f", "{{.State.Health.Status}}", name]));
        if now.trim() == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {now:?}, not {status}, after 20s\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn transcript_health() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();

    daemon.ok(daemon.docker(&["pull", &image.name]));

    let mut t = Transcript::new();
    t.comment("a check that passes once the container has made its file (failures before do not count: the start period)");
    assert_eq!(
        record(
            &mut t,
            &image,
            daemon.docker(&[
                "run",
                "-d",
                "--name",
                "ready",
                "--health-cmd",
                "test -f /tmp/ready",
                "--health-interval",
                "200ms",
                "--health-retries",
                "2",
                "--health-start-period",
                "10s",
                &image.name,
                "sh",
                "-c",
                "sleep 0.5; touch /tmp/ready; exec sleep 1000",
            ]),
        ),
        0
    );
    wait_for_health(&daemon, "ready", "healthy");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}} streak={{.State.Health.FailingStreak}}",
            "ready",
        ]),
    );

    t.comment("a check that always fails: unhealthy after its retries");
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--name",
        "broken",
        "--health-cmd",
        "echo no database; exit 3",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        &image.name,
        "sleep",
        "1000",
    ]));
    wait_for_health(&daemon, "broken", "unhealthy");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}} {{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
            "broken",
        ]),
    );

    t.comment("a check that overruns its timeout is killed, and counts as a failure");
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        &image.name,
        "sleep",
        "1000",
    ]));
    wait_for_health(&daemon, "slow", "unhealthy");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "inspect",
            "-f",
            "{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}",
            "slow",
        ]),
    );
    // The stopped checks left nothing behind in the container: at most the
    // check of this moment runs, and no zombie of an earlier one stays.
    let left = daemon.ok(daemon.docker(&["exec", "slow", "ps", "-o", "stat,args"]));
    let checks = left.lines().filter(|l| l.contains("sleep 30")).count();
    assert!(checks <= 1, "checks outlived their timeout:\n{left}");
    assert!(
        !left.lines().any(|l| l.trim_start().starts_with('Z')),
        "a stopped check is a zombie:\n{left}"
    );

    t.comment("what ps shows, and its health filter");
    record(
        &mut t,
        &image,
        daemon.docker(&["ps", "--format", "{{.Names}}: {{.Status}}"]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}",
        ]),
    );

    t.comment("no healthcheck: no State.Health at all");
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--no-healthcheck",
        &image.name,
        "sleep",
        "1000",
    ]));
    record(
        &mut t,
        &image,
        daemon.docker(&["inspect", "-f", "{{json .State.Health}}", "plain"]),
    );

    t.comment("each change of status was an event");
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let events = daemon.docker(&[
        "events",
        "--since",
        &started,
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Actor.Attributes.name}} {{.Action}}",
    ]);
    // The three containers' checks run concurrently: the order of their
    // events is not fixed, so they are sorted.
    let mut sorted = Command::new("sh");
    sorted
        .args(["-c", "\"$@\" | sort", "sh"])
        .arg(events.get_program())
        .args(events.get_args())
        .envs(events.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(daemon.work());
    let line = shown(&events)
        .replace(&started, "$START")
        .replace(&until, "$NOW")
        + " | sort";
    t.run_shown(&line, &mut sorted, None);

    for name in ["ready", "broken", "slow", "plain"] {
        daemon.ok(daemon.docker(&["rm", "-f", name]));
    }
    let mut settings = settings();
    settings.add_filter(
        r"Up (Less than a second|About a minute|\d+ (second|minute)s?)",
        "Up [TIME]",
    );
    settings.bind(|| insta::assert_snapshot!("health", t.text()));
}
