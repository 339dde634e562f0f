//! The store of networks on the real kernel: create, list, inspect, remove,
//! prune; bad input refused with nothing half-made; bridges and rules gone
//! after removal.

mod support;

use ch06_network::attachment::{Attachment, Identity};
use ch06_network::inspect::inspect;
use ch06_network::request::{NetworkMode, NetworkRequest};
use ch06_network::store::{NetworkError, NetworkSpec};
use support::{Sandbox, host_links, identity, nft_table, unique};

fn spec(name: &str) -> NetworkSpec {
    NetworkSpec {
        name: name.to_string(),
        ..NetworkSpec::default()
    }
}

#[test]
fn create_inspect_and_remove_leave_nothing() {
    let sandbox = Sandbox::new();
    let name = unique("app");
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("tier".to_string(), "back".to_string());
    let network = sandbox
        .store
        .create(&NetworkSpec {
            labels,
            ..spec(&name)
        })
        .unwrap();
    assert!(network.bridge.starts_with("skiff-") && network.bridge.len() <= 15);
    assert_eq!(network.gateway, network.subnet.first_host());
    assert!(host_links().contains(&network.bridge));
    let table = nft_table();
    assert!(
        table.contains(&format!(
            "ip saddr {} oifname != \"{}\" masquerade",
            network.subnet, network.bridge
        )),
        "{table}"
    );
    assert_eq!(
        std::fs::read_to_string(format!(
            "/proc/sys/net/ipv4/conf/{}/route_localnet",
            network.bridge
        ))
        .unwrap()
        .trim(),
        "1"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );

    let listed: Vec<String> = sandbox
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(listed.contains(&name));

    let who: Identity = identity("member");
    let request = NetworkRequest {
        mode: NetworkMode::Network(name.clone()),
        ..NetworkRequest::default()
    };
    let attached = Attachment::prepare(&sandbox.store, &who, &request).unwrap();
    let json = serde_json::to_value(inspect(&sandbox.store, &name).unwrap()).unwrap();
    assert_eq!(json["Name"], name.as_str());
    assert_eq!(
        json["IPAM"]["Config"][0]["Subnet"],
        network.subnet.to_string().as_str()
    );
    assert_eq!(
        json["IPAM"]["Config"][0]["Gateway"],
        network.gateway.to_string().as_str()
    );
    assert_eq!(json["Labels"]["tier"], "back");
    let member = &json["Containers"][&who.id];
    assert_eq!(member["Name"], "member");
    let address = attached.endpoint().address.unwrap();
    assert_eq!(
        member["IPv4Address"],
        format!("{address}/{}", network.subnet.prefix()).as_str()
    );

    // Refused while a container uses it.
    let err = sandbox.store.remove(&name).unwrap_err();
    assert!(matches!(err, NetworkError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("(member)"), "{err}");
    attached.release().unwrap();

    sandbox.store.remove(&name).unwrap();
    assert!(!host_links().contains(&network.bridge), "bridge left");
    assert!(!nft_table().contains(&network.id), "rules left");
    assert!(
        !sandbox.store.dir().join(&network.id).exists(),
        "files left"
    );
    assert!(matches!(
        sandbox.store.get(&name),
        Err(NetworkError::NotFound(_))
    ));
}

#[test]
fn an_internal_network_has_no_masquerade_and_no_way_out() {
    let sandbox = Sandbox::new();
    let internal = sandbox.network("int", true);
    let table = nft_table();
    assert!(
        !table.contains(&format!("ip saddr {}", internal.subnet)),
        "masquerade on an internal network:\n{table}"
    );
    assert!(
        table.contains(&format!(
            "iifname \"{0}\" oifname != \"{0}\" drop",
            internal.bridge
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "oifname \"{0}\" iifname != \"{0}\" drop",
            internal.bridge
        )),
        "{table}"
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_made() {
    let sandbox = Sandbox::new();
    let first = sandbox.network("first", false);
    let count = || sandbox.store.list().unwrap().len();
    let before = count();

    // Overlapping one of ours.
    let err = sandbox
        .store
        .create(&NetworkSpec {
            subnet: Some(first.subnet),
            ..spec(&unique("dup"))
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("overlaps network {}", first.name)),
        "{err}"
    );
    // Overlapping a route of the host (the bridge of another engine's network).
    let elsewhere = Sandbox::new();
    let foreign = elsewhere.network("foreign", false);
    let err = sandbox
        .store
        .create(&NetworkSpec {
            subnet: Some(foreign.subnet),
            ..spec(&unique("clash"))
        })
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "overlaps the host's route to {} on {}",
            foreign.subnet, foreign.bridge
        )),
        "{err}"
    );
    // Only the foreign bridge holds an address in that subnet (while it
    // exists, no other test can be given the subnet).
    let holders = skiff_testkit::output({
        let mut c = std::process::Command::new("ip");
        c.args([
            "-4",
            "-o",
            "addr",
            "show",
            "to",
            &foreign.subnet.to_string(),
        ]);
        c
    })
    .0;
    assert_eq!(holders.lines().count(), 1, "{holders}");
    assert!(holders.contains(&foreign.bridge), "{holders}");
    drop(elsewhere);
    // A gateway outside the subnet, or without one.
    let subnet = "10.203.250.0/24".parse().unwrap();
    let err = sandbox
        .store
        .create(&NetworkSpec {
            subnet: Some(subnet),
            gateway: Some("10.203.251.1".parse().unwrap()),
            ..spec(&unique("gw"))
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gateway 10.203.251.1 is not a host address of the subnet 10.203.250.0/24"
    );
    let err = sandbox
        .store
        .create(&NetworkSpec {
            gateway: Some("10.203.251.1".parse().unwrap()),
            ..spec(&unique("gw"))
        })
        .unwrap_err();
    assert!(matches!(err, NetworkError::GatewayWithoutSubnet));
    // Names: taken, reserved, malformed.
    assert!(matches!(
        sandbox.store.create(&spec(&first.name)),
        Err(NetworkError::Exists(_))
    ));
    for reserved in ["bridge", "host", "none"] {
        assert!(
            matches!(
                sandbox.store.create(&spec(reserved)),
                Err(NetworkError::Reserved(_))
            ),
            "{reserved}"
        );
    }
    for bad in ["", "-x", "a/b", "with space"] {
        assert!(
            matches!(
                sandbox.store.create(&spec(bad)),
                Err(NetworkError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    // An unknown network.
    let request = NetworkRequest {
        mode: NetworkMode::Network("no-such-net".into()),
        ..NetworkRequest::default()
    };
    let err = Attachment::prepare(&sandbox.store, &identity("lost"), &request).unwrap_err();
    assert_eq!(
        err.to_string(),
        "network no-such-net not found: see `network ls`"
    );

    assert_eq!(count(), before);
    let addresses = skiff_testkit::output({
        let mut c = std::process::Command::new("ip");
        c.args(["-4", "-o", "addr", "show"]);
        c
    })
    .0;
    let refused_subnet = "inet 10.203.250.";
    assert!(
        !addresses.contains(refused_subnet),
        "a refused create left an address:\n{addresses}"
    );
}

#[test]
fn a_given_subnet_and_gateway_are_used() {
    let sandbox = Sandbox::new();
    let subnet = "10.203.7.0/24".parse().unwrap();
    let gateway = "10.203.7.254".parse().unwrap();
    let network = sandbox
        .store
        .create(&NetworkSpec {
            subnet: Some(subnet),
            gateway: Some(gateway),
            ..spec(&unique("given"))
        })
        .unwrap();
    assert_eq!((network.subnet, network.gateway), (subnet, gateway));
    let addresses = skiff_testkit::output({
        let mut c = std::process::Command::new("ip");
        c.args(["-4", "-o", "addr", "show", "dev", &network.bridge]);
        c
    })
    .0;
    assert!(addresses.contains("inet 10.203.7.254/24"), "{addresses}");
}

#[test]
fn prune_removes_unused_user_networks_only() {
    let sandbox = Sandbox::new();
    let unused = sandbox.network("unused", false);
    let used = sandbox.network("used", false);
    let request = NetworkRequest {
        mode: NetworkMode::Network(used.name.clone()),
        ..NetworkRequest::default()
    };
    let attached = Attachment::prepare(&sandbox.store, &identity("keeper"), &request).unwrap();
    let default = sandbox.store.default_network().unwrap();
    let pruned = sandbox.store.prune().unwrap();
    assert_eq!(pruned, vec![unused.name.clone()]);
    let left: Vec<String> = sandbox
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(left.contains(&used.name) && left.contains(&default.name));
    assert!(!host_links().contains(&unused.bridge));
    attached.release().unwrap();
}

#[test]
fn a_network_s_mtu_is_its_bridge_s_and_its_cables() {
    let sandbox = Sandbox::new();
    let mtu_of = |link: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{link}/mtu"))
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let jumbo = sandbox
        .store
        .create(&NetworkSpec {
            mtu: Some(65535),
            ..spec(&unique("jumbo"))
        })
        .unwrap();
    assert_eq!(mtu_of(&jumbo.bridge), 65535);
    let inspected = inspect(&sandbox.store, &jumbo.name).unwrap();
    assert_eq!(
        inspected.options.get(ch06_network::inspect::MTU_OPTION),
        Some(&"65535".to_string())
    );
    let container = support::FakeContainer::start();
    let who = identity("web");
    let request = NetworkRequest {
        mode: NetworkMode::Network(jumbo.name.clone()),
        ..NetworkRequest::default()
    };
    let mut attached = Attachment::prepare(&sandbox.store, &who, &request).unwrap();
    attached.join(container.pid).unwrap();
    assert_eq!(mtu_of(attached.endpoint().veth.as_ref().unwrap()), 65535);
    // (/sys shows the host's links: the container's are asked over netlink.)
    let inside = container.run(&["ip", "-o", "link", "show", "eth0"]).0;
    assert!(inside.contains(" mtu 65535 "), "{inside}");
    drop(container);
    attached.release().unwrap();

    for bad in [10, 70000] {
        let error = sandbox
            .store
            .create(&NetworkSpec {
                mtu: Some(bad),
                ..spec(&unique("bad"))
            })
            .unwrap_err();
        assert!(matches!(error, NetworkError::Mtu(m) if m == bad), "{error}");
    }
}
