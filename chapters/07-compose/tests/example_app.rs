//! The chapter's example application (`examples/app`): `config` resolves
//! it, its Dockerfile is one chapter 5 builds, and its programs (busybox
//! shell CGI scripts) work: run here with the host's busybox, the store
//! served by busybox httpd on a loopback port.

use ch07_compose::{LoadOptions, load, plan, to_yaml};
use skiff_testkit::snapshot_settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BUSYBOX: &str = skiff_testkit::rootfs::BUSYBOX;

fn app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/app")
}

/// The example copied to `/tmp/skiff-*/app` (the snapshots then show
/// `[TMP]/app` whatever the checkout's path).
fn copied() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let dir = root.path().join("app");
    let status = Command::new("cp")
        .arg("-a")
        .arg(app())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    (root, dir)
}

#[test]
fn config_resolves_the_example() {
    let (_root, dir) = copied();
    let project = load(&LoadOptions {
        working_dir: dir,
        ..LoadOptions::default()
    })
    .unwrap();
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    let mut out = String::from("$ ch07-compose config\n");
    out += &to_yaml(&project);

    let plan = plan(&project, &BTreeMap::new()).unwrap();
    out += &format!(
        "\n$ ch07-compose up   (the plan)\nstart order: {}\n",
        plan.start_order.join(", ")
    );
    for network in &plan.networks {
        out += &format!("network {} -> {}\n", network.key, network.name);
    }
    for volume in &plan.volumes {
        out += &format!("volume  {} -> {}\n", volume.key, volume.name);
    }
    for container in &plan.containers {
        out += &format!("container {} (image {})\n", container.name, container.image);
    }
    snapshot_settings().bind(|| insta::assert_snapshot!("example_app", out));
}

#[test]
fn the_web_dockerfile_is_one_chapter_5_builds() {
    let text = std::fs::read_to_string(app().join("web/Dockerfile")).unwrap();
    let dockerfile = ch05_images::dockerfile::parse("Dockerfile", &text).unwrap();
    let plan = dockerfile
        .plan(&ch05_images::dockerfile::BuildOptions::default())
        .unwrap();
    assert_eq!(plan.target, 0, "one stage");
    assert!(
        app().join("web/www/cgi-bin/visit").is_file(),
        "what COPY copies is there"
    );
}

/// Runs a CGI script as busybox httpd would: environment in, headers and
/// body out.
fn cgi(script: &Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(BUSYBOX)
        .arg("sh")
        .arg(script)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_store_counts_and_lists() {
    let data = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let incr = app().join("store/cgi-bin/incr");
    let get = app().join("store/cgi-bin/get");
    let header = "Content-Type: text/plain\r\n\r\n";
    assert_eq!(
        cgi(&incr, &[("DATA_DIR", data_dir), ("QUERY_STRING", "ticks")]),
        format!("{header}1\n")
    );
    assert_eq!(
        cgi(&incr, &[("DATA_DIR", data_dir), ("QUERY_STRING", "ticks")]),
        format!("{header}2\n")
    );
    assert_eq!(
        cgi(&incr, &[("DATA_DIR", data_dir), ("QUERY_STRING", "visits")]),
        format!("{header}1\n")
    );
    assert_eq!(
        cgi(&get, &[("DATA_DIR", data_dir)]),
        format!("{header}ticks 2\nvisits 1\n")
    );
    let refused = cgi(&incr, &[("DATA_DIR", data_dir), ("QUERY_STRING", "../etc")]);
    assert!(refused.starts_with("Status: 400"), "{refused}");
}

#[test]
fn concurrent_increments_are_not_lost() {
    let data = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let incr = app().join("store/cgi-bin/incr");
    let children: Vec<Child> = (0..20)
        .map(|_| {
            Command::new(BUSYBOX)
                .arg("sh")
                .arg(&incr)
                .env("DATA_DIR", data.path())
                .env("QUERY_STRING", "hits")
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(
        std::fs::read_to_string(data.path().join("hits")).unwrap(),
        "20\n"
    );
}

/// busybox httpd serving the store on a loopback port; killed on drop.
struct Store(Child);

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_page_counts_visits_through_the_store() {
    let data = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _store = Store(
        Command::new(BUSYBOX)
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(app().join("store"))
            .env("DATA_DIR", data.path())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ready, "busybox httpd did not listen on {url}");
    let visit = app().join("web/www/cgi-bin/visit");
    let first = cgi(&visit, &[("STORE_URL", &url)]);
    assert_eq!(
        first,
        "Content-Type: text/plain\r\n\r\nvisits: 1\nvisits 1\n"
    );
    let second = cgi(&visit, &[("STORE_URL", &url)]);
    assert!(second.contains("visits: 2\n"), "{second}");
}
