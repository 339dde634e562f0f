//! Unpacking an image layer: a tarball from the network, treated as hostile.
//!
//! # What a layer is
//!
//! The OCI image spec (`layer.md`) describes a layer as a *changeset*: a tar
//! archive, usually gzip-compressed, whose entries say what to add, replace or
//! delete on top of the layers below it. In our own words:
//!
//! - every entry is a path relative to the container's root (`etc/passwd`;
//!   writers should not use absolute names or `..`, but readers meet them);
//! - an entry replaces whatever the lower layers have at its path, except that
//!   a directory over a directory merges the two (only the metadata changes);
//! - an empty file `dir/.wh.name` (a *whiteout*) says "`dir/name` is deleted":
//!   it hides `name` of the lower layers, and is never itself a file;
//! - an empty file `dir/.wh..wh..opq` (the *opaque marker*) says "`dir` hides
//!   everything the lower layers have in it": the directory was deleted and
//!   made again;
//! - ownership is numeric (uid and gid from the header; the user and group
//!   *names* are ignored), the mode keeps setuid, setgid and sticky bits, and
//!   the modification time is kept;
//! - the layer's *diff_id* is the sha256 of the **uncompressed** tar stream,
//!   every byte of it (the image config lists the diff_ids, so a layer can be
//!   checked after decompression); the blob digest is the sha256 of the
//!   compressed bytes and is checked elsewhere, when the blob is downloaded.
//!
//! [`unpack`] writes a layer into a directory in the form overlayfs reads
//! (chapter 4's `changes` module shows both forms side by side): a whiteout
//! becomes a character device 0/0, an opaque marker becomes the xattr
//! `trusted.overlay.opaque` = `"y"`. The directory can then be a `lowerdir` of
//! chapter 4's `LayerStack` as it is, without any copy.
//!
//! # The attacks
//!
//! A layer comes from a registry, that is from anybody. Everything in the tar
//! header is chosen by the attacker, and unpacking runs as root on the host.
//! Each row of this table is a test in `tests/extract.rs`:
//!
//! ```text
//!   entry (in order)                        naive extractor writes      we write
//!   ──────────────────────────────────────────────────────────────────────────────────────
//!   ../../evil                              <dest>/../../evil           <dest>/evil
//!   /abs/path                               /abs/path                   <dest>/abs/path
//!   a -> /etc, then a/passwd                the host's /etc/passwd      <dest>/etc/passwd
//!   a -> ../../../../tmp/x, then a/f        the host's /tmp/x/f         <dest>/tmp/x/f
//!   hardlink h => /etc/passwd               a link to the host file     error: not in the layer
//!   symlink s -> /etc/shadow, then file s   the host's /etc/shadow      s replaced by the file
//!   a 1 KiB gzip that inflates to 1 TiB     a full disk                 error past Limits::max_bytes
//!   two million empty files                 an exhausted inode table    error past Limits::max_entries
//!   GNU sparse entry (type S): 1 KiB of     256 MiB of zeros            error: sparse entries refused
//!     tar whose map claims 256 MiB of holes
//!   PAX GNU.sparse.* records (0.0/0.1/1.0)  a file of map text, or      error: sparse entries refused
//!                                           zeros (Go's reader)
//!   a hundred layers just under the cap     a hundred times the cap     error past Limits::max_image_bytes
//! ```
//!
//! # Sparse entries
//!
//! GNU tar can store a file with holes as a *sparse* entry: a map of
//! (offset, length) pieces and only the data of those pieces. The map is
//! the attacker's: a few hundred bytes can describe a file of any size, and
//! an extractor that writes the holes as zeros (as the tar crate's reader
//! presents them) fills the disk from a tiny layer, with the per-layer byte
//! cap counting only what the stream carries. Docker refuses the type-`S`
//! entry ("unhandled tar header type 83"); images are built by tools that
//! never write sparse entries. We refuse both kinds of sparse entry: type
//! `S`, and the PAX forms (`GNU.sparse.*` records, formats 0.0, 0.1 and 1.0)
//! that a plain reader would take for regular files full of map text.
//!
//! # Whole images
//!
//! [`Limits::max_bytes`] caps one layer; an image is many layers, unpacked
//! in parallel. [`ImageBudget`] counts the uncompressed bytes of all of one
//! image's layers across those threads, and every layer stops as soon as the
//! sum passes [`Limits::max_image_bytes`].
//!
//! Checking names with `Path::starts_with` after joining them to the
//! destination does not work: the danger is not in the name but in the
//! symbolic links *already written* by earlier entries of the same layer,
//! which the kernel follows from the host's point of view. And resolving them
//! in user space (canonicalize, then check) races with anything else changing
//! the tree. So every lookup is made by the kernel with
//! `openat2(dest_fd, path, RESOLVE_IN_ROOT)`: symbolic links, absolute or
//! not, and `..` are resolved as if `dest` were `/`, so they cannot leave it.
//! Only parent directories are looked up that way; the last component is
//! created with an `*at` call relative to the parent's descriptor
//! (`mkdirat`, `openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `symlinkat`, `linkat`,
//! `mknodat`), and its metadata is set without following a symbolic link:
//! the last component is never followed.
//!
//! # Device nodes and setuid bits
//!
//! Docker, running as root, creates the device nodes a layer contains and
//! keeps setuid bits: some images need them (`/usr/bin/passwd`, `sudo`, an
//! image that ships `/dev/null`). We do the same. What protects the host is
//! not the unpacking but the running: the container's device cgroup (or
//! chapter 2's minimal `/dev`) refuses access to devices it was not given, and
//! `no_new_privs` with dropped capabilities stops setuid binaries from gaining
//! more than the container already has. A layer can also carry a char device
//! 0/0 directly: in overlay form that *is* a whiteout, the same as `.wh.name`.
//!
//! # On error
//!
//! [`unpack`] stops at the first error and leaves `dest` partly written. It
//! never touches anything outside `dest`, so the caller's cleanup is simple:
//! the store unpacks into a pending-layer directory and removes that whole
//! directory when unpacking fails; only a layer that unpacked completely (and
//! whose diff_id matches the image config) is renamed into place.

