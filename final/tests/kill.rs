//! `docker kill` answers once the container is dead: the next `inspect`
//! already shows it stopped, as with dockerd (docker-py relies on it).

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};

#[test]
fn kill_returns_once_the_container_is_dead() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    for round in 0..5 {
        let id = daemon.ok(daemon.docker(&["run", "-d", &image.name, "sleep", "9999"]));
        let id = id.trim();
        daemon.ok(daemon.docker(&["kill", id]));
        let state = daemon.ok(daemon.docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}}",
            id,
        ]));
        assert_eq!(state.trim(), "false 137", "round {round}");
        daemon.ok(daemon.docker(&["rm", id]));
    }
    // A signal the program may handle is only sent: the answer is at once.
    let id = daemon.ok(daemon.docker(&["run", "-d", &image.name, "sleep", "9999"]));
    daemon.ok(daemon.docker(&["kill", "-s", "USR1", id.trim()]));
    daemon.ok(daemon.docker(&["rm", "-f", id.trim()]));
}
