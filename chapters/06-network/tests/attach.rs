//! Containers joining networks, on the real kernel: veth pairs, addresses,
//! routes, the hosts files, and nothing left after release.

mod support;

use ch06_network::attachment::{self, Attachment};
use ch06_network::request::{NetworkMode, NetworkRequest};
use support::{FakeContainer, Sandbox, address_inside, host_links, identity, nft_table};

fn on(network: &str) -> NetworkRequest {
    NetworkRequest {
        mode: NetworkMode::Network(network.to_string()),
        ..NetworkRequest::default()
    }
}

#[test]
fn two_containers_on_a_user_network_reach_each_other_and_the_gateway() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("pair", false);
    let (one, two) = (FakeContainer::start(), FakeContainer::start());
    let (id1, id2) = (identity("one"), identity("two"));

    let mut a1 = Attachment::prepare(&sandbox.store, &id1, &on(&network.name)).unwrap();
    let mut a2 = Attachment::prepare(&sandbox.store, &id2, &on(&network.name)).unwrap();
    a1.join(one.pid).unwrap();
    a2.join(two.pid).unwrap();

    let (addr1, addr2) = (
        a1.endpoint().address.unwrap(),
        a2.endpoint().address.unwrap(),
    );
    assert_ne!(addr1, addr2);
    assert!(network.subnet.contains(addr1) && network.subnet.contains(addr2));

    // Inside: eth0 with the address, lo up, a default route via the gateway.
    let eth0 = address_inside(&one, "eth0");
    assert!(
        eth0.contains(&format!("inet {addr1}/{}", network.subnet.prefix())),
        "{eth0}"
    );
    let routes = one.run(&["ip", "route"]).0;
    assert!(
        routes.contains(&format!("default via {} dev eth0", network.gateway)),
        "{routes}"
    );
    let lo = one.run(&["ip", "-o", "link", "show", "lo"]).0;
    assert!(lo.contains("UP"), "{lo}");
    // The MTU of the bridge, which is the MTU of the host's uplink.
    let bridge_mtu =
        std::fs::read_to_string(format!("/sys/class/net/{}/mtu", network.bridge)).unwrap();
    let link = one.run(&["ip", "-o", "link", "show", "eth0"]).0;
    assert!(
        link.contains(&format!(" mtu {} ", bridge_mtu.trim())),
        "{link} vs {bridge_mtu}"
    );
    let uplink = skiff_testkit::output({
        let mut c = std::process::Command::new("ip");
        c.args(["-o", "route", "show", "default"]);
        c
    })
    .0;
    let dev = uplink
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap()
        .to_string();
    let uplink_mtu = std::fs::read_to_string(format!("/sys/class/net/{dev}/mtu")).unwrap();
    assert_eq!(bridge_mtu, uplink_mtu);

    // On the host: the veth's host end is a port of the bridge.
    let veth = a1.endpoint().veth.clone().unwrap();
    let master = std::fs::read_link(format!("/sys/class/net/{veth}/master")).unwrap();
    assert!(master.ends_with(&network.bridge), "{}", master.display());

    assert!(one.pings(&addr2.to_string()), "one cannot reach two");
    assert!(two.pings(&addr1.to_string()), "two cannot reach one");
    assert!(
        one.pings(&network.gateway.to_string()),
        "one cannot reach the gateway"
    );

    // The hosts files.
    let files = a1.files().clone();
    let hosts = std::fs::read_to_string(&files.hosts).unwrap();
    assert!(hosts.contains(&format!("{addr1}\thone")), "{hosts}");
    assert_eq!(std::fs::read_to_string(&files.hostname).unwrap(), "hone\n");
    let resolv = std::fs::read_to_string(&files.resolv_conf).unwrap();
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("ndots:0"), "{resolv}");

    // The containers end, then their attachments are released, as the run
    // path does: the kernel destroys each pair with its namespace.
    drop(one);
    drop(two);
    a1.release().unwrap();
    a2.release().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while host_links().contains(&veth) {
        assert!(
            std::time::Instant::now() < deadline,
            "veth left after release"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!files.hosts.exists(), "files left after release");
    assert!(sandbox.store.attached(&network).unwrap().is_empty());
    assert!(sandbox.store.records(&network).unwrap().records.is_empty());
    assert!(attachment::endpoints(&sandbox.store).unwrap().is_empty());
}

