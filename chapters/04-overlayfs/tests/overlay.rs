//! Chapter 4, driven as a learner drives it: layers, copy-on-write, diff,
//! commit, volumes.

use skiff_testkit::{
    Rootfs, Transcript, assert_no_mounts_under, container_id, require_root, scrub,
    snapshot_settings, workspace_bin,
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
        Setup {
            rootfs: Rootfs::busybox(),
        }
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
            .env("SKIFF_ROOT", self.state())
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        command
    }

    /// Where containers and volumes are kept: `state/` beside `rootfs/`.
    fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// The directory of container `name`, from its record.
    fn container_dir(&self, name: &str) -> Option<PathBuf> {
        container_id(&self.state(), name).map(|id| self.state().join("containers").join(id))
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
    let name = "cow";
    let mut t = Transcript::new();
    t.comment("a layer is a directory: this one adds /etc/motd and /srv/old");
    t.setup(
        setup.dir(),
        "mkdir -p app/etc app/srv/old && echo 'from the app layer' > app/etc/motd && echo old > app/srv/old/file",
    );
    let app = setup.dir().join("app");
    let script = "cat /etc/motd; echo changed > /etc/motd; rm /etc/hostname; \
                  rm -r /srv/old; mkdir /srv/old; echo new > /srv/old/other; mkdir /data";
    let ran = t.run(&mut setup.ch04(&[
        "run", "--name", name, "--rootfs", "rootfs", "--layer", "app", "--", "sh", "-c", script,
    ]));
    assert_eq!(ran.code, 0, "{}", ran.output);
    t.run(&mut setup.ch04(&["diff", name]));
    let committed = t.run(&mut setup.ch04(&["commit", name, "cow.tar"]));
    assert_eq!(committed.code, 0, "{}", committed.output);
    let mut list = Command::new("sh");
    list.args(["-c", "tar -tvf cow.tar | awk '{print $1, $6}' | sort -k2"])
        .current_dir(setup.dir());
    t.run_shown(
        "tar -tvf cow.tar | awk '{print $1, $6}' | sort -k2",
        &mut list,
        None,
    );
    let dir = setup.container_dir(name).expect("the container's record");
    t.run(&mut setup.ch04(&["rm", name]));
    snapshot_settings().bind(|| insta::assert_snapshot!("copy_on_write", t.text()));

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
    assert!(!dir.exists(), "rm left the layer");
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
    let (_, stderr, code) = setup.output(&[
        "run", "--name", "kept", "--rootfs", "rootfs", "--", "touch", "/x",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stderr, code) = setup.output(&[
        "run", "--rm", "--name", "gone", "--rootfs", "rootfs", "--", "touch", "/x",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let kept = setup.container_dir("kept").expect("kept has a record");
    assert!(kept.join("upper/x").exists());
    assert!(setup.container_dir("gone").is_none(), "--rm left a record");
    let (_, _, code) = setup.output(&["rm", "kept"]);
    assert_eq!(code, 0);
    assert!(!kept.exists());
}

#[test]
fn transcript_volumes() {
    require_root();
    let setup = Setup::new();
    let mut t = Transcript::new();
    t.setup(setup.dir(), "mkdir site && echo hello > site/index.html");
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
    // Kernels built with CONFIG_TMPFS_INODE64 (Debian's) add `inode64` to a
    // tmpfs's options; the transcript leaves it out (the book says so).
    let text = scrub(t.text(), &[(",inode64", "")]);
    snapshot_settings().bind(|| insta::assert_snapshot!("volumes", text));
    assert_eq!(
        std::fs::read_to_string(setup.dir().join("site/index.html")).unwrap(),
        "hello\n"
    );
}

#[test]
fn an_anonymous_volume_goes_with_its_container() {
    require_root();
    let setup = Setup::new();
    // `volume ls` prints a header line, then a name per line.
    let volumes = || setup.output(&["volume", "ls"]).0.lines().skip(1).count();
    let (out, err, code) = setup.output(&[
        "run",
        "--rm",
        "--rootfs",
        "rootfs",
        "-v",
        "/cache",
        "--",
        "sh",
        "-c",
        "echo warm > /cache/f && grep -c ' /cache ' /proc/mounts",
    ]);
    assert_eq!((out.as_str(), code), ("1\n", 0), "{err}");
    assert_eq!(volumes(), 0, "--rm took it");
    let (_, err, code) = setup.output(&[
        "run", "--name", "keep", "--rootfs", "rootfs", "-v", "/cache", "--", "true",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(volumes(), 1, "the container still has it");
    let (_, err, code) = setup.output(&["rm", "keep"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(volumes(), 0, "rm took it");
    // A run that never starts leaves nothing either.
    let (_, _, code) = setup.output(&[
        "run",
        "--rootfs",
        "rootfs",
        "-v",
        "/cache",
        "--",
        "/no/such/program",
    ]);
    assert_ne!(code, 0);
    assert_eq!(volumes(), 0);
    assert_eq!(setup.output(&["ps", "-a", "-q"]).0, "");
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
    let mut t = Transcript::new();
    t.setup(setup.dir(), "touch a-file");
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
    let containers = setup.state().join("containers");
    let left = std::fs::read_dir(&containers)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0);
    assert_eq!(left, 0, "refused runs left containers behind");
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
    .current_dir(setup.dir())
    .env("SKIFF_ROOT", setup.state());
    t.run(&mut ch03);
    t.run_shown(
        "cat rootfs/etc/hostname",
        Command::new("cat")
            .arg("rootfs/etc/hostname")
            .current_dir(setup.dir()),
        None,
    );
    t.setup(setup.dir(), "echo skiff > rootfs/etc/hostname");
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

/// Waits until the engine `engine` runs `command` as its container's first
/// process; returns that process's pid.
fn wait_for_init(engine: &std::process::Child, command: &str) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", engine.id()))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == command {
                return pid.parse().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_killed_supervisor_takes_its_container_along_and_prune_leaves_nothing() {
    require_root();
    let setup = Setup::new();
    let mut engine = setup
        .ch04(&[
            "run",
            "--name",
            "victim",
            "--memory",
            "64m",
            "--rootfs",
            "rootfs",
            "-v",
            "vol:/data",
            "--",
            "sleep",
            "1000",
        ])
        .spawn()
        .unwrap();
    let init = wait_for_init(&engine, "sleep");
    let id = container_id(&setup.state(), "victim").expect("a record");
    let dir = setup.state().join("containers").join(&id);
    let cgroups = skiff_testkit::cgroup_dirs(&id);
    assert!(!cgroups.is_empty(), "no cgroup for the container");

    // kill -9 of the supervisor: it cannot clean up, and its container
    // must not outlive it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(engine.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    engine.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{init}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container outlived its supervisor"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // The next command sees a dead supervisor and says so.
    let (ps, _, code) = setup.output(&["ps", "-a"]);
    assert_eq!(code, 0);
    assert!(ps.contains("Exited (137)"), "{ps}");
    let (pruned, stderr, code) = setup.output(&["prune"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(pruned.contains(&id), "{pruned}");

    assert!(!dir.exists(), "prune left the container's directory");
    let left: Vec<_> = cgroups.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "prune left cgroups: {left:?}");
    let (ps, _, _) = setup.output(&["ps", "-aq"]);
    assert_eq!(ps, "", "prune left a record");
    // The named volume is data: it stays, as with docker.
    let (volumes, _, _) = setup.output(&["volume", "ls"]);
    assert!(volumes.contains("vol"), "{volumes}");
    // Setup's drop checks that nothing stayed mounted.
}

#[test]
fn a_user_namespace_container_runs_on_layers_and_host_users_stay_out() {
    require_root();
    let setup = Setup::new();
    setup.layer("app", &[("etc/motd", "from the app layer\n")]);
    // The layers are in a directory closed to other users: the container's
    // root (uid 100000 on the host) cannot reach them.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(setup.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (_, stderr, code) = setup.output(&[
        "run", "--rm", "--userns", "--rootfs", "rootfs", "--layer", "app", "--", "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("cannot be reached by the container's root (uid 100000 on the host)"),
        "{stderr}"
    );
    // Opened to others (o+x), they are.
    std::fs::set_permissions(setup.dir(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let (out, stderr, code) = setup.output(&[
        "run",
        "--name",
        "inside",
        "--userns",
        "--rootfs",
        "rootfs",
        "--layer",
        "app",
        "--",
        "sh",
        "-c",
        "cat /etc/motd; echo made > /made; id -u",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, "from the app layer\n0\n");
    let dir = setup.container_dir("inside").unwrap();
    let made = std::fs::metadata(dir.join("upper/made")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        made.uid(),
        100_000,
        "the file belongs to the container's root"
    );
    // The engine's directories: crossable by the mapped root's group only.
    for engine_dir in [setup.state(), setup.state().join("containers"), dir.clone()] {
        let meta = std::fs::metadata(&engine_dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o710, "{engine_dir:?}");
        assert_eq!(meta.gid(), 100_000, "{engine_dir:?}");
    }
    let (_, _, code) = setup.output(&["rm", "inside"]);
    assert_eq!(code, 0);
}

#[test]
fn commit_of_a_running_container_never_reads_host_files() {
    require_root();
    let setup = Setup::new();
    // A host directory the container must never get into a tarball.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret"), "host secret\n").unwrap();
    // The container swaps its /data between a directory and a symbolic link
    // to the host directory's path, as fast as it can, while we commit.
    let swap = format!(
        "mkdir -p /data; echo mine > /data/secret; echo ready; while true; do \
         mv /data /real; ln -s {0} /data; rm /data; mv /real /data; done",
        host.path().display()
    );
    let mut engine = setup
        .ch04(&[
            "run", "--name", "swapper", "--rootfs", "rootfs", "--", "sh", "-c", &swap,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(engine.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    // Removed (and so killed) even when an assertion below fails.
    let _remove = RemoveOnDrop(&setup, "swapper", engine);
    assert_eq!(line, "ready\n");
    for round in 0..20 {
        let out = setup.dir().join(format!("round-{round}.tar"));
        let (_, stderr, code) = setup.output(&["commit", "swapper", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        let listing = Command::new("tar")
            .args(["-xOf"])
            .arg(&out)
            .output()
            .unwrap();
        let contents = String::from_utf8_lossy(&listing.stdout);
        assert!(
            !contents.contains("host secret"),
            "round {round}: a host file got into the commit"
        );
    }
}

/// Removes a container with `rm -f`, and reaps its engine, when dropped.
struct RemoveOnDrop<'a>(&'a Setup, &'a str, std::process::Child);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let (_, stderr, code) = self.0.output(&["rm", "-f", self.1]);
        let _ = self.2.wait();
        if !std::thread::panicking() {
            assert_eq!(code, 0, "{stderr}");
        }
    }
}
