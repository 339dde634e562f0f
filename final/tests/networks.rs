//! Chapter 6's networks through the engine, driven by the real docker CLI:
//! user networks with names and aliases, published ports reached from the
//! host, `docker port`, errors, and nothing left behind.

mod harness;

use harness::{Daemon, settings, stdout};
use skiff_testkit::Transcript;
use skiff_testkit::transcript::Outcome;
use std::process::Command;

fn step(t: &mut Transcript, daemon: &Daemon, args: &[&str]) -> Outcome {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.replace(&daemon.registry.host(), "127.0.0.1:PORT"))
        .collect();
    let line = skiff_testkit::transcript::command_line(Command::new("docker").args(&shown));
    t.run_shown(&line, &mut daemon.docker_command(args), None)
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

const SERVE: &str = "echo hello from $(hostname) > /srv/index.html; exec httpd -f -p 80 -h /srv";

#[test]
fn transcript_networks_and_published_ports() {
    let daemon = Daemon::start();
    daemon.pull();
    let image = daemon.image.clone();
    let mut t = Transcript::new();

    let created = step(&mut t, &daemon, &["network", "create", "appnet"]);
    assert_eq!(created.code, 0, "{}", created.output);
    step(
        &mut t,
        &daemon,
        &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
    );
    let db = step(
        &mut t,
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "db",
            "--hostname",
            "db",
            "--network",
            "appnet",
            "--network-alias",
            "database",
            &image,
            "sh",
            "-c",
            SERVE,
        ],
    );
    assert_eq!(db.code, 0, "{}", db.output);
    t.comment("another container on the network finds it by name and by alias");
    let by_name = step(
        &mut t,
        &daemon,
        &[
            "run",
            "--rm",
            "--network",
            "appnet",
            &image,
            "sh",
            "-c",
            "wget -q -O- http://db/ && wget -q -O- http://database/",
        ],
    );
    assert_eq!(by_name.output, "hello from db\nhello from db\n");
    // The names it answers to on the network: since API 1.45 the aliases
    // given, and every name in DNSNames, its short id among them (older
    // clients, docker-compose 1.29, find the short id among the aliases).
    let short_id = &db.output.trim()[..12];
    let names = stdout(&daemon.docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.appnet.Aliases}} {{json .NetworkSettings.Networks.appnet.DNSNames}}",
        "db",
    ]));
    assert!(
        names.starts_with(r#"["database"] ["db","database","#) && names.contains(short_id),
        "db's names on appnet: {names}"
    );
    step(
        &mut t,
        &daemon,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "appnet",
        ],
    );
    t.comment("a port of the host that leads to the container: the kernel picks which");
    let web = step(
        &mut t,
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--hostname",
            "web",
            "-p",
            "127.0.0.1::80",
            &image,
            "sh",
            "-c",
            SERVE,
        ],
    );
    assert_eq!(web.code, 0, "{}", web.output);
    let port = step(&mut t, &daemon, &["port", "web"]);
    let host_port = port.output.trim().rsplit(':').next().unwrap().to_string();
    assert!(host_port.parse::<u16>().is_ok(), "{}", port.output);
    step(
        &mut t,
        &daemon,
        &["ps", "--format", "{{.Names}}: {{.Ports}} on {{.Networks}}"],
    );
    let mut curl = Command::new("curl");
    curl.args(["-s", &format!("http://127.0.0.1:{host_port}/")]);
    let reached = t.run_shown("curl -s http://127.0.0.1:HOSTPORT/", &mut curl, None);
    assert_eq!(reached.output, "hello from web\n");

    t.comment("a port in use: the container is created, as docker's is, but cannot start");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let mut refused = daemon.docker_command(&[
        "run",
        "-d",
        "--name",
        "late",
        "-p",
        &format!("127.0.0.1:{taken_port}:80"),
        &image,
    ]);
    let outcome = t.run_shown(
        "docker run -d --name late -p 127.0.0.1:TAKEN:80 127.0.0.1:PORT/test/busybox:v1",
        &mut refused,
        None,
    );
    assert_ne!(outcome.code, 0, "{}", outcome.output);
    drop(taken);
    let in_use = step(&mut t, &daemon, &["network", "rm", "appnet"]);
    assert_ne!(in_use.code, 0);

    let ids = stdout(&daemon.docker(&["ps", "-q", "--no-trunc"]));
    let veths: Vec<String> = ids.lines().map(ch06_network::endpoint::veth_name).collect();
    assert!(veths.iter().all(|v| link_exists(v)), "{veths:?}");
    // Chapter 6 names a network's bridge after its id (the API does not
    // list it among the options, which dockerd shows as they were given).
    let id = stdout(&daemon.docker(&["network", "inspect", "-f", "{{.Id}}", "appnet"]));
    let bridge = format!("skiff-{}", &id.trim()[..9]);
    assert!(link_exists(&bridge), "bridge {bridge:?}");

    step(
        &mut t,
        &daemon,
        &["ps", "-a", "--format", "{{.Names}}: {{.Status}}"],
    );
    step(&mut t, &daemon, &["rm", "-f", "db", "web", "late"]);
    step(&mut t, &daemon, &["network", "rm", "appnet"]);
    step(&mut t, &daemon, &["ps", "-a", "--format", "{{.Names}}"]);
    for veth in &veths {
        assert!(!link_exists(veth), "{veth} left behind");
    }
    assert!(!link_exists(&bridge), "{bridge} left behind");

    let mut s = settings(&daemon);
    s.add_filter(r"10\.2\d\d\.\d+\.\d+", "[ADDR]");
    s.add_filter(&format!(r"\b{host_port}\b"), "HOSTPORT");
    s.add_filter(&format!(r"\b{taken_port}\b"), "TAKEN");
    s.bind(|| insta::assert_snapshot!("networks", t.text()));
}

