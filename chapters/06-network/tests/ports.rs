//! Published ports on the real kernel: DNAT from the host's 127.0.0.1,
//! from the host's address on the bridge, and from a neighbour (hairpin),
//! over TCP and UDP; a busy port refused; no rule left after release.
//! Every connection goes to loopback or into the tests' own namespaces.

mod support;

use ch06_network::attachment::{self, Attachment};
use ch06_network::ports::{PortMapping, Protocol, parse_publish};
use ch06_network::request::{NetworkMode, NetworkRequest};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;
use support::{FakeContainer, Sandbox, identity, nft_table};

/// Answers every TCP connection with the address it came from.
fn serve_tcp(listener: TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let peer = stream
                .peer_addr()
                .map(|p| p.ip().to_string())
                .unwrap_or_default();
            let _ = stream.write_all(format!("hello {peer}\n").as_bytes());
        }
    });
}

/// Echoes every UDP datagram.
fn serve_udp(socket: UdpSocket) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(&buffer[..n], from);
        }
    });
}

/// Connects to `to` and returns what the server said.
fn fetch(to: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn mapping(ports: &[PortMapping], host_ip: &str, protocol: Protocol) -> SocketAddr {
    let found = ports
        .iter()
        .find(|p| p.host_ip.to_string() == host_ip && p.protocol == protocol)
        .expect("published port");
    let ip = if found.host_ip.is_unspecified() {
        "127.0.0.1".parse().unwrap()
    } else {
        found.host_ip
    };
    SocketAddr::new(ip.into(), found.host_port)
}

#[test]
fn published_ports_forward_from_loopback_the_bridge_address_and_a_neighbour() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("pub", false);
    let (server, neighbour) = (FakeContainer::start(), FakeContainer::start());
    let gateway = network.gateway.to_string();
    let mut publish = parse_publish("127.0.0.1::80").unwrap();
    publish.extend(parse_publish(&format!("{gateway}::80")).unwrap());
    publish.extend(parse_publish("::80").unwrap());
    publish.extend(parse_publish("127.0.0.1::53/udp").unwrap());
    let request = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        publish,
        ..NetworkRequest::default()
    };
    let who = identity("srv");
    let mut served = Attachment::prepare(&sandbox.store, &who, &request).unwrap();
    served.join(server.pid).unwrap();
    let neighbour_request = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        ..NetworkRequest::default()
    };
    let mut other =
        Attachment::prepare(&sandbox.store, &identity("nb"), &neighbour_request).unwrap();
    other.join(neighbour.pid).unwrap();

    // Listeners inside the server's namespace.
    serve_tcp(server.enter(|| TcpListener::bind("0.0.0.0:80")).unwrap());
    // Port 53 is free in the container although its DNS responder runs:
    // the responder listens elsewhere and a rule inside redirects to it.
    serve_udp(server.enter(|| UdpSocket::bind("0.0.0.0:53")).unwrap());

    let ports = served.ports().to_vec();
    assert_eq!(ports.len(), 4);
    assert!(ports.iter().all(|p| p.host_port != 0));
    let table = nft_table();
    assert!(
        table.contains(&format!("comment \"container {}\"", who.id)),
        "{table}"
    );

    // From the host's 127.0.0.1: DNAT in output, route_localnet, masquerade
    // (the container sees the gateway, never 127.0.0.1).
    let answer = fetch(mapping(&ports, "127.0.0.1", Protocol::Tcp)).unwrap();
    assert_eq!(answer, format!("hello {gateway}\n"));
    // A port published on every address, reached through 127.0.0.1.
    let answer = fetch(mapping(&ports, "0.0.0.0", Protocol::Tcp)).unwrap();
    assert_eq!(answer, format!("hello {gateway}\n"));
    // From the host's own address on the bridge.
    let answer = fetch(mapping(&ports, &gateway, Protocol::Tcp)).unwrap();
    assert_eq!(answer, format!("hello {gateway}\n"));
    // Hairpin: the neighbour reaches the published port through the host.
    let to = mapping(&ports, &gateway, Protocol::Tcp);
    let answer = neighbour.enter(|| fetch(to)).unwrap();
    assert_eq!(
        answer,
        format!("hello {gateway}\n"),
        "hairpin traffic comes back through the host"
    );
    // UDP from 127.0.0.1.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client
        .send_to(b"ping", mapping(&ports, "127.0.0.1", Protocol::Udp))
        .unwrap();
    let mut buffer = [0u8; 16];
    let (n, _) = client
        .recv_from(&mut buffer)
        .expect("udp echo through the published port");
    assert_eq!(&buffer[..n], b"ping");

    // What `port NAME` prints.
    let endpoint = attachment::find_endpoint(&sandbox.store, "srv")
        .unwrap()
        .unwrap();
    let lines: Vec<String> = endpoint.ports.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&format!("80/tcp -> 127.0.0.1:{}", ports[0].host_port)),
        "{lines:?}"
    );

    other.release().unwrap();
    served.release().unwrap();
    assert!(!nft_table().contains(&who.id), "rules left after release");
    assert!(
        fetch(mapping(&ports, "127.0.0.1", Protocol::Tcp)).is_err(),
        "the port still forwards"
    );
}

#[test]
fn a_busy_host_port_is_refused_and_nothing_is_left() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("busy", false);
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let request = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        publish: parse_publish(&format!("127.0.0.1:{port}:80")).unwrap(),
        ..NetworkRequest::default()
    };
    let err = Attachment::prepare(&sandbox.store, &identity("late"), &request).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "host port {port}/tcp on 127.0.0.1 is already in use: choose another host port, or stop what listens there"
        )
    );
    assert!(attachment::endpoints(&sandbox.store).unwrap().is_empty());
    assert!(sandbox.store.attached(&network).unwrap().is_empty());
}

#[test]
fn ports_cannot_be_published_on_an_internal_network() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("intpub", true);
    let request = NetworkRequest {
        mode: NetworkMode::Network(network.name.clone()),
        publish: parse_publish("127.0.0.1::80").unwrap(),
        ..NetworkRequest::default()
    };
    let err = Attachment::prepare(&sandbox.store, &identity("x"), &request).unwrap_err();
    assert!(
        err.to_string().contains("cannot reach an internal network"),
        "{err}"
    );
    assert!(attachment::endpoints(&sandbox.store).unwrap().is_empty());
}
