//! The content store: where pulled images live on disk.
//!
//! ```text
//! /var/lib/skiff/                       (the root; tests use a temp dir)
//!   blobs/sha256/<hex>                  verified blobs: manifests, configs, compressed layers
//!   layers/<chain id hex>/              unpacked layers, one directory per chain id
//!   images/<escaped reference>.json     one small record per reference
//!   tmp/                                work in progress; renamed into place when done
//!   lock                                flock(2) target: removals exclude other writers
//! ```
//!
//! **Content addressing.** A blob is stored under its digest, so two images
//! that share a layer share its file, a second pull of the same layer is a
//! `stat`, and a file that is present is known to be good: nothing enters
//! `blobs/` without being hashed on the way in.
//!
//! **Chain ids.** An unpacked layer is not identified by its own digest,
//! because what it looks like on disk depends on the layers below it (its
//! whiteouts delete files from them). The OCI image spec ("Image
//! Configuration", section "Layer ChainID") names a *stack* of layers by
//! hashing the uncompressed layer digests (the config's `diff_ids`) one on
//! top of the other; see [`chain_ids`].
//!
//! **Crash and concurrency safety.** Everything is first written under
//! `tmp/` with a name no other process can pick (pid, a counter, the time),
//! flushed to disk, and then renamed into place. `rename(2)` is atomic: a
//! reader sees the old state or the new one, never half a blob, half a layer
//! or half a record. Two processes pulling the same blob both write their
//! own temp file, and whichever renames last replaces an identical file.
//! Leftovers of pulls that were killed are removed by [`Store::clean_tmp`].

use ch02_namespaces::records::private_dir;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ch01_process::explain;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::{Digest, DigestError, VerifyingWriter};
use crate::reference::Reference;

/// The default root of the store, the analog of `/var/lib/docker`.
pub const DEFAULT_ROOT: &str = "/var/lib/skiff";

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation failed.
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        /// What was being done ("create", "rename", ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error from the kernel.
        source: io::Error,
    },
    /// A downloaded blob did not match its digest or size: nothing was kept.
    #[error("blob {digest} was not stored: {source}")]
    Verify {
        /// The digest the blob should have had.
        digest: Digest,
        /// The mismatch.
        source: Box<DigestError>,
    },
    /// A blob in the store no longer matches its name.
    #[error("blob {path:?} is corrupt ({source}); delete it and pull the image again")]
    Corrupt {
        /// The blob's path.
        path: PathBuf,
        /// The mismatch.
        source: Box<DigestError>,
    },
    /// A blob that should be in the store is not.
    #[error("blob {0} is not in the store: pull the image again")]
    MissingBlob(Digest),
    /// An image record cannot be read.
    #[error(
        "image record {path:?} is not valid JSON ({source}); delete it and pull the image again"
    )]
    Record {
        /// The record's path.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// No record for this reference.
    #[error("no such image {0}: pull it first, or list the images that are here")]
    NoSuchImage(String),
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

// ANCHOR: image_record
/// What the store remembers about one reference.
///
/// Layers and blobs are shared; records are not. Deleting a record and
/// then everything only it referenced is `rmi`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The canonical reference, `docker.io/library/busybox:latest`.
    pub reference: String,
    /// The digest of the image manifest (what `docker images --digests` shows).
    pub manifest: Digest,
    /// The digest of the image config (the image id, in docker's terms).
    pub config: Digest,
    /// The chain ids of the unpacked layers, bottom first: the directories
    /// under `layers/` this image stacks with overlayfs.
    pub layers: Vec<Digest>,
    /// The other blobs kept for this image: its compressed layers and, when
    /// it was chosen from a multi-platform index, that index.
    #[serde(default)]
    pub blobs: Vec<Digest>,
    /// When the record was written, in seconds since the Unix epoch.
    pub created: u64,
}
// ANCHOR_END: image_record

