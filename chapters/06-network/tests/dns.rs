//! DNS by name on user-defined networks, asked from inside a container's
//! namespace at 127.0.0.11, with a fake upstream resolver of the test's own
//! on a loopback address of the host: no question ever leaves the machine.

mod support;

use ch06_network::attachment::Attachment;
use ch06_network::request::{NetworkMode, NetworkRequest};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use support::{FakeContainer, Sandbox, identity};

/// What the fake upstream answers for `example.test`.
const EXAMPLE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

/// A resolver on a loopback address of its own (one per call: the tests of
/// this file run in parallel), port 53: `example.test` has an address,
/// every other name does not exist.
fn fake_upstream() -> IpAddr {
    static CALLS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    let ip = Ipv4Addr::new(
        127,
        77 + call % 8,
        (pid % 250) as u8,
        (pid / 250 % 250) as u8 + 2,
    );
    let socket = UdpSocket::bind((ip, 53)).expect("bind the fake upstream");
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buffer) {
            let Ok(query) = Message::from_vec(&buffer[..n]) else {
                continue;
            };
            let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
            answer.queries = query.queries.clone();
            let name = query.queries[0].name().clone();
            if name.to_ascii() == "example.test." {
                answer.add_answer(Record::from_rdata(name, 30, RData::A(A(EXAMPLE))));
            } else {
                answer.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&answer.to_vec().unwrap(), from);
        }
    });
    IpAddr::V4(ip)
}

/// Asks 127.0.0.11 from inside `container`, serving the responder of
/// `attachment` meanwhile, as the supervisor's poll loop does.
fn ask(
    container: &FakeContainer,
    attachment: &mut Attachment,
    name: &str,
    kind: RecordType,
) -> Message {
    let socket = container.enter(|| UdpSocket::bind("0.0.0.0:0")).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
    socket
        .send_to(&query.to_vec().unwrap(), "127.0.0.11:53")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buffer = [0u8; 1500];
    while Instant::now() < deadline {
        let dns = attachment.dns_fd().expect("a responder on a user network");
        let mut fds = [
            PollFd::new(dns, PollFlags::POLLIN),
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::from(100u16)).unwrap();
        let dns_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        if dns_ready {
            attachment.handle_dns();
        }
        if let Ok((n, _)) = socket.recv_from(&mut buffer) {
            let answer = Message::from_vec(&buffer[..n]).unwrap();
            assert_eq!(answer.metadata.id, query.metadata.id);
            return answer;
        }
    }
    panic!("no answer for {name}");
}

fn addresses(answer: &Message) -> Vec<Ipv4Addr> {
    answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(A(ip)) => Some(*ip),
            _ => None,
        })
        .collect()
}

fn on(network: &str, dns: Vec<IpAddr>) -> NetworkRequest {
    NetworkRequest {
        mode: NetworkMode::Network(network.to_string()),
        dns,
        ..NetworkRequest::default()
    }
}

#[test]
fn containers_find_each_other_by_name_alias_and_short_id() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("names", false);
    let upstream = fake_upstream();
    let (web, client) = (FakeContainer::start(), FakeContainer::start());
    let web_id = identity("web");
    let request = NetworkRequest {
        aliases: vec!["api".to_string()],
        ..on(&network.name, vec![upstream])
    };
    let mut a_web = Attachment::prepare(&sandbox.store, &web_id, &request).unwrap();
    a_web.join(web.pid).unwrap();
    let mut a_client = Attachment::prepare(
        &sandbox.store,
        &identity("client"),
        &on(&network.name, vec![upstream]),
    )
    .unwrap();
    a_client.join(client.pid).unwrap();
    let web_address = a_web.endpoint().address.unwrap();

    let short_id = &web_id.id[..12];
    for name in [
        "web.",
        "api.",
        &format!("{short_id}."),
        "hweb.",
        "web.dns.skiff.",
    ] {
        let answer = ask(&client, &mut a_client, name, RecordType::A);
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{name}"
        );
        assert_eq!(addresses(&answer), vec![web_address], "{name}");
    }
    let answer = ask(&client, &mut a_client, "web.", RecordType::AAAA);
    assert_eq!(
        (answer.metadata.response_code, answer.answers.len()),
        (ResponseCode::NoError, 0)
    );
    let answer = ask(&client, &mut a_client, "nobody.dns.skiff.", RecordType::A);
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);

    // Other names go to the upstream resolver, from the host.
    let answer = ask(&client, &mut a_client, "example.test.", RecordType::A);
    assert_eq!(addresses(&answer), vec![EXAMPLE]);

    // The records follow the containers: once web is gone, its name is
    // the upstream's business (which does not know it).
    a_web.release().unwrap();
    let answer = ask(&client, &mut a_client, "web.", RecordType::A);
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    a_client.release().unwrap();
}