#[test]
fn the_default_bridge_is_made_on_first_use_and_has_no_dns() {
    let sandbox = Sandbox::new();
    let container = FakeContainer::start();
    let who = identity("web");
    let mut attached =
        Attachment::prepare(&sandbox.store, &who, &NetworkRequest::default()).unwrap();
    attached.join(container.pid).unwrap();
    let network = attached.endpoint().network.clone().unwrap();
    assert_eq!(network.name, "bridge");
    assert_eq!(network.bridge, sandbox.store.config().default_bridge);
    assert!(host_links().contains(&network.bridge));
    assert!(
        attached.dns_fd().is_none(),
        "the default bridge has no DNS responder"
    );
    let resolv = std::fs::read_to_string(&attached.files().resolv_conf).unwrap();
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    assert!(
        !resolv.contains("nameserver 127."),
        "a loopback name server is unreachable inside: {resolv}"
    );
    assert!(container.pings(&network.gateway.to_string()));
    // The default network is not removed by rm, and stays while in use.
    assert!(sandbox.store.remove("bridge").is_err());
    attached.release().unwrap();
}

#[test]
fn none_and_host_modes_get_files_and_no_link() {
    let sandbox = Sandbox::new();
    for mode in [NetworkMode::None, NetworkMode::Host] {
        let who = identity("solo");
        let request = NetworkRequest {
            mode: mode.clone(),
            add_hosts: vec!["db:10.9.8.7".parse().unwrap()],
            ..NetworkRequest::default()
        };
        let mut attached = Attachment::prepare(&sandbox.store, &who, &request).unwrap();
        attached.join(nix::unistd::getpid()).unwrap(); // nothing to do, whatever the pid
        assert!(attached.endpoint().network.is_none());
        let hosts = std::fs::read_to_string(&attached.files().hosts).unwrap();
        assert!(hosts.contains("10.9.8.7\tdb"), "{mode}: {hosts}");
        attached.release().unwrap();
        assert!(!host_links().contains(&attachment::veth_name(&who.id)));
    }
    assert!(
        sandbox.store.list().unwrap().is_empty(),
        "none and host need no network"
    );
}

#[test]
fn container_mode_shares_the_other_containers_files() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("share", false);
    let first =
        Attachment::prepare(&sandbox.store, &identity("first"), &on(&network.name)).unwrap();
    let request = NetworkRequest {
        mode: NetworkMode::Container("first".to_string()),
        ..NetworkRequest::default()
    };
    let second = Attachment::prepare(&sandbox.store, &identity("second"), &request).unwrap();
    assert_eq!(second.files(), first.files());
    assert!(second.endpoint().address.is_none());
    second.release().unwrap();
    assert!(
        first.files().hosts.exists(),
        "releasing the joiner must keep the owner's files"
    );
    first.release().unwrap();

    let missing = NetworkRequest {
        mode: NetworkMode::Container("nobody".to_string()),
        ..NetworkRequest::default()
    };
    let err = Attachment::prepare(&sandbox.store, &identity("third"), &missing).unwrap_err();
    assert!(
        err.to_string().contains("container nobody is not running"),
        "{err}"
    );
}

#[test]
fn a_requested_address_is_given_once() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("ip", false);
    let wanted = network.subnet.nth_subnet(32, 77).unwrap().network();
    let request = NetworkRequest {
        ip: Some(wanted),
        ..on(&network.name)
    };
    let a = identity("a");
    let first = Attachment::prepare(&sandbox.store, &a, &request).unwrap();
    assert_eq!(first.endpoint().address, Some(wanted));
    let err = Attachment::prepare(&sandbox.store, &identity("b"), &request).unwrap_err();
    assert!(err.to_string().contains("already in use"), "{err}");
    let outside = NetworkRequest {
        ip: Some("172.31.254.9".parse().unwrap()),
        ..on(&network.name)
    };
    let err = Attachment::prepare(&sandbox.store, &identity("c"), &outside).unwrap_err();
    assert!(err.to_string().contains("is not in the subnet"), "{err}");
    // Nothing half-made by the refused ones.
    assert_eq!(attachment::endpoints(&sandbox.store).unwrap().len(), 1);
    first.release().unwrap();
    // No rule of this container is left (the table is the machine's: other
    // tests' containers may have theirs meanwhile).
    assert!(!nft_table().contains(&format!("container {}", a.id)));
}
