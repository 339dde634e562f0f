//! A guest's root filesystem made of the host's own files, as an ext4 image.
//!
//! The guest runs the host's test binaries, and they call the host's tools
//! (`sh`, `tar`, `skopeo`, `docker-registry` ...) and read files at absolute
//! paths compiled into them (the snapshots under the workspace, the probe in
//! the target directory). So the guest's root holds each of these files *at
//! the path it has on the host*, with the shared libraries `ldd` lists for
//! every executable, and the symbolic links on the way (`/bin -> usr/bin` on
//! a merged-/usr Debian) recreated as they are.
//!
//! The files are gathered in a staging directory (hard links where the
//! staging directory shares the host's filesystem, copies elsewhere), then
//! `mke2fs -d` writes the image from it: no loop device, no mount, nothing
//! the host's kernel has to do. The cloud kernel has no 9p and Debian 12 no
//! virtiofsd, so a disk image is the way in.
//!
//! Every path is written at its *canonical* location (the host resolves the
//! symbolic links), and the links themselves are recreated beside: writing
//! through a link of the staging directory could follow an absolute target
//! out of it, onto the host.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// What went wrong while building a guest's disk.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not in the host's file system: nothing to put in the guest")]
    Missing { path: PathBuf },
    #[error("package {package} is not installed: install it with `sudo ./scripts/setup`")]
    NotInstalled { package: String },
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("cannot run {tool}: {source} (install {package}: sudo ./scripts/setup)")]
    NoTool {
        tool: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("{path} in the staging tree should be a directory but is not")]
    NotADirectory { path: PathBuf },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DiskError + 'a {
    move |source| DiskError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Parts of packages the guest never needs.
const SKIPPED_PREFIXES: &[&str] = &[
    "/usr/share/doc",
    "/usr/share/man",
    "/usr/share/info",
    "/usr/share/locale",
    "/usr/share/lintian",
    "/usr/share/bash-completion",
    "/usr/share/zsh",
    "/usr/share/fish",
];

/// A staging directory that mirrors chosen host paths.
pub struct GuestTree {
    root: PathBuf,
    done: HashSet<PathBuf>,
    bytes: u64,
}