#[test]
fn an_internal_network_resolves_its_names_and_forwards_nothing() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("quiet", true);
    // Never asked, as the network does not forward; on loopback, so that
    // even a bug would not send a question off the machine.
    let upstream = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (db, app) = (FakeContainer::start(), FakeContainer::start());
    let mut a_db = Attachment::prepare(
        &sandbox.store,
        &identity("db"),
        &on(&network.name, vec![upstream]),
    )
    .unwrap();
    a_db.join(db.pid).unwrap();
    let mut a_app = Attachment::prepare(
        &sandbox.store,
        &identity("app"),
        &on(&network.name, vec![upstream]),
    )
    .unwrap();
    a_app.join(app.pid).unwrap();

    let answer = ask(&app, &mut a_app, "db.", RecordType::A);
    assert_eq!(addresses(&answer), vec![a_db.endpoint().address.unwrap()]);
    let answer = ask(&app, &mut a_app, "example.test.", RecordType::A);
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    // No way out: no default route inside.
    assert!(!app.run(&["ip", "route"]).0.contains("default"));
    a_app.release().unwrap();
    a_db.release().unwrap();
}

#[test]
fn the_responder_rereads_the_records_file_when_it_changes() {
    use ch06_network::dns::{DnsConfig, DnsServer};
    use ch06_network::records::{Record as Entry, Records};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.json");
    let write = |address: &str| {
        let mut records = Records::default();
        records.upsert(Entry::new("c1", address.parse().unwrap(), "db", &[], "db"));
        ch06_network::state::write_json_atomic(&path, &records).unwrap();
    };
    write("10.202.9.2");
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = listener.local_addr().unwrap();
    let config = DnsConfig {
        records: vec![path.clone()],
        follow: None,
        upstreams: vec![],
        forward: false,
    };
    let mut server = DnsServer::with_listener(listener, config).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut lookup = || {
        let mut query = Message::query();
        query.add_query(Query::query(
            Name::from_ascii("db.").unwrap(),
            RecordType::A,
        ));
        client.send_to(&query.to_vec().unwrap(), to).unwrap();
        let mut fds = [PollFd::new(server.fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(3000u16)).unwrap();
        server.handle_ready();
        let mut buffer = [0u8; 512];
        let (n, _) = client.recv_from(&mut buffer).unwrap();
        addresses(&Message::from_vec(&buffer[..n]).unwrap())
    };
    assert_eq!(lookup(), vec![Ipv4Addr::new(10, 202, 9, 2)]);
    write("10.202.9.3");
    assert_eq!(lookup(), vec![Ipv4Addr::new(10, 202, 9, 3)]);
}

#[test]
fn a_container_on_two_networks_finds_its_neighbours_on_both() {
    let sandbox = Sandbox::new();
    let (front, back) = (
        sandbox.network("front", false),
        sandbox.network("back", false),
    );
    let upstream = fake_upstream();
    let (web, a, b) = (
        FakeContainer::start(),
        FakeContainer::start(),
        FakeContainer::start(),
    );
    let mut a_a = Attachment::prepare(
        &sandbox.store,
        &identity("a"),
        &on(&front.name, vec![upstream]),
    )
    .unwrap();
    a_a.join(a.pid).unwrap();
    let mut a_b = Attachment::prepare(
        &sandbox.store,
        &identity("b"),
        &on(&back.name, vec![upstream]),
    )
    .unwrap();
    a_b.join(b.pid).unwrap();
    let web_id = identity("web");
    let mut a_web =
        Attachment::prepare(&sandbox.store, &web_id, &on(&front.name, vec![upstream])).unwrap();
    a_web.join(web.pid).unwrap();
    let (a_address, b_address) = (
        a_a.endpoint().address.unwrap(),
        a_b.endpoint().address.unwrap(),
    );
    assert_eq!(
        addresses(&ask(&web, &mut a_web, "a.", RecordType::A)),
        [a_address]
    );
    let unknown = ask(&web, &mut a_web, "b.dns.skiff.", RecordType::A);
    assert_eq!(unknown.metadata.response_code, ResponseCode::NXDomain);

    // Connected to back while it runs: its responder answers back's names.
    let extra = ch06_network::request::ExtraNetwork {
        network: back.name.clone(),
        ..Default::default()
    };
    ch06_network::attachment::connect(&sandbox.store, &web_id.id, web.pid, &extra).unwrap();
    assert_eq!(
        addresses(&ask(&web, &mut a_web, "b.", RecordType::A)),
        [b_address]
    );
    assert_eq!(
        addresses(&ask(&web, &mut a_web, "a.", RecordType::A)),
        [a_address]
    );
    // And b finds web by name on back.
    let web_on_back = ch06_network::attachment::find_endpoint(&sandbox.store, &web_id.id)
        .unwrap()
        .unwrap()
        .more[0]
        .address
        .unwrap();
    assert_eq!(
        addresses(&ask(&b, &mut a_b, "web.", RecordType::A)),
        [web_on_back]
    );

    ch06_network::attachment::disconnect(&sandbox.store, &web_id.id, &back.name).unwrap();
    let gone = ask(&web, &mut a_web, "b.dns.skiff.", RecordType::A);
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    for attached in [a_web, a_a, a_b] {
        attached.release().unwrap();
    }
}
