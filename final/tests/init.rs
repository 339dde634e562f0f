//! `run --init`: chapter 1's supervisor as the container's PID 1, with the
//! docker CLI: the command is its child, and `stop` (SIGTERM, forwarded)
//! ends a `sleep` at once instead of after the stop timeout.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};
use std::time::{Duration, Instant};

#[test]
fn init_is_pid_1_and_forwards_the_stop_signal() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let out = daemon.ok(daemon.docker(&[
        "run",
        "--rm",
        "--init",
        &image.name,
        "sh",
        "-c",
        "ps -o pid,args | sed -n 2,3p",
    ]));
    let mut lines = out.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1 /dev/init run -- sh"),
        "{out}"
    );

    // `sleep` as PID 1 ignores SIGTERM (chapter 1); under the init it is
    // PID 2 and dies of it.
    let id = daemon.ok(daemon.docker(&["run", "-d", "--init", &image.name, "sleep", "1000"]));
    let id = id.trim();
    let begin = Instant::now();
    daemon.ok(daemon.docker(&["stop", "-t", "20", id]));
    assert!(
        begin.elapsed() < Duration::from_secs(10),
        "stop waited for its timeout: {:?}",
        begin.elapsed()
    );
    let state = daemon.ok(daemon.docker(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.HostConfig.Init}}",
        id,
    ]));
    assert_eq!(state.trim(), "143 true");
    daemon.ok(daemon.docker(&["rm", id]));
}
