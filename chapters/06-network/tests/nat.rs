//! Outbound NAT and isolation, on the real kernel. The "outside world" is
//! an upstream namespace of the test's own, wired to the host by a veth
//! pair and routed from it: a container's packets to it are forwarded by
//! the host and masqueraded, and it sees them come from the host's address.
//! No packet goes anywhere else.

mod support;

use ch06_network::attachment::Attachment;
use ch06_network::netlink::Netlink;
use ch06_network::request::{NetworkMode, NetworkRequest};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;
use support::{FakeContainer, Sandbox, identity};

/// A veth pair from the host to an upstream namespace: `host_ip/30` on the
/// host's end, `upstream_ip/30` inside. Deleted when dropped.
struct Uplink {
    name: String,
}

impl Uplink {
    fn new(upstream: &FakeContainer, host_ip: Ipv4Addr, upstream_ip: Ipv4Addr) -> Uplink {
        let name = format!("skup{}", std::process::id() % 1_000_000);
        let peer = format!("skdn{}", std::process::id() % 1_000_000);
        let mut host = Netlink::open().unwrap();
        host.create_veth(&name, &peer, 1500).unwrap();
        let uplink = Uplink { name: name.clone() };
        let index = host.index_of(&name).unwrap();
        host.add_address(index, host_ip, 30).unwrap();
        host.set_up(index).unwrap();
        let peer_index = host.index_of(&peer).unwrap();
        let netns = ch06_network::netns::open_of_process(upstream.pid).unwrap();
        host.move_to_netns(peer_index, netns.as_fd()).unwrap();
        upstream.enter(|| {
            let mut inside = Netlink::open().unwrap();
            let index = inside.index_of(&peer).unwrap();
            inside.add_address(index, upstream_ip, 30).unwrap();
            inside.set_up(index).unwrap();
        });
        uplink
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        if let Ok(mut netlink) = Netlink::open() {
            let _ = netlink.delete_link_named(&self.name);
        }
    }
}

fn peer_seen_by(listener: TcpListener) -> std::thread::JoinHandle<Option<String>> {
    listener.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().ok()?;
        let _ = stream.write_all(b"ok");
        Some(peer.ip().to_string())
    })
}

#[test]
fn outbound_traffic_is_masqueraded_to_the_hosts_address() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("out", false);
    let (container, upstream) = (FakeContainer::start(), FakeContainer::start());
    let n = (std::process::id() % 60) as u8 * 4;
    let (host_ip, upstream_ip) = (
        Ipv4Addr::new(10, 204, 77, n + 1),
        Ipv4Addr::new(10, 204, 77, n + 2),
    );
    let _uplink = Uplink::new(&upstream, host_ip, upstream_ip);
    let request = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        ..NetworkRequest::default()
    };
    let mut attached = Attachment::prepare(&sandbox.store, &identity("client"), &request).unwrap();
    attached.join(container.pid).unwrap();

    let seen = peer_seen_by(
        upstream
            .enter(|| TcpListener::bind((upstream_ip, 8000)))
            .unwrap(),
    );
    let to = SocketAddr::from((upstream_ip, 8000));
    let mut stream = container
        .enter(|| TcpStream::connect_timeout(&to, Duration::from_secs(3)))
        .expect("the container reaches the upstream");
    let mut reply = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    stream.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "ok");
    let peer = seen.join().unwrap().unwrap();
    assert_eq!(
        peer,
        host_ip.to_string(),
        "the upstream must see the host's address, not the container's {}",
        attached.endpoint().address.unwrap()
    );
    attached.release().unwrap();
}

#[test]
fn containers_on_different_networks_cannot_reach_each_other() {
    let sandbox = Sandbox::new();
    let (red, blue) = (
        sandbox.network("red", false),
        sandbox.network("blue", false),
    );
    let (c_red, c_blue) = (FakeContainer::start(), FakeContainer::start());
    let on = |name: &str| NetworkRequest {
        mode: NetworkMode::Network(name.to_string()),
        ..NetworkRequest::default()
    };
    let mut a_red = Attachment::prepare(&sandbox.store, &identity("r"), &on(&red.name)).unwrap();
    a_red.join(c_red.pid).unwrap();
    let mut a_blue = Attachment::prepare(&sandbox.store, &identity("b"), &on(&blue.name)).unwrap();
    a_blue.join(c_blue.pid).unwrap();

    assert!(c_red.pings(&red.gateway.to_string()));
    assert!(c_blue.pings(&blue.gateway.to_string()));
    let blue_address = a_blue.endpoint().address.unwrap().to_string();
    let red_address = a_red.endpoint().address.unwrap().to_string();
    assert!(!c_red.pings(&blue_address), "red reached blue");
    assert!(!c_blue.pings(&red_address), "blue reached red");
    a_red.release().unwrap();
    a_blue.release().unwrap();
}
