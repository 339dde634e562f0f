//! The CLI's end of a hijacked stream: the container's output to our
//! stdout and stderr, our stdin to the container, and our terminal in raw
//! mode when the container has one.

use crate::client::http::{Conn, Response};
use crate::frames;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsFd;

/// Our terminal in raw mode (every key goes through as it is typed, no
/// echo, no line editing: the container's terminal does all that); the
/// old mode comes back when dropped.
pub struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    pub fn enter() -> RawTerminal {
        let stdin = std::io::stdin();
        let saved = nix::sys::termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            nix::sys::termios::cfmakeraw(&mut raw);
            let _ = nix::sys::termios::tcsetattr(
                stdin.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &raw,
            );
        }
        RawTerminal { saved }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

/// Our terminal's size: (rows, columns).
pub fn terminal_size() -> Option<(u16, u16)> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize struct into the pointer.
    let done = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) };
    (done == 0 && size.ws_row > 0).then_some((size.ws_row, size.ws_col))
}

/// Whether our stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
}

// ANCHOR: pump
/// Copies an upgraded stream until it ends: output to our stdout and
/// stderr (demultiplexed unless `tty`), and, with `stdin`, our stdin to
/// it, closing its input side at our end of input.
pub fn pump(response: Response, tty: bool, stdin: bool) -> std::io::Result<()> {
    let (mut reader, writer) = response.into_raw();
    if stdin {
        let mut writer: Conn = writer;
        std::thread::spawn(move || {
            let mut input = std::io::stdin().lock();
            let mut buffer = [0u8; 4096];
            loop {
                match input.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if writer.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = writer.close_write();
        });
    }
    if tty {
        copy_raw(&mut reader)
    } else {
        demultiplex(&mut reader)
    }
}
// ANCHOR_END: pump

fn copy_raw(reader: &mut BufReader<Conn>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut buffer = [0u8; 32 * 1024];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        out.write_all(&buffer[..n])?;
        out.flush()?;
    }
}

/// Writes each frame to our stdout or stderr.
pub fn demultiplex(reader: &mut impl Read) -> std::io::Result<()> {
    loop {
        match frames::read(reader) {
            Ok(Some((frames::STDERR, data))) => {
                let mut err = std::io::stderr().lock();
                err.write_all(&data)?;
                err.flush()?;
            }
            Ok(Some((_, data))) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&data)?;
                out.flush()?;
            }
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