use ch01_process::explain;
use ch04_overlayfs::changes::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};
use ch04_overlayfs::resolve::{Create, open_creating, open_in_root};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstat, fstatat, futimens,
    makedev, mkdirat, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{
    Gid, Uid, UnlinkatFlags, fchown, fchownat, linkat, mkfifoat, symlinkat, unlinkat,
};
use sha2::{Digest, Sha256};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tar::EntryType;

/// How much a layer, and an image, may hold before [`unpack`] gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on one layer's uncompressed tar stream, and on the bytes written
    /// to its files.
    pub max_bytes: u64,
    /// Cap on the number of tar entries of one layer.
    pub max_entries: u64,
    /// Cap on the uncompressed tar streams of all the layers of one image
    /// together (counted by an [`ImageBudget`]).
    pub max_image_bytes: u64,
}

impl Default for Limits {
    /// 8 GiB and a million entries per layer, 32 GiB per image: more than
    /// any sane image.
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 30,
            max_entries: 1_000_000,
            max_image_bytes: 32 << 30,
        }
    }
}

// ANCHOR: image_budget
/// The limits of one image's layers, and the uncompressed bytes they have
/// read so far, shared by the threads that unpack them in parallel.
///
/// Only the layers unpacked by this pull count: a layer already in the
/// store costs nothing more.
#[derive(Debug)]
pub struct ImageBudget {
    limits: Limits,
    used: AtomicU64,
}

impl ImageBudget {
    /// A budget of [`Limits::max_image_bytes`], nothing used yet; each layer
    /// is held to the other limits.
    pub fn new(limits: &Limits) -> ImageBudget {
        ImageBudget {
            limits: *limits,
            used: AtomicU64::new(0),
        }
    }

    /// The limits each layer, and the whole image, are held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The bytes counted so far, by every layer.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Counts `bytes` more; false once the image is over its cap (for this
    /// layer and every other one still unpacking).
    fn charge(&self, bytes: u64) -> bool {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        before.saturating_add(bytes) <= self.limits.max_image_bytes
    }
}
// ANCHOR_END: image_budget

/// What [`unpack`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// `sha256:<hex>` of the uncompressed tar stream: the layer's diff_id.
    pub diff_id: String,
    /// Size of the uncompressed tar stream.
    pub bytes: u64,
    /// Tar entries read (a PAX or GNU long-name header and the entry it
    /// describes count as one).
    pub entries: u64,
}

/// How a layer blob is compressed, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Starts with `1f 8b` (media type `...tar+gzip`, what docker pushes).
    Gzip,
    /// A plain tar (media type `...tar`).
    None,
}

/// The zstd frame magic number, `28 b5 2f fd` (media type `...tar+zstd`).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Compression {
    /// Tells the compression from the first bytes of a blob (at least 4 when
    /// the blob has them).
    ///
    /// ```
    /// use ch05_images::extract::Compression;
    /// assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]).unwrap(), Compression::Gzip);
    /// assert_eq!(Compression::detect(b"etc/").unwrap(), Compression::None);
    /// assert!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]).is_err());
    /// ```
    pub fn detect(head: &[u8]) -> Result<Compression> {
        if head.starts_with(&GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if head.starts_with(&ZSTD_MAGIC) {
            Err(ExtractError::Zstd)
        } else {
            Ok(Compression::None)
        }
    }
}

