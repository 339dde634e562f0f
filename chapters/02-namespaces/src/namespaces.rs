//! Namespaces: which parts of the world the container gets its own copy of.
//!
//! A namespace wraps one kind of global resource so that the processes in it
//! see their own instance (see `namespaces(7)`):
//!
//! | namespace | clone flag        | the container gets its own...                     |
//! |-----------|-------------------|---------------------------------------------------|
//! | UTS       | `CLONE_NEWUTS`    | hostname and domain name                          |
//! | PID       | `CLONE_NEWPID`    | process numbers: its first process is PID 1       |
//! | mount     | `CLONE_NEWNS`     | mount table, so its root can differ from ours     |
//! | IPC       | `CLONE_NEWIPC`    | System V IPC objects and POSIX message queues     |
//! | network   | `CLONE_NEWNET`    | interfaces, addresses, routes, ports, firewall    |
//! | cgroup    | `CLONE_NEWCGROUP` | view of the cgroup tree, rooted at its own cgroup |
//! | user      | `CLONE_NEWUSER`   | user and group ids: root inside, nobody outside   |
//!
//! Every process's namespaces are listed in `/proc/PID/ns/`: two processes
//! share a namespace when the links there point to the same inode
//! (`readlink /proc/self/ns/uts` prints `uts:[4026531838]`). `lsns` lists them.

use ch01_process::explain;
use nix::sched::CloneFlags;

/// `--network`: a network namespace of the container's own, or the host's
/// (or, from chapter 6 on, another container's).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Its own network namespace, with only the loopback interface
    #[default]
    None,
    /// The host's network: its interfaces, addresses and ports
    Host,
    /// The network namespace of another process, joined with `setns` by
    /// the child (chapter 6's `--network container:NAME`): a descriptor of
    /// it comes from a step ([`Step::network_namespace`]). Not a value of
    /// this chapter's flag.
    ///
    /// [`Step::network_namespace`]: crate::step::Step::network_namespace
    #[value(skip)]
    Joined,
}

impl NetworkMode {
    /// The mode's name, as the flag and the record spell it.
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Joined => "joined",
        }
    }
}

/// `--pid`: a PID namespace of the container's own, or the host's.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PidMode {
    /// Its own PID namespace: the command is PID 1 (the default; not a flag value)
    #[default]
    #[value(skip)]
    Private,
    /// The host's PID namespace: the container sees every process
    Host,
}

/// Which namespaces a container gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Isolation {
    pub network: NetworkMode,
    pub pid: PidMode,
    /// A user namespace, root inside mapped to an unprivileged range outside.
    pub userns: bool,
    /// Namespaces kept from the process that starts the container.
    #[serde(default, skip_serializing_if = "Inherited::is_none")]
    pub inherit: Inherited,
}

/// The namespaces a container may share with the process that starts it
/// instead of getting its own: docker's `--ipc host`, `--uts host` and
/// `--cgroupns host`, and what an OCI runtime does with a namespace its
/// configuration does not list (the spec says the container then stays in
/// the runtime's). A container's hostname is only set in a UTS namespace of
/// its own: with the host's, setting it would rename the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Inherited {
    pub ipc: bool,
    pub uts: bool,
    pub cgroup: bool,
}

impl Inherited {
    /// Nothing inherited: the container gets all its namespaces.
    pub fn is_none(&self) -> bool {
        *self == Inherited::default()
    }
}

// ANCHOR: clone_flags
impl Isolation {
    /// The namespaces to create with `clone`. The cgroup namespace is not
    /// among them: it is created later, with `unshare`, once the child is in
    /// its own cgroup (chapter 3), so that this cgroup becomes its root. A
    /// joined network namespace is not new either: the child enters it with
    /// `setns` ([`join_network`]).
    pub fn clone_flags(&self) -> CloneFlags {
        // SOLUTION START: ch02-clone-flags the clone flags of the namespaces the container gets: mount always, UTS, IPC, PID, network and user unless shared (book: Namespaces > What and why > Namespaces)
        let mut flags = CloneFlags::CLONE_NEWNS;
        if !self.inherit.uts {
            flags |= CloneFlags::CLONE_NEWUTS;
        }
        if !self.inherit.ipc {
            flags |= CloneFlags::CLONE_NEWIPC;
        }
        if self.pid == PidMode::Private {
            flags |= CloneFlags::CLONE_NEWPID;
        }
        if self.network == NetworkMode::None {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        if self.userns {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        flags
        // SOLUTION END
    }
}
// ANCHOR_END: clone_flags

// ANCHOR: join_network
/// Moves the calling process into the network namespace behind `netns`
/// (an open `/proc/PID/ns/net`). The child does this first, before it
/// mounts `/sys`: a sysfs shows the links of the network namespace of
/// whoever mounted it.
pub fn join_network(netns: std::os::fd::BorrowedFd<'_>) -> Result<(), nix::Error> {
    explain!("setns(netns of another container, CLONE_NEWNET)");
    nix::sched::setns(netns, CloneFlags::CLONE_NEWNET)
}
// ANCHOR_END: join_network

/// Gives the UTS namespace its hostname.
pub fn set_hostname(name: &str) -> Result<(), nix::Error> {
    explain!("sethostname({name:?})");
    nix::unistd::sethostname(name)
}

/// A new cgroup namespace rooted at the cgroup the process is in now.
pub fn unshare_cgroup() -> Result<(), nix::Error> {
    explain!("unshare(CLONE_NEWCGROUP)");
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
}

// ANCHOR: loopback
/// Brings up `lo` in a new network namespace. The kernel creates it down:
/// without this, even `127.0.0.1` is unreachable inside the container.
pub fn bring_up_loopback() -> Result<(), nix::Error> {
    explain!("ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)");
    // SAFETY: a plain socket call; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let fd = nix::errno::Errno::result(fd)?;
    // SAFETY: fd is a new descriptor that nothing else owns.
    let _socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeros is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: the ioctls read and write `request`, which outlives them.
    unsafe {
        nix::errno::Errno::result(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request))?;
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        nix::errno::Errno::result(libc::ioctl(fd, libc::SIOCSIFFLAGS, &request))?;
    }
    Ok(())
}
// ANCHOR_END: loopback

/// A hostname for a container that was given none: 12 hex digits, the way
/// docker names a container's host after the start of its id.
pub fn random_hostname() -> String {
    let mut bytes = [0u8; 6];
    // getrandom cannot fail for 6 bytes once the kernel's pool is ready.
    let _ = nix::errno::Errno::result(unsafe {
        // SAFETY: bytes is valid for 6 bytes of writes.
        libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0)
    });
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
