//! What a learner sees for a broken compose file: one snapshot of every
//! error message, each with the file, line and column, the key path and
//! what to do. Then a corpus of odd documents that must be refused with a
//! message, never a panic.

use ch07_compose::{LoadOptions, load};
use skiff_testkit::snapshot_settings;

/// (what is wrong, compose.yaml)
const CASES: &[(&str, &str)] = &[
    (
        "an unclosed flow sequence",
        "services:\n  web:\n    image: busybox\n    ports: [\"80:80\"\n",
    ),
    (
        "a key indented too little",
        "services:\n  web:\n    image: busybox\n   command: true\n",
    ),
    (
        "a key written twice",
        "services:\n  web:\n    image: busybox\n    image: alpine\n",
    ),
    (
        "compose's !reset tag",
        "services:\n  web:\n    image: busybox\n    ports: !reset []\n",
    ),
    (
        "a misspelled key",
        "services:\n  web:\n    image: busybox\n    depends-on: [db]\n",
    ),
    (
        "a misspelled top-level key",
        "service:\n  web:\n    image: busybox\n",
    ),
    (
        "a compose key skiff does not run",
        "services:\n  web:\n    image: busybox\n    privileged: true\n",
    ),
    (
        "ports as a string",
        "services:\n  web:\n    image: busybox\n    ports: \"80:80\"\n",
    ),
    (
        "replicas that are not a number",
        "services:\n  web:\n    image: busybox\n    deploy:\n      replicas: two\n",
    ),
    (
        "a port with an unknown protocol",
        "services:\n  web:\n    image: busybox\n    ports:\n      - 80:80/sctp\n",
    ),
    (
        "a volume with a relative target",
        "services:\n  web:\n    image: busybox\n    volumes:\n      - data:data\n",
    ),
    (
        "a duration without a unit",
        "services:\n  web:\n    image: busybox\n    healthcheck:\n      test: [CMD, true]\n      interval: 10\n",
    ),
    (
        "an unknown restart policy",
        "services:\n  web:\n    image: busybox\n    restart: sometimes\n",
    ),
    (
        "a misspelled condition",
        "services:\n  web:\n    image: busybox\n    depends_on:\n      db:\n        condition: service_healty\n  db:\n    image: busybox\n",
    ),
    (
        "a command with a shell operator",
        "services:\n  web:\n    image: busybox\n    command: make && make test\n",
    ),
    (
        "a healthcheck test without CMD",
        "services:\n  web:\n    image: busybox\n    healthcheck:\n      test: [curl, -f, http://localhost]\n",
    ),
    (
        "a lone dollar",
        "services:\n  web:\n    image: busybox\n    command: echo costs 5$\n",
    ),
    (
        "a required variable",
        "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD:?put DB_PASSWORD in .env}\n",
    ),
    (
        "neither image nor build",
        "services:\n  web:\n    command: [httpd, -f]\n",
    ),
    (
        "a dependency cycle",
        "services:\n  web:\n    image: busybox\n    depends_on: [api]\n  api:\n    image: busybox\n    depends_on: [db]\n  db:\n    image: busybox\n    depends_on: [web]\n",
    ),
    (
        "a dependency that does not exist",
        "services:\n  web:\n    image: busybox\n    depends_on: [database]\n  db:\n    image: postgres\n",
    ),
    (
        "a dependency in an inactive profile",
        "services:\n  web:\n    image: busybox\n    depends_on: [db]\n  db:\n    image: postgres\n    profiles: [full]\n",
    ),
    (
        "a network nobody declared",
        "services:\n  web:\n    image: busybox\n    networks: [frontend]\nnetworks:\n  front:\n",
    ),
    (
        "a volume nobody declared",
        "services:\n  web:\n    image: busybox\n    volumes:\n      - data:/data\n",
    ),
    (
        "container_name with replicas",
        "services:\n  web:\n    image: busybox\n    container_name: web\n    deploy:\n      replicas: 2\n",
    ),
    (
        "a subnet with host bits",
        "services: {}\nnetworks:\n  back:\n    ipam:\n      config:\n        - subnet: 10.0.0.1/24\n",
    ),
    (
        "an env_file that is missing",
        "services:\n  web:\n    image: busybox\n    env_file: web.env\n",
    ),
    (
        "an invalid project name",
        "name: My Project\nservices: {}\n",
    ),
    ("an empty file", ""),
    ("a list instead of a mapping", "- web\n- db\n"),
];

fn first_error(text: &str) -> String {
    let dir = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let project = dir.path().join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("compose.yaml"), text).unwrap();
    let options = LoadOptions {
        working_dir: project,
        ..LoadOptions::default()
    };
    match load(&options) {
        Ok(_) => panic!("no error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn error_messages() {
    let mut out = String::new();
    for (what, text) in CASES {
        out += &format!("--- {what}\n{text}=> {}\n\n", first_error(text));
    }
    snapshot_settings().bind(|| insta::assert_snapshot!("errors", out));
}

/// Documents that are YAML but far from a compose file: each must give an
/// error (with a message), none may panic.
#[test]
fn odd_documents_are_refused_not_panicked_on() {
    let corpus = [
        "services: 5\n",
        "services:\n  web: 5\n",
        "services:\n  web: [1, 2]\n",
        "services:\n  web:\n    image: [a]\n",
        "services:\n  web:\n    image: {a: b}\n",
        "services:\n  web:\n    ports: {a: b}\n",
        "services:\n  web:\n    ports: [[80]]\n",
        "services:\n  web:\n    ports: [-1]\n",
        "services:\n  web:\n    ports: [99999]\n",
        "services:\n  web:\n    ports: [{target: 0}]\n",
        "services:\n  web:\n    volumes: [5]\n",
        "services:\n  web:\n    volumes: [':']\n",
        "services:\n  web:\n    volumes: ['::::']\n",
        "services:\n  web:\n    environment: 5\n",
        "services:\n  web:\n    environment: [[a]]\n",
        "services:\n  web:\n    command: {a: b}\n",
        "services:\n  web:\n    command: \"'unterminated\"\n",
        "services:\n  web:\n    depends_on: 5\n",
        "services:\n  web:\n    depends_on: {db: 5}\n",
        "services:\n  web:\n    healthcheck: []\n",
        "services:\n  web:\n    healthcheck: {test: []}\n",
        "services:\n  web:\n    networks: 5\n",
        "services:\n  web:\n    deploy: {replicas: -1}\n",
        "services:\n  web:\n    deploy: {replicas: 1e99}\n",
        "services:\n  web:\n    mem_limit: 99999999999999999999999p\n",
        "services:\n  web:\n    cpus: .nan\n",
        "services:\n  web:\n    stop_grace_period: 1y\n",
        "services:\n  web:\n    image: ${\n",
        "services:\n  web:\n    image: ${A:-${B\n",
        "services:\n  web:\n    image: $$${}\n",
        "networks:\n  n:\n    ipam: {config: [{}]}\nservices: {}\n",
        "networks: [a, b]\n",
        "volumes:\n  v: 5\n",
        "name: 5\nservices: {}\n",
        "name: ''\nservices: {}\n",
        "? [a]\n: b\n",
        "a: &a [*a]\n",
        "services:\n  web: &w\n    image: x\n    <<: *w\n    extra: 1\n",
        "\t- tab\n",
        "%YAML 9.9\n---\nservices: {}\n",
        "--- a\n--- b\n",
    ];
    for text in corpus {
        let message = first_error(text);
        assert!(!message.is_empty(), "{text:?}");
    }
}