/// Why a layer could not be unpacked. Entry names are shown as the tar has
/// them (lossy UTF-8).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("zstd layers are not supported yet")]
    Zstd,
    #[error("cannot open the layer directory {path:?}: {source}")]
    Dest { path: PathBuf, source: Errno },
    #[error("cannot read the layer: {0}")]
    Read(#[source] io::Error),
    #[error("layer is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("layer has more than the limit of {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("the image's layers together are larger than the limit of {limit} bytes")]
    ImageTooLarge { limit: u64 },
    #[error(
        "entry {entry:?}: sparse files are refused ({format}): a small map can claim \
         gigabytes of holes; rebuild the layer without --sparse"
    )]
    Sparse { entry: String, format: &'static str },
    #[error("entry {entry:?}: the name contains a NUL byte")]
    NulInName { entry: String },
    #[error("entry {entry:?}: bad header: {source}")]
    Header { entry: String, source: io::Error },
    #[error("entry {entry:?}: {path:?} is not a directory")]
    NotADirectory { entry: String, path: PathBuf },
    #[error("entry {entry:?}: a whiteout name cannot be a directory on the path")]
    WhiteoutAsDirectory { entry: String },
    #[error("entry {entry:?}: not a valid whiteout")]
    BadWhiteout { entry: String },
    #[error("entry {entry:?}: only a directory can replace the layer's root")]
    ReplacesRoot { entry: String },
    #[error("entry {entry:?}: a link without a target")]
    NoLinkTarget { entry: String },
    #[error("entry {entry:?}: hardlink target {target:?} does not exist in the layer")]
    HardlinkTargetMissing { entry: String, target: String },
    #[error("entry {entry:?}: the data ended after {got} of {expected} bytes")]
    Truncated {
        entry: String,
        got: u64,
        expected: u64,
    },
    #[error("entry {entry:?}: {step}: {source}")]
    Sys {
        entry: String,
        step: String,
        source: Errno,
    },
    #[error("entry {entry:?}: cannot write the file: {source}")]
    Write { entry: String, source: io::Error },
}

type Result<T> = std::result::Result<T, ExtractError>;

// ANCHOR: hashing_reader
/// Sits between the decompressor and the tar reader: every uncompressed byte
/// goes through the hash, and the stream is cut as soon as it passes the
/// layer's limit or the image's, so a small gzip bomb costs no more than
/// `limit` bytes of work.
struct HashingReader<'a, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    /// The whole image's count, shared with the other layers' readers.
    image: &'a ImageBudget,
    /// Which limit was hit: the tar reader wraps our error in its own, so
    /// this is how [`unpack`] knows the real reason.
    over: Option<Over>,
}

