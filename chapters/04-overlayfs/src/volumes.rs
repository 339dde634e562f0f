//! Volumes: data that outlives the container (`docker run -v`, `--tmpfs`,
//! `docker volume`).
//!
//! # Why data does not belong in the writable layer
//!
//! Everything a container writes to its root lands in its writable layer,
//! the overlayfs `upperdir`. That layer is the wrong home for data:
//!
//! - it **belongs to the container**: `rm` deletes it, and a new container
//!   of the same image (the way an upgrade is done) starts from the image
//!   again, without the data;
//! - it is **slow for heavy writers**: the first write to a file of a lower
//!   layer copies the whole file up (a database of several gigabytes is
//!   copied because one page changed), and every lookup goes through the
//!   union of layers;
//! - it **cannot be shared** with another container, nor reached easily
//!   from the host for a backup.
//!
//! A volume is a plain directory of the host mounted into the container's
//! tree: reads and writes under it bypass overlayfs entirely, and its life
//! is independent from any container. There are three kinds:
//!
//! | kind   | `docker run` flag        | where the data lives                         |
//! |--------|--------------------------|----------------------------------------------|
//! | bind   | `-v /host/path:/data`    | a host path the user chose                   |
//! | named  | `-v pgdata:/data`        | a directory the engine manages: `<state>/volumes/<name>/_data` |
//! | tmpfs  | `--tmpfs /run:size=64m`  | memory only: gone when the container stops   |
//!
//! A bind volume shares a host directory (source code during development, a
//! config file); a named volume is storage that the engine creates, lists
//! and removes (`docker volume create|ls|rm|prune`) so the user does not
//! pick a host path; a tmpfs is scratch space that never touches a disk
//! (secrets, sockets, caches).
//!
//! # The key lesson: resolve the target inside the root
//!
//! The image decides what the container's tree contains, and an image is
//! untrusted input. If the image ships `/data` as a symlink to `/etc`,
//! a naive `mount(source, root.join("data"))` lets the kernel follow the
//! symlink *from the host's point of view* and mounts the volume over the
//! host's `/etc`. [`mount_volumes`] therefore opens each target with
//! `openat2(root_fd, target, RESOLVE_IN_ROOT)`: the kernel resolves every
//! symlink and `..` as if `root` were `/`, creates nothing outside it, and
//! hands back a file descriptor of the exact inode; the mount is then done
//! on `/proc/self/fd/<fd>`, so no path is looked up a second time.

use crate::populate::{PopulateError, populate_volume};
use crate::resolve::{Create, open_creating, open_in_root};
use ch01_process::explain;
use ch02_namespaces::mounts::{MountError, mount_fs, restricting_flags};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, fstat};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What can go wrong with a volume, from parsing `-v` to mounting it.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("empty volume spec: use HOST:CONTAINER[:ro] or NAME:CONTAINER[:ro]")]
    EmptySpec,
    #[error("volume {0:?} has no container path: use HOST:CONTAINER[:ro] or NAME:CONTAINER[:ro]")]
    MissingTarget(String),
    #[error("volume {0:?} has no source: name a host path or a volume before the ':'")]
    MissingSource(String),
    #[error("volume {0:?} has too many ':' parts: use HOST:CONTAINER[:ro]")]
    TooManyParts(String),
    #[error("unknown volume option {option:?} in {spec:?}: use ro or rw")]
    UnknownOption { spec: String, option: String },
    #[error("volume source {} does not exist: create it first, or use a named volume", .0.display())]
    SourceMissing(PathBuf),
    #[error("container path {} must be absolute", .0.display())]
    RelativeTarget(PathBuf),
    #[error("container path / cannot be a volume: it is the container's root")]
    TargetIsRoot,
    #[error("--tmpfs needs a container path, as in --tmpfs /run:size=64m")]
    MissingTmpfsTarget,
    #[error(
        "tmpfs option {0:?} is not allowed: a volume holds data, not setuid programs or devices"
    )]
    ForbiddenTmpfsOption(String),
    #[error(
        "invalid volume name {0:?}: a name is a letter or digit followed by letters, digits, '_', '.' or '-'"
    )]
    InvalidName(String),
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    #[error("volume {0} is in use by a running container")]
    InUse(String),
    #[error("cannot mount a directory on {}: it is not a directory in the container", .0.display())]
    DirOnFile(PathBuf),
    #[error("cannot mount a file on {}: it is a directory in the container", .0.display())]
    FileOnDir(PathBuf),
    #[error(
        "bind option {0:?} is not supported: a bind may be ro, nosuid, nodev or noexec, with private propagation"
    )]
    UnknownBindOption(String),
    #[error("{} changed while it was being mounted", .0.display())]
    TargetMoved(PathBuf),
    #[error("{step}: {}{}", .errno.desc().to_lowercase(), sys_hint(*.errno, .step))]
    Sys { step: String, errno: Errno },
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Populate(#[from] PopulateError),
}