impl GuestTree {
    /// A tree at `root` (an empty directory), with the top-level links of a
    /// merged-/usr system (`/bin -> usr/bin`, ...) as the host has them, and
    /// the directories every Linux root has.
    pub fn new(root: &Path) -> Result<GuestTree, DiskError> {
        std::fs::create_dir_all(root).map_err(io("create", root))?;
        let mut tree = GuestTree {
            root: root.to_path_buf(),
            done: HashSet::new(),
            bytes: 0,
        };
        for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let host = Path::new("/").join(top);
            if host.is_symlink() {
                tree.add(&host)?;
            }
        }
        for dir in ["dev", "proc", "sys", "run", "tmp", "root", "var/tmp", "mnt"] {
            tree.mkdir(&Path::new("/").join(dir), 0o755)?;
        }
        for sticky in ["tmp", "var/tmp"] {
            let path = root.join(sticky);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777))
                .map_err(io("chmod", &path))?;
        }
        Ok(tree)
    }

    /// The staging directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// About how many bytes the files take (each file counted once).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// `inside` (an absolute guest path) in the staging directory.
    fn staged(&self, inside: &Path) -> PathBuf {
        self.root.join(inside.strip_prefix("/").unwrap_or(inside))
    }

    /// Adds the host's `path` (a file, a symbolic link or a directory, not
    /// its contents) at the same path, with the links on its way, the
    /// target of a link, and the libraries of an executable.
    pub fn add(&mut self, path: &Path) -> Result<(), DiskError> {
        self.add_with(path, Copy::Link)
    }

    /// Adds the executable `path` as [`GuestTree::add`] does, with its
    /// debug information stripped (`strip --strip-debug`): a test binary
    /// of a debug build is 80% debug information.
    pub fn add_stripped(&mut self, path: &Path) -> Result<(), DiskError> {
        self.add_with(path, Copy::Strip)
    }

    fn add_with(&mut self, path: &Path, how: Copy) -> Result<(), DiskError> {
        let path = absolute(path);
        if !self.done.insert(path.clone()) {
            return Ok(());
        }
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        let name = match path.file_name() {
            Some(name) => name.to_owned(),
            None => return Ok(()),
        };
        self.add_links_on_the_way(parent)?;
        let real_parent =
            std::fs::canonicalize(parent).map_err(|_| DiskError::Missing { path: path.clone() })?;
        self.mkdir_all(&real_parent)?;
        let real = real_parent.join(&name);
        let meta = std::fs::symlink_metadata(&real)
            .map_err(|_| DiskError::Missing { path: path.clone() })?;
        let staged = self.staged(&real);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&real).map_err(io("readlink", &real))?;
            if std::fs::symlink_metadata(&staged).is_err() {
                symlink(&target, &staged).map_err(io("symlink", &staged))?;
            }
            let resolved = normalize(&real_parent.join(&target));
            if std::fs::symlink_metadata(&resolved).is_ok() {
                self.add_with(&resolved, how)?;
            }
            return Ok(());
        }
        if meta.is_dir() {
            return self.mkdir(&real, meta.mode());
        }
        if std::fs::symlink_metadata(&staged).is_err() {
            match how {
                Copy::Link | Copy::Plain => link_or_copy(&real, &staged, &meta)?,
                Copy::Strip => strip(&real, &staged)?,
            }
            self.bytes += std::fs::metadata(&staged).map(|m| m.len()).unwrap_or(0);
        }
        if !matches!(how, Copy::Plain) && meta.mode() & 0o111 != 0 && is_elf(&real) {
            for library in super::shared_libraries(&real) {
                self.add(&library)?;
            }
        }
        Ok(())
    }

    /// Recreates the symbolic links among the ancestors of `dir`.
    fn add_links_on_the_way(&mut self, dir: &Path) -> Result<(), DiskError> {
        let mut prefix = PathBuf::from("/");
        for component in dir.components().skip(1) {
            prefix.push(component);
            if prefix.is_symlink() {
                self.add(&prefix.clone())?;
            }
        }
        Ok(())
    }

    /// Creates the canonical directory `dir` and its parents, with the
    /// host's modes.
    fn mkdir_all(&mut self, dir: &Path) -> Result<(), DiskError> {
        let mut prefix = PathBuf::from("/");
        for component in dir.components().skip(1) {
            prefix.push(component);
            let mode = std::fs::metadata(&prefix)
                .map(|m| m.mode())
                .unwrap_or(0o755);
            self.mkdir(&prefix.clone(), mode)?;
        }
        Ok(())
    }

    /// Creates the directory `inside` (its parent must exist) unless it is
    /// there.
    fn mkdir(&mut self, inside: &Path, mode: u32) -> Result<(), DiskError> {
        let staged = self.staged(inside);
        match std::fs::symlink_metadata(&staged) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => return Err(DiskError::NotADirectory { path: staged }),
            Err(_) => {}
        }
        std::fs::create_dir_all(&staged).map_err(io("mkdir", &staged))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(io("chmod", &staged))
    }

    /// Adds every file of the installed Debian package `package` but its
    /// documentation.
    pub fn add_package(&mut self, package: &str) -> Result<(), DiskError> {
        let out = dpkg_query(&["-L", package])?;
        if !out.status.success() {
            return Err(DiskError::NotInstalled {
                package: package.to_string(),
            });
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = Path::new(line.trim());
            if !path.is_absolute() || SKIPPED_PREFIXES.iter().any(|skip| path.starts_with(skip)) {
                continue;
            }
            match std::fs::symlink_metadata(path) {
                Ok(meta) if !meta.is_dir() => self.add(path)?,
                // Directories come with their files; a file the package
                // lists but the system lacks (a diversion) is left out.
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds the installed Debian packages `names` and every package they
    /// depend on ([`super::packages::closure`]), each as
    /// [`GuestTree::add_package`] does. Returns the packages added.
    pub fn add_packages_with_dependencies(
        &mut self,
        names: &[&str],
    ) -> Result<Vec<String>, DiskError> {
        let out = dpkg_query(&["-W", "-f", super::packages::QUERY_FORMAT])?;
        let database = String::from_utf8_lossy(&out.stdout);
        let packages = super::packages::closure(&database, names).map_err(|missing| {
            DiskError::NotInstalled {
                package: missing.join(", "),
            }
        })?;
        for package in &packages {
            self.add_package(package)?;
        }
        Ok(packages)
    }

    /// Copies the host directory `from` and everything under it to the
    /// guest path `inside` (which need not be `from`'s path): files the
    /// guest needs somewhere else than the host keeps them.
    pub fn add_tree_at(&mut self, from: &Path, inside: &Path) -> Result<(), DiskError> {
        let meta = std::fs::symlink_metadata(from).map_err(io("stat", from))?;
        if meta.is_dir() {
            self.mkdir_all(inside)?;
            for entry in std::fs::read_dir(from).map_err(io("read", from))? {
                let entry = entry.map_err(io("read", from))?;
                self.add_tree_at(&entry.path(), &inside.join(entry.file_name()))?;
            }
            return Ok(());
        }
        let staged = self.staged(inside);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(from).map_err(io("readlink", from))?;
            symlink(&target, &staged).map_err(io("symlink", &staged))?;
        } else {
            link_or_copy(from, &staged, &meta)?;
            self.bytes += meta.len();
        }
        self.done.insert(inside.to_path_buf());
        Ok(())
    }

    /// Adds the files under `dir` as they are, without looking for the
    /// libraries of its executables: for a tree that carries its own
    /// (a Rust toolchain's `lib/`, found through `$ORIGIN`). Add the
    /// executables that need the system's libraries first, with
    /// [`GuestTree::add`].
    pub fn add_tree_plain(&mut self, dir: &Path) -> Result<(), DiskError> {
        self.walk(dir, &[], Copy::Plain)
    }

    /// Adds the files under `dir`, but not below directories named in
    /// `skip` (`target`, `.git`).
    pub fn add_tree(&mut self, dir: &Path, skip: &[&str]) -> Result<(), DiskError> {
        self.walk(dir, skip, Copy::Link)
    }

    fn walk(&mut self, dir: &Path, skip: &[&str], how: Copy) -> Result<(), DiskError> {
        let entries = std::fs::read_dir(dir).map_err(io("read", dir))?;
        for entry in entries {
            let entry = entry.map_err(io("read", dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io("stat", &path))?;
            if skip.iter().any(|name| entry.file_name() == *name) {
                continue;
            }
            if kind.is_dir() {
                self.walk(&path, skip, how)?;
            } else {
                self.add_with(&path, how)?;
            }
        }
        Ok(())
    }

    /// Makes the guest path `inside` a symbolic link to `target`.
    pub fn symlink(&mut self, target: &Path, inside: &Path) -> Result<(), DiskError> {
        if let Some(parent) = inside.parent() {
            self.mkdir_all(parent)?;
        }
        let staged = self.staged(inside);
        symlink(target, &staged).map_err(io("symlink", &staged))?;
        self.done.insert(inside.to_path_buf());
        Ok(())
    }

    /// Writes a file of the guest's own (a script, a configuration).
    pub fn write(&mut self, inside: &Path, contents: &str, mode: u32) -> Result<(), DiskError> {
        if let Some(parent) = inside.parent() {
            self.mkdir_all(parent)?;
        }
        let staged = self.staged(inside);
        std::fs::write(&staged, contents).map_err(io("write", &staged))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))
            .map_err(io("chmod", &staged))?;
        self.done.insert(inside.to_path_buf());
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Copy {
    /// Linked or copied, with an executable's libraries.
    Link,
    /// Debug information stripped, with the executable's libraries.
    Strip,
    /// Linked or copied, and nothing more: for a tree whose executables
    /// find their libraries in the tree itself (`$ORIGIN`), which `ldd`
    /// cannot always follow.
    Plain,
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(
            &std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("/"))
                .join(path),
        )
    }
}

