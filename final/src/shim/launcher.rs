//! The shim launcher: one process per daemon that forks the shims.
//!
//! A shim lives as long as its container, so what each shim keeps for
//! itself is paid once per running container. Started as a fresh program
//! (`execve` of the skiff binary), every shim would pay for the same work
//! of the dynamic loader: the binary is position-independent, so at each
//! start the loader writes the load address into every pointer of the
//! binary's tables (`.data.rel.ro`: vtables, tables of strings, about a
//! quarter of a megabyte for skiff), and every page it writes becomes the
//! process's own. Forked instead, from a process that has done that work
//! once, a shim shares those pages with it and with every other shim: the
//! kernel copies a page only when one of them writes to it, and after the
//! start nobody writes to relocated tables (the loader makes them
//! read-only).
//!
//! The daemon cannot be that process: it runs threads, and a threaded
//! process must not fork into anything but an `execve` (the other threads'
//! locks would stay locked in the child). So the daemon starts this small
//! single-threaded launcher once, at its first container start, and asks
//! it for each shim over a socket pair: a message with the container's id
//! and how many attach clients wait, and two descriptors with it
//! (`SCM_RIGHTS`), the pipe on which the shim reports its start and the
//! file for the shim's own errors. The launcher forks; the child becomes
//! the shim (which leaves the launcher's tree at once: [`super::main`]).
//!
//! The launcher ends when the daemon does: the daemon's end of the socket
//! closes with its last descriptor, and the launcher reads the end of the
//! stream. The shims it forked do not notice: they are not its children
//! any more.

use super::ShimArgs;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The descriptor number the launcher finds its socket at.
const SOCKET_FD: RawFd = 3;

/// The longest request: a container id (64 hex digits), a space and a
/// number, with room to spare.
const REQUEST_MAX: usize = 256;

/// What the daemon asks of the launcher: a shim for container `id`.
pub struct Request {
    pub id: String,
    /// How many attach clients wait for the start (the shim's `--attached`).
    pub attached: usize,
    /// The pipe the shim reports its start on (the shim's `--status-fd`).
    pub status: OwnedFd,
    /// Where the shim's own errors go: its standard error.
    pub log: File,
}

/// The daemon's side: the launcher it started, started again if it died.
pub struct Launcher {
    root: PathBuf,
    running: Mutex<Option<Running>>,
}

struct Running {
    socket: OwnedFd,
    process: Child,
}

impl Launcher {
    /// A launcher for the engine at `root`, started at its first use.
    pub fn new(root: &Path) -> Launcher {
        Launcher {
            root: root.to_path_buf(),
            running: Mutex::new(None),
        }
    }

    /// Asks for a shim. Returns once the launcher has the request; the
    /// shim reports on `request.status` from there on (and a shim that
    /// could not be forked closes it without a word).
    pub fn launch(&self, request: Request) -> std::io::Result<()> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| std::io::Error::other("the shim launcher's lock is poisoned"))?;
        let message = format!("{} {}", request.id, request.attached);
        let fds = [request.status.as_raw_fd(), request.log.as_raw_fd()];
        // A launcher that died (killed by someone) is found at the send:
        // its end of the socket is closed. One new launcher, one new try.
        for attempt in 0..2 {
            if running.is_none() {
                *running = Some(self.start()?);
            }
            let socket = &running.as_ref().expect("just started").socket;
            match sendmsg::<()>(
                socket.as_raw_fd(),
                &[IoSlice::new(message.as_bytes())],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(errno) if attempt == 0 => {
                    eprintln!(
                        "skiff daemon: the shim launcher is gone ({errno}): starting another"
                    );
                    if let Some(mut dead) = running.take() {
                        let _ = dead.process.kill();
                        let _ = dead.process.wait();
                    }
                }
                Err(errno) => return Err(errno.into()),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Starts `skiff shim-launcher` with its end of a new socket pair.
    fn start(&self) -> std::io::Result<Running> {
        // SEQPACKET: each request arrives whole, as it was sent, with its
        // descriptors, and a closed end reads as the end of the stream.
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let raw = theirs.as_raw_fd();
        // Our own binary, sealed by `daemon::run`, as for every helper.
        let mut command = Command::new("/proc/self/exe");
        command
            .arg0("skiff")
            .arg("--root")
            .arg(&self.root)
            .arg("shim-launcher")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: between fork and exec the child only duplicates a
        // descriptor (async-signal-safe).
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, SOCKET_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = command.spawn()?;
        drop(theirs);
        Ok(Running {
            socket: ours,
            process,
        })
    }
}

// ANCHOR: serve
/// The launcher's process: forks a shim for each request until the
/// daemon closes its end. Never returns.
pub fn serve(root: &Path) -> ! {
    // SAFETY: the daemon put our end of the socket pair at SOCKET_FD for
    // us alone (`Launcher::start`).
    let socket = unsafe { OwnedFd::from_raw_fd(SOCKET_FD) };
    loop {
        match receive(&socket) {
            Ok(Some(request)) => launch(root, &socket, request),
            Ok(None) => std::process::exit(0),
            // Interrupted, or a message the daemon does not send: the next.
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EBADMSG) => continue,
            Err(errno) => {
                eprintln!("skiff shim-launcher: reading a request: {errno}");
                std::process::exit(1)
            }
        }
    }
}