impl ImageRecord {
    /// Every blob this record keeps alive: manifest, config and `blobs`.
    pub fn referenced_blobs(&self) -> impl Iterator<Item = &Digest> {
        [&self.manifest, &self.config]
            .into_iter()
            .chain(&self.blobs)
    }
}

/// Seconds since the Unix epoch, for [`ImageRecord::created`].
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ANCHOR: chain_ids
/// The chain ids of a layer stack, from its diff ids (the sha256 of each
/// *uncompressed* layer tar, bottom first, as listed in the image config's
/// `rootfs.diff_ids`).
///
/// The OCI image spec defines them recursively:
///
/// ```text
/// ChainID(L0)     = DiffID(L0)
/// ChainID(L0..n)  = sha256( ChainID(L0..n-1) + " " + DiffID(Ln) )
/// ```
///
/// where `+` joins the digests as strings (`sha256:…`). Two images that
/// start with the same layers get the same chain ids for that common part,
/// and so share those unpacked directories; the same layer on top of a
/// different base gets a different chain id, because it unpacks into a
/// different tree.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.clone(),
            Some(parent) => {
                let hash = Sha256::digest(format!("{parent} {diff_id}").as_bytes());
                Digest::from_sha256(hash.into())
            }
        };
        chain.push(next);
    }
    chain
}
// ANCHOR_END: chain_ids

// ANCHOR: record_name
/// The file name (without `.json`) of a reference's record.
///
/// References contain `/`, `:`, `@` (and `[`, `]` for IPv6 registries),
/// which cannot or should not appear in a file name. Every byte outside
/// `[A-Za-z0-9._-]` is written as `%` and two uppercase hex digits, like
/// percent-encoding in URLs: `docker.io/library/busybox:latest` becomes
/// `docker.io%2Flibrary%2Fbusybox%3Alatest`. The mapping is one-to-one (a
/// `%` in the input would itself be escaped), the name never contains `/`,
/// and it can never be `.` or `..`, because a reference starts with a
/// letter or digit.
///
/// A long reference could exceed the 255-byte limit on a file name; those
/// (over 200 bytes escaped) are named `=` followed by the sha256 of the
/// reference instead. The record inside still holds the full reference.
pub fn record_file_name(reference: &str) -> String {
    let mut name = String::with_capacity(reference.len() * 3 / 2);
    for b in reference.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > 200 {
        name = format!("={}", hex::encode(Sha256::digest(reference.as_bytes())));
    }
    name
}
// ANCHOR_END: record_name

// ANCHOR: temp_name
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temporary file or directory that no other process and no
/// other thread picks: `<pid>-<counter>-<nanoseconds>`. The pid comes
/// first so that [`Store::clean_tmp`] can tell whose it is.
fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{n}-{nanos}-{prefix}", std::process::id())
}
// ANCHOR_END: temp_name

/// Removes a temporary path on drop unless it was kept.
struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = remove_tree(&path);
        }
    }
}

/// A directory under the store's `tmp/`, removed on drop.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

/// The names in directory `dir`; none when it does not exist.
fn entry_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Removes a file or a directory tree. Unpacked layers may hold directories
/// without write permission (mode 0555 is common in images); when that
/// stops the removal of an unprivileged user, the directories are made
/// writable and the removal tried again. Symlinks are never followed.
fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_dirs_writable(path)?;
            fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

fn make_dirs_writable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Flushes a directory, so that a rename into it survives a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

/// Renames `from` to `to` unless `to` exists. Returns whether it renamed.
///
/// `renameat2(RENAME_NOREPLACE)` checks and renames in one step; plain
/// `rename(2)` would silently replace an empty directory that another
/// process already committed (and possibly mounted as a lower layer).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<bool> {
    use nix::errno::Errno;
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST | Errno::ENOTEMPTY) => Ok(false),
        // Some file systems do not implement the flag: check, then rename.
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            if fs::symlink_metadata(to).is_ok() {
                return Ok(false);
            }
            match fs::rename(from, to) {
                Ok(()) => Ok(true),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
        Err(errno) => Err(errno.into()),
    }
}

