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
