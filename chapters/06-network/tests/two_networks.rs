//! A container on two networks: a cable on each (`eth0`, `eth1`), made as
//! it starts from its spec's `also`, or plugged in while it runs
//! (`attachment::connect`) and unplugged again (`attachment::disconnect`).
//! Its neighbours on each network reach it; the networks stay isolated from
//! each other; its release frees everything, also what was connected late.

mod support;

use ch06_network::attachment::{self, Attachment};
use ch06_network::request::{ExtraNetwork, NetworkMode, NetworkRequest};
use ch06_network::store::Network;
use std::time::{Duration, Instant};
use support::{FakeContainer, Sandbox, address_inside, host_links, identity};

fn on(network: &Network) -> NetworkRequest {
    NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        ..NetworkRequest::default()
    }
}

fn also(network: &Network, aliases: &[&str]) -> ExtraNetwork {
    ExtraNetwork {
        network: network.name.clone(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ip: None,
    }
}

fn wait_gone(veth: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host_links().iter().any(|l| l == veth) {
        assert!(Instant::now() < deadline, "{veth} left behind");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_container_on_two_networks_has_a_cable_on_each() {
    let sandbox = Sandbox::new();
    let (front, back) = (
        sandbox.network("front", false),
        sandbox.network("back", false),
    );
    let (web, a, b) = (
        FakeContainer::start(),
        FakeContainer::start(),
        FakeContainer::start(),
    );
    let web_id = identity("web");
    let request = NetworkRequest {
        also: vec![also(&back, &["api"])],
        ..on(&front)
    };
    let mut a_web = Attachment::prepare(&sandbox.store, &web_id, &request).unwrap();
    a_web.join(web.pid).unwrap();
    let mut a_a = Attachment::prepare(&sandbox.store, &identity("a"), &on(&front)).unwrap();
    a_a.join(a.pid).unwrap();
    let mut a_b = Attachment::prepare(&sandbox.store, &identity("b"), &on(&back)).unwrap();
    a_b.join(b.pid).unwrap();

    let endpoint = a_web.endpoint().clone();
    let on_front = endpoint.address.unwrap();
    let link = &endpoint.more[0];
    let on_back = link.address.unwrap();
    assert_eq!(link.inside, "eth1");
    assert!(front.subnet.contains(on_front) && back.subnet.contains(on_back));
    assert!(address_inside(&web, "eth0").contains(&format!("{on_front}/")));
    assert!(address_inside(&web, "eth1").contains(&format!("{on_back}/")));
    // One default route, through the first network.
    let routes = web.run(&["ip", "route", "show", "default"]).0;
    assert_eq!(
        routes.trim(),
        format!("default via {} dev eth0", front.gateway),
        "{routes}"
    );
    assert_eq!(endpoint.dns_records.len(), 2, "{endpoint:?}");

    // Each neighbour reaches web on the network the two share; the two
    // networks stay apart.
    let (a_address, b_address) = (
        a_a.endpoint().address.unwrap(),
        a_b.endpoint().address.unwrap(),
    );
    assert!(a.pings(&on_front.to_string()), "a cannot reach web");
    assert!(b.pings(&on_back.to_string()), "b cannot reach web");
    assert!(web.pings(&a_address.to_string()) && web.pings(&b_address.to_string()));
    assert!(!a.pings(&b_address.to_string()), "front reaches back");

    // Its names on the second network, under that network's aliases.
    let records = sandbox.store.records(&back).unwrap();
    let record = records
        .records
        .iter()
        .find(|r| r.container == web_id.id)
        .expect("web's record on back");
    assert_eq!(record.address, on_back);
    assert!(record.names.iter().any(|n| n == "api"), "{record:?}");
    let inspected = ch06_network::inspect::inspect(&sandbox.store, &back.name).unwrap();
    assert!(inspected.containers.contains_key(&web_id.id));

    // The container ends: both cables, both leases, both records go.
    drop(web);
    a_web.release().unwrap();
    wait_gone(&link.veth);
    for network in [&front, &back] {
        let attached = sandbox.store.attached(network).unwrap();
        assert!(!attached.contains(&web_id.id), "{attached:?}");
    }
    a_a.release().unwrap();
    a_b.release().unwrap();
}

#[test]
fn a_second_network_is_checked_before_anything_is_made() {
    let sandbox = Sandbox::new();
    let front = sandbox.network("front", false);
    let who = identity("web");
    for (extra, expected) in [
        (also(&front, &[]), "given twice"),
        (
            ExtraNetwork {
                network: "no-such-network".into(),
                ..ExtraNetwork::default()
            },
            "no-such-network",
        ),
        (
            ExtraNetwork {
                network: "bridge".into(),
                aliases: vec!["api".into()],
                ip: None,
            },
            "user-defined networks only",
        ),
    ] {
        let request = NetworkRequest {
            also: vec![extra],
            ..on(&front)
        };
        let error = Attachment::prepare(&sandbox.store, &who, &request)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
        assert!(attachment::endpoints(&sandbox.store).unwrap().is_empty());
        assert!(sandbox.store.attached(&front).unwrap().is_empty());
    }
}

#[test]
fn a_running_container_connects_to_a_network_and_disconnects() {
    let sandbox = Sandbox::new();
    let (front, back) = (
        sandbox.network("front", false),
        sandbox.network("back", false),
    );
    let (web, b) = (FakeContainer::start(), FakeContainer::start());
    let web_id = identity("web");
    let mut a_web = Attachment::prepare(&sandbox.store, &web_id, &on(&front)).unwrap();
    a_web.join(web.pid).unwrap();
    let mut a_b = Attachment::prepare(&sandbox.store, &identity("b"), &on(&back)).unwrap();
    a_b.join(b.pid).unwrap();

    let link =
        attachment::connect(&sandbox.store, &web_id.id, web.pid, &also(&back, &["api"])).unwrap();
    let on_back = link.address.unwrap();
    assert_eq!(link.inside, "eth1");
    assert!(address_inside(&web, "eth1").contains(&format!("{on_back}/")));
    assert!(
        b.pings(&on_back.to_string()),
        "b cannot reach web after connect"
    );
    let endpoint = attachment::find_endpoint(&sandbox.store, &web_id.id)
        .unwrap()
        .unwrap();
    assert_eq!(endpoint.more, std::slice::from_ref(&link));
    assert_eq!(endpoint.dns_records.len(), 2);
    let twice = attachment::connect(&sandbox.store, &web_id.id, web.pid, &also(&back, &[]));
    assert!(
        twice
            .unwrap_err()
            .to_string()
            .contains("already on network")
    );

    attachment::disconnect(&sandbox.store, &web_id.id, &back.name).unwrap();
    wait_gone(&link.veth);
    assert!(!b.pings(&on_back.to_string()), "b still reaches web");
    assert!(!sandbox.store.attached(&back).unwrap().contains(&web_id.id));
    let endpoint = attachment::find_endpoint(&sandbox.store, &web_id.id)
        .unwrap()
        .unwrap();
    assert!(endpoint.more.is_empty() && endpoint.dns_records.len() == 1);
    let again = attachment::disconnect(&sandbox.store, &web_id.id, &back.name);
    assert!(again.unwrap_err().to_string().contains("not on network"));

    // Connected again, then the container ends: its release, made from
    // what it knew when it started, frees the late cable too.
    let link = attachment::connect(&sandbox.store, &web_id.id, web.pid, &also(&back, &[])).unwrap();
    drop(web);
    a_web.release().unwrap();
    wait_gone(&link.veth);
    assert!(!sandbox.store.attached(&back).unwrap().contains(&web_id.id));
    assert!(
        attachment::find_endpoint(&sandbox.store, &web_id.id)
            .unwrap()
            .is_none()
    );
    a_b.release().unwrap();
}

#[test]
fn a_running_container_leaves_its_first_network() {
    let sandbox = Sandbox::new();
    let (front, back) = (
        sandbox.network("front", false),
        sandbox.network("back", false),
    );
    let (web, a) = (FakeContainer::start(), FakeContainer::start());
    let web_id = identity("web");
    let request = NetworkRequest {
        also: vec![also(&back, &[])],
        ..on(&front)
    };
    let mut a_web = Attachment::prepare(&sandbox.store, &web_id, &request).unwrap();
    a_web.join(web.pid).unwrap();
    let mut a_a = Attachment::prepare(&sandbox.store, &identity("a"), &on(&front)).unwrap();
    a_a.join(a.pid).unwrap();
    let endpoint = a_web.endpoint().clone();
    let on_front = endpoint.address.unwrap();
    assert!(a.pings(&on_front.to_string()));

    attachment::disconnect(&sandbox.store, &web_id.id, &front.id).unwrap();
    wait_gone(endpoint.veth.as_ref().unwrap());
    assert!(
        !a.pings(&on_front.to_string()),
        "a still reaches web on front"
    );
    assert!(!sandbox.store.attached(&front).unwrap().contains(&web_id.id));
    let left = attachment::find_endpoint(&sandbox.store, &web_id.id)
        .unwrap()
        .unwrap();
    assert!(left.network.is_none() && left.address.is_none());
    assert_eq!(left.dns_records, [sandbox.store.records_path(&back)]);
    // Still on back; and it may join front again.
    assert!(address_inside(&web, "eth1").contains(&format!("{}/", left.more[0].address.unwrap())));
    let link =
        attachment::connect(&sandbox.store, &web_id.id, web.pid, &also(&front, &[])).unwrap();
    assert!(a.pings(&link.address.unwrap().to_string()));

    drop(web);
    a_web.release().unwrap();
    wait_gone(&link.veth);
    for network in [&front, &back] {
        assert!(
            !sandbox
                .store
                .attached(network)
                .unwrap()
                .contains(&web_id.id)
        );
    }
    a_a.release().unwrap();
}
