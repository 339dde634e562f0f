//! `diff` and `commit` on upper directories that the kernel itself wrote: each
//! test mounts a real overlay in a temporary directory, makes changes through
//! the merged view, unmounts, and reads the upper directory.

use ch04_overlayfs::changes::{self, ChangeKind, ChangesError, CommitSummary};
use nix::mount::{MntFlags, MsFlags};
use skiff_testkit::assert_no_mounts_under;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests mount overlayfs and need root: run them with sudo (sudo -E cargo test -p ch04-overlayfs --test changes)"
    );
}

/// An overlay mounted on `<dir>/merged`, unmounted when dropped (also when a
/// test panics half way).
struct Overlay {
    dir: TempDir,
    lowers: Vec<PathBuf>,
    mounted: bool,
}

impl Overlay {
    /// Lower layers from `layers` (bottom first, each a list of path and
    /// content; a path ending in `/` is a directory, a content starting with
    /// `-> ` makes a symbolic link), then the mount.
    fn mount(layers: &[&[(&str, &str)]]) -> Overlay {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let mut lowers = Vec::new();
        for (i, files) in layers.iter().enumerate() {
            let layer = dir.path().join(format!("layer{i}"));
            fs::create_dir(&layer).unwrap();
            for (path, content) in files.iter() {
                let target = layer.join(path);
                if path.ends_with('/') {
                    fs::create_dir_all(&target).unwrap();
                } else if let Some(link) = content.strip_prefix("-> ") {
                    fs::create_dir_all(target.parent().unwrap()).unwrap();
                    std::os::unix::fs::symlink(link, &target).unwrap();
                } else {
                    fs::create_dir_all(target.parent().unwrap()).unwrap();
                    fs::write(&target, content).unwrap();
                }
            }
            lowers.push(layer);
        }
        for sub in ["upper", "work", "merged"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let mut overlay = Overlay {
            dir,
            lowers,
            mounted: false,
        };
        // lowerdir= lists the top layer first.
        let lowerdir: Vec<String> = overlay
            .lowers
            .iter()
            .rev()
            .map(|l| l.display().to_string())
            .collect();
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowerdir.join(":"),
            overlay.upper().display(),
            overlay.dir.path().join("work").display()
        );
        nix::mount::mount(
            Some("overlay"),
            &overlay.merged(),
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .unwrap_or_else(|e| panic!("mount -t overlay -o {options}: {e}"));
        overlay.mounted = true;
        overlay
    }

    fn merged(&self) -> PathBuf {
        self.dir.path().join("merged")
    }

    fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    fn unmount(&mut self) {
        if self.mounted {
            self.mounted = false;
            nix::mount::umount2(&self.merged(), MntFlags::empty()).unwrap();
        }
    }

    /// Checks that nothing is left mounted below the temporary directory.
    fn finish(mut self) {
        self.unmount();
        let root = self.dir.path().to_path_buf();
        drop(self);
        assert_no_mounts_under(&root);
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if self.mounted {
            // Lazy: a failing test may still hold a file open in merged/.
            let _ = nix::mount::umount2(&self.merged(), MntFlags::MNT_DETACH);
        }
    }
}

/// Every path below `dir` with its contents (or `<dir>` / `-> target`).
fn tree(dir: &Path) -> BTreeSet<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<(PathBuf, String)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                out.insert((rel, "<dir>".into()));
                walk(root, &path, out);
            } else if meta.is_symlink() {
                out.insert((
                    rel,
                    format!("-> {}", fs::read_link(&path).unwrap().display()),
                ));
            } else {
                out.insert((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// One tar entry as the tests compare it.
#[derive(Debug)]
struct Entry {
    path: String,
    kind: tar::EntryType,
    link: Option<String>,
    data: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

fn read_tar(bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let header = entry.header();
        entries.push(Entry {
            // The raw name, trailing slash included (path() would drop it).
            path: String::from_utf8(entry.path_bytes().into_owned()).unwrap(),
            kind: header.entry_type(),
            link: entry.link_name().unwrap().map(|l| l.display().to_string()),
            data,
            mode: header.mode().unwrap(),
            uid: header.uid().unwrap(),
            gid: header.gid().unwrap(),
            mtime: header.mtime().unwrap(),
        });
    }
    entries
}

const BASE: &[(&str, &str)] = &[
    ("etc/motd", "welcome\n"),
    ("etc/old", "to be deleted\n"),
    ("gone/x", "in a deleted directory\n"),
    ("gone/sub/y", "deeper\n"),
    ("d/a", "lower a\n"),
    ("d/b", "lower b\n"),
    ("keep/", ""),
];
const TOP: &[(&str, &str)] = &[("etc/top", "from the top layer\n")];

#[test]
fn diff_and_commit_a_real_upper_directory() {
    let mut overlay = Overlay::mount(&[BASE, TOP]);
    let lowers_before: Vec<_> = overlay.lowers.iter().map(|l| tree(l)).collect();
    let m = overlay.merged();

    // Change a lower file: the kernel copies it up first.
    fs::write(m.join("etc/motd"), "changed\n").unwrap();
    // Add files, with an owner, a mode and a time that must survive commit.
    fs::write(m.join("etc/new"), "new file\n").unwrap();
    std::os::unix::fs::chown(m.join("etc/new"), Some(1000), Some(1001)).unwrap();
    fs::set_permissions(m.join("etc/new"), fs::Permissions::from_mode(0o4750)).unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options()
        .write(true)
        .open(m.join("etc/new"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::hard_link(m.join("etc/new"), m.join("etc/new2")).unwrap();
    fs::create_dir(m.join("newdir")).unwrap();
    fs::write(m.join("newdir/file"), "").unwrap();
    std::os::unix::fs::symlink("/etc/motd", m.join("link")).unwrap();
    // Delete lower files (one in each layer) and a lower directory.
    fs::remove_file(m.join("etc/old")).unwrap();
    fs::remove_file(m.join("etc/top")).unwrap();
    fs::remove_dir_all(m.join("gone")).unwrap();
    // Replace a lower directory: the new one is opaque.
    fs::remove_dir_all(m.join("d")).unwrap();
    fs::create_dir(m.join("d")).unwrap();
    fs::write(m.join("d/new"), "in the new d\n").unwrap();
    fs::write(m.join("d/a"), "new a\n").unwrap();

    // The merged view shows the changes; the layers are untouched.
    assert_eq!(fs::read_to_string(m.join("etc/motd")).unwrap(), "changed\n");
    assert!(
        !m.join("d/b").exists(),
        "an opaque directory hides the lower d/b"
    );
    let lowers_after: Vec<_> = overlay.lowers.iter().map(|l| tree(l)).collect();
    assert_eq!(
        lowers_before, lowers_after,
        "copy-on-write: the lower layers never change"
    );

    overlay.unmount();
    let upper = overlay.upper();
    assert!(changes::is_opaque(&upper.join("d")));
    assert!(!changes::is_opaque(&upper.join("etc")));
    assert!(changes::is_whiteout(
        &fs::symlink_metadata(upper.join("etc/old")).unwrap()
    ));
    assert!(!changes::is_whiteout(
        &fs::symlink_metadata(upper.join("etc/motd")).unwrap()
    ));

    let diff = changes::diff(&upper, &overlay.lowers).unwrap();
    assert_eq!(
        changes::render(&diff),
        "C /d\n\
         A /d/a\n\
         A /d/new\n\
         C /etc\n\
         C /etc/motd\n\
         A /etc/new\n\
         A /etc/new2\n\
         D /etc/old\n\
         D /etc/top\n\
         D /gone\n\
         A /link\n\
         A /newdir\n\
         A /newdir/file\n"
    );
    assert_eq!(diff[0].kind, ChangeKind::Changed);
    assert_eq!(diff[0].path, Path::new("/d"));

    let mut tarball = Vec::new();
    let summary = changes::commit(&upper, &mut tarball).unwrap();
    assert_eq!(
        summary,
        CommitSummary {
            entries: 14,
            whiteouts: 3,
            opaque_dirs: 1
        }
    );
    let entries = read_tar(&tarball);
    let listing: Vec<(&str, tar::EntryType)> =
        entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    assert_eq!(
        listing,
        [
            ("d/", Directory),
            ("d/.wh..wh..opq", Regular),
            ("d/a", Regular),
            ("d/new", Regular),
            ("etc/", Directory),
            ("etc/motd", Regular),
            ("etc/new", Regular),
            ("etc/new2", Link),
            ("etc/.wh.old", Regular),
            ("etc/.wh.top", Regular),
            (".wh.gone", Regular),
            ("link", Symlink),
            ("newdir/", Directory),
            ("newdir/file", Regular),
        ][..],
        "{entries:#?}"
    );
    assert_eq!(entries.len(), summary.entries);
    let entry = |path: &str| entries.iter().find(|e| e.path == path).unwrap();
    assert_eq!(entry("etc/motd").data, b"changed\n");
    assert_eq!(entry("d/a").data, b"new a\n");
    assert_eq!(entry("d/new").data, b"in the new d\n");
    for marker in [
        "d/.wh..wh..opq",
        "etc/.wh.old",
        "etc/.wh.top",
        ".wh.gone",
        "newdir/file",
    ] {
        assert!(entry(marker).data.is_empty(), "{marker} is empty");
    }
    let new = entry("etc/new");
    assert_eq!(new.data, b"new file\n");
    assert_eq!(
        (new.mode, new.uid, new.gid, new.mtime),
        (0o4750, 1000, 1001, 1_700_000_000)
    );
    assert_eq!(entry("etc/new2").link.as_deref(), Some("etc/new"));
    assert_eq!(entry("link").link.as_deref(), Some("/etc/motd"));
    assert!(
        entries
            .iter()
            .all(|e| !matches!(e.kind, tar::EntryType::Char | tar::EntryType::Block)),
        "no device nodes in a layer: whiteouts are .wh. files"
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.path.starts_with('/') && e.path.split('/').all(|part| part != "..")),
        "paths are relative to the container's root"
    );

    // The tarball unpacks with a stock reader, hard link included.
    let unpacked = tempfile::tempdir().unwrap();
    tar::Archive::new(&tarball[..])
        .unpack(unpacked.path())
        .unwrap();
    assert_eq!(
        fs::read_to_string(unpacked.path().join("etc/new2")).unwrap(),
        "new file\n"
    );
    assert_eq!(
        fs::read_link(unpacked.path().join("link")).unwrap(),
        Path::new("/etc/motd")
    );

    overlay.finish();
}

#[test]
fn commit_of_an_unchanged_container_is_an_empty_tar() {
    let mut overlay = Overlay::mount(&[BASE]);
    // Reading copies nothing up.
    assert_eq!(
        fs::read_to_string(overlay.merged().join("etc/motd")).unwrap(),
        "welcome\n"
    );
    overlay.unmount();
    let upper = overlay.upper();
    assert_eq!(changes::diff(&upper, &overlay.lowers).unwrap(), []);
    let mut tarball = Vec::new();
    let summary = changes::commit(&upper, &mut tarball).unwrap();
    assert_eq!(summary, CommitSummary::default());
    assert_eq!(tarball, vec![0u8; 1024], "an empty tar is two zero blocks");
    assert_eq!(
        tar::Archive::new(&tarball[..]).entries().unwrap().count(),
        0
    );
    overlay.finish();
}

#[test]
fn lower_symlinks_are_not_followed_out_of_the_layer() {
    // The bottom layer has `lib` as an absolute symlink to the host's /etc;
    // the layer above makes `lib` a directory, which hides the symlink.
    let mut overlay = Overlay::mount(&[&[("lib", "-> /etc")], &[("lib/", "")]]);
    let m = overlay.merged();
    assert!(fs::symlink_metadata(m.join("lib")).unwrap().is_dir());
    assert!(
        !m.join("lib/passwd").exists(),
        "overlayfs does not follow a lower symlink"
    );
    fs::write(m.join("lib/passwd"), "mine\n").unwrap();
    overlay.unmount();
    assert!(!changes::is_opaque(&overlay.upper().join("lib")));
    assert!(Path::new("/etc/passwd").exists());
    // /lib is in the lowers, so it changed; /lib/passwd is new: joining the
    // path onto the bottom layer would find the host's /etc/passwd and say C.
    let diff = changes::diff(&overlay.upper(), &overlay.lowers).unwrap();
    assert_eq!(changes::render(&diff), "C /lib\nA /lib/passwd\n");
    overlay.finish();
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-upper");
    let error = changes::diff(&missing, &[]).unwrap_err();
    assert!(matches!(error, ChangesError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-upper"), "{error}");

    let file = dir.path().join("a-file");
    fs::write(&file, "").unwrap();
    let error = changes::commit(&file, &mut Vec::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("the upper directory {file:?} is not a directory")
    );
}
