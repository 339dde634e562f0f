//! Running from a sealed copy of our own binary (runc's fix for CVE-2019-5736).
//!
//! # The attack
//!
//! `/proc/PID/exe` is not a symbolic link like the others: opening it opens
//! the very file that process runs, wherever it lies, even outside the
//! opener's root directory and mount namespace. Now picture `exec` into a
//! container whose `/bin/sh` is a script that starts with `#!/proc/self/exe`.
//! The kernel runs the script's interpreter, and `/proc/self/exe` of the
//! process that runs it is *our* binary, the one on the host. A process in
//! the container then:
//!
//! 1. opens `/proc/PID/exe` of that process (read-only: allowed, it runs as
//!    the same user);
//! 2. waits for it to exit (while a file is being executed, the kernel
//!    refuses to open it for writing: `ETXTBSY`);
//! 3. opens `/proc/self/fd/N` again, for writing this time, and replaces the
//!    host's binary. The next time root runs the engine on the host, it runs
//!    the attacker's program.
//!
//! # The fix
//!
//! Never let a container see the file on disk: before the engine enters
//! any container, it re-executes itself from a copy in memory that nobody
//! can change.
//!
//! - `memfd_create` makes a file that lives only in memory;
//! - we copy our binary into it (`sendfile`);
//! - `fcntl(F_ADD_SEALS)` seals it: `F_SEAL_WRITE`, `F_SEAL_SHRINK` and
//!   `F_SEAL_GROW` forbid every change of its bytes or size, to everyone,
//!   root included, and `F_SEAL_SEAL` forbids removing the seals;
//! - `execveat(fd, "", argv, envp, AT_EMPTY_PATH)` runs it with the same
//!   arguments and environment.
//!
//! From then on `/proc/self/exe` is the sealed copy: a container that gets
//! hold of it can read it but never write it, and the binary on disk is out
//! of its reach.
//!
//! Whether we already run from a sealed copy is decided by asking the
//! kernel (`F_GET_SEALS` on `/proc/self/exe`), never by trusting a marker in
//! the environment, which anyone starting us could set.
//!
//! # When to call it
//!
//! First thing in `main` (after parsing the command line is fine), while the
//! process is single-threaded: `execve` would kill other threads, and we
//! edit our own environment, which no other thread may read meanwhile.

use crate::explain;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, SealFlag, fcntl};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// The seals that make the copy immutable: no write, no shrink, no growth,
/// and no way to remove a seal.
const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// The name of the copy, as `/proc/PID/exe` shows it:
/// `/memfd:skiff-sealed-exe (deleted)`.
const MEMFD_NAME: &std::ffi::CStr = c"skiff-sealed-exe";

/// Set in the environment of the re-executed process, which removes it at
/// once: it only guards against re-executing in a loop (if the kernel ever
/// ran us unsealed after all) and never reaches a container or a child.
pub const REEXEC_MARKER: &str = "_SKIFF_SEALED_REEXEC";

/// Why the engine could not move to a sealed copy of itself.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "this process runs {0} threads: the engine must re-execute itself before it starts any thread (call ensure_sealed first thing in main)"
    )]
    Threaded(usize),
    #[error("opening our own binary through /proc/self/exe: {0}")]
    OpenSelf(std::io::Error),
    #[error(
        "memfd_create: {0} (is /proc/sys/vm/memfd_noexec 2? a sealed copy of the engine must be executable)"
    )]
    Memfd(Errno),
    #[error("copying our binary into memory: {0}")]
    Copy(std::io::Error),
    #[error("copying our binary into memory: the binary changed size while it was copied")]
    Truncated,
    #[error("sealing the in-memory copy of our binary: {0}")]
    Seal(Errno),
    #[error("re-executing from the sealed copy of our binary: {0}")]
    Exec(Errno),
    #[error(
        "re-executed from a sealed copy, yet /proc/self/exe is not sealed: refusing to re-execute again"
    )]
    StillUnsealed,
}