/// The limit a [`HashingReader`] hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    Layer,
    Image,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over.is_some() {
            return Err(io::Error::other("layer over the size limit"));
        }
        // Ask for at most one byte past the limit: enough to know it is
        // passed, without reading (and hashing) much more.
        let room = self.limit.saturating_sub(self.bytes).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.bytes += n as u64;
        if self.bytes > self.limit {
            self.over = Some(Over::Layer);
        } else if !self.image.charge(n as u64) {
            self.over = Some(Over::Image);
        }
        if self.over.is_some() {
            return Err(io::Error::other("layer over the size limit"));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
// ANCHOR_END: hashing_reader

// ANCHOR: unpack
/// Unpacks the layer blob read from `reader` (gzip'd or plain tar) into
/// `dest`, an existing empty directory, in overlayfs form, and returns its
/// diff_id.
///
/// Nothing outside `dest` is ever created, changed or followed, whatever the
/// tar says (see the module documentation for the attacks). On error `dest`
/// is left partly written: the caller removes it.
///
/// The layer is counted as an image of its own against
/// [`Limits::max_image_bytes`]; a pull unpacks an image's layers with
/// [`unpack_in_image`] and one [`ImageBudget`].
pub fn unpack(reader: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked> {
    unpack_in_image(reader, dest, &ImageBudget::new(limits))
}

/// [`unpack`], one layer of an image whose layers share `image` (and its
/// limits).
pub fn unpack_in_image(reader: impl Read, dest: &Path, image: &ImageBudget) -> Result<Unpacked> {
    let limits = image.limits();
    let mut reader = reader;
    // Read the magic bytes, then put them back in front of the stream.
    let mut head = Vec::with_capacity(4);
    (&mut reader)
        .take(4)
        .read_to_end(&mut head)
        .map_err(ExtractError::Read)?;
    let compression = Compression::detect(&head)?;
    let stream = io::Cursor::new(head).chain(reader);
    let decompressed: Box<dyn Read> = match compression {
        // Multi-member: Go's gzip reader (docker's) accepts concatenated
        // gzip members, so some pushed layers have them.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::None => Box::new(stream),
    };
    let root = nix::fcntl::open(
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| ExtractError::Dest {
        path: dest.to_path_buf(),
        source,
    })?;
    explain!(
        "unpack {compression:?} layer into {dest:?}: every name resolved with openat2(RESOLVE_IN_ROOT)"
    );

    let mut hashing = HashingReader {
        inner: decompressed,
        hasher: Sha256::new(),
        bytes: 0,
        limit: limits.max_bytes,
        image,
        over: None,
    };
    let mut applier = Applier {
        root,
        limits: *limits,
        written: 0,
        entries: 0,
        dirs: Vec::new(),
    };
    let applied = applier.apply_all(&mut tar::Archive::new(&mut hashing));
    // The tar reader stops at the end-of-archive blocks; the bytes after them
    // (more zero blocks, padding to a 10 KiB record) are part of the stream
    // that the diff_id covers, and reading them to the end also makes the
    // gzip decoder check its trailer (CRC and length).
    let drained = applied.and_then(|()| {
        io::copy(&mut hashing, &mut io::sink())
            .map(drop)
            .map_err(ExtractError::Read)
    });
    match hashing.over {
        Some(Over::Layer) => {
            return Err(ExtractError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        Some(Over::Image) => {
            return Err(ExtractError::ImageTooLarge {
                limit: limits.max_image_bytes,
            });
        }
        None => {}
    }
    drained?;
    applier.set_directory_times()?;

    let diff_id = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    explain!(
        "layer unpacked: {} entries, {} bytes, diff_id {diff_id}",
        applier.entries,
        hashing.bytes
    );
    Ok(Unpacked {
        diff_id,
        bytes: hashing.bytes,
        entries: applier.entries,
    })
}
// ANCHOR_END: unpack

/// A directory whose times are set once everything is written: creating a
/// file in it changes its mtime.
struct DirTimes {
    path: PathBuf,
    ino: u64,
    mtime: TimeSpec,
}

/// The state of one unpack.
struct Applier {
    /// `dest`, opened: the root of every lookup.
    root: OwnedFd,
    limits: Limits,
    /// Bytes written to regular files so far.
    written: u64,
    entries: u64,
    dirs: Vec<DirTimes>,
}

/// One tar entry's header, read once.
struct Meta {
    uid: u32,
    gid: u32,
    mode: Mode,
    mtime: TimeSpec,
}

/// Which names of `dest` an entry touches, after cleaning.
struct Target {
    /// The entry's name as the tar has it, for messages.
    entry: String,
    /// The directories above the last component, relative to `dest`.
    parent: PathBuf,
    /// The last component; empty for `dest` itself.
    name: OsString,
}

impl Target {
    fn path(&self) -> PathBuf {
        self.parent.join(&self.name)
    }

    fn sys(&self, step: impl Into<String>) -> impl FnOnce(Errno) -> ExtractError + '_ {
        let step = step.into();
        move |source| ExtractError::Sys {
            entry: self.entry.clone(),
            step,
            source,
        }
    }
}

// ANCHOR: clean
/// Turns a tar name into normal components below `dest`, the way a shell
/// would read it with `dest` as `/`: empty and `.` components vanish, `..`
/// removes the component before it and stops at the root, and a leading `/`
/// means nothing more. `../../evil` and `/evil` are both `evil`.
///
/// This is lexical only: a `..` after a symbolic link would mean "the
/// parent of the link's target" to the kernel, here it means "the parent of
/// the link". Either way the result stays inside `dest`; docker cleans names
/// the same way (Go's `filepath.Clean`).
fn clean(raw: &[u8], entry: &str) -> Result<Vec<OsString>> {
    if raw.contains(&0) {
        return Err(ExtractError::NulInName {
            entry: entry.to_string(),
        });
    }
    let mut parts: Vec<OsString> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(OsStr::from_bytes(name).to_owned()),
        }
    }
    Ok(parts)
}
// ANCHOR_END: clean

fn target(raw: &[u8], entry: &str) -> Result<Target> {
    let mut parts = clean(raw, entry)?;
    let name = parts.pop().unwrap_or_default();
    if parts
        .iter()
        .any(|p| p.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()))
    {
        return Err(ExtractError::WhiteoutAsDirectory {
            entry: entry.to_string(),
        });
    }
    Ok(Target {
        entry: entry.to_string(),
        parent: parts.iter().collect(),
        name,
    })
}

// ANCHOR: dir_handle
/// A directory, as a handle for `*at` calls (`O_PATH`).
const DIR_HANDLE: OFlag = OFlag::O_PATH.union(OFlag::O_DIRECTORY);
// ANCHOR_END: dir_handle

// ANCHOR: parent
impl Applier {
    /// Opens the parent directory of `target`, creating the directories that
    /// are missing (mode 0755, as docker does for parents a layer does not
    /// list).
    ///
    /// A dangling symbolic link on the way (`a -> /etc` when the layer has no
    /// `etc` yet) is followed as the kernel would follow it with `dest` as
    /// `/`: the missing directory is created at the link's target, inside
    /// `dest`. This is chapter 4's walk, the one that makes volume targets:
    /// each step a fresh RESOLVE_IN_ROOT lookup from `dest`, each creation
    /// a `mkdirat` in a directory found that way.
    fn open_parent(&self, target: &Target) -> Result<OwnedFd> {
        open_creating(self.root.as_fd(), &target.parent, Create::Dir, DIR_HANDLE)
            .map_err(|e| self.lookup_error(target, &e.path, e.errno))
    }

