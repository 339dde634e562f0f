//! `--console-socket`: the container's terminal, handed to the caller.
//!
//! A container whose `process.terminal` is true gets a pseudo-terminal:
//! its process holds the *slave* side as stdin, stdout, stderr and
//! controlling terminal; whoever holds the *master* side types into it and
//! reads what it prints. runc does not keep the master: the caller (docker
//! through containerd's shim, `ctr run -t`) listens on a unix socket and
//! names it with `--console-socket`, and the runtime sends the master's
//! descriptor there, in an `SCM_RIGHTS` control message: the kernel
//! installs a copy of the descriptor in the receiving process. The
//! message's bytes are the terminal's name, as runc sends them.
//!
//! The terminal is allocated on the host, as chapter 1's and the engine's
//! shim allocate theirs: the container's `/dev/pts` is a devpts instance of
//! its own, where this terminal does not appear. Chapter 2 binds it on the
//! container's `/dev/console`, as runc does, so that `tty` finds its name.

use nix::pty::{OpenptyResult, Winsize, openpty};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A terminal for the container, both sides.
pub struct Terminal {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a terminal of `size` (rows, columns), if given.
pub fn open(size: Option<(u16, u16)>) -> anyhow::Result<Terminal> {
    let winsize = size.map(|(rows, cols)| Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let OpenptyResult { master, slave } = openpty(winsize.as_ref(), None)
        .map_err(|e| anyhow::anyhow!("opening a terminal for the container: {e}"))?;
    for fd in [&master, &slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    Ok(Terminal { master, slave })
}

// ANCHOR: send_master
/// Sends `master` to the caller listening on `socket`.
pub fn send_master(socket: &Path, master: &OwnedFd) -> anyhow::Result<()> {
    let stream = UnixStream::connect(socket).map_err(|e| {
        anyhow::anyhow!("connecting to the console socket {}: {e}", socket.display())
    })?;
    let name = nix::unistd::ttyname(master)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/dev/ptmx".into());
    let fds = [master.as_raw_fd()];
    let control = [ControlMessage::ScmRights(&fds)];
    let bytes = [IoSlice::new(name.as_bytes())];
    ch01_process::explain!(
        "sendmsg({}, {name:?}, SCM_RIGHTS [{}])",
        socket.display(),
        fds[0]
    );
    sendmsg::<()>(
        stream.as_raw_fd(),
        &bytes,
        &control,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| anyhow::anyhow!("sending the terminal to {}: {e}", socket.display()))?;
    Ok(())
}
// ANCHOR_END: send_master
