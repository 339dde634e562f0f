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
