//! The supervisor serves watched descriptors while its child runs
//! (`Supervisor::wait_with`), and still returns the child's exit status.
//!
//! Without libtest's harness: the supervisor reads SIGCHLD from a signalfd,
//! which needs the signal blocked in *every* thread of the process, and the
//! harness runs each test on a thread of its own beside the main one.

use ch01_process::supervise::Watch;
use ch01_process::{NoHooks, ProcessSpec, SpawnOptions, SuperviseOptions, Supervisor, spawn};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// Collects the datagrams that reach its socket.
struct Collector {
    socket: UdpSocket,
    got: Vec<String>,
}

impl Watch for Collector {
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.socket.as_fd()]
    }

    fn ready(&mut self, fd: RawFd) {
        assert_eq!(
            fd,
            self.socket.as_raw_fd(),
            "ready for a descriptor not ours"
        );
        let mut buffer = [0u8; 64];
        while let Ok(n) = self.socket.recv(&mut buffer) {
            self.got
                .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
}

fn main() {
    skiff_testkit::require_root();
    let mut supervisor = Supervisor::new(SuperviseOptions::default()).expect("supervisor");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_nonblocking(true).expect("nonblocking");
    let port = socket.local_addr().unwrap().port();
    // One datagram waits before the child even starts...
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"early", ("127.0.0.1", port))
        .unwrap();
    // ...and the child sends another while the supervisor waits for it.
    let spec = ProcessSpec {
        argv: [
            "bash",
            "-c",
            &format!("sleep 0.2; printf late > /dev/udp/127.0.0.1/{port}; sleep 0.2; exit 3"),
        ]
        .map(String::from)
        .to_vec(),
        env: vec!["PATH=/usr/bin:/bin".to_string()],
        ..ProcessSpec::default()
    };
    let child = spawn(&spec, &SpawnOptions::default(), &mut NoHooks).expect("spawn");
    let mut watch = Collector {
        socket,
        got: Vec::new(),
    };
    let status = supervisor.wait_with(child, &mut watch).expect("wait");
    assert_eq!(status.code(), 3, "the child's exit status is relayed");
    assert_eq!(watch.got, ["early", "late"], "both datagrams were served");
    println!("test watched_descriptors_are_served_while_the_child_runs ... ok");
}
