//! A supervisor killed with SIGKILL cannot release its container's network;
//! the next command does, from the records on disk: no veth, no rule, no
//! lease, no name, no namespace is left. Driven through `ch06-network`.

mod binary;

use binary::{Setup, host_links, nft_table};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use skiff_testkit::Transcript;

#[test]
fn transcript_a_killed_supervisor_leaves_nothing_after_prune() {
    let setup = Setup::new();
    let created = setup.ch06(&["network", "create", "app"]).output().unwrap();
    assert!(created.status.success(), "{created:?}");
    let mut web = setup.background(
        "web",
        &[
            "--network",
            "app",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            "echo ready; exec httpd -f -p 80",
        ],
    );
    let id = skiff_testkit::container_id(&setup.state(), "web").unwrap();
    let veth = ch06_network::attachment::veth_name(&id);
    let app = setup.network("app");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            setup
                .state()
                .join("containers")
                .join(&id)
                .join("record.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let first = record["state"]["pid"]["pid"].as_i64().unwrap() as i32;
    let netns = std::fs::read_link(format!("/proc/{first}/ns/net")).unwrap();
    assert!(host_links().contains(&veth));
    assert!(nft_table().contains(&format!("container {id}")));
    assert_eq!(
        setup.networks().attached(&app).unwrap(),
        std::slice::from_ref(&id)
    );

    kill(Pid::from_raw(web.supervisor()), Signal::SIGKILL).unwrap();
    let _ = web.child.wait();
    // The container died with its supervisor (PR_SET_PDEATHSIG), and its
    // network namespace with it (the kernel destroyed the veth pair too);
    // the rule, the lease and the name are still written down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{first}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container outlived its supervisor"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(nft_table().contains(&format!("container {id}")));
    assert!(setup.state().join("networks/endpoints").join(&id).exists());

    let mut t = Transcript::new();
    t.comment("the supervisor of web was killed with SIGKILL");
    setup.run(&mut t, &["ps", "-a"]);
    let inspect = setup.run(&mut t, &["network", "inspect", "app"]);
    assert!(
        inspect.output.contains("\"Containers\": {}"),
        "{}",
        inspect.output
    );
    setup.run(&mut t, &["prune"]);
    setup.run(&mut t, &["network", "prune"]);
    setup.assert_snapshot("killed", t.text());

    assert!(!host_links().contains(&veth), "{veth} left");
    assert!(!host_links().contains(&app.bridge), "{} left", app.bridge);
    let table = nft_table();
    assert!(!table.contains(&id) && !table.contains(&app.id), "{table}");
    assert!(!setup.state().join("networks/endpoints").join(&id).exists());
    assert!(!setup.state().join("networks").join(&app.id).exists());
    // No process is left in the container's namespace.
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(link) = std::fs::read_link(entry.path().join("ns/net")) {
            assert_ne!(
                link,
                netns,
                "process {:?} is still in the container's netns",
                entry.file_name()
            );
        }
    }
    drop(web);
}
