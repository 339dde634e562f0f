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

/// Sends a raw request and reads the answer to its end (10 s at most:
/// an answer that never ends fails the test).
fn request(daemon: &TestDaemon, head: &str) -> Vec<u8> {
    let mut stream = UnixStream::connect(daemon.dir.path().join("skiff.sock")).unwrap();
    write!(stream, "{head}\r\nHost: skiff\r\n\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("{head}: the answer did not end: {e}"));
    answer
}

/// Answers that must end: attach without a stream (`stream=0`, with
/// `logs=1` the output logged so far) on an exited container, and stats
/// without a stream, however the client spells false (docker-py sends
/// Python's `False`).
#[test]
fn answers_without_a_stream_end() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let id = daemon.ok(daemon.docker(&["run", "-d", &image.name, "echo", "logged"]));
    let id = id.trim();
    daemon.ok(daemon.docker(&["wait", id]));
    let answer = request(
        &daemon,
        &format!(
            "POST /v1.41/containers/{id}/attach?logs=1&stream=0&stdout=1&stderr=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp"
        ),
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let mut frame = vec![1u8, 0, 0, 0, 0, 0, 0, 7];
    frame.extend_from_slice(b"logged\n");
    assert!(answer.ends_with(&frame), "{text}");

    let running = daemon.ok(daemon.docker(&["run", "-d", &image.name, "sleep", "60"]));
    let running = running.trim();
    for spelling in ["0", "false", "False"] {
        let answer = request(
            &daemon,
            &format!(
                "GET /v1.41/containers/{running}/stats?stream={spelling} HTTP/1.1\r\nConnection: close"
            ),
        );
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200"), "{spelling}: {text}");
        assert!(text.contains("\"memory_stats\""), "{spelling}: {text}");
    }
    daemon.ok(daemon.docker(&["rm", "-f", id, running]));
}
