//! `logs --follow` of a container removed as soon as it exits: docker-py's
//! `containers.run(remove=True)` follows the output, waits for the exit,
//! removes the container, and only then reads what it followed. The
//! follower must still get every line: the daemon reads the log files it
//! opened when the request came, whose names are gone by then.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[test]
fn a_follower_gets_the_output_of_a_container_removed_meanwhile() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    for round in 0..5 {
        let id = daemon.ok(daemon.docker(&[
            "run",
            "-d",
            &image.name,
            "sh",
            "-c",
            "sleep 0.3; echo hello world",
        ]));
        let id = id.trim();
        let socket = daemon.dir.path().join("skiff.sock");
        let mut follower = UnixStream::connect(&socket).unwrap();
        write!(
            follower,
            "GET /v1.41/containers/{id}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: skiff\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        // Not read yet: the container ends and is removed first.
        daemon.ok(daemon.docker(&["wait", id]));
        daemon.ok(daemon.docker(&["rm", id]));
        follower
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        follower.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.contains("hello world"),
            "round {round}: the follower lost the output: {answer:?}"
        );
    }
}