/// Removes `.` and resolves `..` lexically (for link targets, whose
/// directory is already canonical).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A hard link when both are on one file system, else a copy with the
/// same mode and owner.
fn link_or_copy(from: &Path, to: &Path, meta: &std::fs::Metadata) -> Result<(), DiskError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(io("copy", from))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io("chmod", to))?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid())).map_err(io("chown", to))
}

/// A copy of the executable `from` without its debug information.
fn strip(from: &Path, to: &Path) -> Result<(), DiskError> {
    let out = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(to)
        .arg(from)
        .output()
        .map_err(|source| DiskError::NoTool {
            tool: "strip",
            package: "binutils",
            source,
        })?;
    if !out.status.success() {
        return Err(DiskError::Tool {
            tool: format!("strip {}", from.display()),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

/// Whether `path` starts with the ELF magic number.
fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Writes the ext4 image `image` holding the tree, with `free` bytes to
/// spare, with `mke2fs -d` (e2fsprogs): no mount needed. The image is a
/// sparse file: unused blocks take no space on the host.
pub fn make_ext4(tree: &GuestTree, image: &Path, free: u64) -> Result<(), DiskError> {
    // ext4's metadata (inode tables, journal) needs room besides the data.
    let bytes = tree.bytes() + tree.bytes() / 5 + free + (128 << 20);
    let mib = bytes.div_ceil(1 << 20);
    let out = Command::new("mke2fs")
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            "skiff-guest",
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(tree.root())
        .arg(image)
        .arg(format!("{mib}M"))
        .output()
        .map_err(|source| DiskError::NoTool {
            tool: "mke2fs",
            package: "e2fsprogs",
            source,
        })?;
    if !out.status.success() {
        return Err(DiskError::Tool {
            tool: "mke2fs".to_string(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

/// Runs `dpkg-query` with `args`: what dpkg's database says of the
/// installed packages.
fn dpkg_query(args: &[&str]) -> Result<std::process::Output, DiskError> {
    Command::new("dpkg-query")
        .args(args)
        .output()
        .map_err(|source| DiskError::NoTool {
            tool: "dpkg-query",
            package: "dpkg",
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize(Path::new("/usr/lib64/../lib/./x")),
            PathBuf::from("/usr/lib/x")
        );
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
    }

    #[test]
    fn a_tree_keeps_paths_links_and_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        // A link chain on the "host": link -> sub/real.
        std::fs::create_dir(host.path().join("sub")).unwrap();
        std::fs::write(host.path().join("sub/real"), "data").unwrap();
        symlink("sub/real", host.path().join("link")).unwrap();
        let mut tree = GuestTree::new(&dir.path().join("root")).unwrap();
        tree.add(&host.path().join("link")).unwrap();
        let staged = |p: &Path| tree.staged(&std::fs::canonicalize(p).unwrap());
        let link = tree.staged(&host.path().join("link"));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from("sub/real")
        );
        assert_eq!(
            std::fs::read_to_string(staged(&host.path().join("sub/real"))).unwrap(),
            "data"
        );
        // An executable brings its libraries, through the host's links.
        tree.add(Path::new("/bin/sh")).unwrap();
        let loader = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("a dynamic loader");
        assert!(tree.staged(Path::new(loader)).exists(), "{loader} missing");
        assert!(tree.staged(Path::new("/bin/sh")).exists());
    }
}
