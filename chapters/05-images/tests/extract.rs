//! The layer extractor against hostile tarballs. Runs as root (device nodes,
//! ownership, trusted.* xattrs): `sudo -E cargo test -p ch05-images --test extract`.

use ch04_overlayfs::changes::{is_opaque, is_whiteout};
use ch05_images::extract::{
    Compression, ExtractError, ImageBudget, Limits, Unpacked, unpack, unpack_in_image,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use tar::EntryType;

const MTIME: u64 = 1_600_000_000;

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create device nodes and chown files: run them as root (sudo -E cargo test)"
    );
}

/// A layer tarball written header by header, so that names the tar crate
/// would refuse (`..`, absolute) can be written as an attacker would.
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        name: &str,
        kind: EntryType,
        data: &[u8],
        link: &str,
        mode: u32,
        owner: (u64, u64),
        device: (u32, u32),
    ) -> &mut Layer {
        let mut header = tar::Header::new_ustar();
        {
            let old = header.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        header.set_mtime(MTIME);
        header.set_device_major(device.0).unwrap();
        header.set_device_minor(device.1).unwrap();
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Layer {
        self.raw(name, EntryType::Regular, data, "", 0o644, (0, 0), (0, 0))
    }

    fn dir(&mut self, name: &str) -> &mut Layer {
        self.raw(name, EntryType::Directory, b"", "", 0o755, (0, 0), (0, 0))
    }

    fn symlink(&mut self, name: &str, to: &str) -> &mut Layer {
        self.raw(name, EntryType::Symlink, b"", to, 0o777, (0, 0), (0, 0))
    }

    fn hardlink(&mut self, name: &str, to: &str) -> &mut Layer {
        self.raw(name, EntryType::Link, b"", to, 0o644, (0, 0), (0, 0))
    }

    fn pax(&mut self, extensions: &[(&str, &[u8])]) -> &mut Layer {
        self.0
            .append_pax_extensions(extensions.iter().copied())
            .unwrap();
        self
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut builder = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        builder.finish().unwrap();
        builder.into_inner().unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A temporary base directory holding the layer directory `dest` and, next
/// to it, a sentinel directory with a file: what an escape would hit first.
struct Scene {
    base: tempfile::TempDir,
    before: BTreeMap<PathBuf, String>,
    passwd: (Vec<u8>, i64),
}

impl Scene {
    fn new() -> Scene {
        require_root();
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.path().join("a/b/dest")).unwrap();
        std::fs::create_dir_all(base.path().join("sentinel/etc")).unwrap();
        std::fs::write(base.path().join("sentinel/etc/passwd"), "sentinel\n").unwrap();
        std::fs::write(base.path().join("evil"), "not yet\n").unwrap();
        let mut scene = Scene {
            before: BTreeMap::new(),
            passwd: host_passwd(),
            base,
        };
        scene.before = scene.outside();
        scene
    }

    fn dest(&self) -> PathBuf {
        self.base.path().join("a/b/dest")
    }

    /// Every path of the base directory outside `dest`, with its metadata.
    fn outside(&self) -> BTreeMap<PathBuf, String> {
        let mut listing = BTreeMap::new();
        walk(self.base.path(), &self.dest(), &mut listing);
        listing
    }

    fn unpack(&self, blob: &[u8]) -> Result<Unpacked, ExtractError> {
        unpack(blob, &self.dest(), &Limits::default())
    }

    /// Nothing outside `dest` changed: the sentinel tree and the host's
    /// /etc/passwd are as they were.
    fn check_outside(&self) {
        assert_eq!(
            self.before,
            self.outside(),
            "something outside dest changed"
        );
        assert_eq!(self.passwd, host_passwd(), "the host's /etc/passwd changed");
    }
}

fn host_passwd() -> (Vec<u8>, i64) {
    let meta = std::fs::symlink_metadata("/etc/passwd").unwrap();
    (
        std::fs::read("/etc/passwd").unwrap(),
        meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
    )
}

fn walk(dir: &Path, skip: &Path, listing: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        listing.insert(
            path.clone(),
            format!(
                "{:o} {} {} {}.{} {}",
                meta.mode(),
                meta.size(),
                meta.nlink(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ino()
            ),
        );
        if meta.is_dir() {
            walk(&path, skip, listing);
        }
    }
}

/// Every name under `dir` (relative), to check that no `.wh.` file appears.
fn names(dir: &Path) -> Vec<String> {
    let mut listing = BTreeMap::new();
    walk(dir, Path::new("/nonexistent"), &mut listing);
    listing
        .keys()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes()).unwrap();
    let name = CString::new(name).unwrap();
    let mut value = [0u8; 256];
    // SAFETY: NUL-terminated strings and a buffer of the length passed.
    let len = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    usize::try_from(len).ok().map(|len| value[..len].to_vec())
}

fn normal_layer() -> Vec<u8> {
    let mut layer = Layer::new();
    layer
        .dir("./")
        .dir("etc/")
        .raw(
            "etc/hello",
            EntryType::Regular,
            b"hello\n",
            "",
            0o640,
            (1000, 1001),
            (0, 0),
        )
        .hardlink("etc/hello2", "etc/hello")
        .raw(
            "usr/bin/",
            EntryType::Directory,
            b"",
            "",
            0o751,
            (0, 0),
            (0, 0),
        )
        .raw(
            "usr/bin/su",
            EntryType::Regular,
            b"#!/bin/true\n",
            "",
            0o4755,
            (0, 0),
            (0, 0),
        )
        .symlink("bin", "usr/bin")
        .raw(
            "tmp/",
            EntryType::Directory,
            b"",
            "",
            0o1777,
            (0, 0),
            (0, 0),
        )
        .raw("run/fifo", EntryType::Fifo, b"", "", 0o600, (0, 0), (0, 0))
        .raw("dev/null", EntryType::Char, b"", "", 0o666, (0, 0), (1, 3));
    let mut tar = layer.finish();
    // Pad to a 10 KiB record, as GNU tar does: the diff_id covers it too.
    tar.resize(tar.len().div_ceil(10240) * 10240 + 10240, 0);
    tar
}

fn check_normal_layer(scene: &Scene, tar: &[u8], unpacked: &Unpacked) {
    let dest = scene.dest();
    assert_eq!(unpacked.diff_id, sha256(tar));
    assert_eq!(unpacked.bytes, tar.len() as u64);
    assert_eq!(unpacked.entries, 10);

    let hello = std::fs::symlink_metadata(dest.join("etc/hello")).unwrap();
    assert_eq!(std::fs::read(dest.join("etc/hello")).unwrap(), b"hello\n");
    assert_eq!(hello.mode() & 0o7777, 0o640);
    assert_eq!((hello.uid(), hello.gid()), (1000, 1001));
    assert_eq!(hello.mtime(), MTIME as i64);
    let hello2 = std::fs::symlink_metadata(dest.join("etc/hello2")).unwrap();
    assert_eq!(hello2.ino(), hello.ino(), "a hardlink shares the inode");
    assert_eq!(hello.nlink(), 2);

    let su = std::fs::symlink_metadata(dest.join("usr/bin/su")).unwrap();
    assert_eq!(su.mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(
        std::fs::read_link(dest.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    let tmp = std::fs::symlink_metadata(dest.join("tmp")).unwrap();
    assert_eq!(tmp.mode() & 0o7777, 0o1777, "sticky kept");
    let usr_bin = std::fs::symlink_metadata(dest.join("usr/bin")).unwrap();
    assert_eq!(usr_bin.mode() & 0o7777, 0o751);
    // Directories get their times after their contents are written.
    for dir in ["", "etc", "usr/bin", "tmp"] {
        let meta = std::fs::symlink_metadata(dest.join(dir)).unwrap();
        assert_eq!(meta.mtime(), MTIME as i64, "mtime of {dir:?}");
    }
    let fifo = std::fs::symlink_metadata(dest.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    let null = std::fs::symlink_metadata(dest.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    scene.check_outside();
}

#[test]
fn a_normal_plain_layer_unpacks_with_its_metadata_and_diff_id() {
    let scene = Scene::new();
    let tar = normal_layer();
    let unpacked = scene.unpack(&tar).unwrap();
    check_normal_layer(&scene, &tar, &unpacked);
}

#[test]
fn a_gzip_layer_has_the_diff_id_of_the_uncompressed_tar() {
    let scene = Scene::new();
    let tar = normal_layer();
    let blob = gzip(&tar);
    assert_ne!(sha256(&blob), sha256(&tar));
    let unpacked = scene.unpack(&blob).unwrap();
    check_normal_layer(&scene, &tar, &unpacked);
}

#[test]
fn compression_is_told_from_the_magic_bytes() {
    assert_eq!(
        Compression::detect(&[0x1f, 0x8b, 0x08]).unwrap(),
        Compression::Gzip
    );
    assert_eq!(Compression::detect(b"etc/").unwrap(), Compression::None);
    assert_eq!(Compression::detect(b"").unwrap(), Compression::None);
}

#[test]
fn zstd_layers_are_refused_with_a_clear_error() {
    let scene = Scene::new();
    let err = scene
        .unpack(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])
        .unwrap_err();
    assert!(matches!(err, ExtractError::Zstd), "{err:?}");
    assert_eq!(err.to_string(), "zstd layers are not supported yet");
}

#[test]
fn dot_dot_and_absolute_names_stay_inside() {
    let scene = Scene::new();
    let tar = Layer::new()
        .file("../../evil", b"inside\n")
        .file("/abs/path", b"inside too\n")
        .file("x/../../../y", b"y\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    assert_eq!(std::fs::read(dest.join("evil")).unwrap(), b"inside\n");
    assert_eq!(
        std::fs::read(dest.join("abs/path")).unwrap(),
        b"inside too\n"
    );
    assert_eq!(std::fs::read(dest.join("y")).unwrap(), b"y\n");
    scene.check_outside();
}

#[test]
fn an_absolute_symlink_is_followed_inside_dest() {
    let scene = Scene::new();
    let tar = Layer::new()
        .symlink("a", "/etc")
        .file("a/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    assert_eq!(
        std::fs::read(dest.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert!(dest.join("etc").is_dir());
    assert_eq!(
        std::fs::read_link(dest.join("a")).unwrap(),
        Path::new("/etc")
    );
    scene.check_outside();
}

#[test]
fn an_absolute_symlink_to_the_sentinel_is_followed_inside_dest() {
    // The link names the real sentinel directory by its host path.
    let scene = Scene::new();
    let sentinel = scene.base.path().join("sentinel/etc");
    let tar = Layer::new()
        .symlink("s", sentinel.to_str().unwrap())
        .file("s/passwd", b"written\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let inside = scene
        .dest()
        .join(sentinel.strip_prefix("/").unwrap())
        .join("passwd");
    assert_eq!(std::fs::read(inside).unwrap(), b"written\n");
    scene.check_outside();
}

#[test]
fn a_relative_symlink_cannot_climb_out() {
    let scene = Scene::new();
    let host = format!("skiff-extract-test-{}", std::process::id());
    let link = format!("../../../../tmp/{host}");
    let tar = Layer::new()
        .symlink("a", &link)
        .file("a/f", b"f\n")
        .symlink("up", "../../..")
        .file("up/evil", b"evil\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    assert_eq!(
        std::fs::read(dest.join("tmp").join(&host).join("f")).unwrap(),
        b"f\n"
    );
    assert_eq!(std::fs::read(dest.join("evil")).unwrap(), b"evil\n");
    assert!(!Path::new("/tmp").join(&host).exists());
    scene.check_outside();
}

#[test]
fn a_hardlink_to_an_absolute_host_path_is_an_error() {
    let scene = Scene::new();
    let tar = Layer::new().hardlink("h", "/etc/passwd").finish();
    let err = scene.unpack(&tar).unwrap_err();
    assert!(
        matches!(err, ExtractError::HardlinkTargetMissing { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "entry \"h\": hardlink target \"/etc/passwd\" does not exist in the layer"
    );
    assert!(!scene.dest().join("h").exists());
    scene.check_outside();
}

#[test]
fn a_hardlink_climbing_out_is_an_error() {
    let scene = Scene::new();
    for link in [
        "../../etc/passwd",
        "../../sentinel/etc/passwd",
        "../../../evil",
    ] {
        let tar = Layer::new().hardlink("h", link).finish();
        let err = scene.unpack(&tar).unwrap_err();
        assert!(
            matches!(err, ExtractError::HardlinkTargetMissing { .. }),
            "{link}: {err:?}"
        );
    }
    // Through a symlink of the layer: still resolved inside dest.
    let tar = Layer::new()
        .symlink("a", "../../sentinel/etc")
        .hardlink("h", "a/passwd")
        .finish();
    let err = scene.unpack(&tar).unwrap_err();
    assert!(
        matches!(err, ExtractError::HardlinkTargetMissing { .. }),
        "{err:?}"
    );
    assert!(!scene.dest().join("h").exists());
    scene.check_outside();
}

#[test]
fn a_hardlink_to_a_symlink_links_the_symlink_itself() {
    let scene = Scene::new();
    let tar = Layer::new()
        .symlink("s", "/etc/passwd")
        .hardlink("h", "s")
        .finish();
    scene.unpack(&tar).unwrap();
    let h = std::fs::symlink_metadata(scene.dest().join("h")).unwrap();
    assert!(h.file_type().is_symlink());
    scene.check_outside();
}

#[test]
fn a_symlink_as_last_component_is_replaced_not_followed() {
    let scene = Scene::new();
    let sentinel_file = scene.base.path().join("sentinel/etc/passwd");
    let sentinel_dir = scene.base.path().join("sentinel");
    let tar = Layer::new()
        .symlink("s", sentinel_file.to_str().unwrap())
        .file("s", b"replaced\n")
        .symlink("d", sentinel_dir.to_str().unwrap())
        .dir("d/")
        .symlink("r", "../../../evil")
        .file("r", b"r\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    let s = std::fs::symlink_metadata(dest.join("s")).unwrap();
    assert!(s.is_file());
    assert_eq!(std::fs::read(dest.join("s")).unwrap(), b"replaced\n");
    assert!(std::fs::symlink_metadata(dest.join("d")).unwrap().is_dir());
    assert!(std::fs::symlink_metadata(dest.join("r")).unwrap().is_file());
    scene.check_outside();
}

#[test]
fn a_whiteout_removes_the_name_and_leaves_a_char_device_0_0() {
    let scene = Scene::new();
    let tar = Layer::new()
        .dir("etc/")
        .file("etc/old", b"old\n")
        .file("etc/.wh.old", b"")
        .file("etc/.wh.gone", b"")
        .dir("d/")
        .dir("d/x/")
        .file("d/x/f", b"f\n")
        .symlink("d/x/l", "/etc")
        .file(".wh.d", b"")
        .file("lib/.wh.missing-parent", b"")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    for name in ["etc/old", "etc/gone", "d", "lib/missing-parent"] {
        let meta = std::fs::symlink_metadata(dest.join(name)).unwrap();
        assert!(is_whiteout(&meta), "{name} is not a whiteout: {meta:?}");
        assert_eq!(meta.rdev(), 0);
    }
    let listing = names(&dest);
    assert!(
        listing.iter().all(|n| !n.contains(".wh.")),
        "a .wh. name was written: {listing:?}"
    );
    scene.check_outside();
}

#[test]
fn an_entry_after_its_whiteout_replaces_it() {
    let scene = Scene::new();
    let tar = Layer::new()
        .file(".wh.etc", b"")
        .dir("etc/")
        .file("etc/new", b"new\n")
        .finish();
    scene.unpack(&tar).unwrap();
    let etc = std::fs::symlink_metadata(scene.dest().join("etc")).unwrap();
    assert!(etc.is_dir());
    assert_eq!(
        std::fs::read(scene.dest().join("etc/new")).unwrap(),
        b"new\n"
    );
    scene.check_outside();
}

#[test]
fn the_opaque_marker_sets_the_overlay_xattr() {
    let scene = Scene::new();
    let tar = Layer::new()
        .dir("etc/")
        .file("etc/.wh..wh..opq", b"")
        .file("etc/kept", b"kept\n")
        .file("var/lib/.wh..wh..opq", b"")
        .dir("plain/")
        .finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    assert!(is_opaque(&dest.join("etc")));
    assert_eq!(
        lgetxattr(&dest.join("etc"), "trusted.overlay.opaque").as_deref(),
        Some(b"y".as_slice())
    );
    assert!(is_opaque(&dest.join("var/lib")), "a missing dir is created");
    assert!(!is_opaque(&dest.join("plain")));
    assert!(!is_opaque(&dest.join("var")));
    assert_eq!(std::fs::read(dest.join("etc/kept")).unwrap(), b"kept\n");
    assert!(names(&dest).iter().all(|n| !n.contains(".wh.")));
    scene.check_outside();
}

#[test]
fn pax_xattrs_are_kept_but_not_trusted_overlay_ones() {
    let scene = Scene::new();
    let mut layer = Layer::new();
    layer
        .pax(&[("SCHILY.xattr.user.skiff", b"yes")])
        .file("f", b"f\n")
        .pax(&[("SCHILY.xattr.trusted.overlay.opaque", b"y")])
        .dir("forged/");
    let tar = layer.finish();
    scene.unpack(&tar).unwrap();
    let dest = scene.dest();
    assert_eq!(
        lgetxattr(&dest.join("f"), "user.skiff").as_deref(),
        Some(b"yes".as_slice())
    );
    assert!(!is_opaque(&dest.join("forged")));
    scene.check_outside();
}

#[test]
fn long_names_from_pax_and_gnu_headers_work() {
    let scene = Scene::new();
    let gnu = format!("{}/{}", "d".repeat(150), "f".repeat(120));
    let pax = format!("{}/{}", "p".repeat(200), "q".repeat(100));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header.set_entry_type(EntryType::Regular);
    // The tar crate writes a GNU long-name header for a name this long.
    builder
        .append_data(&mut header, &gnu, b"ok\n".as_slice())
        .unwrap();
    let mut layer = Layer(builder);
    layer
        .pax(&[("path", pax.as_bytes())])
        .file("short-name-overridden", b"pax\n");
    let tar = layer.finish();
    let unpacked = scene.unpack(&tar).unwrap();
    assert_eq!(unpacked.entries, 2);
    assert_eq!(std::fs::read(scene.dest().join(&gnu)).unwrap(), b"ok\n");
    assert_eq!(std::fs::read(scene.dest().join(&pax)).unwrap(), b"pax\n");
    assert!(!scene.dest().join("short-name-overridden").exists());
    scene.check_outside();
}

#[test]
fn a_name_with_a_nul_byte_is_refused() {
    let scene = Scene::new();
    let tar = Layer::new()
        .pax(&[("path", b"etc/pass\0wd")])
        .file("placeholder", b"x")
        .finish();
    let err = scene.unpack(&tar).unwrap_err();
    assert!(matches!(err, ExtractError::NulInName { .. }), "{err:?}");
    scene.check_outside();
}

#[test]
fn a_layer_over_the_size_limit_stops() {
    let scene = Scene::new();
    let tar = Layer::new().file("big", &vec![7u8; 1 << 20]).finish();
    let limits = Limits {
        max_bytes: 64 * 1024,
        ..Limits::default()
    };
    let err = unpack(tar.as_slice(), &scene.dest(), &limits).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "layer is larger than the limit of 65536 bytes"
    );
    let written = std::fs::metadata(scene.dest().join("big")).map_or(0, |m| m.len());
    assert!(written <= 64 * 1024, "wrote {written} bytes");
    scene.check_outside();
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    let scene = Scene::new();
    let tar = Layer::new().file("zeros", &vec![0u8; 32 << 20]).finish();
    let blob = gzip(&tar);
    assert!(blob.len() < 1 << 20);
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = unpack(blob.as_slice(), &scene.dest(), &limits).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge { .. }), "{err:?}");
    // Exactly at the limit is fine.
    let tar = Layer::new().file("small", b"small").finish();
    let limits = Limits {
        max_bytes: tar.len() as u64,
        ..Limits::default()
    };
    let other = tempfile::tempdir().unwrap();
    unpack(gzip(&tar).as_slice(), other.path(), &limits).unwrap();
    scene.check_outside();
}

/// 256 MiB, what the sparse maps below claim.
const CLAIMED: u64 = 256 << 20;

/// A GNU sparse entry (type `S`) that stores no data at all and whose map
/// says "a hole up to 256 MiB": a reader that writes the holes fills the
/// disk from a tar of three blocks.
fn gnu_sparse_bomb() -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path("disk.img").unwrap();
    header.set_entry_type(EntryType::GNUSparse);
    header.set_size(0);
    header.set_mode(0o644);
    header.set_mtime(MTIME);
    {
        let gnu = header.as_gnu_mut().unwrap();
        gnu.set_real_size(CLAIMED);
        gnu.sparse[0].set_offset(CLAIMED);
        gnu.sparse[0].set_length(0);
    }
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, &[][..]).unwrap();
    builder.into_inner().unwrap()
}

/// Asserts the error is a refused sparse entry and nothing was written.
fn assert_sparse_refused(scene: &Scene, result: Result<Unpacked, ExtractError>, format: &str) {
    let err = result.unwrap_err();
    assert!(matches!(err, ExtractError::Sparse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(format), "{message}");
    assert!(message.contains("sparse files are refused"), "{message}");
    assert_eq!(names(&scene.dest()), Vec::<String>::new(), "left behind");
    scene.check_outside();
}

#[test]
fn a_gnu_sparse_entry_is_refused_before_a_byte_is_written() {
    let scene = Scene::new();
    let tar = gnu_sparse_bomb();
    let blob = gzip(&tar);
    // The whole attack fits in a few hundred bytes on the wire.
    assert!(blob.len() < 200, "{} bytes", blob.len());
    // The tar crate's own reader would hand out the 256 MiB of zeros.
    let mut archive = tar::Archive::new(tar.as_slice());
    let entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.size(), CLAIMED);

    let result = scene.unpack(&blob);
    assert_sparse_refused(&scene, result, "GNU tar type S");
    assert_eq!(
        scene.unpack(&blob).unwrap_err().to_string(),
        "entry \"disk.img\": sparse files are refused (GNU tar type S): a small map can claim \
         gigabytes of holes; rebuild the layer without --sparse"
    );
}

#[test]
fn pax_sparse_entries_of_every_format_are_refused() {
    let claimed = CLAIMED.to_string();
    let last = (CLAIMED - 1).to_string();
    let map = format!("{last},1");
    // (version, PAX records, the entry's name in the tar, its data)
    type Format<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, &'a str, Vec<u8>);
    let formats: [Format; 3] = [
        (
            "0.0",
            vec![
                ("GNU.sparse.size", claimed.as_bytes()),
                ("GNU.sparse.numblocks", b"1"),
                ("GNU.sparse.offset", last.as_bytes()),
                ("GNU.sparse.numbytes", b"1"),
            ],
            "disk.img",
            b"x".to_vec(),
        ),
        (
            "0.1",
            vec![
                ("GNU.sparse.size", claimed.as_bytes()),
                ("GNU.sparse.numblocks", b"1"),
                ("GNU.sparse.map", map.as_bytes()),
            ],
            "disk.img",
            b"x".to_vec(),
        ),
        (
            "1.0",
            vec![
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", b"disk.img"),
                ("GNU.sparse.realsize", claimed.as_bytes()),
            ],
            "GNUSparseFile.0/disk.img",
            // Version 1.0 keeps its map at the start of the data.
            {
                let mut data = format!("1\n{last}\n1\n").into_bytes();
                data.resize(512, 0);
                data.push(b'x');
                data
            },
        ),
    ];
    for (version, records, name, data) in formats {
        let scene = Scene::new();
        let tar = Layer::new().pax(&records).file(name, &data).finish();
        let result = scene.unpack(&tar);
        assert_sparse_refused(&scene, result, "PAX GNU.sparse records");
        eprintln!("format {version}: refused");
    }
}

#[test]
fn an_entry_after_a_sparse_one_is_never_reached() {
    let scene = Scene::new();
    let mut tar = Layer::new().file("first", b"1").finish();
    // Drop the end-of-archive blocks, append the bomb and another file.
    tar.truncate(tar.len() - 1024);
    tar.extend(gnu_sparse_bomb().iter().take(1024));
    let mut rest = Layer::new().file("after", b"2").finish();
    tar.append(&mut rest);
    let err = scene.unpack(&tar).unwrap_err();
    assert!(matches!(err, ExtractError::Sparse { .. }), "{err:?}");
    assert_eq!(names(&scene.dest()), ["first"]);
    scene.check_outside();
}

/// A layer of one file of `size` bytes named `name`.
fn layer_of(name: &str, size: usize) -> Vec<u8> {
    Layer::new().file(name, &vec![5u8; size]).finish()
}

#[test]
fn an_image_over_its_cap_stops_even_when_each_layer_fits() {
    let limits = Limits {
        max_image_bytes: 64 * 1024,
        ..Limits::default()
    };
    let image = ImageBudget::new(&limits);
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let layer = layer_of("f", 40 * 1024);
    // The first layer fits; the second passes the image's cap on its own
    // fitting bytes.
    unpack_in_image(layer.as_slice(), first.path(), &image).unwrap();
    assert_eq!(image.used(), layer.len() as u64);
    let err = unpack_in_image(layer.as_slice(), second.path(), &image).unwrap_err();
    assert!(matches!(err, ExtractError::ImageTooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the image's layers together are larger than the limit of 65536 bytes"
    );
    // Alone, each layer is an image of its own and fits.
    let alone = tempfile::tempdir().unwrap();
    unpack(layer.as_slice(), alone.path(), &limits).unwrap();
}

#[test]
fn layers_unpacking_in_parallel_share_the_images_cap() {
    let layer = layer_of("f", 40 * 1024);
    let unpack_four = |max_image_bytes: u64| {
        let limits = Limits {
            max_image_bytes,
            ..Limits::default()
        };
        let image = ImageBudget::new(&limits);
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let results: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = dirs
                .iter()
                .map(|dir| {
                    let (image, layer) = (&image, &layer);
                    scope.spawn(move || unpack_in_image(layer.as_slice(), dir.path(), image))
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        (results, image.used())
    };
    // Room for all four: each counted once, in one shared total.
    let (results, used) = unpack_four(4 * layer.len() as u64);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(used, 4 * layer.len() as u64);
    // Room for two and a half: each layer alone is far below the cap, so
    // only a shared count stops any of them.
    let (results, _) = unpack_four(5 * layer.len() as u64 / 2);
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(ExtractError::ImageTooLarge { .. })))
        .count();
    assert!(refused >= 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(ExtractError::ImageTooLarge { .. }))),
        "{results:?}"
    );
}

#[test]
fn too_many_entries_stop() {
    let scene = Scene::new();
    let mut layer = Layer::new();
    for i in 0..10 {
        layer.file(&format!("f{i}"), b"");
    }
    let tar = layer.finish();
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let err = unpack(tar.as_slice(), &scene.dest(), &limits).unwrap_err();
    assert!(
        matches!(err, ExtractError::TooManyEntries { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "layer has more than the limit of 5 entries"
    );
    scene.check_outside();
}

#[test]
fn a_truncated_gzip_stream_is_an_error() {
    let tar = normal_layer();
    let blob = gzip(&tar);
    // Cut in the deflate data, and cut only the trailer (CRC and length).
    for cut in [blob.len() / 2, blob.len() - 4] {
        let scene = Scene::new();
        let result = scene.unpack(&blob[..cut]);
        assert!(
            matches!(result, Err(ExtractError::Read(_))),
            "cut at {cut}: {result:?}"
        );
        scene.check_outside();
    }
}

#[test]
fn a_truncated_tar_is_an_error() {
    let tar = Layer::new().file("f", &[1u8; 4000]).finish();
    let scene = Scene::new();
    let result = scene.unpack(&tar[..2048]);
    assert!(result.is_err(), "{result:?}");
    scene.check_outside();
}

#[test]
fn a_file_under_a_file_is_an_error() {
    let scene = Scene::new();
    let tar = Layer::new().file("f", b"").file("f/g", b"").finish();
    let err = scene.unpack(&tar).unwrap_err();
    assert!(matches!(err, ExtractError::NotADirectory { .. }), "{err:?}");
    scene.check_outside();
}
