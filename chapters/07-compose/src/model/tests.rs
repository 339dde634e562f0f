//! Tests of the whole file model: each service key read from YAML.

use super::*;
use crate::de::{TypeError, from_node};
use crate::node::parse;

fn file(text: &str) -> Result<ComposeFile, TypeError> {
    from_node(&parse(text, "compose.yaml").unwrap())
}

fn service(body: &str) -> Service {
    let text = format!("services:\n  s:\n{}", indent(body));
    file(&text).unwrap().services.remove("s").unwrap()
}

fn indent(body: &str) -> String {
    body.lines().map(|l| format!("    {l}\n")).collect()
}

#[test]
fn every_supported_service_key_reads() {
    let s = service(
        "image: busybox:1.36
build:
  context: ./web
  dockerfile: Dockerfile.dev
  args: [VERSION=1]
  target: final
command: httpd -f -p 8080
entrypoint: [/bin/sh, -c]
environment: {A: '1'}
env_file: [.env.web, {path: .env.local, required: false}]
ports: ['8080:8080']
expose: [9000]
volumes: ['data:/data']
tmpfs: /run
networks: {front: {aliases: [www]}}
depends_on: {db: {condition: service_healthy}}
healthcheck: {test: [CMD, true], interval: 5s, retries: 3}
restart: on-failure:3
deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 64m, pids: 100}}}
scale: 2
container_name: web
hostname: web.local
user: '1000:1000'
working_dir: /srv
labels: [tier=front]
cap_add: [NET_ADMIN]
cap_drop: [ALL]
security_opt: ['no-new-privileges:true']
read_only: true
stop_grace_period: 1m
stop_signal: SIGINT
init: true
mem_limit: 128m
cpus: 1.5
pids_limit: 64
extra_hosts: ['db.local:10.0.0.5', 'cache=10.0.0.6']
dns: 9.9.9.9
profiles: [debug]
",
    );
    assert_eq!(s.image.as_deref(), Some("busybox:1.36"));
    let build = s.build.as_ref().unwrap();
    assert_eq!(
        (build.context.as_deref(), build.target.as_deref()),
        (Some("./web"), Some("final"))
    );
    assert_eq!(build.args["VERSION"].as_deref(), Some("1"));
    assert_eq!(s.command.as_deref().unwrap(), ["httpd", "-f", "-p", "8080"]);
    assert_eq!(s.entrypoint.as_deref().unwrap(), ["/bin/sh", "-c"]);
    assert_eq!(s.env_file.len(), 2);
    assert!(!s.env_file[1].required);
    assert_eq!(s.restart, Some(Restart::OnFailure(Some(3))));
    let limits = s
        .deploy
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .limits
        .as_ref()
        .unwrap();
    assert_eq!(
        (limits.cpus, limits.memory, limits.pids),
        (Some(Cpus(0.5)), Some(Bytes(64 << 20)), Some(100))
    );
    assert_eq!(s.stop_grace_period.unwrap().to_string(), "1m0s");
    assert_eq!(
        (s.mem_limit, s.cpus, s.pids_limit),
        (Some(Bytes(128 << 20)), Some(Cpus(1.5)), Some(64))
    );
    assert_eq!(s.extra_hosts["db.local"], "10.0.0.5");
    assert_eq!(s.extra_hosts["cache"], "10.0.0.6");
    assert_eq!(s.tmpfs, ["/run"]);
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!((s.read_only, s.init), (Some(true), Some(true)));
}

#[test]
fn build_as_a_string_is_the_context() {
    let s = service("build: .\n");
    assert_eq!(s.build.unwrap().context.as_deref(), Some("."));
}

#[test]
fn unknown_service_keys_are_errors_with_a_suggestion() {
    let err = file("services:\n  web:\n    image: busybox\n    enviroment: {A: 1}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "compose.yaml:4:5: services.web.enviroment: unknown key `enviroment`: did you mean `environment`?"
    );
}

#[test]
fn keys_compose_knows_but_skiff_does_not_are_named_as_such() {
    let err = file("services:\n  web:\n    image: busybox\n    privileged: true\n").unwrap_err();
    assert_eq!(err.path, "services.web.privileged");
    assert!(err.message.contains("skiff does not support"), "{err}");
    let err = file("secrets:\n  s: {file: ./s}\n").unwrap_err();
    assert!(err.message.contains("skiff does not support"), "{err}");
}

#[test]
fn extension_fields_are_ignored_everywhere_in_the_schema() {
    let f = file(
        "x-common: &c {restart: always}\nservices:\n  web:\n    <<: *c\n    image: busybox\n    x-note: hello\n    deploy: {x-hint: 1}\nnetworks:\n  n: {x-meta: 1}\n",
    )
    .unwrap();
    assert_eq!(f.services["web"].restart, Some(Restart::Always));
}

#[test]
fn a_stop_signal_must_be_a_signal() {
    let err = file("services:\n  w:\n    stop_signal: SIGSTOPP\n").unwrap_err();
    assert_eq!(err.path, "services.w.stop_signal");
}

#[test]
fn type_errors_deep_in_a_service() {
    let err = file("services:\n  w:\n    deploy:\n      replicas: two\n").unwrap_err();
    assert_eq!(err.path, "services.w.deploy.replicas");
    assert_eq!(err.at.as_ref().map(|a| (a.line, a.column)), Some((4, 17)));
    let err = file("services:\n  w:\n    mem_limit: lots\n").unwrap_err();
    assert!(err.message.contains("not a size"), "{err}");
    let err = file("services: [web]\n").unwrap_err();
    assert_eq!(err.path, "services");
    assert!(
        err.message.contains("expected a mapping, found a sequence"),
        "{err}"
    );
    let err = file("services:\n  w:\n    deploy:\n      resources: {reservations: {memory: 1g}}\n")
        .unwrap_err();
    assert!(err.message.contains("skiff does not support"), "{err}");
}