    fn lookup_error(&self, target: &Target, path: &Path, errno: Errno) -> ExtractError {
        match errno {
            Errno::ENOTDIR => ExtractError::NotADirectory {
                entry: target.entry.clone(),
                path: path.to_path_buf(),
            },
            errno => target.sys(format!(
                "openat2({path:?}, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)"
            ))(errno),
        }
    }
}
// ANCHOR_END: parent

// ANCHOR: refuse_sparse
/// Refuses a sparse entry, before anything of it is written: GNU's type `S`,
/// and the PAX formats, which are regular entries with `GNU.sparse.*`
/// records (`size`, `offset` and `numbytes` in 0.0, `map` in 0.1, `major`,
/// `minor`, `name` and `realsize` in 1.0, whose map is in the data).
fn refuse_sparse<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<()> {
    let refuse = |format| {
        Err(ExtractError::Sparse {
            entry: name.to_string(),
            format,
        })
    };
    if entry.header().entry_type() == EntryType::GNUSparse {
        return refuse("GNU tar type S");
    }
    let records = entry
        .pax_extensions()
        .map_err(|source| ExtractError::Header {
            entry: name.to_string(),
            source,
        })?;
    for record in records.into_iter().flatten() {
        let record = record.map_err(|source| ExtractError::Header {
            entry: name.to_string(),
            source,
        })?;
        if record.key_bytes().starts_with(b"GNU.sparse.") {
            return refuse("PAX GNU.sparse records");
        }
    }
    Ok(())
}
// ANCHOR_END: refuse_sparse

