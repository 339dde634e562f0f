//! A service on two networks: `web` is on `front` and `back`; `client`,
//! on `front`, and `db`, on `back`, each find it by name at its address on
//! the network they share, and do not find each other. `down` removes both
//! of web's cables and both networks.

mod support;

use ch02_namespaces::Engine;
use std::time::Duration;
use support::Setup;

const YAML: &str = r#"name: tiers
services:
  web:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks:
      front:
        aliases: [www]
      back:
        aliases: [api]
  client:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [front]
  db:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [back]
networks:
  front:
  back:
"#;

#[test]
fn a_service_on_two_networks_is_found_on_each() {
    let setup = Setup::new();
    let dir = setup.project("tiers", YAML);
    let mut up = setup.background(&dir, &["up"]);
    for name in ["client", "db", "web"] {
        up.wait_for(&format!("tiers-{name}-1  Started"), Duration::from_secs(60));
    }
    let ids = setup.container_ids();
    let engine = setup.engine();
    let store = engine.network().networks();
    let (front, back) = (
        store.get("tiers_front").unwrap(),
        store.get("tiers_back").unwrap(),
    );
    let record = engine
        .containers()
        .find::<ch07_compose::spec::Spec>("tiers-web-1")
        .unwrap();
    let endpoint = ch06_network::attachment::find_endpoint(store, record.id())
        .unwrap()
        .expect("web's endpoint");
    // Its first network is the first by name, as in docker compose.
    assert_eq!(endpoint.network.as_ref().unwrap().id, back.id);
    let on_back = endpoint.address.unwrap();
    let on_front = endpoint.more[0].address.unwrap();
    assert!(front.subnet.contains(on_front) && back.subnet.contains(on_back));

    let resolve = |from: &str, name: &str| {
        let (output, code) = setup.output(&dir, &["exec", from, "probe", "resolve", name]);
        (output.trim().to_string(), code)
    };
    for (from, name, address) in [
        ("client", "web", on_front),
        ("client", "www", on_front),
        ("db", "web", on_back),
        ("db", "api", on_back),
    ] {
        assert_eq!(
            resolve(from, name),
            (address.to_string(), 0),
            "{from} asks {name}"
        );
    }
    // The two tiers stay apart: names under the engine's own domain, which
    // the responder answers itself (nothing is asked off the machine).
    for (from, name) in [("client", "db.dns.skiff"), ("db", "client.dns.skiff")] {
        let (output, code) = resolve(from, name);
        assert_ne!(code, 0, "{from} finds {name}: {output}");
    }
    let (output, code) = setup.output(
        &dir,
        &[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -o -4 addr show | grep -c eth",
        ],
    );
    assert_eq!((output.trim(), code), ("2", 0), "web's cables");

    up.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(60)), 130);
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
    setup.assert_nothing_left(&ids, &[front, back]);
}
