//! The containers' output behind their names (`shop-web-1  | ...`), for
//! `skiff compose logs` and for `up` in the foreground: one `GET
//! /containers/ID/logs` stream per container, read on a thread of its
//! own, cut into lines by chapter 7's console.

use super::Member;
use crate::client::{Client, query};
use crate::frames;
use anyhow::Result;
use ch07_compose::runner::console::{Console, Lines};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::time::Duration;

/// Prints the output of `members` (everything kept, then, with `follow`,
/// what comes) until their streams end.
pub fn print(client: &Client, members: &[Member], follow: bool, console: &Console) -> Result<()> {
    let threads = spawn_readers(client, members, follow, console);
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn spawn_readers(
    client: &Client,
    members: &[Member],
    follow: bool,
    console: &Console,
) -> Vec<std::thread::JoinHandle<()>> {
    members
        .iter()
        .map(|member| {
            let (client, console, member) = (client.clone(), console.clone(), member.clone());
            std::thread::spawn(move || {
                if let Err(e) = read_one(&client, &member, follow, &console) {
                    eprintln!("skiff compose: the logs of {}: {e}", member.name);
                }
            })
        })
        .collect()
}

/// One container's stream: stdout and stderr frames, each cut into lines
/// of its own (a line of one is never glued to a line of the other).
fn read_one(client: &Client, member: &Member, follow: bool, console: &Console) -> Result<()> {
    let path = format!(
        "/containers/{}/logs{}",
        member.id,
        query(&[
            ("stdout", "1".into()),
            ("stderr", "1".into()),
            ("follow", if follow { "1".into() } else { String::new() }),
        ])
    );
    let mut response = client.send("GET", &path, None, &[])?;
    let (mut out, mut err) = (Lines::default(), Lines::default());
    loop {
        match frames::read(&mut response) {
            Ok(Some((stream, data))) => {
                let lines = if stream == frames::STDERR {
                    err.feed(&data)
                } else {
                    out.feed(&data)
                };
                for line in lines {
                    console.output(&member.name, &member.service, &line);
                }
            }
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e.into()),
        }
    }
    for line in [out.finish(), err.finish()].into_iter().flatten() {
        console.output(&member.name, &member.service, &line);
    }
    Ok(())
}

// ANCHOR: attach_until_stopped
/// `up` in the foreground: follows the output of `members` until they all
/// end, or until Ctrl-C (or SIGTERM), which stops them, dependents first
/// (`members` is in start order). The exit code: 0 when they ended,
/// 128 + the signal when we stopped them.
///
/// The signals are blocked on this thread before the readers start (so
/// that every thread inherits the mask) and read from a signalfd: no
/// handler runs at an arbitrary point, and the readers are never
/// interrupted.
pub fn attach_until_stopped(client: &Client, members: &[Member], console: &Console) -> Result<i32> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block()?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    let shown: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    console.say(&format!("Attaching to {}", shown.join(", ")));
    let readers = spawn_readers(client, members, true, console);
    loop {
        if readers.iter().all(|r| r.is_finished()) {
            return Ok(0);
        }
        if let Some(signal) = signals.read_signal()? {
            console.say("Gracefully stopping...");
            for member in members.iter().rev() {
                console.progress("Container", &member.name, "Stopping");
                client.send(
                    "POST",
                    &format!("/containers/{}/stop", member.id),
                    None,
                    &[],
                )?;
                console.progress("Container", &member.name, "Stopped");
            }
            // Their last lines are still on the way: the streams end as
            // the daemon closes them, soon after the containers ended.
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while !readers.iter().all(|r| r.is_finished()) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            return Ok(128 + signal.ssi_signo as i32);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
// ANCHOR_END: attach_until_stopped
