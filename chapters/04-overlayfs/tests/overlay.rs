//! Chapter 4, driven as a learner drives it: layers, copy-on-write, diff,
//! commit, volumes.

use skiff_testkit::{
    Rootfs, Transcript, assert_no_mounts_under, require_root, snapshot_settings, unique,
    workspace_bin,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ch04-overlayfs");

/// A rootfs plus a state directory, both in the rootfs's work directory, so
/// commands run from there show short relative paths.
struct Setup {
    rootfs: Rootfs,
}

impl Setup {
    fn new() -> Setup {
        let rootfs = Rootfs::busybox();
        std::fs::create_dir(rootfs.workdir().join("state")).unwrap();
        Setup { rootfs }
    }

    fn dir(&self) -> &Path {
        self.rootfs.workdir()
    }

    /// A layer directory `name` holding `files` (path, content).
    fn layer(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.dir().join(name);
        for (path, content) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn ch04(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir())
            .env("SKIFF_STATE_DIR", self.dir().join("state"))
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        command
    }

    fn output(&self, args: &[&str]) -> (String, String, i32) {
        skiff_testkit::output(self.ch04(args))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        assert_no_mounts_under(self.dir());
    }
}

#[test]
fn transcript_copy_on_write_diff_and_commit() {
    require_root();
    let setup = Setup::new();
    let app = setup.layer(
        "app",
        &[
            ("etc/motd", "from the app layer\n"),
            ("srv/old/file", "old\n"),
        ],
    );
    let name = unique("cow");
    let mut t = Transcript::new();
    let script = "cat /etc/motd; echo changed > /etc/motd; rm /etc/hostname; \
                  rm -r /srv/old; mkdir /srv/old; echo new > /srv/old/other; mkdir /data";
    let ran = t.run_shown(
        &format!("ch04-overlayfs run --name cow --rootfs rootfs --layer app -- sh -c '{script}'"),
        &mut setup.ch04(&[
            "run", "--name", &name, "--rootfs", "rootfs", "--layer", "app", "--", "sh", "-c",
            script,
        ]),
        None,
    );
    assert_eq!(ran.code, 0, "{}", ran.output);
    t.run_shown(
        "ch04-overlayfs diff cow",
        &mut setup.ch04(&["diff", &name]),
        None,
    );
    let committed = t.run_shown(
        "ch04-overlayfs commit cow cow.tar",
        &mut setup.ch04(&["commit", &name, "cow.tar"]),
        None,
    );
    assert_eq!(committed.code, 0, "{}", committed.output);
    let mut list = Command::new("sh");
    list.args(["-c", "tar -tvf cow.tar | awk '{print $1, $6}' | sort -k2"])
        .current_dir(setup.dir());
    t.run_shown(
        "tar -tvf cow.tar | awk '{print $1, $6}' | sort -k2",
        &mut list,
        None,
    );
    t.run_shown(
        "ch04-overlayfs rm cow",
        &mut setup.ch04(&["rm", &name]),
        None,
    );
    let settings = {
        let mut s = snapshot_settings();
        s.add_filter(&name, "cow");
        s
    };
    settings.bind(|| insta::assert_snapshot!("copy_on_write", t.text()));

    // The layers never changed: copy-up wrote to the container's own layer.
    assert_eq!(
        std::fs::read_to_string(app.join("etc/motd")).unwrap(),
        "from the app layer\n"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("srv/old/file")).unwrap(),
        "old\n"
    );
    assert!(setup.rootfs.join("etc/hostname").exists());
    let text = t.text();
    for line in ["C /etc/motd", "D /etc/hostname", "A /data"] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("etc/.wh.hostname"), "{text}");
    assert!(text.contains("srv/old/.wh..wh..opq"), "{text}");
    assert!(
        !setup.dir().join("state/containers").join(&name).exists(),
        "rm left the layer"
    );
}