fn sys_hint(errno: Errno, step: &str) -> &'static str {
    match errno {
        Errno::ENOSYS if step.starts_with("openat2") => " (openat2 needs linux 5.6 or later)",
        Errno::ELOOP => " (too many symlinks in the container path)",
        _ => "",
    }
}

type Result<T> = std::result::Result<T, VolumeError>;

fn sys(step: impl Into<String>) -> impl FnOnce(Errno) -> VolumeError {
    let step = step.into();
    move |errno| VolumeError::Sys { step, errno }
}

fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> VolumeError {
    let step = step.into();
    move |e| VolumeError::Sys {
        step,
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

// ANCHOR: types
/// Where the data of a volume comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeSource {
    /// A host path chosen by the user (absolute).
    Bind(PathBuf),
    /// A volume managed by the engine, by name (see [`VolumeStore`]).
    Named(String),
    /// A fresh tmpfs: memory only, nothing kept.
    Tmpfs,
    /// A volume the engine makes for this container alone, named by a
    /// random id: docker's *anonymous* volume (`-v /data` without a source,
    /// or a path the image declares with `VOLUME`). It lives in the store
    /// like a named one, labelled [`ANONYMOUS_LABEL`], and outlives the
    /// container unless it is removed with it (`rm -v`, `run --rm`).
    Anonymous(String),
}

/// The label docker gives the volumes it makes for a container
/// (anonymous ones): `volume prune` without `--all` removes only those.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

impl VolumeSource {
    /// The store's name of the volume, for a named or anonymous one.
    pub fn volume_name(&self) -> Option<&str> {
        match self {
            VolumeSource::Named(name) | VolumeSource::Anonymous(name) => Some(name),
            VolumeSource::Bind(_) | VolumeSource::Tmpfs => None,
        }
    }
}

/// One volume of a container: what to mount, and where in the container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    pub source: VolumeSource,
    /// Absolute path inside the container (`/data`), resolved inside its root.
    pub target: PathBuf,
    #[serde(default)]
    pub read_only: bool,
    /// tmpfs options given after `:` (`size=64m,mode=700,noexec`), as typed;
    /// for a bind, the restrictions it gets beyond `read_only` (`nosuid`,
    /// `nodev`, `noexec`: what an OCI configuration may ask of a bind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}
// ANCHOR_END: types

impl Mount {
    /// A new anonymous volume on `target` (a container path): `-v /data`,
    /// or an image's `VOLUME /data`. Its name is a fresh random id.
    pub fn anonymous(target: &str) -> Result<Mount> {
        Ok(Mount {
            source: VolumeSource::Anonymous(ch02_namespaces::records::new_id()),
            target: container_path(target)?,
            read_only: false,
            options: None,
        })
    }
}

// ANCHOR: parse_volume
/// Parses a `-v` argument: `HOST:CONTAINER[:ro|:rw]` or `NAME:CONTAINER[:ro|:rw]`.
///
/// The source is a bind mount when it looks like a path (it starts with `/`
/// or `.`); a relative path is taken from the current directory, as the
/// learner sees it in their shell, and must exist: docker once created
/// missing bind sources as empty root-owned directories, which hid typos,
/// and now refuses them as we do. Anything else is the name of a named
/// volume. A container path alone (`-v /data`) asks for an anonymous
/// volume (see [`VolumeSource::Anonymous`]).
pub fn parse_volume(spec: &str) -> Result<Mount> {
    if spec.is_empty() {
        return Err(VolumeError::EmptySpec);
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts[..] {
        [target] if target.starts_with('/') => return Mount::anonymous(target),
        [_] => return Err(VolumeError::MissingTarget(spec.into())),
        [s, t] => (s, t, None),
        [s, t, m] => (s, t, Some(m)),
        _ => return Err(VolumeError::TooManyParts(spec.into())),
    };
    if source.is_empty() {
        return Err(VolumeError::MissingSource(spec.into()));
    }
    if target.is_empty() {
        return Err(VolumeError::MissingTarget(spec.into()));
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(VolumeError::UnknownOption {
                spec: spec.into(),
                option: other.into(),
            });
        }
    };
    let target = container_path(target)?;
    let source = if source.starts_with('/') || source.starts_with('.') {
        VolumeSource::Bind(bind_source(source)?)
    } else {
        check_name(source)?;
        VolumeSource::Named(source.into())
    };
    Ok(Mount {
        source,
        target,
        read_only,
        options: None,
    })
}
// ANCHOR_END: parse_volume

/// The host path of a bind source; it must exist.
fn bind_source(raw: &str) -> Result<PathBuf> {
    let path = Path::new(raw);
    if path.is_absolute() {
        if !path.exists() {
            return Err(VolumeError::SourceMissing(path.into()));
        }
        return Ok(path.into());
    }
    let cwd = std::env::current_dir().map_err(io("getcwd()"))?;
    let joined: PathBuf = cwd.join(path).components().collect();
    // canonicalize also checks existence, and gives the clean absolute
    // path that `inspect` will show.
    joined
        .canonicalize()
        .map_err(|_| VolumeError::SourceMissing(joined))
}

/// Checks and cleans a container path: absolute, `.` and `..` removed the
/// way docker's `filepath.Clean` does (symlinks are left to [`mount_volumes`],
/// which resolves them inside the container's root).
fn container_path(raw: &str) -> Result<PathBuf> {
    if !raw.starts_with('/') {
        return Err(VolumeError::RelativeTarget(raw.into()));
    }
    let mut clean = PathBuf::from("/");
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if clean == Path::new("/") {
        return Err(VolumeError::TargetIsRoot);
    }
    Ok(clean)
}

/// Volume names as docker accepts them: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
///
/// The rule is also what keeps a name from escaping the store: no `/`, and
/// no name can be `.` or `..`.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(VolumeError::InvalidName(name.into()))
    }
}

