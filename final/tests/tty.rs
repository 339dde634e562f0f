//! `run -t`: the container's process has a terminal, and the terminal has
//! a name inside the container (`tty` answers), with the docker CLI and
//! with skiff.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};

#[test]
fn run_t_gives_a_terminal_with_a_name() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let script = "tty; test -t 0 && test -t 1 && echo stdin and stdout are a terminal";
    for client in ["docker", "skiff"] {
        let args = ["run", "--rm", "-t", &image.name, "sh", "-c", script];
        let command = match client {
            "docker" => daemon.docker(&args),
            _ => daemon.skiff(&args),
        };
        let out = daemon.ok(command);
        // A terminal turns each "\n" into "\r\n".
        assert_eq!(
            out, "/dev/console\r\nstdin and stdout are a terminal\r\n",
            "{client} run -t"
        );
    }
    // Without -t: no terminal, and `tty` says so.
    let out = daemon.ok(daemon.docker(&["run", "--rm", &image.name, "sh", "-c", "tty || true"]));
    assert_eq!(out, "not a tty\n");
}
