//! Chapter 4: overlayfs. The container's root is a stack of read-only
//! layers under a writable layer of its own: its changes stay there, the
//! next container starts from the layers as they were. Volumes bring host
//! directories and named volumes in, mounted inside the root.

use super::{Check, expect_in};
use crate::fixtures::{self, CHANGED, DELETED, ESCAPE, FROM_THE_IMAGE};
use crate::target::{Finished, Target};
use std::path::Path;
use std::time::Duration;

const OVERLAY: &str = "Overlayfs > What and why > overlayfs";
const CHANGES: &str = "Overlayfs > What and why > What a container changed";
const VOLUMES: &str = "Overlayfs > What and why > Volumes: where data lives";

pub const CHECKS: [Check; 8] = [
    Check {
        chapter: 4,
        id: "4.1",
        name: "the root is an overlay, its writable layer in the engine's directory",
        hint: OVERLAY,
        run: overlay_root,
    },
    Check {
        chapter: 4,
        id: "4.2",
        name: "a changed file is copied up: the next container finds it unchanged",
        hint: OVERLAY,
        run: copy_up,
    },
    Check {
        chapter: 4,
        id: "4.3",
        name: "a deleted file is only hidden: the next container finds it again",
        hint: OVERLAY,
        run: whiteout,
    },
    Check {
        chapter: 4,
        id: "4.4",
        name: "diff lists what the container changed: C, A and D",
        hint: CHANGES,
        run: diff,
    },
    Check {
        chapter: 4,
        id: "4.5",
        name: "-v HOST:/data binds a host directory, read and written",
        hint: VOLUMES,
        run: bind_volume,
    },
    Check {
        chapter: 4,
        id: "4.6",
        name: "-v HOST:/data:ro is read-only inside",
        hint: VOLUMES,
        run: read_only_volume,
    },
    Check {
        chapter: 4,
        id: "4.7",
        name: "a named volume keeps its data for the next container; volume rm removes it",
        hint: VOLUMES,
        run: named_volume,
    },
    Check {
        chapter: 4,
        id: "4.8",
        name: "a volume's target is found inside the root: a symlink cannot send it to the host",
        hint: VOLUMES,
        run: volume_inside_the_root,
    },
];

/// Writes the fixtures again when a check ends, passed or not: an engine
/// without layers changed the root directory itself.
struct Restore<'a>(&'a Target);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.restore_fixtures();
    }
}

/// A host directory for a volume, holding `in`, under the scratch
/// directory; removed when the check ends.
struct HostDir(std::path::PathBuf);