// ANCHOR: parse_tmpfs
/// Parses a `--tmpfs` argument: `/path[:options]`.
///
/// `ro` and `rw` set [`Mount::read_only`]; the other options are kept in
/// [`Mount::options`]: `exec` and `noexec` (the default, as in docker)
/// become mount flags, `nosuid` and `nodev` are what a tmpfs always is, the
/// rest (`size=64m`, `mode=700`, `uid=1000`) is handed to tmpfs, which
/// reports what it does not know. `suid` and `dev` are refused: a tmpfs is
/// always mounted nosuid and nodev.
pub fn parse_tmpfs(spec: &str) -> Result<Mount> {
    let (path, opts) = match spec.split_once(':') {
        Some((path, opts)) => (path, opts),
        None => (spec, ""),
    };
    if path.is_empty() {
        return Err(VolumeError::MissingTmpfsTarget);
    }
    let target = container_path(path)?;
    let mut read_only = false;
    let mut kept = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "suid" | "dev" => return Err(VolumeError::ForbiddenTmpfsOption(opt.into())),
            _ => kept.push(opt),
        }
    }
    Ok(Mount {
        source: VolumeSource::Tmpfs,
        target,
        read_only,
        options: (!kept.is_empty()).then(|| kept.join(",")),
    })
}
// ANCHOR_END: parse_tmpfs

