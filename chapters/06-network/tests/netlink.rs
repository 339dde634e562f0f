//! The netlink client on its own, in a network namespace of the test's own
//! (the test thread `unshare`s one), so the host's links are never touched.

mod support;

use ch06_network::netlink::Netlink;
use nix::sched::{CloneFlags, unshare};
use std::net::Ipv4Addr;
use support::FakeContainer;

/// Runs `f` on a new thread inside a new, empty network namespace, which
/// disappears with the thread.
fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    skiff_testkit::require_root();
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        f()
    })
    .join()
    .expect("the test thread panicked")
}

#[test]
fn an_empty_namespace_holds_only_loopback_down() {
    let links = in_new_netns(|| Netlink::open().unwrap().links().unwrap());
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].name, "lo");
    assert!(!links[0].up);
}

#[test]
fn bridge_veth_address_route_and_move() {
    let container = FakeContainer::start();
    let pid = container.pid;
    let (links, addresses, routes, errno, deleted) = in_new_netns(move || {
        let mut nl = Netlink::open().unwrap();
        nl.create_bridge("br0", [0x02, 1, 2, 3, 4, 5], 1400)
            .unwrap();
        let errno = nl
            .create_bridge("br0", [0x02, 1, 2, 3, 4, 5], 1400)
            .unwrap_err()
            .errno();
        nl.create_veth("va", "vb", 1400).unwrap();
        let (br, va) = (nl.index_of("br0").unwrap(), nl.index_of("va").unwrap());
        nl.set_master(va, br).unwrap();
        nl.set_up(va).unwrap();
        nl.set_up(br).unwrap();
        nl.add_address(br, Ipv4Addr::new(10, 0, 0, 1), 24).unwrap();
        let netns = ch06_network::netns::open_of_process(pid).unwrap();
        let vb = nl.index_of("vb").unwrap();
        nl.move_to_netns(vb, std::os::fd::AsFd::as_fd(&netns))
            .unwrap();
        let links = nl.links().unwrap();
        let addresses = nl.addresses().unwrap();
        let routes = nl.routes().unwrap();
        let deleted = (
            nl.delete_link_named("va").unwrap(),
            nl.delete_link_named("va").unwrap(),
        );
        (links, addresses, routes, errno, deleted)
    });
    assert_eq!(errno, Some(libc::EEXIST));
    let br = links.iter().find(|l| l.name == "br0").unwrap();
    assert_eq!(
        (br.kind.as_deref(), br.mtu, br.up),
        (Some("bridge"), 1400, true)
    );
    let va = links.iter().find(|l| l.name == "va").unwrap();
    assert_eq!(
        (va.kind.as_deref(), va.master),
        (Some("veth"), Some(br.index))
    );
    assert!(
        !links.iter().any(|l| l.name == "vb"),
        "vb should have moved out"
    );
    assert!(
        addresses.iter().any(|a| a.index == br.index
            && a.address == Ipv4Addr::new(10, 0, 0, 1)
            && a.prefix == 24)
    );
    assert!(
        routes
            .iter()
            .any(|r| r.destination == Ipv4Addr::new(10, 0, 0, 0)
                && r.prefix == 24
                && r.oif == Some(br.index))
    );
    assert_eq!(deleted, (true, false));
    // vb arrived in the container's namespace, and went with its peer.
    let inside = container.run(&["ip", "-o", "link"]).0;
    assert!(
        !inside.contains("vb"),
        "deleting va deletes its peer vb: {inside}"
    );
}

#[test]
fn inside_a_namespace_a_link_is_renamed_addressed_and_routed() {
    let (link, routes) = in_new_netns(|| {
        let mut nl = Netlink::open().unwrap();
        nl.create_veth("tmp0", "peer0", 1500).unwrap();
        let index = nl.index_of("tmp0").unwrap();
        nl.set_name(index, "eth0").unwrap();
        nl.set_mac(index, [0x02, 0x42, 10, 0, 0, 2]).unwrap();
        nl.set_mtu(index, 1280).unwrap();
        nl.add_address(index, Ipv4Addr::new(10, 1, 0, 2), 16)
            .unwrap();
        nl.set_up(index).unwrap();
        nl.add_default_route(Ipv4Addr::new(10, 1, 0, 1), index)
            .unwrap();
        (nl.link("eth0").unwrap().unwrap(), nl.routes().unwrap())
    });
    assert_eq!((link.mtu, link.up), (1280, true));
    let default = routes
        .iter()
        .find(|r| r.prefix == 0 && r.table == 254)
        .expect("a default route");
    assert_eq!(
        (default.gateway, default.oif),
        (Some(Ipv4Addr::new(10, 1, 0, 1)), Some(link.index))
    );
}
