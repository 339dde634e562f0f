//! The real docker CLI (28.2, at /usr/local/bin/docker) against a skiff
//! daemon: what a docker user types, and what they see.

mod harness;

use harness::{Daemon, settings, stdout, text};
use skiff_testkit::Transcript;

/// Runs `docker ARGS` into the transcript, shown as typed.
fn step(t: &mut Transcript, daemon: &Daemon, args: &[&str]) -> skiff_testkit::transcript::Outcome {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.replace(&daemon.registry.host(), "127.0.0.1:PORT"))
        .collect();
    let line =
        skiff_testkit::transcript::command_line(std::process::Command::new("docker").args(&shown));
    t.run_shown(&line, &mut daemon.docker_command(args), None)
}

#[test]
fn transcript_docker_against_skiff() {
    let daemon = Daemon::start();
    let image = daemon.image.clone();
    let mut t = Transcript::new();
    let version = daemon.docker(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(stdout(&version).trim(), "1.47 linux", "{}", text(&version));
    let pulled = step(&mut t, &daemon, &["pull", &image]);
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    step(
        &mut t,
        &daemon,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    let hello = step(
        &mut t,
        &daemon,
        &["run", "--rm", &image, "echo", "hello from skiff"],
    );
    assert_eq!(hello.output, "hello from skiff\n");
    let code = step(
        &mut t,
        &daemon,
        &[
            "run",
            "--name",
            "three",
            &image,
            "sh",
            "-c",
            "echo to stdout; sleep 0.1; echo to stderr >&2; exit 3",
        ],
    );
    assert_eq!(code.code, 3);
    let missing = step(&mut t, &daemon, &["run", "--rm", &image, "no-such-command"]);
    assert_eq!(missing.code, 127, "{}", missing.output);
    let detached = step(
        &mut t,
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--memory",
            "64m",
            &image,
            "sh",
            "-c",
            "echo started; while true; do sleep 1; done",
        ],
    );
    assert_eq!(detached.code, 0, "{}", detached.output);
    step(
        &mut t,
        &daemon,
        &["ps", "--format", "{{.Names}} {{.Image}} {{.Command}}"],
    );
    harness::eventually("web's first log line", || {
        stdout(&daemon.docker(&["logs", "web"])).contains("started")
    });
    step(&mut t, &daemon, &["logs", "web"]);
    let exec = step(
        &mut t,
        &daemon,
        &[
            "exec",
            "-e",
            "EXTRA=1",
            "web",
            "sh",
            "-c",
            "echo $GREETING from $PWD, extra $EXTRA; exit 4",
        ],
    );
    assert_eq!(exec.code, 4, "{}", exec.output);
    step(
        &mut t,
        &daemon,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.HostConfig.Memory}} {{.Name}}",
            "web",
        ],
    );
    step(&mut t, &daemon, &["pause", "web"]);
    step(
        &mut t,
        &daemon,
        &["ps", "--format", "{{.Names}}: {{.Status}}"],
    );
    step(&mut t, &daemon, &["unpause", "web"]);
    step(&mut t, &daemon, &["stop", "-t", "1", "web"]);
    step(
        &mut t,
        &daemon,
        &["ps", "-a", "--format", "{{.Names}}: {{.Status}}"],
    );
    step(&mut t, &daemon, &["rm", "web", "three"]);
    let gone = step(&mut t, &daemon, &["rm", "web"]);
    assert_ne!(gone.code, 0);
    step(&mut t, &daemon, &["ps", "-a"]);
    settings(&daemon).bind(|| insta::assert_snapshot!("docker_cli", t.text()));
}