/// Splits tmpfs options into mount flags and the data string for tmpfs.
/// Without a `mode=`, the mount gets `mode=1777` like `/tmp`: any user of the
/// container may write, nobody may delete the files of another. As in
/// docker, a tmpfs is `noexec` unless `exec` is asked for: scratch space is
/// where an attacker would drop a program to run.
fn tmpfs_flags_and_data(options: Option<&str>) -> (MsFlags, String) {
    let mut flags = MsFlags::MS_NOEXEC;
    let mut data: Vec<&str> = Vec::new();
    for opt in options.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags.remove(MsFlags::MS_NOEXEC),
            "nosuid" | "nodev" | "ro" | "rw" => {}
            _ => data.push(opt),
        }
    }
    if !data.iter().any(|o| o.starts_with("mode=")) {
        data.insert(0, "mode=1777");
    }
    (flags, data.join(","))
}

// ANCHOR: store
/// The named volumes of the engine: `<state>/volumes/<name>/_data`.
///
/// The `_data` level (docker's layout) leaves room next to the data for the
/// engine's own files about the volume (labels, driver options) without
/// them being visible in the container.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    root: PathBuf,
}

/// The file beside a volume's `_data` that holds its labels.
const LABELS: &str = "labels.json";

/// Makes temporary names unique within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl VolumeStore {
    /// The store of the engine whose state directory is `state_dir`.
    pub fn new(state_dir: &Path) -> VolumeStore {
        VolumeStore {
            root: state_dir.join("volumes"),
        }
    }

    fn data_dir(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    fn temp_path(&self, what: &str, name: &str) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(format!(".{what}-{name}-{}-{n}", std::process::id()))
    }

    /// `docker volume create NAME`: returns the volume's data directory.
    ///
    /// Creating a volume that exists returns it, as docker does, so
    /// `docker run -v name:/x` can create on first use. The volume is built
    /// under a temporary name and renamed into place: a crash leaves a
    /// hidden temporary directory, never a half-created volume, and two
    /// concurrent creators end up with the same volume.
    pub fn create(&self, name: &str) -> Result<PathBuf> {
        self.create_labelled(name, &BTreeMap::new())
    }

    /// [`VolumeStore::create`], with `labels` (`docker volume create
    /// --label`) kept beside the data (`<name>/labels.json`), written
    /// before the rename: a volume never appears without its labels. An
    /// existing volume keeps the labels it has.
    pub fn create_labelled(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<PathBuf> {
        check_name(name)?;
        let data = self.data_dir(name);
        if data.is_dir() {
            return Ok(data);
        }
        ch02_namespaces::records::private_dir(&self.root)
            .map_err(io(format!("mkdir -p {:?}", self.root.display())))?;
        let temp = self.temp_path("tmp", name);
        let build = || -> std::io::Result<()> {
            std::fs::create_dir(&temp)?;
            std::fs::create_dir(temp.join("_data"))?;
            if !labels.is_empty() {
                let bytes = serde_json::to_vec(labels).expect("plain data");
                std::fs::write(temp.join(LABELS), bytes)?;
            }
            Ok(())
        };
        if let Err(e) = build() {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(io(format!("mkdir {:?}", temp.display()))(e));
        }
        let final_path = self.root.join(name);
        explain!(
            "rename({:?}, {:?})  (volume {name} created)",
            temp.display(),
            final_path.display()
        );
        match std::fs::rename(&temp, &final_path) {
            Ok(()) => {
                // Make the rename durable before anyone relies on it.
                if let Ok(dir) = std::fs::File::open(&self.root) {
                    let _ = dir.sync_all();
                }
                Ok(data)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&temp);
                if data.is_dir() {
                    Ok(data) // created meanwhile by someone else
                } else {
                    Err(io(format!("rename to {:?}", final_path.display()))(e))
                }
            }
        }
    }

    /// The labels of volume `name` (none when it has none, or is not here).
    pub fn labels(&self, name: &str) -> BTreeMap<String, String> {
        if check_name(name).is_err() {
            return BTreeMap::new();
        }
        std::fs::read(self.root.join(name).join(LABELS))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Whether volume `name` is one the engine made for a container.
    pub fn is_anonymous(&self, name: &str) -> bool {
        self.labels(name).contains_key(ANONYMOUS_LABEL)
    }

    /// Removes the anonymous volumes among `mounts` (`docker rm -v`, and
    /// `run --rm` when the container goes), except those in `in_use`
    /// (named by another container). Returns the names removed; a volume
    /// already gone is skipped.
    pub fn remove_anonymous(&self, mounts: &[Mount], in_use: &[String]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for mount in mounts {
            let VolumeSource::Anonymous(name) = &mount.source else {
                continue;
            };
            if self.path(name).is_none() || in_use.contains(name) {
                continue;
            }
            self.remove(name, in_use)?;
            removed.push(name.clone());
        }
        Ok(removed)
    }

    /// The data directory of volume `name`, when it exists.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        check_name(name).ok()?;
        let data = self.data_dir(name);
        data.is_dir().then_some(data)
    }

    /// Creates the anonymous volume `name` (labelled so), or returns it.
    pub fn create_anonymous(&self, name: &str) -> Result<PathBuf> {
        let labels = BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new())]);
        self.create_labelled(name, &labels)
    }

    /// `docker volume ls`: the names, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("readdir {:?}", self.root.display()))(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("readdir {:?}", self.root.display())))?;
            // Temporary and trashed directories start with '.', which no
            // valid name does.
            let Some(name) = entry.file_name().to_str().map(String::from) else {
                continue;
            };
            if check_name(&name).is_ok() && self.data_dir(&name).is_dir() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// `docker volume rm NAME`: refused while a running container uses it.
    ///
    /// The volume is first renamed out of sight, then deleted: a crash in
    /// the middle of a large deletion leaves no half-emptied volume.
    pub fn remove(&self, name: &str, in_use: &[String]) -> Result<()> {
        check_name(name)?;
        if self.path(name).is_none() {
            return Err(VolumeError::NoSuchVolume(name.into()));
        }
        if in_use.iter().any(|used| used == name) {
            return Err(VolumeError::InUse(name.into()));
        }
        let trash = self.temp_path("trash", name);
        let path = self.root.join(name);
        explain!(
            "rename({:?}, {:?})  (volume {name} removed)",
            path.display(),
            trash.display()
        );
        std::fs::rename(&path, &trash).map_err(io(format!("rename {:?}", path.display())))?;
        std::fs::remove_dir_all(&trash).map_err(io(format!("rm -r {:?}", trash.display())))
    }

    /// `docker volume prune`: removes every volume not in `in_use`, and
    /// returns the names removed.
    pub fn prune(&self, in_use: &[String]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for name in self.list()? {
            if !in_use.contains(&name) {
                self.remove(&name, in_use)?;
                removed.push(name);
            }
        }
        Ok(removed)
    }

    /// The host path to mount for `mount`: the bind path, or the named or
    /// anonymous volume's `_data` (created on first use, like `docker run
    /// -v name:/x`).
    /// A tmpfs has no host path: the result is the string `tmpfs`, the mount
    /// source shown in `/proc/self/mountinfo`.
    pub fn resolve(&self, mount: &Mount) -> Result<PathBuf> {
        match &mount.source {
            VolumeSource::Bind(path) if path.exists() => Ok(path.clone()),
            VolumeSource::Bind(path) => Err(VolumeError::SourceMissing(path.clone())),
            VolumeSource::Named(name) => self.create(name),
            VolumeSource::Anonymous(name) => self.create_anonymous(name),
            VolumeSource::Tmpfs => Ok(PathBuf::from("tmpfs")),
        }
    }
}
// ANCHOR_END: store

