//! Replicas: `--scale web=3` and `deploy.replicas` run several containers
//! of a service, each on the project network under the service's name and
//! aliases, so that the name resolves to all of them (round-robin), seen
//! from another container with the probe; each container carries the
//! compose labels.

mod support;

use ch02_namespaces::Engine;
use ch07_compose::spec::Spec;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;
use support::{Session, Setup, relayout_ps, settings};

const YAML: &str = r#"name: scaled
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    stop_grace_period: 1s
    networks:
      default:
        aliases: [www]
  api:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
  client:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    depends_on: [web, api]
"#;

#[test]
fn transcript_replicas_answer_to_the_service_name() {
    let setup = Setup::new();
    let dir = setup.project("scaled", YAML);
    let mut up = setup.background(&dir, &["up", "--scale", "web=3"]);
    up.wait_for("scaled-client-1  Started", Duration::from_secs(60));
    let ids = setup.container_ids();
    assert_eq!(ids.len(), 6, "3 web, 2 api, 1 client");

    let addresses = |names: &[&str]| -> BTreeSet<Ipv4Addr> {
        names.iter().map(|n| setup.address_of(n)).collect()
    };
    let resolve = |name: &str| -> Vec<Ipv4Addr> {
        let (output, code) = setup.output(&dir, &["exec", "client", "probe", "resolve", name]);
        assert_eq!(code, 0, "resolve {name}: {output}");
        output.lines().map(|l| l.parse().unwrap()).collect()
    };
    let web = addresses(&["scaled-web-1", "scaled-web-2", "scaled-web-3"]);
    assert_eq!(web.len(), 3);
    for name in ["web", "www"] {
        let found: BTreeSet<Ipv4Addr> = resolve(name).into_iter().collect();
        assert_eq!(found, web, "{name}");
    }
    let api: BTreeSet<Ipv4Addr> = resolve("api").into_iter().collect();
    assert_eq!(api, addresses(&["scaled-api-1", "scaled-api-2"]));
    assert_eq!(
        resolve("scaled-web-2"),
        vec![setup.address_of("scaled-web-2")]
    );
    // Round-robin: the first address changes from question to question.
    let firsts: BTreeSet<Ipv4Addr> = (0..8).map(|_| resolve("web")[0]).collect();
    assert!(firsts.len() > 1, "always {firsts:?} first");

    // Each container says what it belongs to.
    let engine = setup.engine();
    let project = ch07_compose::load(&ch07_compose::LoadOptions {
        working_dir: dir.clone(),
        ..Default::default()
    })
    .unwrap();
    let record = engine.containers().find::<Spec>("scaled-web-2").unwrap();
    let labels = &record.spec.compose.labels;
    for (key, value) in [
        ("com.docker.compose.project", "scaled"),
        ("com.docker.compose.service", "web"),
        ("com.docker.compose.container-number", "2"),
        ("com.docker.compose.oneoff", "False"),
    ] {
        assert_eq!(labels.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert_eq!(
        labels["com.docker.compose.config-hash"],
        ch07_compose::plan::config_hash(&project.services["web"])
    );

    let mut t = Session::default();
    let (ps, code) = setup.output(&dir, &["ps"]);
    assert_eq!(code, 0, "{ps}");
    t.command("ch07-compose ps", &ps);
    // The addresses as a learner's engine might have given them: the
    // first ones of the first user subnet, in the order of the containers'
    // names (replicas start together, and take their addresses in any
    // order); sorted (the order of the answers turns).
    let names = [
        "scaled-api-1",
        "scaled-api-2",
        "scaled-web-1",
        "scaled-web-2",
        "scaled-web-3",
    ];
    let shown = |address: Ipv4Addr| {
        let index = names
            .iter()
            .position(|n| setup.address_of(n) == address)
            .expect("a replica's address") as u8;
        Ipv4Addr::new(10, 202, 0, 2 + index)
    };
    for name in ["web", "api"] {
        let mut found: Vec<Ipv4Addr> = resolve(name).into_iter().map(shown).collect();
        found.sort();
        let lines: String = found.iter().map(|a| format!("{a}\n")).collect();
        t.command(
            &format!("ch07-compose exec client probe resolve {name}   # sorted"),
            &lines,
        );
    }
    let network = engine.network().networks().get("scaled_default").unwrap();
    up.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(up.wait(Duration::from_secs(60)), 130);
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
    setup.assert_nothing_left(&ids, &[network]);
    let text = relayout_ps(&t.text);
    settings().bind(|| insta::assert_snapshot!("scale", text));
}

#[test]
fn a_smaller_scale_removes_the_extra_containers() {
    let setup = Setup::new();
    let yaml = "name: shrink\nservices:\n  job:\n    image: busybox\n    command: echo done\n";
    let dir = setup.project("shrink", yaml);
    let (output, code) = setup.output(&dir, &["up", "--scale", "job=3"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(output.matches("exited with code 0").count(), 3, "{output}");
    let (output, code) = setup.output(&dir, &["up", "--scale", "job=1"]);
    assert_eq!(code, 0, "{output}");
    for gone in ["shrink-job-2", "shrink-job-3"] {
        assert!(
            output.contains(&format!("Container {gone}  Removed")),
            "{output}"
        );
    }
    let ids = setup.container_ids();
    assert_eq!(ids.len(), 1);
    let network = setup
        .engine()
        .network()
        .networks()
        .get("shrink_default")
        .unwrap();
    let (output, code) = setup.output(&dir, &["down"]);
    assert_eq!(code, 0, "{output}");
    setup.assert_nothing_left(&ids, &[network]);
}
