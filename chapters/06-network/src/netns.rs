//! Stepping into a container's network namespace, and back.
//!
//! A network namespace is a whole copy of the network stack: its own links,
//! addresses, routes, firewall rules and sockets. A new one holds only a
//! loopback link, down. To configure the container's side of its cable, the
//! supervisor (which stays in the host's namespace) has two ways in:
//!
//! - **Put a link in.** `IFLA_NET_NS_FD`, a file descriptor of the namespace
//!   (`/proc/PID/ns/net`), in a netlink request creates a link there, or
//!   moves an existing one there. This is how the container's end of a veth
//!   pair gets there.
//! - **Step in with `setns`.** `setns(fd, CLONE_NEWNET)` moves the *calling
//!   thread* into the namespace. From then on, every socket the thread
//!   creates belongs to that namespace, **and stays in it** after the thread
//!   steps back out: a netlink socket opened inside talks to the container's
//!   stack; a UDP socket bound inside listens on the container's addresses.
//!   That is how we rename the link, give it an address and a route, and how
//!   the DNS responder gets a socket on `127.0.0.11` inside the container
//!   while the supervisor itself lives on the host.
//!
//! Unlike a mount or user namespace, the kernel lets a thread of a
//! multi-threaded process `setns` into a network namespace: only that thread
//! moves. We still come back at once ([`Entered`] does it when dropped), so
//! that nothing else the supervisor does happens in the wrong stack.

use ch01_process::explain;
use nix::sched::{CloneFlags, setns};
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Opens the network namespace of process `pid` (`/proc/PID/ns/net`).
///
/// The descriptor keeps the namespace alive even after the process dies, so
/// open it once and use it for every step.
pub fn open_of_process(pid: Pid) -> io::Result<OwnedFd> {
    let path = format!("/proc/{pid}/ns/net");
    explain!("open({path})");
    File::open(&path).map(OwnedFd::from)
}

/// Opens the network namespace of the calling thread. `thread-self`, not
/// `self`: after a `setns` the threads of one process can be in different
/// namespaces.
pub fn open_current() -> io::Result<OwnedFd> {
    File::open("/proc/thread-self/ns/net").map(OwnedFd::from)
}

// ANCHOR: enter
/// The calling thread, moved into another network namespace until this is
/// dropped.
#[derive(Debug)]
pub struct Entered {
    home: OwnedFd,
}

impl Entered {
    /// Moves the calling thread into the namespace behind `target`,
    /// remembering where it was.
    pub fn enter(target: BorrowedFd<'_>) -> io::Result<Entered> {
        let home = open_current()?;
        explain!("setns(netns of the container, CLONE_NEWNET)");
        setns(target, CloneFlags::CLONE_NEWNET)?;
        Ok(Entered { home })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        explain!("setns(netns of the host, CLONE_NEWNET)");
        if let Err(errno) = setns(self.home.as_fd(), CloneFlags::CLONE_NEWNET) {
            // Carrying on would configure the host's links as if they were
            // the container's, or the other way round: stop here.
            panic!("cannot return to the host's network namespace: {errno}");
        }
    }
}
// ANCHOR_END: enter

/// Runs `f` with the calling thread inside the namespace behind `target`.
pub fn run_in<T>(target: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let _entered = Entered::enter(target)?;
    Ok(f())
}