// ANCHOR: ensure_sealed
/// Makes sure this process runs from a sealed in-memory copy of its binary,
/// re-executing itself from one if it does not (this call then does not
/// return). Arguments and environment are kept.
pub fn ensure_sealed() -> Result<(), SealError> {
    let reexecuted = std::env::var_os(REEXEC_MARKER).is_some();
    if reexecuted {
        require_single_thread()?;
        // SAFETY: the process has a single thread (checked just above), so
        // no other thread reads the environment while we change it.
        unsafe { std::env::remove_var(REEXEC_MARKER) };
    }
    if running_sealed() {
        return Ok(());
    }
    if reexecuted {
        return Err(SealError::StillUnsealed);
    }
    require_single_thread()?;

    let exe = File::open("/proc/self/exe").map_err(SealError::OpenSelf)?;
    let copy = create_memfd()?;
    copy_file(&exe, &copy)?;
    explain!(
        "sendfile({}, open(\"/proc/self/exe\"), the whole binary)",
        copy.as_raw_fd()
    );
    fcntl(&copy, FcntlArg::F_ADD_SEALS(SEALS)).map_err(SealError::Seal)?;
    explain!(
        "fcntl({}, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)",
        copy.as_raw_fd()
    );
    Err(reexec(&copy))
}
// ANCHOR_END: ensure_sealed

/// Whether this process runs from a sealed copy: `/proc/self/exe` carries
/// every seal of [`ensure_sealed`]. Only a memfd can: other files answer
/// `F_GET_SEALS` with `EINVAL`, and tmpfs files, which also know seals, are
/// born with `F_SEAL_SEAL`, so no other seal can ever be added to them.
pub fn running_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    match fcntl(&exe, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_truncate(bits).contains(SEALS),
        Err(_) => false,
    }
}

fn require_single_thread() -> Result<(), SealError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(1);
    if threads > 1 {
        return Err(SealError::Threaded(threads));
    }
    Ok(())
}

/// A memfd that may be sealed and executed, closed on `execve` so that the
/// program we run (and any container) never holds it.
///
/// `MFD_EXEC` says "this memfd will be executed" (Linux 6.3 and later; where
/// `vm.memfd_noexec` is 1, a memfd without it cannot be executed). Older
/// kernels reject the flag with `EINVAL`, and there every memfd is executable.
fn create_memfd() -> Result<OwnedFd, SealError> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut flags = base | libc::MFD_EXEC;
    // SAFETY: MEMFD_NAME is a valid C string; flags are plain integers.
    let mut fd = unsafe { libc::memfd_create(MEMFD_NAME.as_ptr(), flags) };
    if fd < 0 && Errno::last() == Errno::EINVAL {
        flags = base;
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(MEMFD_NAME.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(SealError::Memfd(Errno::last()));
    }
    explain!(
        "memfd_create({MEMFD_NAME:?}, MFD_CLOEXEC|MFD_ALLOW_SEALING{}) = {fd}",
        if flags & libc::MFD_EXEC != 0 {
            "|MFD_EXEC"
        } else {
            ""
        }
    );
    // SAFETY: memfd_create just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Copies all of `from` into `to` inside the kernel, with `sendfile`.
fn copy_file(from: &File, to: &OwnedFd) -> Result<(), SealError> {
    let size = from.metadata().map_err(SealError::Copy)?.len();
    let mut copied = 0u64;
    while copied < size {
        let left = usize::try_from(size - copied).unwrap_or(usize::MAX);
        // SAFETY: both descriptors are open; a null offset makes sendfile
        // read from (and advance) the source's own file position.
        let sent =
            unsafe { libc::sendfile(to.as_raw_fd(), from.as_raw_fd(), std::ptr::null_mut(), left) };
        match sent {
            -1 if Errno::last() == Errno::EINTR => continue,
            -1 => return Err(SealError::Copy(Errno::last().into())),
            0 => return Err(SealError::Truncated),
            n => copied += n as u64,
        }
    }
    Ok(())
}

/// Runs the sealed copy with our arguments and environment, plus the
/// marker. Returns only on failure.
fn reexec(copy: &OwnedFd) -> SealError {
    let argv: Vec<CString> = std::env::args_os()
        .map(|arg| CString::new(arg.as_bytes()).expect("arguments never hold NUL bytes"))
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(key, value)| {
            let mut entry = key.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).expect("the environment never holds NUL bytes")
        })
        .collect();
    env.push(CString::new(format!("{REEXEC_MARKER}=1")).expect("no NUL in the marker"));
    explain!(
        "execveat({}, \"\", our argv, our environment + {REEXEC_MARKER}=1, AT_EMPTY_PATH)",
        copy.as_raw_fd()
    );
    // execveat with an empty path and AT_EMPTY_PATH runs the file the
    // descriptor refers to. The descriptor is close-on-exec, which is fine
    // for a binary: the kernel has opened the file before it closes it (a
    // script would fail, its interpreter could not reopen /dev/fd/N).
    match nix::unistd::execveat(copy, c"", &argv, &env, AtFlags::AT_EMPTY_PATH) {
        Err(errno) => SealError::Exec(errno),
        Ok(never) => match never {},
    }
}