fn openat2_step(root: &Path, path: &Path) -> String {
    format!(
        "openat2({:?}, {:?}, O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)",
        root.display(),
        path.display()
    )
}

/// What the target must be: a directory, or a file (for a bind of a file).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

// ANCHOR: open_target
/// Opens the mount target `rel` inside the container root, creating what is
/// missing inside it (see [`open_creating`]): a directory to mount a
/// directory on, an empty file to mount a file on.
fn open_target(root_fd: BorrowedFd<'_>, root: &Path, rel: &Path, kind: Kind) -> Result<OwnedFd> {
    let create = match kind {
        Kind::Dir => Create::Dir,
        Kind::File => Create::File,
    };
    let fd = open_creating(root_fd, rel, create, OFlag::O_PATH).map_err(|e| VolumeError::Sys {
        step: format!("{} {:?} in {:?}", e.step, e.path.display(), root.display()),
        errno: e.errno,
    })?;
    explain!("{} = {}", openat2_step(root, rel), fd.as_raw_fd());
    Ok(fd)
}
// ANCHOR_END: open_target

/// `/proc/self/fd/<fd>`: a path that names exactly the inode behind `fd`.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The nosuid, nodev, noexec flags of the mount holding `fd`, which a
/// read-only remount must repeat (see chapter 2's `restricting_flags`).
fn existing_flags(fd: &OwnedFd) -> MsFlags {
    nix::sys::statvfs::fstatvfs(fd).map_or(MsFlags::empty(), |stat| restricting_flags(&stat))
}

