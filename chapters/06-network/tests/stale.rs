//! Many containers at once, and a supervisor killed with SIGKILL: the
//! state on disk lets a later command release what it left.

mod support;

use ch06_network::attachment::{self, Attachment, Identity};
use ch06_network::ports::parse_publish;
use ch06_network::request::{NetworkMode, NetworkRequest};
use ch06_network::store::NetworkStore;
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{FakeContainer, Sandbox, host_links, identity, nft_table};

#[test]
fn fifty_containers_attached_at_once_get_fifty_addresses() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("fifty", false);
    let addresses: Vec<Ipv4Addr> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..50)
            .map(|i| {
                let (store, name) = (sandbox.store.clone(), network.name.clone());
                scope.spawn(move || {
                    let request = NetworkRequest {
                        mode: NetworkMode::Network(name),
                        ..NetworkRequest::default()
                    };
                    let attached =
                        Attachment::prepare(&store, &identity(&format!("c{i}")), &request).unwrap();
                    attached.endpoint().address.unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let distinct: BTreeSet<_> = addresses.iter().collect();
    assert_eq!(
        distinct.len(),
        50,
        "an address was handed out twice: {addresses:?}"
    );
    assert!(
        addresses
            .iter()
            .all(|a| network.subnet.is_host(*a) && *a != network.gateway)
    );
    assert_eq!(sandbox.store.attached(&network).unwrap().len(), 50);
    assert_eq!(sandbox.store.records(&network).unwrap().records.len(), 50);

    let released = attachment::release_stale(&sandbox.store, |_| false).unwrap();
    assert_eq!(released.len(), 50);
    assert!(sandbox.store.attached(&network).unwrap().is_empty());
    assert!(sandbox.store.records(&network).unwrap().records.is_empty());
}

/// The environment that turns [`supervisor`] into a supervisor.
const ROOT_VAR: &str = "SKIFF_TEST_SUPERVISOR_ROOT";

/// Not a test: the supervisor that [`a_killed_supervisor_is_cleaned_up_by_release_stale`]
/// starts (this test binary, run again) and kills. It attaches a container
/// (a fake one the test started), writes its host port to `<root>/ready`,
/// and waits to be killed.
#[test]
#[ignore = "run by a_killed_supervisor_is_cleaned_up_by_release_stale as its supervisor"]
fn supervisor() {
    let Ok(root) = std::env::var(ROOT_VAR) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    ch01_process::explain::set_enabled(true);
    let store = NetworkStore::open(Path::new(&root));
    let who = Identity {
        id: var("SKIFF_TEST_ID"),
        name: "victim".to_string(),
        hostname: "victim".to_string(),
    };
    let request = NetworkRequest {
        mode: NetworkMode::Network(var("SKIFF_TEST_NETWORK")),
        publish: parse_publish("127.0.0.1::80").unwrap(),
        ..NetworkRequest::default()
    };
    let mut attached = Attachment::prepare(&store, &who, &request).unwrap();
    attached
        .join(Pid::from_raw(var("SKIFF_TEST_PID").parse().unwrap()))
        .unwrap();
    let ready = Path::new(&root).join("ready");
    std::fs::write(&ready, attached.ports()[0].host_port.to_string()).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
fn a_killed_supervisor_is_cleaned_up_by_release_stale() {
    let sandbox = Sandbox::new();
    let network = sandbox.network("killed", false);
    let container = FakeContainer::start();
    let id = ch06_network::state::random_id();
    let narration = sandbox.dir.path().join("explain.txt");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "supervisor",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROOT_VAR, sandbox.dir.path())
        .env("SKIFF_TEST_ID", &id)
        .env("SKIFF_TEST_NETWORK", &network.name)
        .env("SKIFF_TEST_PID", container.pid.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&narration).unwrap())
        .spawn()
        .unwrap();
    let ready = sandbox.dir.path().join("ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&narration).unwrap_or_default();
            panic!("the supervisor did not attach the container:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let port: u16 = std::fs::read_to_string(&ready).unwrap().parse().unwrap();

    // --explain narrated each netlink request and each nftables change.
    let said = std::fs::read_to_string(&narration).unwrap();
    let veth = attachment::veth_name(&id);
    for step in [
        format!("+ netlink RTM_NEWLINK {veth} type veth peer"),
        "+ netlink RTM_SETLINK".to_string(),
        "+ setns(netns of the container, CLONE_NEWNET)".to_string(),
        "+ netlink RTM_NEWADDR".to_string(),
        "+ netlink RTM_NEWROUTE default via".to_string(),
        "+ nft add rule inet skiff published ip daddr 127.0.0.1 tcp dport".to_string(),
        "+ nft add rule ip skiff-dns output ip daddr 127.0.0.11 udp dport 53".to_string(),
    ] {
        assert!(
            said.contains(&step),
            "--explain did not narrate {step:?}:\n{said}"
        );
    }
    assert!(host_links().contains(&veth));
    assert!(nft_table().contains(&format!("container {id}")));
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "the supervisor holds the port"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    // The container outlived its supervisor: its namespace and veth remain,
    // and so do the rules, the lease and the files.
    assert!(host_links().contains(&veth));
    assert_eq!(sandbox.store.attached(&network).unwrap(), vec![id.clone()]);

    let released = attachment::release_stale(&sandbox.store, |candidate| candidate == id).unwrap();
    assert!(released.is_empty(), "a live container was released");
    let released = attachment::release_stale(&sandbox.store, |_| false).unwrap();
    assert_eq!(released, vec![id.clone()]);
    assert!(!host_links().contains(&veth), "veth left");
    assert!(!nft_table().contains(&id), "rules left");
    assert!(
        sandbox.store.attached(&network).unwrap().is_empty(),
        "lease left"
    );
    assert!(
        sandbox.store.records(&network).unwrap().records.is_empty(),
        "name left"
    );
    assert!(
        attachment::endpoints(&sandbox.store).unwrap().is_empty(),
        "record left"
    );
    assert!(
        !container.run(&["ip", "link"]).0.contains("eth0"),
        "the container kept its eth0"
    );
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the port is free again"
    );
}
