//! A small HTTP/1.1 client for the daemon's socket.
//!
//! The API is plain HTTP, so a client is a socket, a request line, headers,
//! and a body; the answer is a status line, headers, and a body that is
//! either `Content-Length` bytes long or *chunked* (a stream: each chunk is
//! its length in hex, a line break, the bytes; a zero-length chunk ends
//! it). Streams (logs, events, pull progress) are read chunk by chunk as
//! they come. Attach and exec *upgrade* the connection: after the `101`
//! answer, the socket is a raw pipe.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Where the daemon listens.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

/// A connection to the daemon, unix or TCP.
pub enum Conn {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

impl Conn {
    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    /// Closes our sending side: the daemon reads the end of our input.
    pub fn close_write(&self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }
}

/// An answer: status, headers, and the body to read.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: Body,
}

enum Body {
    Length(BufReader<Conn>, u64),
    Chunked(BufReader<Conn>, u64, bool),
    /// Upgraded or read to the end of the connection.
    Raw(BufReader<Conn>),
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole body.
    pub fn bytes(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The whole body as JSON.
    pub fn json(self) -> io::Result<serde_json::Value> {
        let bytes = self.bytes()?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }

    /// The connection, once upgraded (`101`), for raw reading and writing.
    pub fn into_raw(self) -> (BufReader<Conn>, Conn) {
        let reader = match self.body {
            Body::Length(r, _) | Body::Chunked(r, _, _) | Body::Raw(r) => r,
        };
        let writer = reader
            .get_ref()
            .try_clone()
            .expect("a socket can be cloned");
        (reader, writer)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::Length(reader, left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let max = buf.len().min(*left as usize);
                let n = reader.read(&mut buf[..max])?;
                *left -= n as u64;
                Ok(n)
            }
            Body::Raw(reader) => reader.read(buf),
            Body::Chunked(reader, left, done) => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    reader.read_line(&mut line)?;
                    if line.trim().is_empty() {
                        line.clear();
                        reader.read_line(&mut line)?;
                    }
                    let size = line.trim().split(';').next().unwrap_or("0");
                    *left = u64::from_str_radix(size, 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {size:?}")))?;
                    if *left == 0 {
                        *done = true;
                        return Ok(0);
                    }
                }
                let max = buf.len().min(*left as usize);
                let n = reader.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                Ok(n)
            }
        }
    }
}

impl Endpoint {
    /// `unix:///run/skiff.sock` or `tcp://127.0.0.1:2375`.
    pub fn parse(host: &str) -> Result<Endpoint, String> {
        if let Some(path) = host.strip_prefix("unix://") {
            Ok(Endpoint::Unix(path.into()))
        } else if let Some(address) = host.strip_prefix("tcp://") {
            Ok(Endpoint::Tcp(address.to_string()))
        } else {
            Err(format!(
                "unsupported host {host:?}: use unix:///path.sock or tcp://HOST:PORT"
            ))
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match self {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Conn::Unix).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot reach the skiff daemon at unix://{}: {e} (is `skiff daemon` running? -H or SKIFF_HOST say where)",
                        path.display()
                    ),
                )
            }),
            Endpoint::Tcp(address) => std::net::TcpStream::connect(address).map(Conn::Tcp),
        }
    }

    // ANCHOR: request
    /// Sends one request and reads the answer's head. `upgrade` asks for
    /// the raw stream (attach, exec).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, String)],
        upgrade: bool,
    ) -> io::Result<Response> {
        let mut conn = self.connect()?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: skiff\r\nUser-Agent: skiff\r\n");
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        if upgrade {
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n";
        }
        match body {
            Some((content_type, bytes)) => {
                head += &format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                    bytes.len()
                );
                conn.write_all(head.as_bytes())?;
                conn.write_all(bytes)?;
            }
            None => {
                head += "Content-Length: 0\r\n\r\n";
                conn.write_all(head.as_bytes())?;
            }
        }
        let mut reader = BufReader::new(conn);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body = if status == 101 || method == "HEAD" {
            if method == "HEAD" {
                Body::Length(reader, 0)
            } else {
                Body::Raw(reader)
            }
        } else if header("Transfer-Encoding").is_some_and(|v| v.contains("chunked")) {
            Body::Chunked(reader, 0, false)
        } else if let Some(length) = header("Content-Length").and_then(|v| v.parse().ok()) {
            Body::Length(reader, length)
        } else if status == 204 || status == 304 {
            Body::Length(reader, 0)
        } else {
            Body::Raw(reader)
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }
    // ANCHOR_END: request
}
