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

#[test]
fn exec_t_gives_a_terminal_with_a_name() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["run", "-d", "--name", "web", &image.name, "sleep", "600"]));
    let script = "tty; test -t 0 && test -t 1 && echo stdin and stdout are a terminal";
    for client in ["docker", "skiff"] {
        let args = ["exec", "-t", "web", "sh", "-c", script];
        let command = match client {
            "docker" => daemon.docker(&args),
            _ => daemon.skiff(&args),
        };
        let out = daemon.ok(command);
        // The terminal is the container's own: its devpts names it (the
        // number is the first one free there).
        let (name, rest) = out.split_once("\r\n").unwrap_or_default();
        assert!(
            name.strip_prefix("/dev/pts/")
                .is_some_and(|n| n.parse::<u32>().is_ok()),
            "{client} exec -t: {out:?}"
        );
        assert_eq!(rest, "stdin and stdout are a terminal\r\n", "{client}");
    }
    // A command that cannot run says so on the terminal, with docker's code.
    let out = daemon
        .docker(&["exec", "-t", "web", "no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    daemon.ok(daemon.docker(&["rm", "-f", "web"]));
}