impl Applier {
    fn apply_all<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<()> {
        for entry in archive.entries().map_err(ExtractError::Read)? {
            let mut entry = entry.map_err(ExtractError::Read)?;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(ExtractError::TooManyEntries {
                    limit: self.limits.max_entries,
                });
            }
            self.apply(&mut entry)?;
        }
        Ok(())
    }

    // ANCHOR: apply
    /// Applies one tar entry.
    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let target = target(&raw, &name)?;
        refuse_sparse(entry, &name)?;
        let header = entry.header();
        let kind = header.entry_type();
        let bad = |source| ExtractError::Header {
            entry: name.clone(),
            source,
        };
        let id = |v: u64| {
            u32::try_from(v).map_err(|_| bad(io::Error::other(format!("id {v} out of range"))))
        };
        let meta = Meta {
            uid: id(header.uid().map_err(bad)?)?,
            gid: id(header.gid().map_err(bad)?)?,
            mode: Mode::from_bits_truncate(header.mode().map_err(bad)? & 0o7777),
            mtime: TimeSpec::new(
                i64::try_from(header.mtime().map_err(bad)?).unwrap_or(i64::MAX),
                0,
            ),
        };
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        if link.as_ref().is_some_and(|l| l.contains(&0)) {
            return Err(ExtractError::NulInName { entry: name });
        }

        let base = target.name.as_bytes();
        if base.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(&target, &meta);
        }
        match kind {
            EntryType::Directory => self.directory(&target, &meta, entry),
            _ if target.name.is_empty() => Err(ExtractError::ReplacesRoot { entry: name }),
            EntryType::Regular | EntryType::Continuous => self.file(&target, &meta, entry),
            EntryType::Symlink => {
                let link = link.ok_or(ExtractError::NoLinkTarget { entry: name })?;
                self.symlink(&target, &meta, &link)
            }
            EntryType::Link => {
                let link = link.ok_or(ExtractError::NoLinkTarget { entry: name })?;
                self.hardlink(&target, &link)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let major = header.device_major().map_err(bad)?.unwrap_or(0);
                let minor = header.device_minor().map_err(bad)?.unwrap_or(0);
                self.special(&target, &meta, kind, major, minor)
            }
            other => {
                explain!("skip {name:?}: tar entry type {other:?} has no place in a layer");
                Ok(())
            }
        }
    }
    // ANCHOR_END: apply

    // ANCHOR: whiteout
    /// `dir/.wh..wh..opq` and `dir/.wh.name`, in overlay form.
    ///
    /// The OCI spec says a whiteout hides what the *lower* layers have; within
    /// one layer the entries simply apply in order, as docker applies them:
    /// a whiteout removes `name` from this layer's directory if an earlier
    /// entry wrote it, and a later entry `name` replaces the whiteout.
    fn whiteout(&mut self, target: &Target, meta: &Meta) -> Result<()> {
        // SOLUTION START: ch05-whiteout apply an OCI whiteout in overlay form: .wh..wh..opq makes its directory opaque (the overlay xattr), .wh.NAME removes NAME from this layer and leaves a character device 0/0 in its place (book: Images > What and why > Layers are hostile input)
        let base = &target.name.as_bytes()[WHITEOUT_PREFIX.len()..];
        let parent = self.open_parent(target)?;
        if target.name.as_bytes() == OPAQUE_MARKER.as_bytes() {
            let dir = openat(
                &parent,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(target.sys("open the directory"))?;
            explain!(
                "fsetxattr({:?}, {OPAQUE_XATTR:?}, \"y\")  (opaque: the lower layers' contents are hidden)",
                target.parent
            );
            return set_xattr(dir.as_fd(), OPAQUE_XATTR, b"y")
                .map_err(target.sys(format!("fsetxattr({OPAQUE_XATTR})")));
        }
        if base.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            // `.wh..wh.plnk` and friends: aufs bookkeeping, not content.
            explain!("skip {:?}: aufs metadata", target.entry);
            return Ok(());
        }
        if matches!(base, b"" | b"." | b"..") {
            return Err(ExtractError::BadWhiteout {
                entry: target.entry.clone(),
            });
        }
        let name = OsStr::from_bytes(base);
        remove_all_at(parent.as_fd(), name).map_err(target.sys(format!("remove {name:?}")))?;
        explain!(
            "mknodat({:?}, {name:?}, S_IFCHR, 0/0)  (whiteout: {:?} deleted from the lower layers)",
            target.parent,
            target.parent.join(name)
        );
        mknodat(&parent, name, SFlag::S_IFCHR, Mode::empty(), 0)
            .map_err(target.sys(format!("mknodat({name:?}, S_IFCHR, 0/0)")))?;
        fchownat(
            &parent,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(target.sys(format!("fchownat({name:?})")))
        // SOLUTION END
    }
    // ANCHOR_END: whiteout

    /// Removes what an earlier entry left at the target's name, so that the
    /// new entry can be created with `O_EXCL`: the old name may be a symbolic
    /// link, and replacing it must never mean writing through it.
    fn replace(&self, parent: &OwnedFd, target: &Target) -> Result<()> {
        remove_all_at(parent.as_fd(), &target.name)
            .map_err(target.sys(format!("remove the old {:?}", target.path())))
    }

    // ANCHOR: directory
    /// A directory. One already at the name is kept, only its metadata
    /// changes (a layer's directory merges with what is below it); anything
    /// else at the name is replaced. Its times are set at the very end.
    fn directory<R: Read>(
        &mut self,
        target: &Target,
        meta: &Meta,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        let dir = if target.name.is_empty() {
            // `./`: the layer's root, that is `dest` itself.
            openat(
                &self.root,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(target.sys("open the root"))?
        } else {
            let parent = self.open_parent(target)?;
            let existing = fstatat(
                &parent,
                target.name.as_os_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            );
            let is_dir = existing.is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
            });
            if !is_dir {
                self.replace(&parent, target)?;
                mkdirat(
                    &parent,
                    target.name.as_os_str(),
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(target.sys("mkdirat"))?;
            }
            openat(
                &parent,
                target.name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(target.sys("open the directory"))?
        };
        set_owner_mode(dir.as_fd(), target, meta)?;
        set_pax_xattrs(dir.as_fd(), target, entry)?;
        let ino = fstat(&dir).map_err(target.sys("fstat"))?.st_ino;
        self.dirs.push(DirTimes {
            path: target.path(),
            ino,
            mtime: meta.mtime,
        });
        Ok(())
    }
    // ANCHOR_END: directory

    // ANCHOR: file
    /// A regular file, created with `O_CREAT|O_EXCL|O_NOFOLLOW` once the old
    /// name is gone: whatever an earlier entry left there (a symlink to the
    /// host's `/etc/shadow`, say) is removed, never written through. Owner,
    /// mode and times are set on the open descriptor, after the data.
    fn file<R: Read>(
        &mut self,
        target: &Target,
        meta: &Meta,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        let parent = self.open_parent(target)?;
        self.replace(&parent, target)?;
        let fd = openat(
            &parent,
            target.name.as_os_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(target.sys("openat(O_CREAT|O_EXCL|O_NOFOLLOW)"))?;
        let xattrs = pax_xattrs(target, entry)?;
        let mut file = File::from(fd);
        let expected = entry.size();
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(ExtractError::Read)?;
            if n == 0 {
                break;
            }
            got += n as u64;
            self.written += n as u64;
            if self.written > self.limits.max_bytes {
                return Err(ExtractError::TooLarge {
                    limit: self.limits.max_bytes,
                });
            }
            file.write_all(&buf[..n])
                .map_err(|source| ExtractError::Write {
                    entry: target.entry.clone(),
                    source,
                })?;
        }
        if got != expected {
            return Err(ExtractError::Truncated {
                entry: target.entry.clone(),
                got,
                expected,
            });
        }
        set_owner_mode(file.as_fd(), target, meta)?;
        for (name, value) in xattrs {
            set_one_xattr(file.as_fd(), target, &name, &value)?;
        }
        futimens(&file, &meta.mtime, &meta.mtime).map_err(target.sys("futimens"))
    }
    // ANCHOR_END: file

    // ANCHOR: symlink
    fn symlink(&mut self, target: &Target, meta: &Meta, link: &[u8]) -> Result<()> {
        let parent = self.open_parent(target)?;
        self.replace(&parent, target)?;
        // The link's text is stored as is: it is only ever followed later by
        // RESOLVE_IN_ROOT lookups, or inside the container, where `/` is the
        // container's root.
        symlinkat(OsStr::from_bytes(link), &parent, target.name.as_os_str())
            .map_err(target.sys("symlinkat"))?;
        self.set_meta_at(&parent, target, meta, false)
    }
    // ANCHOR_END: symlink

    // ANCHOR: hardlink
    /// A hard link: the target is another name *of this layer*, resolved in
    /// `dest` like any name. `linkat` gets two descriptors found by
    /// RESOLVE_IN_ROOT and no AT_SYMLINK_FOLLOW, so it can only link an inode
    /// that is already inside `dest`: never a host file. Its metadata is the
    /// target's, set by the target's own entry.
    fn hardlink(&mut self, target: &Target, link: &[u8]) -> Result<()> {
        let link_name = String::from_utf8_lossy(link).into_owned();
        let missing = || ExtractError::HardlinkTargetMissing {
            entry: target.entry.clone(),
            target: link_name.clone(),
        };
        let old = self::target(link, &target.entry)?;
        if old.name.is_empty() {
            return Err(missing());
        }
        let old_parent = match open_in_root(self.root.as_fd(), &old.parent, DIR_HANDLE) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Err(missing()),
            Err(errno) => return Err(self.lookup_error(&old, &old.parent, errno)),
        };
        // Check before removing anything at the new name.
        fstatat(
            &old_parent,
            old.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|_| missing())?;
        let parent = self.open_parent(target)?;
        self.replace(&parent, target)?;
        match linkat(
            &old_parent,
            old.name.as_os_str(),
            &parent,
            target.name.as_os_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) => Err(missing()),
            Err(errno) => Err(target.sys(format!("linkat({link_name:?})"))(errno)),
        }
    }
    // ANCHOR_END: hardlink

    // ANCHOR: special
    /// Device nodes and fifos. Docker creates device nodes when it runs as
    /// root, and so do we: see the module documentation for why that is safe.
    fn special(
        &mut self,
        target: &Target,
        meta: &Meta,
        kind: EntryType,
        major: u32,
        minor: u32,
    ) -> Result<()> {
        let parent = self.open_parent(target)?;
        self.replace(&parent, target)?;
        let name = target.name.as_os_str();
        let created = if kind == EntryType::Fifo {
            mkfifoat(&parent, name, Mode::from_bits_truncate(0o600))
        } else {
            let sflag = if kind == EntryType::Char {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            explain!(
                "mknodat({:?}, {name:?}, {sflag:?}, {major}:{minor})  (device node from the layer)",
                target.parent
            );
            mknodat(
                &parent,
                name,
                sflag,
                Mode::from_bits_truncate(0o600),
                makedev(major.into(), minor.into()),
            )
        };
        created.map_err(target.sys(format!("create {kind:?}")))?;
        self.set_meta_at(&parent, target, meta, true)
    }
    // ANCHOR_END: special

    /// Owner, mode (unless a symlink: its mode means nothing) and times of the
    /// last component, never following it.
    fn set_meta_at(
        &self,
        parent: &OwnedFd,
        target: &Target,
        meta: &Meta,
        mode: bool,
    ) -> Result<()> {
        let name = target.name.as_os_str();
        fchownat(
            parent,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(target.sys("fchownat(AT_SYMLINK_NOFOLLOW)"))?;
        if mode {
            // After the chown, which clears setuid and setgid bits.
            fchmodat(parent, name, meta.mode, FchmodatFlags::NoFollowSymlink)
                .map_err(target.sys("fchmodat(AT_SYMLINK_NOFOLLOW)"))?;
        }
        utimensat(
            parent,
            name,
            &meta.mtime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(target.sys("utimensat(AT_SYMLINK_NOFOLLOW)"))
    }

    /// Sets the directories' times, last: every entry written into a
    /// directory changed its mtime. A directory that a later entry replaced
    /// (another inode at the path now) is skipped.
    fn set_directory_times(&self) -> Result<()> {
        for dir in &self.dirs {
            let fd = match open_in_root(
                self.root.as_fd(),
                &dir.path,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(source) => {
                    return Err(ExtractError::Sys {
                        entry: dir.path.display().to_string(),
                        step: "open to set its times".into(),
                        source,
                    });
                }
            };
            let sys = |step: &str| {
                let step = step.to_string();
                move |source| ExtractError::Sys {
                    entry: dir.path.display().to_string(),
                    step,
                    source,
                }
            };
            if fstat(&fd).map_err(sys("fstat"))?.st_ino == dir.ino {
                futimens(&fd, &dir.mtime, &dir.mtime).map_err(sys("futimens"))?;
            }
        }
        Ok(())
    }
}

/// Owner then mode (the chown clears setuid and setgid bits) of an open
/// file or directory.
fn set_owner_mode(fd: BorrowedFd<'_>, target: &Target, meta: &Meta) -> Result<()> {
    fchown(
        fd,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
    )
    .map_err(target.sys("fchown"))?;
    fchmod(fd, meta.mode).map_err(target.sys("fchmod"))
}

// ANCHOR: xattrs
/// The xattrs a PAX header carries (`SCHILY.xattr.<name>`), for example
/// `security.capability` on `ping`. The `trusted.*` namespace is skipped:
/// overlayfs keeps its own records there (opaque directories, redirects,
/// metacopy), and a layer must not forge them.
fn pax_xattrs<R: Read>(
    target: &Target,
    entry: &mut tar::Entry<'_, R>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut found = Vec::new();
    let Some(extensions) = entry
        .pax_extensions()
        .map_err(|source| ExtractError::Header {
            entry: target.entry.clone(),
            source,
        })?
    else {
        return Ok(found);
    };
    for extension in extensions {
        let extension = extension.map_err(|source| ExtractError::Header {
            entry: target.entry.clone(),
            source,
        })?;
        let Ok(key) = extension.key() else { continue };
        let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
            continue;
        };
        if name.starts_with("trusted.") {
            explain!(
                "skip xattr {name:?} of {:?}: reserved for overlayfs",
                target.entry
            );
            continue;
        }
        found.push((name.to_string(), extension.value_bytes().to_vec()));
    }
    Ok(found)
}
// ANCHOR_END: xattrs

fn set_pax_xattrs<R: Read>(
    fd: BorrowedFd<'_>,
    target: &Target,
    entry: &mut tar::Entry<'_, R>,
) -> Result<()> {
    for (name, value) in pax_xattrs(target, entry)? {
        set_one_xattr(fd, target, &name, &value)?;
    }
    Ok(())
}

fn set_one_xattr(fd: BorrowedFd<'_>, target: &Target, name: &str, value: &[u8]) -> Result<()> {
    set_xattr(fd, name, value).map_err(target.sys(format!("fsetxattr({name})")))
}

/// `fsetxattr(2)` on an open (not `O_PATH`) descriptor.
fn set_xattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> nix::Result<()> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: name is NUL-terminated, and value is valid for value.len()
    // bytes; both outlive the call, which only reads them.
    let ret = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

// ANCHOR: remove_all_at
/// Removes `name` in `parent` and, for a directory, everything below it,
/// never following a symbolic link: each directory is opened with
/// `O_NOFOLLOW` relative to its parent's descriptor, and each name inside is
/// removed with `unlinkat`. Open directories are kept on a heap-allocated
/// stack, so a deep tree cannot overflow the call stack. A missing name is
/// not an error.
fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    match unlinkat(parent, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(errno) => return Err(errno),
    }
    // Each level: the open directory, its name, and its subdirectories still
    // to empty.
    let mut stack: Vec<(Dir, OsString, Vec<OsString>)> = Vec::new();
    let first = open_and_empty(parent, name)?;
    stack.push((first.0, name.to_owned(), first.1));
    while let Some((dir, _, subdirs)) = stack.last_mut() {
        if let Some(sub) = subdirs.pop() {
            let (child, grandchildren) = open_and_empty(dir.as_fd(), &sub)?;
            stack.push((child, sub, grandchildren));
            continue;
        }
        let Some((_, done, _)) = stack.pop() else {
            break;
        };
        let up = stack.last().map_or(parent, |(dir, _, _)| dir.as_fd());
        unlinkat(up, done.as_os_str(), UnlinkatFlags::RemoveDir)?;
    }
    Ok(())
}

/// Opens directory `name` in `parent` (not following a symlink), removes
/// every non-directory in it, and returns it with the names of its
/// subdirectories.
fn open_and_empty(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<(Dir, Vec<OsString>)> {
    let mut dir = Dir::openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let bytes = entry?.file_name().to_bytes().to_vec();
        if bytes != b"." && bytes != b".." {
            names.push(OsString::from_vec(bytes));
        }
    }
    let mut subdirs = Vec::new();
    for child in names {
        match unlinkat(dir.as_fd(), child.as_os_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(Errno::EISDIR) => subdirs.push(child),
            Err(errno) => return Err(errno),
        }
    }
    Ok((dir, subdirs))
}
// ANCHOR_END: remove_all_at