#[test]
fn transcript_a_container_on_several_networks() {
    let daemon = Daemon::start();
    daemon.pull();
    let image = daemon.image.clone();
    let mut t = Transcript::new();
    for name in ["front", "back"] {
        let created = step(&mut t, &daemon, &["network", "create", name]);
        assert_eq!(created.code, 0, "{}", created.output);
    }
    t.comment("a network whose cables carry 64 KiB packets, as loopback does");
    let created = step(
        &mut t,
        &daemon,
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.driver.mtu=65535",
            "extra",
        ],
    );
    assert_eq!(created.code, 0, "{}", created.output);
    let options = step(
        &mut t,
        &daemon,
        &["network", "inspect", "-f", "{{json .Options}}", "extra"],
    );
    assert_eq!(
        options.output.trim(),
        r#"{"com.docker.network.driver.mtu":"65535"}"#
    );
    t.comment("two --network flags: a cable on each, eth0 and eth1");
    let web = step(
        &mut t,
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--hostname",
            "web",
            "--network",
            "front",
            "--network",
            "back",
            &image,
            "sh",
            "-c",
            SERVE,
        ],
    );
    assert_eq!(web.code, 0, "{}", web.output);
    let fetch = |t: &mut Transcript, network: &str, url: &str| {
        step(
            t,
            &daemon,
            &[
                "run",
                "--rm",
                "--network",
                network,
                &image,
                "wget",
                "-q",
                "-O-",
                url,
            ],
        )
    };
    for network in ["front", "back"] {
        assert_eq!(
            fetch(&mut t, network, "http://web/").output,
            "hello from web\n",
            "from {network}"
        );
    }
    let listed = step(
        &mut t,
        &daemon,
        &[
            "inspect",
            "-f",
            "{{range $name, $n := .NetworkSettings.Networks}}{{$name}} {{end}}",
            "web",
        ],
    );
    assert_eq!(listed.output.trim(), "back front");
    let cables = step(
        &mut t,
        &daemon,
        &[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -o -4 addr show | grep -c eth",
        ],
    );
    assert_eq!(cables.output.trim(), "2");

    t.comment("a running container joins one more network, under an alias, and leaves it");
    let connected = step(
        &mut t,
        &daemon,
        &["network", "connect", "--alias", "www", "extra", "web"],
    );
    assert_eq!(connected.code, 0, "{}", connected.output);
    assert_eq!(
        fetch(&mut t, "extra", "http://www/").output,
        "hello from web\n"
    );
    let mtu = step(
        &mut t,
        &daemon,
        &[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -o link show eth2 | grep -o 'mtu [0-9]*'",
        ],
    );
    assert_eq!(mtu.output.trim(), "mtu 65535");
    let disconnected = step(&mut t, &daemon, &["network", "disconnect", "extra", "web"]);
    assert_eq!(disconnected.code, 0, "{}", disconnected.output);
    let gone = fetch(&mut t, "extra", "http://web.dns.skiff/");
    assert_ne!(gone.code, 0, "{}", gone.output);

    t.comment("stopped and started again: the networks of its spec, a cable each");
    step(&mut t, &daemon, &["stop", "-t", "1", "web"]);
    step(&mut t, &daemon, &["start", "web"]);
    assert_eq!(
        fetch(&mut t, "back", "http://web/").output,
        "hello from web\n"
    );
    let id = stdout(&daemon.docker(&["inspect", "-f", "{{.Id}}", "web"]));
    let ids: Vec<String> = ["front", "back", "extra"]
        .iter()
        .map(|n| stdout(&daemon.docker(&["network", "inspect", "-f", "{{.Id}}", n])))
        .collect();
    let veths: Vec<String> = ids
        .iter()
        .map(|n| ch06_network::endpoint::veth_name_on(id.trim(), n.trim()))
        .collect();
    step(&mut t, &daemon, &["rm", "-f", "web"]);
    step(
        &mut t,
        &daemon,
        &["network", "rm", "front", "back", "extra"],
    );
    for veth in &veths {
        assert!(!link_exists(veth), "{veth} left behind");
    }
    settings(&daemon).bind(|| insta::assert_snapshot!("several_networks", t.text()));
}
