//! `POST /containers/{id}/attach`: the hijacked stream.
//!
//! Attaching is not a request and a response: the client sends one HTTP
//! request, and the connection then becomes a raw pipe in both directions,
//! the container's stdin one way, its output the other. HTTP calls this an
//! *upgrade*: the client asks with `Upgrade: tcp`, the server answers
//! `101 Switching Protocols` (the docker CLI insists on a 101: "unable to
//! upgrade to tcp, received 200" otherwise), and from then on neither side
//! speaks HTTP on that connection.
//!
//! Without a terminal, the output is framed (stdout and stderr share the
//! pipe, see [`crate::frames`]); with one, it is the terminal's bytes as
//! they are. The daemon is a go-between: its other end is the shim's
//! attach socket.

use super::containers::record_of;
use super::query::query_flag;
use super::{ApiResult, blocking};
use crate::daemon::Daemon;
use crate::daemon::shims::{PendingAttach, connect_attach};
use crate::detach::Watcher;
use crate::engine::Spec;
use crate::frames;
use crate::shim::attach::{WANTS_STDERR, WANTS_STDIN, WANTS_STDOUT};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use ch02_namespaces::records::Record;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

#[derive(Debug, Deserialize, Default)]
pub struct AttachQuery {
    stream: Option<String>,
    /// `--detach-keys`: the sequence that detaches a terminal.
    #[serde(rename = "detachKeys")]
    detach_keys: Option<String>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    /// With `stream=0`: answer with what the container has logged.
    logs: Option<String>,
}

/// How long an attach without a stream waits after its 101 answer before
/// it writes what was logged (see [`attach`]).
const ANSWER_AFTER_HEADERS_MS: u64 = 50;

/// What the container logged on the streams `wants` names, as an attach
/// stream carries it: framed, or raw with a terminal.
fn logged_output(daemon: &Daemon, record: &Record<Spec>, wants: u8) -> Vec<u8> {
    if record.spec.engine.log.none {
        return Vec::new();
    }
    let path = crate::logs::log_path(&daemon.engine.dir(record.id()), record.id());
    let query = crate::logs::Query {
        stdout: wants & WANTS_STDOUT != 0,
        stderr: wants & WANTS_STDERR != 0,
        since: None,
        until: None,
        tail: None,
    };
    let mut out = Vec::new();
    for entry in crate::logs::read(&path, &query).unwrap_or_default() {
        let data = entry.log.as_bytes();
        if !record.spec.engine.tty {
            let stream = if entry.stream == "stderr" {
                frames::STDERR
            } else {
                frames::STDOUT
            };
            out.extend_from_slice(&frames::header(stream, data.len()));
        }
        out.extend_from_slice(data);
    }
    out
}

/// The answer that switches the connection to the raw stream.
pub fn switching(tty: bool) -> Response {
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::empty())
        .expect("a valid response")
}

