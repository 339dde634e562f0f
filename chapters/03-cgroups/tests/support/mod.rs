//! Trying a device operation from a child process placed in a cgroup.
//!
//! The device cgroup decides at `open` and `mknod` time, for the process
//! that asks. [`attempt`] forks a child that waits on a pipe, lets the
//! caller put it in a cgroup (as the engine puts a container's first
//! process), then has it make one system call and report the errno.
//!
//! The test harness runs tests on threads, and a forked child of a threaded
//! process may only make async-signal-safe calls until it execs: the child
//! here makes only raw system calls on buffers prepared before the fork,
//! and ends with `_exit`.

#![allow(dead_code)]

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::SFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, pipe2};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One device operation, as the kernel's device check sees it.
pub enum Op {
    /// `open(path, flags)`, then close: the check happens at open.
    Open { path: CString, flags: OFlag },
    /// `open(path, O_RDONLY)` and `read` up to 64 bytes.
    Read { path: CString },
    /// `mknod(path, kind | 0666, dev)`.
    Mknod {
        path: CString,
        kind: SFlag,
        dev: libc::dev_t,
    },
}

impl Op {
    pub fn open(path: impl AsRef<Path>, flags: OFlag) -> Op {
        Op::Open {
            path: c_path(path.as_ref()),
            flags,
        }
    }

    pub fn read(path: impl AsRef<Path>) -> Op {
        Op::Read {
            path: c_path(path.as_ref()),
        }
    }

    pub fn mknod(path: impl AsRef<Path>, kind: SFlag, major: u32, minor: u32) -> Op {
        Op::Mknod {
            path: c_path(path.as_ref()),
            kind,
            dev: libc::makedev(major, minor),
        }
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("a path without NUL")
}

/// What the child got: the bytes read (for [`Op::Read`]), or the errno.
pub type Outcome = Result<Vec<u8>, Errno>;

/// Forks a child, calls `place(child)` (to move it into a cgroup), then has
/// the child do `op` and returns what happened. The child is killed and
/// reaped when `place` panics.
pub fn attempt(op: &Op, place: impl FnOnce(Pid)) -> Outcome {
    let (go_rx, go_tx) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
    let (report_rx, report_tx) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
    // SAFETY: the child only makes raw system calls on memory prepared
    // before the fork (`op`, the descriptors) and leaves with `_exit`: no
    // allocation, no lock, nothing another thread could hold.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => child(op, &go_rx, &report_tx),
        ForkResult::Parent { child } => {
            drop(go_rx);
            drop(report_tx);
            let reaper = Reaper(child);
            place(child);
            nix::unistd::write(&go_tx, b"g").expect("tell the child to go");
            let mut report = [0u8; 72];
            let mut got = 0;
            while got < report.len() {
                match nix::unistd::read(&report_rx, &mut report[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(Errno::EINTR) => {}
                    Err(e) => panic!("read the child's report: {e}"),
                }
            }
            drop(reaper);
            assert_eq!(got, report.len(), "the child died without reporting");
            let errno = i32::from_ne_bytes(report[0..4].try_into().unwrap());
            let len = i32::from_ne_bytes(report[4..8].try_into().unwrap()) as usize;
            if errno != 0 {
                Err(Errno::from_raw(errno))
            } else {
                Ok(report[8..8 + len].to_vec())
            }
        }
    }
}

/// Kills (if still running) and reaps the child.
struct Reaper(Pid);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
        let _ = waitpid(self.0, None);
    }
}

/// The child's side: wait for the go, try, report `[errno, len, bytes...]`.
fn child(op: &Op, go: &OwnedFd, report: &OwnedFd) -> ! {
    let mut buf = [0u8; 72];
    // SAFETY: read, open, mknod, close, write and _exit are
    // async-signal-safe; every pointer is to memory that lives across the
    // fork (the op's C strings, the stack buffer).
    unsafe {
        let mut byte = 0u8;
        libc::read(go.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
        let mut len: i32 = 0;
        let failed = match op {
            Op::Open { path, flags } => {
                let fd = libc::open(path.as_ptr(), flags.bits() | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::close(fd);
                }
                fd < 0
            }
            Op::Read { path } => {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    true
                } else {
                    let n = libc::read(fd, buf.as_mut_ptr().add(8).cast(), 64);
                    libc::close(fd);
                    len = n as i32;
                    n < 0
                }
            }
            Op::Mknod { path, kind, dev } => {
                libc::mknod(path.as_ptr(), kind.bits() | 0o666, *dev) < 0
            }
        };
        let errno = if failed { *libc::__errno_location() } else { 0 };
        buf[0..4].copy_from_slice(&errno.to_ne_bytes());
        buf[4..8].copy_from_slice(&len.max(0).to_ne_bytes());
        libc::write(report.as_raw_fd(), buf.as_ptr().cast(), buf.len());
        libc::_exit(0)
    }
}
