//! The shim's attach socket: how the daemon reaches a container's stdio.
//!
//! A client (the daemon, for `docker attach`, `docker run` and `start -a`)
//! connects to `<container dir>/attach.sock` and sends one byte saying what
//! it wants: 1 stdin, 2 stdout, 4 stderr. From then on the shim sends it
//! the container's output as frames (see [`crate::frames`]), and writes
//! the stdin frames it receives to the container's stdin: data, an empty
//! frame to close stdin, or a terminal size.
//!
//! Clients that wait for a start are accepted before the container starts
//! (the daemon says how many), so they see everything it prints.

use super::io::{Input, resize};
use crate::engine::Spec;
use crate::frames;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub const WANTS_STDIN: u8 = 1;
pub const WANTS_STDOUT: u8 = 2;
pub const WANTS_STDERR: u8 = 4;

/// An attached client.
pub struct Client {
    stream: UnixStream,
    wants: u8,
}

/// The clients that receive the container's output.
pub type Clients = Arc<Mutex<Vec<Client>>>;

/// Sends `data` of `stream` to every client that wants it; a client that
/// cannot take it any more is dropped.
pub fn broadcast(clients: &Clients, stream: u8, data: &[u8]) {
    let wanted = if stream == frames::STDERR {
        WANTS_STDERR
    } else {
        WANTS_STDOUT
    };
    if let Ok(mut clients) = clients.lock() {
        clients.retain_mut(|client| {
            client.wants & wanted == 0 || frames::write(&mut client.stream, stream, data).is_ok()
        });
    }
}

pub struct Server {
    listener: UnixListener,
    clients: Clients,
    input: Input,
    stdin_once: bool,
    /// Clients accepted before the start, whose stdin is read once threads
    /// may run.
    early_stdin: Vec<UnixStream>,
}

impl Server {
    pub fn bind(path: &Path, spec: &Spec, input: Input) -> std::io::Result<Server> {
        let _ = std::fs::remove_file(path);
        Ok(Server {
            listener: UnixListener::bind(path)?,
            clients: Arc::new(Mutex::new(Vec::new())),
            input,
            stdin_once: spec.engine.stdin_once,
            early_stdin: Vec::new(),
        })
    }

    pub fn clients(&self) -> Clients {
        self.clients.clone()
    }

    /// Accepts the `count` clients that wait for the start.
    pub fn accept_waiting(&mut self, count: usize) -> std::io::Result<()> {
        for _ in 0..count {
            let (stream, _) = self.listener.accept()?;
            if let Some(reader) = self.register(stream)? {
                self.early_stdin.push(reader);
            }
        }
        Ok(())
    }

    fn register(&self, mut stream: UnixStream) -> std::io::Result<Option<UnixStream>> {
        let mut wants = [0u8];
        stream.read_exact(&mut wants)?;
        let reader = (wants[0] & WANTS_STDIN != 0)
            .then(|| stream.try_clone())
            .transpose()?;
        if let Ok(mut clients) = self.clients.lock() {
            clients.push(Client {
                stream,
                wants: wants[0],
            });
        }
        Ok(reader)
    }

    /// Accepts clients from now on, in a thread of its own; each client's
    /// stdin is read by another.
    pub fn serve_in_background(mut self) -> std::thread::JoinHandle<()> {
        for early in std::mem::take(&mut self.early_stdin) {
            self.read_stdin(early);
        }
        std::thread::spawn(move || {
            for stream in self.listener.incoming().flatten() {
                if let Ok(Some(reader)) = self.register(stream) {
                    self.read_stdin(reader);
                }
            }
        })
    }

    fn read_stdin(&self, mut reader: UnixStream) {
        let input = self.input.clone();
        let stdin_once = self.stdin_once;
        std::thread::spawn(move || {
            loop {
                match frames::read(&mut reader) {
                    Ok(Some((frames::STDIN, data))) if !data.is_empty() => {
                        let mut writer = input.writer.lock().expect("stdin lock");
                        if let Some(file) = writer.as_mut()
                            && file.write_all(&data).is_err()
                        {
                            *writer = None;
                        }
                    }
                    Ok(Some((frames::RESIZE, data))) => {
                        let text = String::from_utf8_lossy(&data).into_owned();
                        let mut numbers = text.split_whitespace().filter_map(|n| n.parse().ok());
                        if let (Some(terminal), Some(rows), Some(cols)) =
                            (&input.terminal, numbers.next(), numbers.next())
                        {
                            resize(terminal, rows, cols);
                        }
                    }
                    // An empty stdin frame: close stdin.
                    Ok(Some((frames::STDIN, _))) => {
                        close_stdin(&input);
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        if stdin_once {
                            close_stdin(&input);
                        }
                        break;
                    }
                }
            }
        });
    }
}

/// Closes the container's stdin (a pipe: it reads end-of-file). A terminal
/// is not closed: its master also carries the output.
fn close_stdin(input: &Input) {
    if input.terminal.is_none()
        && let Ok(mut writer) = input.writer.lock()
    {
        *writer = None;
    }
}
