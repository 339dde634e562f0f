//! Bodies between the async server and the chapters' blocking code.
//!
//! Chapter 5's `save` writes a tar to an `impl Write`, its `load` reads one
//! from an `impl Read`; both block on files and must run off the async
//! threads. A bounded channel joins the two worlds: a blocking writer on
//! one side, a response body on the other (or a request body on one side,
//! a blocking reader on the other), so that neither side holds a whole
//! image in memory.

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::{self, Read, Write};
use tokio::sync::mpsc;

type Chunk = Result<Bytes, io::Error>;

/// How many chunks may wait in a channel.
const DEPTH: usize = 8;
/// How much a [`ChannelWriter`] gathers before it sends.
const CHUNK: usize = 64 * 1024;

/// A blocking writer whose bytes become a streamed response body.
pub struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

/// A writer, and the body that streams what it writes.
pub fn streamed_body() -> (ChannelWriter, Body) {
    let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let writer = ChannelWriter {
        tx,
        buffer: Vec::with_capacity(CHUNK),
    };
    (writer, Body::from_stream(stream))
}

impl ChannelWriter {
    /// Ends the body with an error: the client sees a broken transfer,
    /// never a short archive that looks whole.
    pub fn fail(mut self, error: impl std::fmt::Display) {
        self.buffer.clear();
        let _ = self
            .tx
            .blocking_send(Err(io::Error::other(error.to_string())));
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// A request body read as a blocking `Read`, as it arrives.
pub struct BodyReader {
    rx: mpsc::Receiver<Chunk>,
    current: Bytes,
}

impl BodyReader {
    /// Starts copying `body` into the reader (on the async runtime).
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(io::Error::other);
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// How much of a refused upload [`drain`] reads before the answer.
const DRAIN_LIMIT: usize = 64 << 20;

/// Reads what is left of a refused upload before the answer goes: the
/// client is still sending its tar (the docker CLI sends it whatever the
/// answer), and its writes would fail on a closed connection, which it
/// would report instead of the answer. Up to a bound: past it, answer.
pub async fn drain<S, E>(mut body: S)
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut read = 0usize;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            break;
        }
    }
}
