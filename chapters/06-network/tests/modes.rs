//! `--network none`, `host` and `container:NAME`, driven through
//! `ch06-network`: what each container sees of the network.

mod binary;

use binary::Setup;
use skiff_testkit::Transcript;

const SERVE: &str = "mkdir -p /www && echo hello from web > /www/index.html && echo ready && exec httpd -f -p 80 -h /www";

#[test]
fn transcript_none_host_and_another_containers_network() {
    let setup = Setup::new();
    let _web = setup.background("web", &["busybox", "sh", "-c", SERVE]);
    let mut t = Transcript::new();
    // none: loopback only (up), no cable.
    let none = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "probe",
            "net",
        ],
    );
    assert_eq!(none.output, "net: lo up 127.0.0.1/8 ::1/128\n");
    // container:web: web's namespace, its eth0 and its server on 127.0.0.1,
    // and web's hostname.
    let shared = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "container:web",
            "busybox",
            "sh",
            "-c",
            "probe net; hostname; wget -q -O - http://127.0.0.1/",
        ],
    );
    assert_eq!(shared.code, 0, "{}", shared.output);
    assert!(shared.output.contains("net: eth0 up"), "{}", shared.output);
    assert!(
        shared.output.contains(&setup.short_id("web")),
        "{}",
        shared.output
    );
    assert!(
        shared.output.ends_with("hello from web\n"),
        "{}",
        shared.output
    );
    let refused = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "container:web",
            "-p",
            "8080:80",
            "busybox",
            "true",
        ],
    );
    assert_eq!(refused.code, 125);
    let gone = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--network",
            "container:nobody",
            "busybox",
            "true",
        ],
    );
    assert_eq!(gone.code, 125);
    setup.assert_snapshot("modes", t.text());

    // host: the host's links (the test's own bridge among them) and name.
    let bridge = setup.network("bridge").bridge;
    let out = setup
        .ch06(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "sh",
            "-c",
            "ls /sys/class/net; cat /etc/hostname",
        ])
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.lines().any(|l| l == bridge), "{bridge} not in {seen}");
    let host = nix::unistd::gethostname().unwrap();
    assert_eq!(seen.lines().last(), host.to_str());
    // And the same network namespace as this test's.
    let out = setup
        .ch06(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ])
        .output()
        .unwrap();
    let ours =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata("/proc/self/ns/net").unwrap());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ours.to_string()
    );
}

#[test]
fn transcript_the_containers_files() {
    let setup = Setup::new();
    let mut t = Transcript::new();
    let show =
        "cat /etc/hostname /etc/resolv.conf; tail -n 3 /etc/hosts; cat /sys/class/net/eth0/address";
    let files = setup.run(
        &mut t,
        &[
            "run",
            "--rm",
            "--hostname",
            "box",
            "--dns",
            "10.9.9.9",
            "--add-host",
            "db:10.0.0.5",
            "--add-host",
            "host.docker.internal:host-gateway",
            "--mac-address",
            "02:42:0a:00:00:99",
            "busybox",
            "sh",
            "-c",
            show,
        ],
    );
    assert_eq!(files.code, 0, "{}", files.output);
    assert!(
        files.output.contains("nameserver 10.9.9.9\n"),
        "{}",
        files.output
    );
    assert!(files.output.contains("10.0.0.5\tdb\n"), "{}", files.output);
    assert!(
        files.output.ends_with("02:42:0a:00:00:99\n"),
        "{}",
        files.output
    );
    let gateway = setup.network("bridge").gateway;
    assert!(
        files
            .output
            .contains(&format!("{gateway}\thost.docker.internal\n")),
        "{}",
        files.output
    );
    setup.assert_snapshot("files", t.text());
}

#[test]
fn an_images_resolv_conf_symlink_is_followed_inside_the_root() {
    let setup = Setup::new();
    // The image's /etc/resolv.conf points at a file it does not have, as
    // images built on systemd hosts do; the target is made inside the root.
    let target = format!("/run/skiff-test-{}/resolv.conf", std::process::id());
    let link = target.clone();
    setup.add_image("linked", move |root| {
        std::os::unix::fs::symlink(&link, root.join("etc/resolv.conf")).unwrap();
    });
    let out = setup
        .ch06(&[
            "run",
            "--rm",
            "--dns",
            "10.9.9.9",
            "linked",
            "sh",
            "-c",
            "readlink /etc/resolv.conf; cat /etc/resolv.conf",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{target}\nnameserver 10.9.9.9\n")
    );
    let host_dir = std::path::Path::new(&target)
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        !host_dir.exists(),
        "{} was made on the host",
        host_dir.display()
    );
}

#[test]
fn sharing_a_network_refuses_a_user_namespace_and_a_hostname_of_its_own() {
    let setup = Setup::new();
    let _web = setup.background("web", &["busybox", "sh", "-c", SERVE]);
    for (flag, says) in [
        ("--userns", "drop --userns"),
        ("--hostname=other", "conflicting options: --hostname"),
    ] {
        let out = setup
            .ch06(&[
                "run",
                "--rm",
                flag,
                "--network",
                "container:web",
                "busybox",
                "true",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag}: {stderr}");
    }
    // Only web was ever made.
    let out = setup.ch06(&["ps", "-aq"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