impl HostDir {
    fn new(target: &Target, name: &str) -> Result<HostDir, String> {
        let dir = target.work().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("in"), "from the host\n")
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(HostDir(dir))
    }

    fn arg(&self, inside: &str) -> String {
        format!("{}:{inside}", self.0.display())
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn overlay_root(target: &Target) -> Result<(), String> {
    let mut running = target.start(&[], &["probe", "sleep", "30"])?;
    let command = running.command_pid("probe", Duration::from_secs(10))?;
    let table = crate::kernel::mount_table(&command.to_string())?;
    drop(running);
    let root = table
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/"))
        .ok_or("the container's mount table has no root")?;
    if root.fstype != "overlay" {
        return Err(format!(
            "the root is mounted as {}, not as an overlay (/proc/PID/mountinfo)",
            root.fstype
        ));
    }
    let upper = root
        .super_options
        .split(',')
        .find_map(|o| o.strip_prefix("upperdir="))
        .ok_or_else(|| {
            format!(
                "the overlay has no upperdir: {}",
                crate::target::shorten(&root.super_options, 200)
            )
        })?;
    if !root.super_options.contains("lowerdir=") {
        return Err("the overlay has no lowerdir".into());
    }
    if !Path::new(upper).starts_with(target.state()) {
        return Err(format!(
            "the writable layer {upper} is not in the engine's directory (--root {})",
            target.state().display()
        ));
    }
    Ok(())
}

/// Fails unless a new container reads `path` as the image has it.
fn next_container_finds(target: &Target, path: &str, what: &str) -> Result<(), String> {
    let run = target.run(&[], &["probe", "read", path])?;
    if run.stdout.is_empty() {
        // The engine failed before the probe said anything: its message.
        run.expect_code(0)?;
    }
    if run.stdout != FROM_THE_IMAGE {
        return Err(format!(
            "the next container found {:?}: {what} (the layer itself was changed)",
            crate::target::shorten(run.stdout.trim(), 100)
        ));
    }
    if target.rooted() == crate::target::Rooted::Rootfs {
        let on_host = fixtures::on_host(&target.rootfs(), path);
        let text = std::fs::read_to_string(&on_host).unwrap_or_default();
        if text != FROM_THE_IMAGE {
            return Err(format!("{} was changed on the host", on_host.display()));
        }
    }
    Ok(())
}

fn copy_up(target: &Target) -> Result<(), String> {
    let _restore = Restore(target);
    let script = format!("echo changed > {CHANGED} && cat {CHANGED}");
    let run = target.run(&[], &["sh", "-c", &script])?;
    run.expect_code(0)?;
    expect_in(
        "the container's read after its write",
        &run.stdout,
        "changed",
    )?;
    next_container_finds(target, CHANGED, "the change outlived its container")
}

fn whiteout(target: &Target) -> Result<(), String> {
    let _restore = Restore(target);
    let script = format!("rm {DELETED} && test ! -e {DELETED} && echo gone");
    let run = target.run(&[], &["sh", "-c", &script])?;
    run.expect_code(0)?;
    expect_in("the container's output", &run.stdout, "gone")?;
    next_container_finds(target, DELETED, "the deletion outlived its container")
}

fn diff(target: &Target) -> Result<(), String> {
    let _restore = Restore(target);
    let name = "skiff-check-diff";
    let script = format!("echo changed > {CHANGED} && rm {DELETED} && echo new > /check/added");
    target
        .run(&["--name", name], &["sh", "-c", &script])?
        .expect_code(0)?;
    let listed = target.verb(&["diff", name]);
    let removed = target.verb(&["rm", name]);
    let listed = listed?;
    listed.expect_code(0)?;
    for line in [
        format!("C {CHANGED}"),
        format!("D {DELETED}"),
        "A /check/added".to_string(),
    ] {
        expect_in("diff's output", &listed.stdout, &line)?;
    }
    removed?.expect_code(0).map(drop)
}

fn bind_volume(target: &Target) -> Result<(), String> {
    let dir = HostDir::new(target, "volume-bind")?;
    let script = "cat /data/in && echo from-the-container > /data/out";
    let run = target.run(&["-v", &dir.arg("/data")], &["sh", "-c", script])?;
    run.expect_code(0)?;
    expect_in(
        "the container's read of /data/in",
        &run.stdout,
        "from the host",
    )?;
    let out = std::fs::read_to_string(dir.0.join("out")).unwrap_or_default();
    expect_in("the host's out file", &out, "from-the-container")
}

fn read_only_volume(target: &Target) -> Result<(), String> {
    let dir = HostDir::new(target, "volume-ro")?;
    let script = "cat /data/in; /bin/probe write /data/x; true";
    let run = target.run(&["-v", &dir.arg("/data:ro")], &["sh", "-c", script])?;
    run.expect_code(0)?;
    expect_in(
        "the container's read of /data/in",
        &run.stdout,
        "from the host",
    )?;
    expect_in("the probe's write to /data/x", &run.stdout, "EROFS")?;
    if dir.0.join("x").exists() {
        return Err("the container wrote x into the host directory".into());
    }
    Ok(())
}

fn named_volume(target: &Target) -> Result<(), String> {
    let volume = "skiff-check-data";
    let mount = format!("{volume}:/data");
    let wrote = target.run(
        &["--rm", "-v", &mount],
        &["sh", "-c", "echo kept > /data/file"],
    );
    let read = wrote
        .and_then(|run| run.expect_code(0).map(drop))
        .and_then(|()| target.run(&["--rm", "-v", &mount], &["probe", "read", "/data/file"]));
    let removed = target.verb(&["volume", "rm", volume]);
    let read = read?;
    read.expect_code(0)?;
    expect_in("the second container's /data/file", &read.stdout, "kept")?;
    removed?.expect_code(0)?;
    let listed = target.verb(&["volume", "ls"])?;
    listed.expect_code(0)?;
    if listed.stdout.lines().any(|l| l.trim() == volume) {
        return Err(format!("volume ls still lists {volume} after volume rm"));
    }
    Ok(())
}

fn volume_inside_the_root(target: &Target) -> Result<(), String> {
    let dir = HostDir::new(target, "volume-escape")?;
    let outside = fixtures::escape_target(target.work());
    let inside = format!("{ESCAPE}/sub");
    let run = target.run(
        &["-v", &dir.arg(&inside)],
        &["sh", "-c", &format!("cat {inside}/in")],
    );
    let escaped = outside.symlink_metadata().is_ok();
    if escaped {
        crate::cleanup::unmount_under(&outside);
        let _ = std::fs::remove_dir_all(&outside);
    }
    let run: Finished = run?;
    run.expect_code(0)?;
    expect_in(
        "the container's read through the volume",
        &run.stdout,
        "from the host",
    )?;
    if escaped {
        return Err(format!(
            "{} was made on the host: the link {ESCAPE} was followed outside the root",
            outside.display()
        ));
    }
    Ok(())
}