// ANCHOR: attach
pub async fn attach(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<AttachQuery>,
    mut request: Request,
) -> ApiResult<Response> {
    let keys = crate::detach::parse(query.detach_keys.as_deref().unwrap_or_default())
        .map_err(|e| super::ApiError::bad_request(e.to_string()))?;
    let worker = daemon.clone();
    let record = blocking(move || record_of(&worker, &id)).await?;
    let mut wants = 0;
    if query_flag(&query.stdin) {
        wants |= WANTS_STDIN;
    }
    if query_flag(&query.stdout) {
        wants |= WANTS_STDOUT;
    }
    if query_flag(&query.stderr) {
        wants |= WANTS_STDERR;
    }
    let tty = record.spec.engine.tty;
    if !super::query::bool_value_or(query.stream.as_deref(), true) {
        // Without a stream, dockerd answers with what the container logged
        // (`logs=1`) or nothing, and ends: it waits for no start.
        let past = if query_flag(&query.logs) {
            logged_output(&daemon, &record, wants)
        } else {
            Vec::new()
        };
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let mut client = TokioIo::new(upgraded);
                if !past.is_empty() {
                    // docker-py reads the stream from the socket under
                    // http.client's buffered reader: bytes that arrive
                    // with the 101 answer are read into that buffer along
                    // with the headers, and lost to it. Let the client
                    // finish the headers first (dockerd's answer comes
                    // later than its headers too: it reads its log).
                    tokio::time::sleep(std::time::Duration::from_millis(ANSWER_AFTER_HEADERS_MS))
                        .await;
                }
                let _ = client.write_all(&past).await;
                let _ = client.shutdown().await;
            }
        });
        return Ok(switching(tty));
    }
    let dir = daemon.engine.dir(record.id());
    // Running: to the shim now. Not yet: when it starts.
    let shim = if record.is_running() {
        Shim::Now(
            connect_attach(&dir, wants).map_err(|e| super::ApiError::internal(e.to_string()))?,
        )
    } else {
        let (deliver, receive) = oneshot::channel();
        daemon
            .pending_attach
            .lock()
            .expect("pending lock")
            .entry(record.id().to_string())
            .or_default()
            .push(PendingAttach { wants, deliver });
        Shim::Later(receive)
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let stdin = wants & WANTS_STDIN != 0;
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let shim = match shim {
            Shim::Now(stream) => Some(stream),
            Shim::Later(receive) => receive.await.ok(),
        };
        if let Some(shim) = shim {
            let detach = tty.then(|| Watcher::new(keys));
            proxy(TokioIo::new(upgraded), shim, detach, stdin, true).await;
        }
    });
    Ok(switching(tty))
}
// ANCHOR_END: attach

enum Shim {
    Now(std::os::unix::net::UnixStream),
    Later(oneshot::Receiver<std::os::unix::net::UnixStream>),
}

// ANCHOR: proxy
/// Copies the shim's frames to the client (raw with a terminal), and the
/// client's bytes to the shim as stdin frames, until the shim's side ends
/// (the container exited) or the client detaches. `detach` watches for
/// the detach keys when the container has a terminal (`None` without one,
/// as in docker: a program reading a pipe may need every byte). With
/// `close_stdin`, the end of the client's input closes the container's
/// stdin.
pub async fn proxy<C>(
    client: C,
    shim: std::os::unix::net::UnixStream,
    detach: Option<Watcher>,
    stdin: bool,
    close_stdin: bool,
) where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if shim.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(shim) = tokio::net::UnixStream::from_std(shim) else {
        return;
    };
    let tty = detach.is_some();
    let (mut shim_read, mut shim_write) = shim.into_split();
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let output = async move {
        let mut head = [0u8; 8];
        loop {
            if shim_read.read_exact(&mut head).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let mut data = vec![0u8; len];
            if shim_read.read_exact(&mut data).await.is_err() {
                break;
            }
            let written = if tty {
                client_write.write_all(&data).await
            } else {
                let mut frame = head.to_vec();
                frame.extend_from_slice(&data);
                client_write.write_all(&frame).await
            };
            if written.is_err() || client_write.flush().await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    let input = async move {
        if !stdin {
            return std::future::pending::<()>().await;
        }
        let mut detach = detach;
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (data, detached) = match &mut detach {
                Some(watcher) => {
                    let fed = watcher.feed(&buffer[..n]);
                    (fed.pass, fed.detach)
                }
                None => (buffer[..n].to_vec(), false),
            };
            if !data.is_empty() {
                let mut frame = frames::header(frames::STDIN, data.len()).to_vec();
                frame.extend_from_slice(&data);
                if shim_write.write_all(&frame).await.is_err() {
                    return;
                }
            }
            if detached {
                return;
            }
        }
        if close_stdin {
            let _ = shim_write
                .write_all(&frames::header(frames::STDIN, 0))
                .await;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
}
// ANCHOR_END: proxy
