//! `network create/ls/inspect/rm/prune`, and the bad input they refuse,
//! driven through `ch06-network`.

mod binary;

use binary::{Setup, host_links, nft_table};
use skiff_testkit::Transcript;

#[test]
fn transcript_network_verbs() {
    let setup = Setup::new();
    let mut t = Transcript::new();
    let front = setup.run(
        &mut t,
        &[
            "network",
            "create",
            "--subnet",
            "10.213.7.0/24",
            "--gateway",
            "10.213.7.254",
            "--label",
            "team=web",
            "front",
        ],
    );
    assert_eq!(front.code, 0, "{}", front.output);
    setup.run(&mut t, &["network", "create", "back"]);
    setup.run(&mut t, &["network", "create", "--internal", "quiet"]);
    setup.run(&mut t, &["network", "ls"]);
    // An address of back's own (shown as 10.202.0.9: see Setup::canonical).
    let back = setup.network("back");
    let ip = std::net::Ipv4Addr::from(u32::from(back.subnet.network()) + 9).to_string();
    let db = setup.background(
        "db",
        &[
            "--network",
            "back",
            "--ip",
            &ip,
            "busybox",
            "sh",
            "-c",
            "echo ready; exec sleep 600",
        ],
    );
    let inspected = setup.run(&mut t, &["network", "inspect", "front", "back"]);
    assert!(
        inspected.output.contains("\"team\": \"web\""),
        "{}",
        inspected.output
    );
    let in_use = setup.run(&mut t, &["network", "rm", "back"]);
    assert_eq!(in_use.code, 125);
    assert!(in_use.output.contains("in use"), "{}", in_use.output);

    t.comment("bad input: a clear error, and nothing made");
    for args in [
        &[
            "network",
            "create",
            "--subnet",
            "10.213.7.128/25",
            "overlapping",
        ][..],
        &[
            "network",
            "create",
            "--subnet",
            "10.213.8.0/24",
            "--gateway",
            "10.213.9.1",
            "outside",
        ],
        &["network", "create", "--gateway", "10.213.9.1", "nosubnet"],
        &[
            "network",
            "create",
            "--subnet",
            "10.213.8.0/33",
            "badsubnet",
        ],
        &["network", "create", "bridge"],
        &["network", "create", "back"],
        &["network", "rm", "bridge"],
        &["network", "inspect", "nosuch"],
        &["run", "--rm", "--network", "nosuch", "busybox", "true"],
        &["run", "--rm", "--ip", "10.201.0.9", "busybox", "true"],
        &[
            "run",
            "--rm",
            "--network",
            "back",
            "--ip",
            &ip,
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "back",
            "--ip",
            "10.99.0.9",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "quiet",
            "-p",
            "8080:80",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "back",
            "--add-host",
            "nocolon",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "back",
            "--mac-address",
            "01:00:5e:00:00:01",
            "busybox",
            "true",
        ],
    ] {
        let refused = setup.run(&mut t, args);
        assert_eq!(refused.code, 125, "{args:?}: {}", refused.output);
    }
    setup.run(&mut t, &["network", "ls"]);

    drop(db);
    setup.run(&mut t, &["network", "rm", "front"]);
    setup.run(&mut t, &["network", "prune"]);
    setup.run(&mut t, &["network", "ls"]);
    setup.assert_snapshot("network_verbs", t.text());

    // Their bridges and rules are gone.
    for network in setup.networks().list().unwrap() {
        assert!(network.is_default(), "{} left", network.name);
    }
    let links = host_links();
    assert!(!links.contains(&back.bridge), "{} left", back.bridge);
    assert!(!nft_table().contains(&back.id), "rules of back left");
}
