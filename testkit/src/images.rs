//! The images chapter 5's transcripts pull, defined once: the tests push
//! them to their own registries, and `scripts/lab` pushes the same ones to a
//! registry a learner keeps running while reading the chapter.
//!
//! Each is an OCI layout built with umoci (see [`OciLayout`]), small and
//! made from the busybox root filesystem of [`crate::rootfs`].

use crate::registry::OciLayout;

/// The user and password of the registries with authentication.
pub const LEARNER: (&str, &str) = ("learner", "s3cret");

/// `test/busybox:v1`: busybox and the probe in one layer, `Cmd: sh`. The
/// base of the build transcripts.
pub fn busybox() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(crate::rootfs::build_busybox_rootfs);
    layout.configure(&["--config.cmd=sh"]);
    layout
}

/// `test/layered:v1`: two layers, the second deleting a file (a whiteout)
/// and replacing a directory (an opaque directory); `Cmd: probe hostname`,
/// `Env: GREETING=hello`, `WorkingDir: /srv`. The image of the pull
/// transcripts (and, under other names, of the login and token ones).
pub fn layered() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(|root| {
        crate::rootfs::build_busybox_rootfs(root);
        std::fs::create_dir_all(root.join("srv/old")).expect("mkdir srv/old");
        std::fs::write(root.join("srv/old/file"), "old\n").expect("write srv/old/file");
        std::fs::write(root.join("etc/motd"), "layer one\n").expect("write etc/motd");
    });
    layout.add_layer(|root| {
        std::fs::remove_file(root.join("etc/motd")).expect("rm etc/motd");
        std::fs::remove_dir_all(root.join("srv/old")).expect("rm -r srv/old");
        std::fs::create_dir(root.join("srv/old")).expect("mkdir srv/old");
        std::fs::write(root.join("srv/old/new"), "new\n").expect("write srv/old/new");
    });
    layout.configure(&[
        "--config.cmd=/bin/probe",
        "--config.cmd=hostname",
        "--config.env=GREETING=hello",
        "--config.workingdir=/srv",
    ]);
    layout
}

/// `test/web:v1`: busybox and the probe, `/srv`, `Cmd: sh`, `Env:
/// GREETING=hello`, `WorkingDir: /srv`. The image of the verbs transcript.
pub fn web() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(|root| {
        crate::rootfs::build_busybox_rootfs(root);
        std::fs::create_dir_all(root.join("srv")).expect("mkdir srv");
    });
    layout.configure(&[
        "--config.cmd=sh",
        "--config.env=GREETING=hello",
        "--config.workingdir=/srv",
    ]);
    layout
}
