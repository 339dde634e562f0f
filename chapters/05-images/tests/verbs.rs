//! Every verb of the chapters below, driven through `ch05-images` by a
//! container's name, on a container of an image from a real registry.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use skiff_testkit::{Transcript, cgroup_dirs, container_id, require_root, snapshot_settings};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ch05-images");

struct Setup {
    root: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            root: tempfile::Builder::new()
                .prefix("skiff-verbs-")
                .tempdir()
                .unwrap(),
        }
    }

    fn ch05(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("SKIFF_ROOT", self.root.path().join("state"))
            .args(args)
            .current_dir(self.root.path());
        command
    }
}

/// busybox with the probe, an `Env`, `WorkingDir` /srv.
fn image() -> OciLayout {
    skiff_testkit::images::web()
}

/// A container started with `run --name NAME` in the background, killed
/// (and then removed with `rm -f`) if the test ends before it does.
struct Background {
    engine: Child,
    name: String,
    setup_root: std::path::PathBuf,
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.engine.kill();
        let _ = self.engine.wait();
        let _ = Command::new(BIN)
            .env("SKIFF_ROOT", self.setup_root.join("state"))
            .args(["rm", "-f", &self.name])
            .output();
    }
}

#[test]
fn transcript_the_verbs_of_every_chapter_by_name() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&image().path(), "v1", "test/web");
    let setup = Setup::new();
    let image = format!("{}/test/web:v1", registry.host());
    let mut t = Transcript::new();
    let pulled = t.run(&mut setup.ch05(&["pull", &image]));
    assert_eq!(pulled.code, 0, "{}", pulled.output);

    let mut run = setup.ch05(&[
        "run",
        "--name",
        "web",
        "--memory",
        "64m",
        &image,
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    let shown = skiff_testkit::transcript::command_line(&run);
    let mut engine = run.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(engine.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    t.background(&shown, &line);
    let running = Background {
        engine,
        name: "web".into(),
        setup_root: setup.root.path().to_path_buf(),
    };
    let id = container_id(&setup.root.path().join("state"), "web").unwrap();

    let mut ch05 = |args: &[&str]| {
        let shown = args
            .iter()
            .map(|a| a.replace(&registry.host(), "127.0.0.1:PORT"))
            .collect::<Vec<_>>();
        t.run_shown(
            &skiff_testkit::transcript::command_line(Command::new("ch05-images").args(&shown)),
            &mut setup.ch05(args),
            None,
        )
    };
    ch05(&["ps"]);
    // exec: the image's environment and working directory, and -e on top.
    let exec = ch05(&[
        "exec",
        "-e",
        "EXTRA=1",
        "web",
        "sh",
        "-c",
        "echo $GREETING from $PWD, extra $EXTRA",
    ]);
    assert_eq!(exec.output, "hello from /srv, extra 1\n");
    let stats = ch05(&["stats", "--no-stream", "web"]);
    assert_eq!(stats.code, 0, "{}", stats.output);
    assert!(stats.output.contains(" / 64.00MiB"), "{}", stats.output);
    ch05(&["pause", "web"]);
    let ps = ch05(&["ps"]);
    assert!(ps.output.contains("(Paused)"), "{}", ps.output);
    ch05(&["unpause", "web"]);
    ch05(&["exec", "web", "sh", "-c", "echo made > /srv/made"]);
    let diff = ch05(&["diff", "web"]);
    assert!(diff.output.contains("A /srv/made"), "{}", diff.output);
    // commit of a running container: frozen while its layer is read.
    let commit = ch05(&["commit", "web", "web.tar"]);
    assert_eq!(commit.code, 0, "{}", commit.output);
    let stop = ch05(&["stop", "-t", "1", "web"]);
    assert_eq!(stop.code, 0, "{}", stop.output);
    let ps = ch05(&["ps", "-a"]);
    assert!(ps.output.contains("Exited (137)"), "{}", ps.output);
    ch05(&["rm", "web"]);
    ch05(&["ps", "-a"]);
    drop(running);

    let text = skiff_testkit::scrub(
        t.text(),
        &[
            (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
            (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
            (r"sha256:[0-9a-f]{12}…", "sha256:[ID]…"),
            (r"\(\d+ bytes\)", "([N] bytes)"),
            (r"^[0-9a-f]{12}$", "[SHORT ID]"),
            (
                r"(Less than a second|About a minute|\d+ seconds?)( ago)?",
                "[WHEN]",
            ),
            (r"^\d+\.\d+%$", "[N]%"),
            (r"^\d+(\.\d+)?(B|KiB|MiB) / ", "[USAGE] / "),
        ],
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("verbs", text));
    assert!(cgroup_dirs(&id).is_empty(), "cgroups left");
    assert!(
        !setup
            .root
            .path()
            .join("state/containers")
            .join(&id)
            .exists()
    );
    skiff_testkit::assert_no_mounts_under(setup.root.path());
}

#[test]
fn rootfs_is_refused_with_a_way_forward() {
    require_root();
    let setup = Setup::new();
    let out = setup
        .ch05(&["run", "--rootfs", "rootfs", "busybox", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--rootfs is not a flag of ch05-images")
            && stderr.contains("ch04-overlayfs run --rootfs rootfs"),
        "{stderr}"
    );
    // Nothing was created for it.
    let containers = setup.root.path().join("state/containers");
    let made = std::fs::read_dir(&containers)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0);
    assert_eq!(made, 0);
}

#[test]
fn host_users_cannot_reach_the_store_or_a_containers_files() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&image().path(), "v1", "test/store");
    let setup = Setup::new();
    let image = format!("{}/test/store:v1", registry.host());
    // The container plants a setuid-root shell and a device node open to
    // everyone in its writable layer: what an attacker leaves for the host.
    let plant = "cp /bin/busybox /suid && chmod 4755 /suid && mknod -m 666 /null c 1 3";
    let out = setup
        .ch05(&["run", "--name", "planter", &image, "sh", "-c", plant])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let state = setup.root.path().join("state");
    let id = container_id(&state, "planter").unwrap();
    let upper = state.join("containers").join(&id).join("upper");
    assert!(upper.join("suid").exists() && upper.join("null").exists());
    let layers = std::fs::read_dir(state.join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // The host's other users: nobody, through setpriv.
    let as_nobody = |command: &str| {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                command,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    for (what, command) in [
        (
            "the setuid shell",
            format!("{} -c id", upper.join("suid").display()),
        ),
        (
            "the device node",
            format!("cat {}", upper.join("null").display()),
        ),
        ("a layer", format!("ls {}", layers.display())),
        (
            "the blobs",
            format!("ls {}", state.join("blobs/sha256").display()),
        ),
        (
            "the records",
            format!("ls {}", state.join("containers").display()),
        ),
    ] {
        let said = as_nobody(&command);
        assert!(
            said.contains("Permission denied") && !said.contains("uid=0"),
            "{what} was reached by a host user: {said}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    for dir in ["containers", "layers", "blobs", "images", "l", "volumes"] {
        let path = state.join(dir);
        if path.exists() {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o007, 0, "{dir} is open to others: {mode:o}");
        }
    }
    let removed = setup.ch05(&["rm", "planter"]).output().unwrap();
    assert!(removed.status.success());
}
