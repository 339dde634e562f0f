//! Chapter 5: images. The engine pulls an image from a registry (the
//! checker's own, on loopback), checks every digest, unpacks its layers
//! safely (whiteouts applied, nothing written outside the layer), and runs
//! it as its config says.

use super::{Check, expect_in};
use crate::fixtures::{CHANGED, DIR, ESCAPE, ROOT_MARK, ROOT_MARK_TEXT};
use crate::images::Images;
use crate::target::Target;
use std::path::Path;

const REGISTRY: &str = "Images > What and why > The registry API, step by step";
const RUNNING: &str = "Images > What and why > Running an image";
const HOSTILE: &str = "Images > What and why > Layers are hostile input";

pub const CHECKS: [Check; 5] = [
    Check {
        chapter: 5,
        id: "5.1",
        name: "pull fetches an image from the registry, images lists it, and it runs",
        hint: REGISTRY,
        run: pull,
    },
    Check {
        chapter: 5,
        id: "5.2",
        name: "run IMAGE runs its Entrypoint and Cmd, with its Env and WorkingDir",
        hint: RUNNING,
        run: config,
    },
    Check {
        chapter: 5,
        id: "5.3",
        name: "a layer's whiteouts and opaque directories hide the layers below",
        hint: HOSTILE,
        run: whiteouts,
    },
    Check {
        chapter: 5,
        id: "5.4",
        name: "an intact image runs; a layer whose bytes were changed fails the pull, and nothing is kept",
        hint: "Images > What and why > Nothing half-visible",
        run: tampered,
    },
    Check {
        chapter: 5,
        id: "5.5",
        name: "a layer's \"..\" and symlinks cannot write outside it",
        hint: HOSTILE,
        run: hostile,
    },
];

/// Fails unless `images` lists `reference`, or, with `listed` false,
/// unless it does not.
fn expect_listed(target: &Target, reference: &str, listed: bool) -> Result<(), String> {
    let images = target.verb(&["images"])?;
    images.expect_code(0)?;
    let found = images
        .stdout
        .lines()
        .any(|line| line.split_whitespace().next() == Some(reference));
    match (found, listed) {
        (true, false) => Err(format!("images still lists {reference}")),
        (false, true) => Err(format!(
            "images does not list {reference}: {:?}",
            crate::target::shorten(images.stdout.trim(), 200)
        )),
        _ => Ok(()),
    }
}

fn pull(target: &Target) -> Result<(), String> {
    let image = target.images()?.derive("pulled", |_, _| {})?;
    target.verb(&["pull", &image])?.expect_code(0)?;
    expect_listed(target, &image, true)?;
    // What was pulled is the image: a container of it runs on its files.
    let run = target.run_image(&image, &[], &["probe", "read", ROOT_MARK])?;
    run.expect_code(0)?;
    expect_in(ROOT_MARK, &run.stdout, ROOT_MARK_TEXT)
}

fn config(target: &Target) -> Result<(), String> {
    let image = target.images()?.derive("config", |layout, tag| {
        layout.configure_tag(
            tag,
            &[
                "--config.entrypoint=/bin/probe",
                "--config.cmd=env",
                "--config.cmd=cwd",
                "--config.env=SKIFF_CHECK=from-the-config",
                "--config.workingdir=/check",
            ],
        );
    })?;
    let run = target.run_image(&image, &[], &[])?;
    run.expect_code(0)?;
    expect_in(
        "the image's command's output",
        &run.stdout,
        "env: SKIFF_CHECK=from-the-config\n",
    )?;
    expect_in("the image's command's output", &run.stdout, "cwd: /check\n")?;
    // A command given replaces Cmd; the Entrypoint stays first.
    let run = target.run_image(&image, &[], &["pid"])?;
    run.expect_code(0)?;
    if run.stdout != "pid: 1\n" {
        return Err(format!(
            "run IMAGE pid should run the Entrypoint with pid as its argument (/bin/probe pid), it printed {:?}",
            crate::target::shorten(run.stdout.trim(), 200)
        ));
    }
    Ok(())
}

fn whiteouts(target: &Target) -> Result<(), String> {
    let image = target.images()?.derive("layered", |layout, tag| {
        layout.add_layer_to(tag, |root| {
            let inside = |path: &str| root.join(path.trim_start_matches('/'));
            std::fs::remove_file(inside(crate::fixtures::DELETED)).expect("rm the deleted file");
            std::fs::remove_dir_all(inside(DIR)).expect("rm the directory");
            std::fs::create_dir(inside(DIR)).expect("mkdir the directory");
            std::fs::write(inside(DIR).join("new"), "new\n").expect("write the new file");
        });
    })?;
    let script = format!("/bin/probe ls /check && /bin/probe ls {DIR}");
    let run = target.run_image(&image, &[], &["sh", "-c", &script])?;
    run.expect_code(0)?;
    let changed = Path::new(CHANGED).file_name().unwrap_or_default();
    let escape = Path::new(ESCAPE).file_name().unwrap_or_default();
    let dir = Path::new(DIR).file_name().unwrap_or_default();
    let wanted = format!(
        "{} {} {}\nnew\n",
        changed.display(),
        dir.display(),
        escape.display()
    );
    if run.stdout != wanted {
        return Err(format!(
            "/check and {DIR} should list {wanted:?} (a whiteout hides \"deleted\", the opaque {DIR} hides \"old\"), they listed {:?}",
            crate::target::shorten(&run.stdout, 200)
        ));
    }
    Ok(())
}

