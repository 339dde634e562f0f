//! A compose service on two networks, through the daemon, driven by both
//! clients: `skiff compose` and docker-compose 1.29 (which creates each
//! container on one network and connects it to the others before it
//! starts). `web` is on `front` and `back`; `client`, on `front`, and `db`,
//! on `back`, each reach it by name; they do not find each other; `down`
//! leaves no cable and no network.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};
use std::path::Path;
use std::process::Command;

fn compose_file(image: &str) -> String {
    format!(
        r#"services:
  web:
    image: {image}
    command: ["sh", "-c", "echo hello from web > /srv/index.html; exec httpd -f -p 80 -h /srv"]
    stop_grace_period: 1s
    networks:
      front:
        aliases: [www]
      back:
  client:
    image: {image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [front]
  db:
    image: {image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [back]
networks:
  front:
  back:
"#
    )
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The id of the container of `service` in project `tiers`.
fn container_of(daemon: &TestDaemon, service: &str) -> String {
    let ids = daemon.ok(daemon.docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "label=com.docker.compose.project=tiers",
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ]));
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 1, "containers of {service}: {ids:?}");
    ids[0].to_string()
}

/// `wget -q -O- URL` in the container of `service`: (output, success).
fn fetch(daemon: &TestDaemon, service: &str, url: &str) -> (String, bool) {
    let out = daemon
        .docker(&[
            "exec",
            &container_of(daemon, service),
            "wget",
            "-q",
            "-O-",
            url,
        ])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

/// Up, the checks, down, nothing left: with the client `compose`.
fn check_project(daemon: &TestDaemon, compose: impl Fn(&[&str]) -> Command) {
    let up = compose(&["up", "-d"]).output().unwrap();
    assert!(up.status.success(), "{up:?}\n{}", daemon.log());
    assert_eq!(
        fetch(daemon, "client", "http://www/"),
        ("hello from web\n".to_string(), true)
    );
    assert_eq!(
        fetch(daemon, "db", "http://web/"),
        ("hello from web\n".to_string(), true)
    );
    let (output, reached) = fetch(daemon, "client", "http://db.dns.skiff/");
    assert!(!reached, "client finds db: {output}");
    let web = container_of(daemon, "web");
    let networks = daemon.ok(daemon.docker(&[
        "inspect",
        "-f",
        "{{range $name, $n := .NetworkSettings.Networks}}{{$name}}={{$n.NetworkID}} {{end}}",
        &web,
    ]));
    let networks: Vec<(String, String)> = networks
        .split_whitespace()
        .map(|pair| {
            let (name, id) = pair.split_once('=').unwrap();
            (name.to_string(), id.to_string())
        })
        .collect();
    let names: Vec<&str> = networks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tiers_back", "tiers_front"], "{networks:?}");
    let mut veths = vec![ch06_network::endpoint::veth_name(&web)];
    veths.extend(
        networks
            .iter()
            .map(|(_, id)| ch06_network::endpoint::veth_name_on(&web, id)),
    );
    assert!(veths.iter().any(|v| link_exists(v)), "{veths:?}");

    let down = compose(&["down"]).output().unwrap();
    assert!(down.status.success(), "{down:?}\n{}", daemon.log());
    for veth in &veths {
        assert!(!link_exists(veth), "{veth} left behind");
    }
    let left = daemon.ok(daemon.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(!left.contains("tiers_"), "{left}");
}

#[test]
fn a_service_on_two_networks_with_skiff_compose_and_docker_compose() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let dir = daemon.work().join("tiers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), compose_file(&image.name)).unwrap();

    check_project(&daemon, |args| {
        let mut all = vec!["compose", "-p", "tiers"];
        all.extend_from_slice(args);
        let mut command = daemon.skiff(&all);
        command.current_dir(&dir);
        command
    });

    let docker_compose = Path::new("/usr/bin/docker-compose");
    assert!(
        docker_compose.exists(),
        "{} is missing: install Debian's docker-compose (apt-get install docker-compose)",
        docker_compose.display()
    );
    check_project(&daemon, |args| {
        let mut command = Command::new(docker_compose);
        command
            .args(["-p", "tiers"])
            .args(args)
            .env("DOCKER_HOST", daemon.host())
            .env("DOCKER_CONFIG", daemon.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .current_dir(&dir);
        command
    });
}
