//! What the network costs a container's start and end: prepare + join +
//! release on a user network, on the default bridge (with a published
//! port) and with `--network none`, against processes already in network
//! namespaces of their own (so that the process's own start is not counted).
//!
//! `cargo bench -p ch06-network --bench attach` (as root). Prints the
//! median and the 90th percentile of each; with `BENCH_STEPS=1`, the time
//! of each step (prepare, join, release) of each round on stderr.

#[path = "../tests/support/mod.rs"]
mod support;

use ch06_network::attachment::Attachment;
use ch06_network::ports::parse_publish;
use ch06_network::request::{NetworkMode, NetworkRequest};
use std::time::{Duration, Instant};
use support::{FakeContainer, Sandbox, identity};

const ROUNDS: usize = 30;

fn measure(sandbox: &Sandbox, request: &NetworkRequest) -> Vec<Duration> {
    let mut times = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let container = FakeContainer::start();
        let who = identity(&format!("bench{i}"));
        let start = Instant::now();
        let mut attached = Attachment::prepare(&sandbox.store, &who, request).unwrap();
        let prepared = start.elapsed();
        attached.join(container.pid).unwrap();
        let joined = start.elapsed();
        let release = Instant::now();
        attached.release().unwrap();
        if std::env::var_os("BENCH_STEPS").is_some() {
            eprintln!(
                "prepare {prepared:?} join {:?} release {:?}",
                joined - prepared,
                release.elapsed()
            );
        }
        times.push(joined + release.elapsed());
    }
    times.sort();
    times
}

fn report(what: &str, times: &[Duration]) {
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    println!("{what:<40} median {median:>10.2?}   p90 {p90:>10.2?}");
}

fn main() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("bench", false);
    // Make the default network first: its creation is a one-time cost.
    sandbox.store.default_network().unwrap();
    let user = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        ..NetworkRequest::default()
    };
    let published = NetworkRequest {
        publish: parse_publish("127.0.0.1::80").unwrap(),
        ..NetworkRequest::default()
    };
    let none = NetworkRequest {
        mode: NetworkMode::None,
        ..NetworkRequest::default()
    };
    report("--network none (files only)", &measure(&sandbox, &none));
    report(
        "--network bridge",
        &measure(&sandbox, &NetworkRequest::default()),
    );
    report(
        "--network bridge -p 127.0.0.1::80",
        &measure(&sandbox, &published),
    );
    report(
        "--network USER (with DNS responder)",
        &measure(&sandbox, &user),
    );
}
