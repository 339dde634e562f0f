//! Detaching from a terminal: ctrl-p ctrl-q (docker's default) and
//! `--detach-keys`, typed on a real terminal to the docker CLI and to
//! skiff: the client returns, the container (or the exec session) keeps
//! running; keys that cannot be read are refused.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A client on a pseudo-terminal of its own, as a user's shell runs it;
/// the test types on the master side and reads what the terminal shows.
struct OnTerminal {
    child: Child,
    master: std::fs::File,
    shown: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn spawn(mut command: Command) -> OnTerminal {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; nothing else runs
        // between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn on a terminal");
        let master = std::fs::File::from(pty.master);
        let shown = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // EIO once every holder of the slave closed it.
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        OnTerminal {
            child,
            master,
            shown,
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.shown.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.shown().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} never shown; the terminal shows {:?}",
                self.shown()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    /// Waits for the client to exit: its exit code and what it showed.
    fn exits_with_output(self) -> (i32, String) {
        let shown = self.shown.clone();
        let code = self.exits();
        // What it wrote just before it exited may still be on its way.
        std::thread::sleep(Duration::from_millis(100));
        let text = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
        (code, text)
    }

    /// Waits for the client to exit; its exit code.
    fn exits(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the client did not detach; it shows {:?}", self.shown());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn running(daemon: &TestDaemon, name: &str) -> bool {
    daemon
        .ok(daemon.docker(&["inspect", "-f", "{{.State.Running}}", name]))
        .trim()
        == "true"
}

/// Types `echo WORD` on the attached shell and waits for its answer: the
/// client is attached, and the keys before reached the container.
fn echo(client: &mut OnTerminal, word: &str) {
    client.type_keys(format!("echo {word}-$((20+1))\r").as_bytes());
    client.wait_for(&format!("{word}-21"));
}

#[test]
fn detach_keys_leave_the_container_running() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["run", "-d", "-it", "--name", "web", &image.name, "sh"]));

    // docker attach, ctrl-p ctrl-q.
    let mut client = OnTerminal::spawn(daemon.docker(&["attach", "web"]));
    std::thread::sleep(Duration::from_millis(300));
    echo(&mut client, "one");
    client.type_keys(b"\x10\x11");
    client.exits();
    assert!(running(&daemon, "web"), "web stopped after ctrl-p ctrl-q");

    // docker attach --detach-keys ctrl-x,x; a lone ctrl-x is the shell's.
    let mut client =
        OnTerminal::spawn(daemon.docker(&["attach", "--detach-keys", "ctrl-x,x", "web"]));
    std::thread::sleep(Duration::from_millis(300));
    echo(&mut client, "two");
    client.type_keys(b"\x10\x11");
    echo(&mut client, "still");
    client.type_keys(b"\x18x");
    client.exits();
    assert!(running(&daemon, "web"), "web stopped after ctrl-x x");

    // docker exec -it: the session is left running.
    let mut client = OnTerminal::spawn(daemon.docker(&["exec", "-it", "web", "sh"]));
    std::thread::sleep(Duration::from_millis(300));
    echo(&mut client, "three");
    client.type_keys(b"\x10\x11");
    client.exits();
    assert!(running(&daemon, "web"));
    let shells = daemon.ok(daemon.docker(&[
        "exec",
        "web",
        "sh",
        "-c",
        "pgrep -c -x sh || ps | grep -c '[s]h$'",
    ]));
    assert!(
        shells.trim().parse::<u32>().unwrap_or(0) >= 2,
        "the exec'd shell ended: {shells}"
    );

    // skiff attach --detach-keys.
    let mut client = OnTerminal::spawn(daemon.skiff(&["attach", "--detach-keys", "ctrl-@", "web"]));
    std::thread::sleep(Duration::from_millis(300));
    echo(&mut client, "four");
    client.type_keys(b"\x00");
    client.exits();
    assert!(running(&daemon, "web"), "web stopped after skiff's detach");

    // Keys that cannot be read.
    for client in ["docker", "skiff"] {
        let args = ["attach", "--detach-keys", "ctrl-1", "web"];
        let command = match client {
            "docker" => daemon.docker(&args),
            _ => daemon.skiff(&args),
        };
        let client_on_terminal = OnTerminal::spawn(command);
        let code = client_on_terminal.exits_with_output();
        assert_ne!(code.0, 0, "{client}: {}", code.1);
        // The docker CLI shows the status of a refused upgrade, not its body.
        let expected = match client {
            "docker" => "received 400",
            _ => "invalid detach keys \"ctrl-1\"",
        };
        assert!(code.1.contains(expected), "{client}: {}", code.1);
    }
    assert!(running(&daemon, "web"));
    daemon.ok(daemon.docker(&["rm", "-f", "web"]));
}