/// Whether a process with this pid exists (in our pid namespace).
fn pid_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        // EPERM: it exists, it is just not ours.
        Err(_) => true,
    }
}

/// An exclusive or shared `flock(2)` on the store's lock file; released
/// when dropped.
pub struct StoreLock {
    _lock: nix::fcntl::Flock<File>,
}

// ANCHOR: store
/// A content-addressed image store rooted at one directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating it if needed) the store at `root`, e.g.
    /// [`DEFAULT_ROOT`], and removes what interrupted pulls left in `tmp/`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
            .create(&store.root)
            .map_err(io_err("create", &store.root))?;
        // Root's only: a layer holds an image's setuid programs and device
        // nodes, which no other user of the host may reach.
        for dir in [
            store.root.join("blobs"),
            store.root.join("blobs").join("sha256"),
            store.root.join("layers"),
            store.root.join("images"),
            store.tmp_dir(),
        ] {
            private_dir(&dir).map_err(io_err("create", &dir))?;
        }
        store.clean_tmp()?;
        Ok(store)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Takes the store lock. Removals ([`remove_image`](Store::remove_image))
    /// take it exclusively; a pull that wants to be sure the layers it found
    /// are not removed before its record is written holds it shared from
    /// its first `has_layer` to its `put_image`.
    pub fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        use nix::fcntl::{Flock, FlockArg};
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        let lock = Flock::lock(file, arg).map_err(|(_, errno)| StoreError::Io {
            action: "lock",
            path,
            source: errno.into(),
        })?;
        Ok(StoreLock { _lock: lock })
    }

    // ----- blobs -----

    /// Where a blob lives: `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// Whether the blob is in the store (and so was verified on the way in).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    // ANCHOR: put_blob
    /// Streams a blob into the store, verifying it on the way.
    ///
    /// The bytes go to `tmp/<unique>` through a [`VerifyingWriter`]; only
    /// when digest and size (if given) match is the file flushed to disk and
    /// renamed to [`blob_path`](Store::blob_path). On a mismatch the temp
    /// file is removed and nothing is kept. When the size is known, at most
    /// one byte more than it is read, so a registry that sends an endless
    /// stream cannot fill the disk. A blob already present is not read again.
    pub fn put_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
        reader: impl Read,
    ) -> Result<PathBuf> {
        let path = self.blob_path(digest);
        if path.is_file() {
            explain!("blob {} already present", digest.short());
            return Ok(path);
        }
        let dir = path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;

        let tmp = self.tmp_dir().join(unique_name("blob"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let guard = TempPath {
            path: Some(tmp.clone()),
        };
        let mut writer = VerifyingWriter::new(file);
        let limit = size.map_or(u64::MAX, |s| s.saturating_add(1));
        io::copy(&mut reader.take(limit), &mut writer)
            .map_err(io_err("download the blob into", &tmp))?;
        let written = writer.bytes_written();
        let file = writer
            .finish(digest, size)
            .map_err(|source| StoreError::Verify {
                digest: digest.clone(),
                source: Box::new(source),
            })?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
        guard.keep();
        sync_dir(dir)?;
        explain!("write blob {} ({written} bytes, verified)", digest.short());
        Ok(path)
    }
    // ANCHOR_END: put_blob

    /// Reads a whole blob (a manifest or a config: small ones) and checks
    /// it again, so that a blob damaged on disk is never trusted.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::MissingBlob(digest.clone()));
            }
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        let actual = crate::digest::sha256_of(&bytes);
        if &actual != digest {
            return Err(StoreError::Corrupt {
                path,
                source: Box::new(DigestError::Mismatch {
                    expected: digest.clone(),
                    actual,
                }),
            });
        }
        Ok(bytes)
    }

    // ----- unpacked layers -----

    /// Where an unpacked layer lives: `layers/<chain id hex>`.
    pub fn layer_path(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex())
    }

    /// Whether the layer stack with this chain id is unpacked.
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_path(chain_id).is_dir()
    }

    /// The chain ids of a stack of diff ids; see [`chain_ids`].
    pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
        chain_ids(diff_ids)
    }

    /// Starts unpacking a layer: an empty directory under `tmp/` to unpack
    /// into, which [`PendingLayer::commit`] moves into place.
    pub fn begin_layer(&self, chain_id: &Digest) -> Result<PendingLayer> {
        let tmp = self.tmp_dir().join(unique_name("layer"));
        fs::create_dir(&tmp).map_err(io_err("create", &tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", &tmp))?;
        Ok(PendingLayer {
            tmp: Some(tmp),
            target: self.layer_path(chain_id),
            chain_id: chain_id.clone(),
        })
    }

    /// A fresh directory under `tmp/` for work in progress (a `load`
    /// unpacking its archive), removed when the guard is dropped.
    pub fn work_dir(&self, what: &str) -> Result<WorkDir> {
        let path = self.tmp_dir().join(unique_name(what));
        fs::create_dir(&path).map_err(io_err("create", &path))?;
        Ok(WorkDir { path })
    }

    // ----- image records -----

    /// Where the record of a reference lives; see [`record_file_name`].
    pub fn image_path(&self, reference: &Reference) -> PathBuf {
        self.images_dir()
            .join(format!("{}.json", record_file_name(&reference.to_string())))
    }

    // ANCHOR: put_image
    /// Writes (or replaces) an image record, atomically: to a temp file,
    /// fsync, rename over the old record, fsync the directory. A reader
    /// sees the old record or the new one, never a torn one.
    pub fn put_image(&self, record: &ImageRecord) -> Result<PathBuf> {
        let path = self
            .images_dir()
            .join(format!("{}.json", record_file_name(&record.reference)));
        let tmp = self.tmp_dir().join(unique_name("image.json"));
        let guard = TempPath {
            path: Some(tmp.clone()),
        };
        let mut json = serde_json::to_vec_pretty(record).expect("records serialize");
        json.push(b'\n');
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(&json).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
        guard.keep();
        sync_dir(&self.images_dir())?;
        explain!(
            "write image record {} (manifest {}, {} layers)",
            record.reference,
            record.manifest.short(),
            record.layers.len()
        );
        Ok(path)
    }
    // ANCHOR_END: put_image

    /// The record of a reference, if there is one.
    pub fn image(&self, reference: &Reference) -> Result<Option<ImageRecord>> {
        read_record(&self.image_path(reference))
    }

    /// Every image record, sorted by reference.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.images_dir();
        let mut records = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let path = entry.map_err(io_err("list", &dir))?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(record) = read_record(&path)?
            {
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(records)
    }

    /// Gives the image of `src` a second name, `dst` (`docker tag`). An
    /// existing `dst` is replaced. Returns the new record.
    pub fn tag(&self, src: &Reference, dst: &Reference) -> Result<ImageRecord> {
        let mut record = self
            .image(src)?
            .ok_or_else(|| StoreError::NoSuchImage(src.to_string()))?;
        record.reference = dst.to_string();
        self.put_image(&record)?;
        Ok(record)
    }

    // ANCHOR: remove_image
    /// Removes an image (`docker rmi`): its record, then every unpacked
    /// layer and every blob that no remaining record references. Returns the
    /// chain ids of the layers removed.
    ///
    /// The record goes first: if the process dies half way, what is left is
    /// unreferenced content (wasted space), never a record that names a
    /// missing layer. Layers are renamed into `tmp/` before they are
    /// deleted, so no half-deleted layer is ever visible under `layers/`.
    /// The exclusive store lock keeps a concurrent pull that holds the
    /// shared lock from reusing a layer being removed.
    ///
    /// This does not know about containers: the caller must refuse to
    /// remove an image that a container still uses, or name the layers the
    /// containers mount ([`Store::remove_image_keeping`]).
    pub fn remove_image(&self, reference: &Reference) -> Result<Vec<Digest>> {
        self.remove_image_keeping(reference, &[])
    }

    /// [`Store::remove_image`], keeping the layers whose directories are
    /// in `in_use` (the lower layers that containers mount: `docker rmi
    /// -f` of an image a stopped container was made from takes the name,
    /// not the container's files).
    pub fn remove_image_keeping(
        &self,
        reference: &Reference,
        in_use: &[PathBuf],
    ) -> Result<Vec<Digest>> {
        let _lock = self.lock(true)?;
        let path = self.image_path(reference);
        let record =
            read_record(&path)?.ok_or_else(|| StoreError::NoSuchImage(reference.to_string()))?;
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        sync_dir(&self.images_dir())?;
        explain!("remove image record {}", record.reference);

        let others = self.images()?;
        let used_layers: HashSet<&Digest> = others.iter().flat_map(|r| &r.layers).collect();
        let used_blobs: HashSet<&Digest> =
            others.iter().flat_map(|r| r.referenced_blobs()).collect();

        let mut removed = Vec::new();
        for chain_id in &record.layers {
            if used_layers.contains(chain_id)
                || removed.contains(chain_id)
                || self.mounted(chain_id, in_use)
            {
                continue;
            }
            if !self.layer_path(chain_id).exists() {
                continue;
            }
            self.discard_layer(chain_id)?;
            explain!("remove layer {}", chain_id.short());
            removed.push(chain_id.clone());
        }
        for blob in record.referenced_blobs() {
            if used_blobs.contains(blob) {
                continue;
            }
            let blob_path = self.blob_path(blob);
            match fs::remove_file(&blob_path) {
                Ok(()) => explain!("remove blob {}", blob.short()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &blob_path)(e)),
            }
        }
        Ok(removed)
    }
    // ANCHOR_END: remove_image

    /// Whether a container mounts the layer `chain_id`: one of `in_use` is
    /// its directory or lies inside it.
    fn mounted(&self, chain_id: &Digest, in_use: &[PathBuf]) -> bool {
        let layer = self.layer_path(chain_id);
        in_use.iter().any(|dir| dir.starts_with(&layer))
    }

    /// Removes an unpacked layer: first renamed into `tmp/` (one rename:
    /// a mount that looks for it finds it whole or not at all), then removed.
    fn discard_layer(&self, chain_id: &Digest) -> Result<()> {
        let layer = self.layer_path(chain_id);
        let doomed = self.tmp_dir().join(unique_name("removed-layer"));
        fs::rename(&layer, &doomed).map_err(io_err("rename", &layer))?;
        remove_tree(&doomed).map_err(io_err("remove", &doomed))
    }

    /// Removes every unpacked layer and every blob that no image record
    /// references, and returns their digests with the bytes they took.
    ///
    /// A build leaves such things behind: the layers of its steps when it
    /// names no image, the layers its cache entries point at once the
    /// image is gone (`docker builder prune` and `docker system prune` ask
    /// for them back). The lock is taken exclusively, so this waits for
    /// every build and pull, which hold it shared for as long as they use
    /// a layer they have not recorded yet.
    pub fn remove_unreferenced(&self) -> Result<Vec<(Digest, u64)>> {
        self.remove_unreferenced_keeping(&[])
    }

    /// [`Store::remove_unreferenced`], keeping the layers containers mount
    /// (see [`Store::remove_image_keeping`]).
    pub fn remove_unreferenced_keeping(&self, in_use: &[PathBuf]) -> Result<Vec<(Digest, u64)>> {
        let _lock = self.lock(true)?;
        let records = self.images()?;
        let used_layers: HashSet<String> = records
            .iter()
            .flat_map(|r| &r.layers)
            .map(|d| d.hex().to_string())
            .collect();
        let used_blobs: HashSet<&Digest> =
            records.iter().flat_map(|r| r.referenced_blobs()).collect();
        let mut removed = Vec::new();
        let layers = self.root.join("layers");
        for hex in entry_names(&layers)? {
            let Ok(chain_id) = Digest::parse(&format!("sha256:{hex}")) else {
                continue;
            };
            if used_layers.contains(&hex) || self.mounted(&chain_id, in_use) {
                continue;
            }
            let size = crate::history::directory_size(&self.layer_path(&chain_id)).unwrap_or(0);
            self.discard_layer(&chain_id)?;
            explain!("remove layer {} (no image uses it)", chain_id.short());
            removed.push((chain_id, size));
        }
        let blobs = self.root.join("blobs").join("sha256");
        for hex in entry_names(&blobs)? {
            let Ok(digest) = Digest::parse(&format!("sha256:{hex}")) else {
                continue;
            };
            if used_blobs.contains(&digest) {
                continue;
            }
            let path = self.blob_path(&digest);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(&path) {
                Ok(()) => explain!("remove blob {} (no image uses it)", digest.short()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
            removed.push((digest, size));
        }
        Ok(removed)
    }

    // ANCHOR: clean_tmp
    /// Removes what interrupted pulls left under `tmp/`.
    ///
    /// Only entries whose creating process is gone are removed: the name
    /// starts with the creator's pid, and another process may be pulling
    /// into `tmp/` right now. (A reused pid only delays the cleanup to a
    /// later call.) Returns how many entries were removed.
    pub fn clean_tmp(&self) -> Result<usize> {
        let dir = self.tmp_dir();
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|pid| pid.parse::<i32>().ok());
            if owner.is_some_and(|pid| pid > 0 && pid_alive(pid)) {
                continue;
            }
            let path = entry.path();
            remove_tree(&path).map_err(io_err("remove", &path))?;
            explain!("remove leftover {}", path.display());
            removed += 1;
        }
        Ok(removed)
    }
    // ANCHOR_END: clean_tmp
}
// ANCHOR_END: store

