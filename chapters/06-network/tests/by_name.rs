//! Containers on a user-defined network find each other by name; on the
//! default bridge they do not (as in docker); chapter 5's binary cannot
//! reach another container at all. Driven through `ch06-network` as a
//! learner drives it.
//!
//! No test here looks up a name the engine does not hold: the responder
//! would forward it to the host's resolvers, and tests send nothing off
//! the machine. Unknown names are asked under the network's own domain
//! (`dns.skiff`), which the responder answers itself.

mod binary;

use binary::Setup;
use skiff_testkit::Transcript;

/// busybox httpd serving one page that says who serves it.
fn serve(name: &str) -> String {
    format!(
        "mkdir -p /www && echo hello from {name} > /www/index.html && echo ready && exec httpd -f -p 80 -h /www"
    )
}

#[test]
fn transcript_two_containers_on_a_user_network_find_each_other_by_name() {
    let setup = Setup::new();
    let mut t = Transcript::new();
    let created = setup.run(&mut t, &["network", "create", "app"]);
    assert_eq!(created.code, 0, "{}", created.output);
    let _web = setup.background(
        "web",
        &[
            "--network",
            "app",
            "--network-alias",
            "www",
            "busybox",
            "sh",
            "-c",
            &serve("web"),
        ],
    );
    let fetched = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://web/",
        ],
    );
    assert_eq!(fetched.output, "hello from web\n");
    let by_alias = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://www/",
        ],
    );
    assert_eq!(by_alias.output, "hello from web\n");
    // What the client sees: its resolver is the engine's, inside its own
    // network namespace; its hosts file names itself.
    let files = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "app",
            "--hostname",
            "client",
            "busybox",
            "sh",
            "-c",
            "cat /etc/resolv.conf /etc/hostname; tail -n 1 /etc/hosts",
        ],
    );
    assert!(
        files.output.contains("nameserver 127.0.0.11"),
        "{}",
        files.output
    );
    // A name under the network's domain that nobody holds: answered at once.
    let unknown = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://nobody.dns.skiff/",
        ],
    );
    assert_ne!(unknown.code, 0);
    setup.run(&mut t, &["network", "inspect", "app"]);
    setup.assert_snapshot("by_name", t.text());

    // The short id and the hostname are names too; and the fully qualified name.
    let short = setup.short_id("web");
    for name in [short.as_str(), "web.dns.skiff"] {
        let out = setup
            .ch06(&[
                "run",
                "--rm",
                "--network",
                "app",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://{name}/"),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello from web\n",
            "{name}: {out:?}"
        );
    }
}

#[test]
fn the_default_bridge_has_no_names_but_addresses_work() {
    let setup = Setup::new();
    let _web = setup.background("web", &["busybox", "sh", "-c", &serve("web")]);
    let bridge = setup.network("bridge");
    let address = setup
        .networks()
        .records(&bridge)
        .unwrap()
        .records
        .into_iter()
        .find(|r| r.names.first().is_some_and(|n| n == "web"))
        .expect("web's record")
        .address;
    let mut t = Transcript::new();
    // The host's resolvers, no responder at 127.0.0.11.
    let resolv = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "busybox",
            "grep",
            "nameserver",
            "/etc/resolv.conf",
        ],
    );
    assert!(!resolv.output.contains("127.0.0.11"), "{}", resolv.output);
    let asked = setup.run(
        &mut t,
        &["run", "--rm", "busybox", "nslookup", "web", "127.0.0.11"],
    );
    assert_ne!(asked.code, 0, "{}", asked.output);
    // By address, the neighbour answers.
    let by_address = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://{address}/"),
        ],
    );
    assert_eq!(by_address.output, "hello from web\n");
    setup.assert_snapshot("default_bridge", t.text());
}

#[test]
fn transcript_before_chapter_5_has_no_network_after_chapter_6_has() {
    let setup = Setup::new();
    let ch05 = skiff_testkit::workspace_bin("ch05-images");
    let mut t = Transcript::new();
    setup.run(&mut t, &["network", "create", "app"]);
    let _web = setup.background(
        "web",
        &["--network", "app", "busybox", "sh", "-c", &serve("web")],
    );
    t.comment("before: chapter 5's container has only loopback, and no neighbour by name");
    let before = setup.run_bin(
        &mut t,
        "ch05-images",
        &ch05,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "probe net; wget -q -O - http://web/",
        ],
    );
    assert_ne!(before.code, 0);
    assert!(!before.output.contains("eth0"), "{}", before.output);
    t.comment("after: chapter 6's container has an address, a route out, and neighbours by name");
    let after = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "sh",
            "-c",
            "probe net; ip route; wget -q -O - http://web/",
        ],
    );
    assert_eq!(after.code, 0, "{}", after.output);
    assert!(
        after.output.ends_with("hello from web\n"),
        "{}",
        after.output
    );
    setup.assert_snapshot("before_after", t.text());
}

#[test]
fn transcript_a_running_container_joins_a_second_network() {
    let setup = Setup::new();
    let mut t = Transcript::new();
    for name in ["front", "back"] {
        let created = setup.run(&mut t, &["network", "create", name]);
        assert_eq!(created.code, 0, "{}", created.output);
    }
    let _web = setup.background(
        "web",
        &["--network", "front", "busybox", "sh", "-c", &serve("web")],
    );
    let fetch = |t: &mut Transcript, url: &str| {
        setup.run(
            t,
            &[
                "run",
                "--rm",
                "--network",
                "back",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                url,
            ],
        )
    };
    // On back, nobody is called web yet.
    let before = fetch(&mut t, "http://web.dns.skiff/");
    assert_ne!(before.code, 0, "{}", before.output);
    let connected = setup.run(
        &mut t,
        &["network", "connect", "--alias", "www", "back", "web"],
    );
    assert_eq!(connected.code, 0, "{}", connected.output);
    assert_eq!(fetch(&mut t, "http://www/").output, "hello from web\n");
    assert_eq!(fetch(&mut t, "http://web/").output, "hello from web\n");
    let inspected = setup.run(&mut t, &["network", "inspect", "back"]);
    assert!(inspected.output.contains("\"web\""), "{}", inspected.output);
    let disconnected = setup.run(&mut t, &["network", "disconnect", "back", "web"]);
    assert_eq!(disconnected.code, 0, "{}", disconnected.output);
    let after = fetch(&mut t, "http://web.dns.skiff/");
    assert_ne!(after.code, 0, "{}", after.output);
    setup.assert_snapshot("second_network", t.text());
}
