//! Running a command on a terminal of its own, as a learner's shell runs it.
//!
//! A learner types the book's commands in a terminal, and a few programs
//! behave differently there: the chapter binaries hand the terminal to the
//! container's process group (`tcsetpgrp`, which `--explain` shows), busybox
//! `ls` prints columns, and pulls draw progress bars. A transcript that shows
//! such a command is recorded here, on a pseudo-terminal, so that what the
//! book shows is what the learner's terminal shows.
//!
//! The command becomes the leader of a new session whose controlling
//! terminal is the pty's slave (`setsid`, then `TIOCSCTTY`), as a login
//! shell is; its process group is the terminal's foreground group, as a
//! command a shell runs in the foreground. We read the master side until the
//! kernel says `EIO`: every process holding the slave has closed it.

use crate::transcript::Outcome;
use nix::fcntl::OFlag;
use nix::pty::{PtyMaster, Winsize, grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

/// The size the terminal reports (`stty size`): the usual 80 columns, so
/// that programs that fit their output to the width lay it out as on a
/// default terminal window.
const SIZE: Winsize = Winsize {
    ws_row: 24,
    ws_col: 80,
    ws_xpixel: 0,
    ws_ypixel: 0,
};

/// Runs `command` with its stdin, stdout and stderr on a new terminal, and
/// returns what the terminal showed (line ends as `\n`, not the terminal's
/// `\r\n`) and the exit code.
pub fn run_on_terminal(command: &mut Command) -> Outcome {
    let (master, slave) = open_terminal();
    command
        .stdin(Stdio::from(slave.try_clone().expect("dup the pty")))
        .stdout(Stdio::from(slave.try_clone().expect("dup the pty")))
        .stderr(Stdio::from(slave));
    let take_the_terminal = || {
        nix::unistd::setsid()?;
        // SAFETY: TIOCSCTTY takes an int argument (0: do not steal a
        // terminal that is another session's); fd 0 is the pty's slave.
        if unsafe { nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the child between fork and exec, and calls
    // only async-signal-safe functions (setsid(2), ioctl(2)); it allocates
    // nothing and touches no lock.
    unsafe { command.pre_exec(take_the_terminal) };
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    // The Command holds the slave's copies: drop them, or the master never
    // sees the end.
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut master = std::fs::File::from(OwnedFd::from(master));
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            // Linux answers EIO on the master once no slave is open.
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("read the terminal: {e}"),
        }
    }
    let status = child.wait().expect("wait");
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Outcome {
        output: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
        code,
    }
}

/// A new pseudo-terminal: its master and its slave, both close-on-exec from
/// the start. openpty(3) leaves them inheritable, and another test thread
/// that spawns a program at that moment would pass them on: the program
/// would see descriptors it should not have (and `--explain` would show
/// `signalfd() = 5` instead of 3).
fn open_terminal() -> (PtyMaster, OwnedFd) {
    let master =
        posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).expect("open /dev/ptmx");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname_r(&master).expect("ptsname");
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the pointer, which
    // points to a valid one for the duration of the call.
    let sized = unsafe { nix::libc::ioctl(master.as_raw_fd(), nix::libc::TIOCSWINSZ, &SIZE) };
    assert_ne!(
        sized,
        -1,
        "set the terminal's size: {}",
        std::io::Error::last_os_error()
    );
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {name}: {e}"));
    (master, slave)
}