// ANCHOR: mount_volumes
/// Mounts `mounts` into the container root `root`.
///
/// Each entry pairs a [`Mount`] with its host source from
/// [`VolumeStore::resolve`] (unused for tmpfs). This runs in the
/// container's own mount namespace (made private first, or the mounts would
/// propagate to the host), after the root is set up and before
/// `pivot_root`, while the host paths of the sources are still reachable.
///
/// A named or anonymous volume that is empty first gets what the image has
/// at its mount point, as docker does (see [`crate::populate`]).
///
/// Mounts are made shallowest first (`/data` before `/data/cache`), as
/// docker sorts them: a deeper volume mounted first would be hidden by the
/// shallower one mounted over its parent.
///
/// On error, the mounts already made stay in the container's namespace and
/// go away with it.
pub fn mount_volumes(root: &Path, mounts: &[(Mount, PathBuf)]) -> Result<()> {
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(format!(
        "open({:?}, O_PATH|O_DIRECTORY)",
        root.display()
    )))?;
    let mut ordered: Vec<&(Mount, PathBuf)> = mounts.iter().collect();
    ordered.sort_by_key(|(mount, _)| mount.target.components().count());
    for (mount, source) in ordered {
        // A new volume gets what the image has there (see [`populate`]).
        if mount.source.volume_name().is_some() {
            let rel = mount.target.strip_prefix("/").unwrap_or(&mount.target);
            if populate_volume(root_fd.as_fd(), rel, source)? {
                explain!(
                    "copied {:?} of the image into the new volume {:?}",
                    mount.target.display(),
                    source.display()
                );
            }
        }
        mount_one(root_fd.as_fd(), root, mount, source)?;
    }
    Ok(())
}