#[test]
fn a_hundred_and_thirty_layers_mount() {
    require_root();
    let setup = Setup::new();
    let mut args: Vec<String> = ["run", "--rm", "--rootfs", "rootfs"]
        .map(String::from)
        .to_vec();
    for n in 0..130 {
        let name = format!("layers-{n:03}");
        setup.layer(
            &format!("many/{name}"),
            &[(&format!("layers/{n:03}"), &n.to_string())],
        );
        args.push("--layer".into());
        args.push(format!("many/{name}"));
    }
    args.extend(["--", "sh", "-c", "ls /layers | wc -l; cat /layers/129"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (out, stderr, code) = setup.output(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, "130\n129");
}

#[test]
fn rm_flag_removes_the_writable_layer_and_without_it_stays() {
    require_root();
    let setup = Setup::new();
    let kept = unique("kept");
    let gone = unique("gone");
    let (_, stderr, code) = setup.output(&[
        "run", "--name", &kept, "--rootfs", "rootfs", "--", "touch", "/x",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stderr, code) = setup.output(&[
        "run", "--rm", "--name", &gone, "--rootfs", "rootfs", "--", "touch", "/x",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let containers = setup.dir().join("state/containers");
    assert!(containers.join(&kept).join("upper/x").exists());
    assert!(!containers.join(&gone).exists());
    let (_, _, code) = setup.output(&["rm", &kept]);
    assert_eq!(code, 0);
    assert!(!containers.join(&kept).exists());
}

#[test]
fn transcript_volumes() {
    require_root();
    let setup = Setup::new();
    std::fs::create_dir(setup.dir().join("site")).unwrap();
    std::fs::write(setup.dir().join("site/index.html"), "hello\n").unwrap();
    let mut t = Transcript::new();
    let run = |t: &mut Transcript, shown: &str, args: &[&str]| {
        let mut all = vec!["run", "--rm", "--rootfs", "rootfs"];
        all.extend(args);
        t.run_shown(
            &format!("ch04-overlayfs run --rm --rootfs rootfs {shown}"),
            &mut setup.ch04(&all),
            None,
        )
    };
    t.comment("a named volume outlives the container that wrote to it");
    run(
        &mut t,
        "-v data:/data -- sh -c 'echo kept > /data/note'",
        &[
            "-v",
            "data:/data",
            "--",
            "sh",
            "-c",
            "echo kept > /data/note",
        ],
    );
    let second = run(
        &mut t,
        "-v data:/data -- cat /data/note",
        &["-v", "data:/data", "--", "cat", "/data/note"],
    );
    assert_eq!(second.output, "kept\n");
    t.comment("a read-only bind mount of a host directory");
    let ro = run(
        &mut t,
        "-v ./site:/srv:ro -- sh -c 'cat /srv/index.html; echo x > /srv/index.html'",
        &[
            "-v",
            "./site:/srv:ro",
            "--",
            "sh",
            "-c",
            "cat /srv/index.html; echo x > /srv/index.html",
        ],
    );
    assert_ne!(ro.code, 0);
    assert!(ro.output.contains("Read-only file system"), "{}", ro.output);
    t.comment("a tmpfs");
    run(
        &mut t,
        "--tmpfs /scratch -- sh -c 'grep /scratch /proc/mounts'",
        &[
            "--tmpfs",
            "/scratch",
            "--",
            "sh",
            "-c",
            "grep /scratch /proc/mounts",
        ],
    );
    t.run_shown(
        "ch04-overlayfs volume ls",
        &mut setup.ch04(&["volume", "ls"]),
        None,
    );
    t.run_shown(
        "ch04-overlayfs volume prune",
        &mut setup.ch04(&["volume", "prune"]),
        None,
    );
    t.run_shown(
        "ch04-overlayfs volume ls",
        &mut setup.ch04(&["volume", "ls"]),
        None,
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("volumes", t.text()));
    assert_eq!(
        std::fs::read_to_string(setup.dir().join("site/index.html")).unwrap(),
        "hello\n"
    );
}

#[test]
fn a_symlink_in_the_image_cannot_send_a_mount_onto_the_host() {
    require_root();
    let setup = Setup::new();
    // The image's /data is a symlink that points, from the host's view, far
    // outside the root; it must resolve inside the root.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim");
    std::fs::create_dir(&target).unwrap();
    let evil = setup.layer("evil", &[]);
    std::os::unix::fs::symlink(&target, evil.join("data")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", evil.join("up")).unwrap();
    std::fs::create_dir(setup.dir().join("vol")).unwrap();
    std::fs::write(setup.dir().join("vol/file"), "volume\n").unwrap();
    let (out, stderr, code) = setup.output(&[
        "run",
        "--rm",
        "--rootfs",
        "rootfs",
        "--layer",
        "evil",
        "-v",
        "./vol:/data",
        "-v",
        "./vol:/up/mnt",
        "--",
        "sh",
        "-c",
        "cat /data/file; cat /mnt/file",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, "volume\nvolume\n");
    // Nothing was created or mounted outside the root.
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    assert_no_mounts_under(outside.path());
}

#[test]
fn transcript_errors() {
    require_root();
    let setup = Setup::new();
    std::fs::write(setup.dir().join("a-file"), "").unwrap();
    let mut t = Transcript::new();
    t.run(&mut setup.ch04(&[
        "run", "--rootfs", "rootfs", "--layer", "a-file", "--", "true",
    ]));
    t.run(&mut setup.ch04(&[
        "run",
        "--rootfs",
        "rootfs",
        "-v",
        "./no-such-dir:/data",
        "--",
        "true",
    ]));
    t.run(&mut setup.ch04(&[
        "run",
        "--rootfs",
        "rootfs",
        "-v",
        "./rootfs:data",
        "--",
        "true",
    ]));
    t.run(&mut setup.ch04(&["run", "--", "true"]));
    t.run(&mut setup.ch04(&["diff", "no-such-container"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("errors", t.text()));
    assert_eq!(
        t.text().matches("$ echo $?\n125\n").count(),
        5,
        "{}",
        t.text()
    );
    // Nothing was left in the state directory by the refused runs.
    let containers = setup.dir().join("state/containers");
    let left = std::fs::read_dir(&containers)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "refused runs left writable layers behind");
}

#[test]
fn transcript_before_chapter_3_changes_the_rootfs_itself() {
    require_root();
    let setup = Setup::new();
    let mut t = Transcript::new();
    t.comment("chapter 3: the container writes into the directory it was given");
    let mut ch03 = Command::new(workspace_bin("ch03-cgroups"));
    ch03.args([
        "run",
        "--rootfs",
        "rootfs",
        "--",
        "sh",
        "-c",
        "echo oops > /etc/hostname",
    ])
    .current_dir(setup.dir());
    t.run(&mut ch03);
    t.run_shown(
        "cat rootfs/etc/hostname",
        Command::new("cat")
            .arg("rootfs/etc/hostname")
            .current_dir(setup.dir()),
        None,
    );
    std::fs::write(setup.rootfs.join("etc/hostname"), "skiff\n").unwrap();
    t.comment(
        "chapter 4: the rootfs is a read-only layer; the change lands in the container's own layer",
    );
    t.run(&mut setup.ch04(&[
        "run",
        "--rm",
        "--rootfs",
        "rootfs",
        "--",
        "sh",
        "-c",
        "echo oops > /etc/hostname",
    ]));
    t.run_shown(
        "cat rootfs/etc/hostname",
        Command::new("cat")
            .arg("rootfs/etc/hostname")
            .current_dir(setup.dir()),
        None,
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("before", t.text()));
    assert_eq!(
        std::fs::read_to_string(setup.rootfs.join("etc/hostname")).unwrap(),
        "skiff\n"
    );
}

#[test]
fn a_killed_container_leaves_no_mounts() {
    require_root();
    let setup = Setup::new();
    let mut engine = setup
        .ch04(&[
            "run",
            "--rm",
            "--rootfs",
            "rootfs",
            "-v",
            "killvol:/data",
            "--",
            "sleep",
            "30",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let init = loop {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", engine.id()))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            // Wait until it runs sleep, after every mount is done.
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                break pid.parse::<i32>().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(engine.wait().unwrap().code(), Some(137));
    // Setup's drop checks that nothing stayed mounted.
}
