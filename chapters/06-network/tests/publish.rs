//! Published ports, driven through `ch06-network`: reached from the host's
//! 127.0.0.1 by a real HTTP client, from another container through the
//! host's address (the hairpin), listed by `port` and `ps`; a port that is
//! taken is a clear error that leaves nothing behind.

mod binary;

use binary::{Setup, host_links, nft_table};
use skiff_testkit::Transcript;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

const SERVE: &str = "mkdir -p /www && echo hello from web > /www/index.html && echo ready && exec httpd -f -p 80 -h /www";

/// A plain HTTP/1.0 GET from the host: the body.
fn http_get(address: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("{address}: {e}"));
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    body.to_string()
}

#[test]
fn transcript_a_published_port_answers_on_the_hosts_loopback_and_hairpins() {
    let setup = Setup::new();
    // The default network first, to know its gateway: the host's address on
    // the bridge, where a container reaches the host.
    let made = setup
        .ch06(&["run", "--rm", "busybox", "true"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let gateway = setup.network("bridge").gateway.to_string();
    let on_gateway = format!("{gateway}::80");
    let web = setup.background(
        "web",
        &[
            "-p",
            "127.0.0.1::80",
            "-p",
            &on_gateway,
            "busybox",
            "sh",
            "-c",
            SERVE,
        ],
    );
    let mut t = Transcript::new();
    let ports = setup.run(&mut t, &["port", "web"]);
    assert_eq!(ports.output.lines().count(), 2, "{}", ports.output);
    let ps = setup.run(&mut t, &["ps"]);
    assert!(ps.output.contains("127.0.0.1:"), "{}", ps.output);
    let on_loopback = setup.ch06(&["port", "web", "80/tcp"]).output().unwrap();
    let addresses = String::from_utf8_lossy(&on_loopback.stdout).into_owned();
    let loopback = addresses
        .lines()
        .find(|a| a.starts_with("127.0.0.1:"))
        .expect("the loopback address")
        .to_string();
    // From the host, with a real HTTP client (not through any container).
    assert_eq!(http_get(&loopback), "hello from web\n");
    // From a neighbour, through the host's address on the bridge.
    let hairpin = addresses
        .lines()
        .find(|a| a.starts_with(&gateway))
        .expect("the gateway address")
        .to_string();
    let url = format!("http://{hairpin}/");
    let fetched = setup.run(
        &mut t,
        &["run", "--rm", "busybox", "wget", "-q", "-O", "-", &url],
    );
    assert_eq!(fetched.output, "hello from web\n");
    setup.run(&mut t, &["port", "web", "53/udp"]);
    setup.assert_snapshot("publish", t.text());

    // The rules go with the container.
    let id = skiff_testkit::container_id(&setup.state(), "web").unwrap();
    assert!(nft_table().contains(&format!("container {id}")));
    drop(web);
    assert!(
        !nft_table().contains(&format!("container {id}")),
        "{}",
        nft_table()
    );
    assert!(
        TcpListener::bind(&loopback).is_ok(),
        "the host port is free again"
    );
}

#[test]
fn transcript_a_port_in_use_is_a_clear_error_and_leaves_nothing() {
    let setup = Setup::new();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let taken = format!("127.0.0.1:{port}:80");
    let mut t = Transcript::new();
    let refused = setup.run(
        &mut t,
        &["run", "--name", "web", "-p", &taken, "busybox", "true"],
    );
    assert_eq!(refused.code, 125);
    assert!(
        refused.output.contains("already in use"),
        "{}",
        refused.output
    );
    let malformed = setup.run(&mut t, &["run", "-p", "80:http", "busybox", "true"]);
    assert_eq!(malformed.code, 125);
    let on_host = setup.run(
        &mut t,
        &["run", "--network", "host", "-p", "80", "busybox", "true"],
    );
    assert_eq!(on_host.code, 125);
    setup.run(&mut t, &["ps", "-a"]);
    setup.assert_snapshot("port_in_use", t.text());

    // Nothing of a refused run: no record, no attachment, no link, no rule.
    // (Once more with --explain, to learn the id it had.)
    let out = setup
        .ch06(&[
            "--explain",
            "run",
            "--name",
            "web",
            "-p",
            &taken,
            "busybox",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let explained = String::from_utf8_lossy(&out.stderr);
    let id = regex::Regex::new(r"containers/([0-9a-f]{64})")
        .unwrap()
        .captures(&explained)
        .expect("the container's id in --explain")[1]
        .to_string();
    assert!(!setup.state().join("containers").join(&id).exists());
    assert!(!setup.state().join("networks/endpoints").join(&id).exists());
    let veth = ch06_network::attachment::veth_name(&id);
    assert!(!host_links().contains(&veth), "{veth} left");
    assert!(!nft_table().contains(&id), "{}", nft_table());
    assert!(
        !nft_table().contains(&format!("dport {port} ")),
        "{}",
        nft_table()
    );
    for network in setup.networks().list().unwrap() {
        assert!(setup.networks().attached(&network).unwrap().is_empty());
    }
    drop(busy);
}
