//! What the network costs a container, end to end through `ch06-network`:
//!
//! - start + exit of `run --rm busybox true` with `--network none`,
//!   `bridge`, `bridge -p 127.0.0.1::80` and a user network (with its DNS
//!   responder): the difference with `none` is the network's own cost;
//!   `docker run --rm --network none|bridge busybox true` beside them, when
//!   dockerd runs and has a `busybox` image already (nothing is pulled);
//! - TCP throughput between two containers over a user network's bridge,
//!   against the same programs over the host's loopback (the probe's
//!   `sink` and `source`): on a network of the uplink's MTU (the default)
//!   and on one of loopback's size (`--mtu 65535`).
//!
//! `cargo bench -p ch06-network --bench run` (as root). Prints medians and
//! 90th percentiles; ROUNDS=N changes the number of rounds (default 20),
//! ROUNDS=0 measures the throughput alone.

#[path = "../tests/binary/mod.rs"]
mod binary;

use binary::Setup;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20)
}

fn time(mut command: impl FnMut() -> Command) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..rounds() {
        let mut command = command();
        let start = Instant::now();
        let out = command.output().unwrap();
        times.push(start.elapsed());
        assert!(out.status.success(), "{command:?}: {out:?}");
    }
    times.sort();
    times
}

fn report(what: &str, times: &[Duration], base: Option<Duration>) -> Duration {
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    let extra = base
        .map(|b| {
            format!(
                "   (+{:.1} ms)",
                (median.as_secs_f64() - b.as_secs_f64()) * 1e3
            )
        })
        .unwrap_or_default();
    println!("{what:<48} median {median:>9.2?}   p90 {p90:>9.2?}{extra}");
    median
}

/// `docker run` where dockerd runs with a local busybox image; never pulls.
fn docker_available() -> bool {
    Command::new("docker")
        .args(["image", "inspect", "busybox"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Throughput from a `source` to a `sink`, both probes; MB/s.
fn rate(output: &str) -> f64 {
    output
        .split_whitespace()
        .rev()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {output:?}"))
}

/// The start + exit rounds.
fn starts(setup: &Setup) {
    println!(
        "start + exit of `run --rm busybox true` ({} rounds)",
        rounds()
    );
    let run = |extra: &'static [&'static str]| {
        move || {
            let mut args = vec!["run", "--rm"];
            args.extend(extra);
            args.extend(["busybox", "true"]);
            setup.ch06(&args)
        }
    };
    let none = report(
        "ch06-network --network none",
        &time(run(&["--network", "none"])),
        None,
    );
    report("ch06-network --network bridge", &time(run(&[])), Some(none));
    report(
        "ch06-network --network bridge -p 127.0.0.1::80",
        &time(run(&["-p", "127.0.0.1::80"])),
        Some(none),
    );
    report(
        "ch06-network --network USER (DNS responder)",
        &time(run(&["--network", "bench"])),
        Some(none),
    );
    if docker_available() {
        let docker = |network: &'static str| {
            move || {
                let mut c = Command::new("docker");
                c.args(["run", "--rm", "--network", network, "busybox", "true"]);
                c
            }
        };
        let none = report("docker run --network none", &time(docker("none")), None);
        report(
            "docker run --network bridge",
            &time(docker("bridge")),
            Some(none),
        );
    } else {
        println!("docker run: skipped (no dockerd with a local busybox image; nothing is pulled)");
    }
}

/// The size of each throughput run.
const MIB: &str = "2048";

/// TCP throughput between two containers on `network`; MB/s.
fn over_bridge(setup: &Setup, network: &str) -> f64 {
    let sink = setup.background(
        &format!("sink-{network}"),
        &["--network", network, "busybox", "probe", "sink", "5000"],
    );
    let address = setup
        .networks()
        .records(&setup.network(network))
        .unwrap()
        .records
        .into_iter()
        .find(|r| r.names.first().is_some_and(|n| n.starts_with("sink")))
        .expect("the sink's record")
        .address;
    let out = setup
        .ch06(&[
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "probe",
            "source",
            &format!("{address}:5000"),
            MIB,
        ])
        .output()
        .unwrap();
    drop(sink);
    rate(&String::from_utf8_lossy(&out.stdout))
}

/// The same programs over the host's loopback; MB/s.
fn over_loopback() -> f64 {
    // A port free on the host now (5001 may be a registry's).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
        .to_string();
    let mut host_sink = Command::new(skiff_testkit::probe())
        .args(["sink", &port])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(host_sink.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let out = Command::new(skiff_testkit::probe())
        .args(["source", &format!("127.0.0.1:{port}"), MIB])
        .output()
        .unwrap();
    let _ = host_sink.wait();
    rate(&String::from_utf8_lossy(&out.stdout))
}

fn main() {
    let setup = &Setup::new();
    for create in [
        &["network", "create", "bench"][..],
        &["network", "create", "--mtu", "65535", "jumbo"],
    ] {
        let made = setup.ch06(create).output().unwrap();
        assert!(made.status.success(), "{made:?}");
    }
    // The default network's creation is a one-time cost: not measured.
    let made = setup
        .ch06(&["run", "--rm", "busybox", "true"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    if rounds() > 0 {
        starts(setup);
    }
    println!("TCP throughput, 2 GiB, probe source -> probe sink");
    let loopback = over_loopback();
    println!("{:<48} {loopback:>8.0} MB/s", "host loopback");
    for (network, shown) in [
        ("bench", "containers, a network of the uplink's MTU"),
        ("jumbo", "containers, a network with --mtu 65535"),
    ] {
        let bridge = over_bridge(setup, network);
        println!(
            "{shown:<48} {bridge:>8.0} MB/s  {:>4.0} % of loopback",
            bridge / loopback * 100.0
        );
    }
}