/// Forks the shim of `request`. The child closes the launcher's socket
/// (a shim that kept it would keep a dead launcher's socket open, and the
/// daemon would send into it), takes the log as its standard error and
/// goes on as `skiff shim`; the parent waits for it, which is short: the
/// shim's first act is to fork again and let its first process exit.
fn launch(root: &Path, socket: &OwnedFd, request: Request) {
    // SAFETY: the launcher is single-threaded: the child may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: closing our own descriptors; nothing else uses them
            // in this process from here on.
            unsafe {
                libc::close(socket.as_raw_fd());
                libc::dup2(request.log.as_raw_fd(), 2);
            }
            drop(request.log);
            let root_arg = root.as_os_str().as_encoded_bytes();
            set_command_line(&[
                b"skiff",
                b"--root",
                root_arg,
                b"shim",
                request.id.as_bytes(),
            ]);
            let args = ShimArgs {
                id: request.id,
                status_fd: Some(request.status.into_raw_fd()),
                attached: request.attached,
            };
            super::main(root, &args)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(request);
            let _ = nix::sys::wait::waitpid(child, None);
        }
        Err(errno) => {
            use std::io::Write;
            let mut status = File::from(request.status);
            let _ = writeln!(status, "failed 125 forking the shim: {errno}");
        }
    }
}
// ANCHOR_END: serve

/// Reads one request with its two descriptors; `None` at the end of the
/// stream (the daemon is gone).
fn receive(socket: &OwnedFd) -> nix::Result<Option<Request>> {
    let mut buffer = [0u8; REQUEST_MAX];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let (length, mut fds) = {
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let message = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for control in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = control {
                // SAFETY: the kernel just installed these in our table.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        (message.bytes, fds)
    };
    if length == 0 && fds.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&buffer[..length]);
    let (id, attached) = text.split_once(' ').unwrap_or((&text, "0"));
    if fds.len() != 2 {
        eprintln!(
            "skiff shim-launcher: a request with {} descriptors",
            fds.len()
        );
        return Err(nix::errno::Errno::EBADMSG);
    }
    let log = File::from(fds.pop().expect("two"));
    let status = fds.pop().expect("two");
    Ok(Some(Request {
        id: id.to_string(),
        attached: attached.parse().unwrap_or(0),
        status,
        log,
    }))
}

/// What `ps` shows for this process: a shim forked from the launcher
/// would show the launcher's command line, so it points the kernel at a
/// new one. The kernel reads /proc/PID/cmdline from a range of the
/// process's memory (the arguments as `execve` left them, separated by
/// NUL bytes); `prctl(PR_SET_MM_MAP)` moves that range. (The single-field
/// `PR_SET_MM_ARG_START` needs CAP_SYS_RESOURCE, which sandboxes often
/// drop; the whole-map form, made for checkpoint/restore, checks the map
/// instead, so every other field is given back as it is, read from
/// /proc/self/stat.) The buffer must live as long as the process: it is
/// leaked on purpose. When the kernel refuses, `ps` shows the launcher's
/// line, nothing worse.
fn set_command_line(args: &[&[u8]]) {
    let mut bytes = Vec::new();
    for arg in args {
        bytes.extend_from_slice(arg);
        bytes.push(0);
    }
    let text: &'static [u8] = Vec::leak(bytes);
    let Some(mut map) = MemoryMap::of_this_process() else {
        return;
    };
    map.arg_start = text.as_ptr() as u64;
    map.arg_end = map.arg_start + text.len() as u64;
    // SAFETY: prctl reads the map we pass; the ranges it names are this
    // process's own, and the new argument range is a live, leaked buffer.
    unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP,
            &map as *const MemoryMap,
            std::mem::size_of::<MemoryMap>(),
            0,
        )
    };
}

/// The kernel's `struct prctl_mm_map` (linux/prctl.h).
#[repr(C)]
struct MemoryMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    /// The auxiliary vector: none given, the kernel keeps the one it has.
    auxv: *const u64,
    auxv_size: u32,
    /// -1: the executable stays as it is.
    exe_fd: u32,
}

impl MemoryMap {
    /// This process's map as it is, from /proc/self/stat (fields 26-28 and
    /// 45-51 of proc(5)) and the current end of the heap.
    fn of_this_process() -> Option<MemoryMap> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command's name, which may hold spaces; the
        // first of them is field 3.
        let fields: Vec<u64> = stat[stat.rfind(')')? + 2..]
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect();
        let field = |number: usize| fields.get(number - 3).copied();
        // SAFETY: sbrk(0) only reads the current end of the heap.
        let brk = unsafe { libc::sbrk(0) } as u64;
        Some(MemoryMap {
            start_code: field(26)?,
            end_code: field(27)?,
            start_data: field(45)?,
            end_data: field(46)?,
            start_brk: field(47)?,
            brk,
            start_stack: field(28)?,
            arg_start: field(48)?,
            arg_end: field(49)?,
            env_start: field(50)?,
            env_end: field(51)?,
            auxv: std::ptr::null(),
            auxv_size: 0,
            exe_fd: u32::MAX,
        })
    }
}