fn mount_one(root_fd: BorrowedFd<'_>, root: &Path, mount: &Mount, source: &Path) -> Result<()> {
    // SOLUTION START: ch04-mount-volume mount one volume: open (or create) its target inside the root with RESOLVE_IN_ROOT, check it is of the source's kind, mount a tmpfs or bind the source onto the descriptor, then remount read-only and with the options asked (book: Overlayfs > What and why > Volumes: where data lives)
    let rel = mount
        .target
        .strip_prefix("/")
        .map_err(|_| VolumeError::RelativeTarget(mount.target.clone()))?;
    if rel.as_os_str().is_empty() {
        return Err(VolumeError::TargetIsRoot);
    }
    let source_meta = match mount.source {
        VolumeSource::Tmpfs => None,
        _ => Some(std::fs::metadata(source).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VolumeError::SourceMissing(source.into()),
            _ => io(format!("stat {:?}", source.display()))(e),
        })?),
    };
    let kind = match &source_meta {
        Some(meta) if !meta.is_dir() => Kind::File,
        _ => Kind::Dir,
    };

    // Resolve (and create) the target inside the root, then check that it
    // is of the kind the source is: the kernel refuses a directory on a
    // file, with a less helpful message.
    let target = open_target(root_fd, root, rel, kind)?;
    let stat = fstat(&target).map_err(sys(format!("fstat({:?})", mount.target.display())))?;
    let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    match (kind, is_dir) {
        (Kind::Dir, false) => return Err(VolumeError::DirOnFile(mount.target.clone())),
        (Kind::File, true) => return Err(VolumeError::FileOnDir(mount.target.clone())),
        _ => {}
    }
    let on = fd_path(&target);

    let Some(source_meta) = source_meta else {
        let (extra, data) = tmpfs_flags_and_data(mount.options.as_deref());
        let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | extra;
        if mount.read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount_fs("tmpfs", &on, Some("tmpfs"), flags, Some(&data))?;
        return Ok(());
    };

    // A bind mount of the host directory: MS_REC brings the mounts under
    // it along (a volume that is itself on several filesystems).
    mount_fs(
        &source.to_string_lossy(),
        &on,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    drop(target);
    let restricted = bind_restrictions(mount.options.as_deref())?;
    if !mount.read_only && restricted.is_empty() {
        return Ok(());
    }
    // Read-only is a second step: MS_RDONLY is ignored when creating a
    // bind mount (and so are nosuid, nodev and noexec). The remount must name the new mount, and the old fd
    // still names the directory under it, so the target is opened again;
    // it must now be the root of the bind mount: the source's inode.
    let mounted =
        open_in_root(root_fd, rel, OFlag::O_PATH).map_err(sys(openat2_step(root, rel)))?;
    let now = fstat(&mounted).map_err(sys(format!("fstat({:?})", mount.target.display())))?;
    if now.st_dev != source_meta.dev() || now.st_ino != source_meta.ino() {
        return Err(VolumeError::TargetMoved(mount.target.clone()));
    }
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | existing_flags(&mounted) | restricted;
    if mount.read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    // Only this mount changes: mounts below the source stay writable (a
    // recursive read-only needs mount_setattr(2)).
    mount_fs("none", &fd_path(&mounted), None, flags, None)?;
    Ok(())
    // SOLUTION END
}

/// The flags a bind's options ask for: `nosuid`, `nodev`, `noexec`. The
/// options that name what a bind already is (`bind`, `rbind`, `rw`,
/// `rprivate`, `private`: chapter 2 made every mount private) change
/// nothing; any other is refused rather than ignored.
pub fn bind_restrictions(options: Option<&str>) -> Result<MsFlags> {
    let mut flags = MsFlags::empty();
    for opt in options.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "bind" | "rbind" | "rw" | "ro" | "private" | "rprivate" | "suid" | "dev" | "exec" => {}
            _ => return Err(VolumeError::UnknownBindOption(opt.to_string())),
        }
    }
    Ok(flags)
}
// ANCHOR_END: mount_volumes