fn read_record(path: &Path) -> Result<Option<ImageRecord>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StoreError::Record {
            path: path.to_path_buf(),
            source,
        })
}

// ANCHOR: pending_layer
/// A layer being unpacked into a temporary directory.
///
/// Unpack into [`path`](PendingLayer::path), then [`commit`](PendingLayer::commit).
/// Dropping it without committing (an error, a panic, a digest mismatch
/// found at the end of the stream) removes the directory: a half-unpacked
/// layer never appears under `layers/`.
#[derive(Debug)]
pub struct PendingLayer {
    tmp: Option<PathBuf>,
    target: PathBuf,
    chain_id: Digest,
}

impl PendingLayer {
    /// The directory to unpack into.
    pub fn path(&self) -> &Path {
        self.tmp.as_deref().expect("present until commit or drop")
    }

    /// The chain id this layer will be stored under.
    pub fn chain_id(&self) -> &Digest {
        &self.chain_id
    }

    /// Flushes the unpacked files to disk and renames the directory to
    /// `layers/<chain id>`. If another process committed the same layer
    /// first, its directory is kept (it has the same content) and ours is
    /// removed. Returns the layer's final path.
    pub fn commit(mut self) -> Result<PathBuf> {
        let tmp = self.tmp.take().expect("present until commit or drop");
        let guard = TempPath {
            path: Some(tmp.clone()),
        };
        // syncfs(2) flushes the whole file system the layer is on: one call
        // instead of an fsync per unpacked file.
        let dir = File::open(&tmp).map_err(io_err("open", &tmp))?;
        nix::unistd::syncfs(&dir).map_err(|e| io_err("syncfs", &tmp)(e.into()))?;
        drop(dir);
        if rename_noreplace(&tmp, &self.target).map_err(io_err("rename", &tmp))? {
            guard.keep();
            let parent = self.target.parent().expect("layers have a parent");
            sync_dir(parent)?;
            explain!(
                "commit layer {} -> {}",
                self.chain_id.short(),
                self.target.display()
            );
        } else {
            // `guard` removes our copy.
            explain!(
                "layer {} already committed by another pull",
                self.chain_id.short()
            );
        }
        Ok(self.target.clone())
    }
}

impl Drop for PendingLayer {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = remove_tree(&tmp);
        }
    }
}
// ANCHOR_END: pending_layer
