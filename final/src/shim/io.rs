//! The container's standard input, output and error, held by the shim.
//!
//! Without a terminal, three pipes: the container writes stdout and stderr
//! into two, and reads stdin from the third (or from /dev/null when it was
//! not asked to keep stdin open, `-i`). With a terminal (`-t`), one
//! pseudo-terminal: the container gets the *slave* side as its stdin,
//! stdout and stderr (and as its controlling terminal), the shim keeps the
//! *master* side, where the container's output comes out and where typed
//! keys go in.
//!
//! Chapter 1's `spawn` gives the container the creator's own descriptors 0,
//! 1 and 2, so the shim puts the container's ends there just for the start
//! ([`Stdio::install`]), and takes them back right after
//! ([`Stdio::release`]): from then on only the container holds them, and
//! the shim sees the end of the output when the container's last process
//! is gone.

use super::attach::Clients;
use crate::engine::Spec;
use crate::frames;
use crate::logs::LogWriter;
use nix::fcntl::OFlag;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where attach clients' stdin goes, and the terminal to resize.
#[derive(Clone)]
pub struct Input {
    pub writer: Arc<Mutex<Option<File>>>,
    pub terminal: Option<Arc<OwnedFd>>,
}

pub struct Stdio {
    /// The container's ends: stdin, stdout, stderr.
    container: [Option<OwnedFd>; 3],
    /// Ours: the output streams to read, with their frame kind.
    outputs: Vec<(u8, File)>,
    input: Input,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

impl Stdio {
    pub fn new(spec: &Spec) -> std::io::Result<Stdio> {
        if spec.engine.tty {
            let pty = nix::pty::openpty(None, None)?;
            set_cloexec(&pty.master)?;
            set_cloexec(&pty.slave)?;
            let master = Arc::new(pty.master);
            let reader = File::from(master.as_fd().try_clone_to_owned()?);
            let writer = File::from(master.as_fd().try_clone_to_owned()?);
            let slave = pty.slave;
            return Ok(Stdio {
                container: [
                    Some(slave.try_clone()?),
                    Some(slave.try_clone()?),
                    Some(slave),
                ],
                outputs: vec![(frames::STDOUT, reader)],
                input: Input {
                    writer: Arc::new(Mutex::new(Some(writer))),
                    terminal: Some(master),
                },
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin, writer) = if spec.engine.open_stdin {
            let (r, w) = pipe()?;
            (r, Some(File::from(w)))
        } else {
            (File::open("/dev/null")?.into(), None)
        };
        Ok(Stdio {
            container: [Some(stdin), Some(out_w), Some(err_w)],
            outputs: vec![
                (frames::STDOUT, File::from(out_r)),
                (frames::STDERR, File::from(err_r)),
            ],
            input: Input {
                writer: Arc::new(Mutex::new(writer)),
                terminal: None,
            },
        })
    }

    pub fn input(&self) -> Input {
        self.input.clone()
    }

    /// Puts the container's ends on our descriptors 0, 1 and 2.
    pub fn install(&self) -> std::io::Result<()> {
        let [stdin, stdout, stderr] = &self.container;
        if let (Some(stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) {
            nix::unistd::dup2_stdin(stdin)?;
            nix::unistd::dup2_stdout(stdout)?;
            nix::unistd::dup2_stderr(stderr)?;
        }
        Ok(())
    }

    /// Gives 0, 1 and 2 back to /dev/null and closes our copies of the
    /// container's ends.
    pub fn release(&self) -> std::io::Result<()> {
        let null = File::options().read(true).write(true).open("/dev/null")?;
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(&null)?;
        nix::unistd::dup2_stderr(&null)?;
        Ok(())
    }

    /// Starts a thread per output stream that copies it to the log and to
    /// the attached clients until the container's last writer is gone.
    pub fn pump(self, log: Arc<Mutex<LogWriter>>, clients: Clients) -> Vec<JoinHandle<()>> {
        drop(self.container);
        self.outputs
            .into_iter()
            .map(|(stream, mut file)| {
                let log = log.clone();
                let clients = clients.clone();
                std::thread::spawn(move || {
                    let name = if stream == frames::STDERR {
                        "stderr"
                    } else {
                        "stdout"
                    };
                    let mut buffer = vec![0u8; 32 * 1024];
                    loop {
                        match file.read(&mut buffer) {
                            // EIO: the terminal's last slave was closed.
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let data = &buffer[..n];
                                if let Ok(mut log) = log.lock() {
                                    log.write(name, data, super::log_time());
                                }
                                super::attach::broadcast(&clients, stream, data);
                            }
                        }
                    }
                })
            })
            .collect()
    }
}

fn set_cloexec(fd: &OwnedFd) -> std::io::Result<()> {
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok(())
}

/// Sets the size of the terminal whose master is `master`.
pub fn resize(master: &OwnedFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct from the pointer.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}