fn tampered(target: &Target) -> Result<(), String> {
    let images = target.images()?;
    // The intact image was pulled and runs: this engine verifies, it does
    // not refuse everything.
    target
        .run_image(&images.base(), &[], &["probe", "exit", "0"])?
        .expect_code(0)?;
    let image = images.derive("tampered", |layout, tag| {
        layout.add_layer_to(tag, |root| {
            std::fs::write(root.join("check/tampered"), "a layer of its own\n")
                .expect("write the layer's file");
        });
    })?;
    let digest = top_layer(images, "tampered")?;
    let blob = images.registry().blob_file(&digest);
    let mut bytes = std::fs::read(&blob).map_err(|e| format!("{}: {e}", blob.display()))?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&blob, bytes).map_err(|e| format!("{}: {e}", blob.display()))?;

    let pulled = target.verb(&["pull", &image])?;
    if pulled.code == Some(0) {
        return Err(format!(
            "the pull of a layer that does not match its digest {digest} succeeded"
        ));
    }
    expect_listed(target, &image, false)
}

/// The digest of the last layer of `repository:tag` in the checker's
/// registry, from its manifest.
fn top_layer(images: &Images, tag: &str) -> Result<String, String> {
    let (status, body) = images.registry().get(
        &format!("/v2/skiff-check/images/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    if status != 200 {
        return Err(format!(
            "the checker's registry answered {status} for {tag}"
        ));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("the manifest of {tag}: {e}"))?;
    manifest["layers"]
        .as_array()
        .and_then(|layers| layers.last())
        .and_then(|layer| layer["digest"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("the manifest of {tag} lists no layer"))
}

fn hostile(target: &Target) -> Result<(), String> {
    let images = target.images()?;
    let work = target.work();
    let climbing = work.join("escaped-by-dot-dot");
    let linked = work.join("escaped-by-link");
    let layer = hostile_layer(work, &climbing, &linked)?;
    let image = images.derive("hostile", |layout, tag| layout.add_raw_layer(tag, &layer))?;
    let _ = std::fs::remove_file(&layer);
    let pulled = target.verb(&["pull", &image]);
    let outside: Vec<String> = [&climbing, &linked]
        .into_iter()
        .filter(|path| path.symlink_metadata().is_ok())
        .map(|path| {
            let _ = std::fs::remove_file(path);
            path.display().to_string()
        })
        .collect();
    pulled?.expect_code(0)?;
    if !outside.is_empty() {
        return Err(format!(
            "the layer wrote {} on the host",
            outside.join(" and ")
        ));
    }
    // Inside the container, both files are where the layer's root put them.
    let script = format!("cat {} {}", climbing.display(), linked.display());
    let run = target.run_image(&image, &[], &["sh", "-c", &script])?;
    run.expect_code(0)?;
    if run.stdout != "inside\ninside\n" {
        return Err(format!(
            "{} and {} should be inside the container's root, with \"inside\": the container read {:?}",
            climbing.display(),
            linked.display(),
            crate::target::shorten(&run.stdout, 200)
        ));
    }
    Ok(())
}

/// A layer an attacker writes, as a tar archive in the scratch directory:
/// a file whose name climbs out with `..` to `climbing`, and a symbolic
/// link to the host's `work` with a file `linked` written through it.
fn hostile_layer(
    work: &Path,
    climbing: &Path,
    linked: &Path,
) -> Result<std::path::PathBuf, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut entry = |name: &str, kind: tar::EntryType, link: &str, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        // Written into the header as they are: the tar crate's own setters
        // refuse `..`, as a careful writer does.
        let old = header.as_old_mut();
        if name.len() > old.name.len() || link.len() > old.linkname.len() {
            return Err(format!("{name}: too long for a tar header"));
        }
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(if kind == tar::EntryType::Symlink {
            0o777
        } else {
            0o644
        });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        tar.append(&header, data)
            .map_err(|e| format!("writing the layer: {e}"))
    };
    let climbing = climbing.strip_prefix("/").unwrap_or(climbing);
    let climb = format!("{}{}", "../".repeat(12), climbing.display());
    entry(&climb, tar::EntryType::Regular, "", b"inside\n")?;
    let link_name = linked.parent().unwrap_or(work);
    entry(
        "skiff-check-up",
        tar::EntryType::Symlink,
        &link_name.display().to_string(),
        b"",
    )?;
    let through = Path::new("skiff-check-up").join(linked.file_name().unwrap_or_default());
    entry(
        &through.display().to_string(),
        tar::EntryType::Regular,
        "",
        b"inside\n",
    )?;
    let bytes = tar
        .into_inner()
        .map_err(|e| format!("writing the layer: {e}"))?;
    let path = work.join("hostile-layer.tar");
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
