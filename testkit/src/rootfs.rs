//! A small root filesystem for tests: busybox, the probe, and little else.
//!
//! Debian's `busybox-static` gives a statically linked shell and ~400 tools
//! in one file; with a symlink per tool and a few files in /etc it is a root
//! filesystem a container can run. The probe goes in as `/bin/probe`.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `busybox-static` package puts busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// A busybox root filesystem at `rootfs/` in a temporary directory, removed
/// on drop. Tests run the chapter binaries from that directory with
/// `--rootfs rootfs`, so transcripts show what a learner would type.
pub struct Rootfs {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Rootfs {
    /// Builds a fresh root filesystem. Each test gets its own, since a
    /// container may write to it.
    pub fn busybox() -> Rootfs {
        let dir = tempfile::Builder::new()
            .prefix("skiff-rootfs-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("rootfs");
        build_busybox_rootfs(&root);
        Rootfs { dir, root }
    }

    /// The root directory (absolute).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The directory that holds `rootfs/`: run commands from here.
    pub fn workdir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the root, given without its leading `/`.
    pub fn join(&self, inner: &str) -> PathBuf {
        self.root.join(inner.trim_start_matches('/'))
    }
}

/// Fills `root` with busybox, its applet links, the probe, and /etc basics.
pub fn build_busybox_rootfs(root: &Path) {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install Debian's busybox-static (apt-get install busybox-static)"
    );
    for dir in [
        "bin", "dev", "etc", "home", "mnt", "proc", "root", "sys", "tmp", "var", "usr/bin",
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir in rootfs");
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox");
    std::fs::copy(crate::probe(), root.join("bin/probe")).expect("copy probe");
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = root.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", &link).expect("applet symlink");
        }
    }
    std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    std::fs::write(root.join("etc/group"), GROUP).unwrap();
    std::fs::write(root.join("etc/hostname"), "rootfs\n").unwrap();
}

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
