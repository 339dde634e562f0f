//! `docker exec`: `POST /containers/{id}/exec` creates an exec session,
//! `POST /exec/{id}/start` runs it (on a hijacked stream, as attach), and
//! `GET /exec/{id}/json` tells its exit code.
//!
//! Entering a container's namespaces takes a single-threaded process
//! (chapter 2), so the daemon runs each exec in a helper process of its
//! own, `skiff exec-helper`, which calls chapter 2's `exec` (with chapter
//! 3's cgroup join), and plays go-between for its stdio.

use super::containers::record_of;
use super::json::GoJson;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use crate::daemon::shims::publish_with;
use crate::frames;
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What `POST /containers/{id}/exec` asks for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub privileged: bool,
    /// `--detach-keys`: the sequence that leaves a terminal session running.
    /// dockerd reads its bodies with Go's JSON decoder, which matches field
    /// names whatever their case, and docker-py sends this one as
    /// `detachKeys` (from the client's config file).
    #[serde(alias = "detachKeys")]
    pub detach_keys: String,
}

/// An exec session, for the daemon's life.
pub struct ExecInstance {
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: u32,
    /// The terminal's master side, to resize it.
    pub terminal: Option<Arc<OwnedFd>>,
}

/// `POST /containers/{id}/exec`.
pub async fn create(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    GoJson(mut config): GoJson<ExecConfig>,
) -> ApiResult<Response> {
    config.env = config.env.map(super::create::without_bare_names);
    if config.cmd.is_empty() {
        return Err(ApiError::bad_request("no command given: Cmd is empty"));
    }
    if config.privileged {
        return Err(ApiError::bad_request("privileged exec is not supported"));
    }
    crate::detach::parse(&config.detach_keys).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let worker = daemon.clone();
    let record = blocking(move || record_of(&worker, &id)).await?;
    if !record.is_running() {
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            record.id()
        )));
    }
    let exec_id = ch02_namespaces::records::new_id();
    daemon.execs.lock().expect("execs lock").insert(
        exec_id.clone(),
        ExecInstance {
            container_id: record.id().to_string(),
            config,
            running: false,
            exit_code: None,
            pid: 0,
            terminal: None,
        },
    );
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartBody {
    detach: bool,
    /// Whether the client takes the output raw, as one stream; otherwise
    /// it is framed by stream, whether or not the command has a terminal
    /// (dockerd decides by this field of the start, not by the exec's).
    tty: bool,
}

// ANCHOR: start
/// `POST /exec/{id}/start`: runs the session's command in a helper, on the
/// hijacked stream unless detached.
pub async fn start(
    State(daemon): State<Arc<Daemon>>,
    Path(exec_id): Path<String>,
    mut request: Request,
) -> ApiResult<Response> {
    let body = axum::body::to_bytes(std::mem::take(request.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let start: StartBody = if body.is_empty() {
        StartBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let (container_id, config) = {
        let execs = daemon.execs.lock().expect("execs lock");
        let exec = execs
            .get(&exec_id)
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {exec_id}")))?;
        if exec.running || exec.exit_code.is_some() {
            return Err(ApiError::conflict(format!(
                "exec {exec_id} has already run"
            )));
        }
        (exec.container_id.clone(), exec.config.clone())
    };
    let helper = Helper::spawn(&daemon, &container_id, &config).await?;
    if let Some(exec) = daemon.execs.lock().expect("execs lock").get_mut(&exec_id) {
        exec.running = true;
        exec.pid = helper.child.id().unwrap_or(0);
        exec.terminal = helper.terminal.clone();
    }
    publish_with(&daemon, "exec_start", &container_id, BTreeMap::new());
    if start.detach {
        tokio::spawn(helper.finish(daemon, exec_id, container_id));
        return Ok(StatusCode::OK.into_response());
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    let raw = start.tty;
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            helper
                .relay(TokioIo::new(upgraded), raw, daemon, exec_id, container_id)
                .await;
        }
    });
    Ok(super::attach::switching(raw))
}
// ANCHOR_END: start

/// The helper process of one exec, and our ends of its stdio.
struct Helper {
    child: tokio::process::Child,
    /// With a terminal: its master side (output and input).
    terminal: Option<Arc<OwnedFd>>,
    tty: bool,
    /// The session's detach keys (checked at create).
    detach_keys: String,
}

impl Helper {
    async fn spawn(daemon: &Daemon, container: &str, config: &ExecConfig) -> ApiResult<Helper> {
        let request = serde_json::to_string(config).expect("plain data");
        let mut command = tokio::process::Command::new("/proc/self/exe");
        command
            .arg0("skiff")
            .arg("--root")
            .arg(&daemon.root)
            .args(["exec-helper", container, "--request", &request])
            .kill_on_drop(false);
        let mut console = None;
        if config.tty {
            // The helper opens the terminal inside the container, where
            // it has a name, and sends us its master side on this socket.
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(internal)?;
            let fd = theirs.as_raw_fd();
            command.arg("--console-fd").arg(CONSOLE_FD.to_string());
            // SAFETY: dup2 and fcntl are async-signal-safe; nothing else
            // runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let done = if fd == CONSOLE_FD {
                        libc::fcntl(fd, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(fd, CONSOLE_FD)
                    };
                    if done < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            // Until it has a terminal, what the helper says (a container
            // that stopped meanwhile) comes on a pipe.
            command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            console = Some((ours, theirs));
        } else {
            let piped = |wanted: bool| {
                if wanted {
                    std::process::Stdio::piped()
                } else {
                    std::process::Stdio::null()
                }
            };
            command
                .stdin(piped(config.attach_stdin))
                .stdout(piped(config.attach_stdout))
                .stderr(piped(config.attach_stderr));
        }
        let child = command.spawn().map_err(internal)?;
        let mut terminal = None;
        if let Some((ours, theirs)) = console {
            drop(theirs);
            terminal = receive_master(ours).await.map(Arc::new);
        }
        Ok(Helper {
            child,
            terminal,
            tty: config.tty,
            detach_keys: config.detach_keys.clone(),
        })
    }

    /// Waits for the helper and records the exit code.
    async fn finish(mut self, daemon: Arc<Daemon>, exec_id: String, container: String) {
        let code = self
            .child
            .wait()
            .await
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(-1);
        if let Some(exec) = daemon.execs.lock().expect("execs lock").get_mut(&exec_id) {
            exec.running = false;
            exec.exit_code = Some(code);
        }
        let mut attributes = BTreeMap::new();
        attributes.insert("exitCode".to_string(), code.to_string());
        attributes.insert("execID".to_string(), exec_id);
        publish_with(&daemon, "exec_die", &container, attributes);
    }

    // ANCHOR: relay
    /// Copies the client's input to the helper and its output back (raw
    /// when the start asked for it, framed by stream otherwise), then
    /// records the exit.
    async fn relay<C>(
        mut self,
        client: C,
        raw: bool,
        daemon: Arc<Daemon>,
        exec_id: String,
        container: String,
    ) where
        C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(u8, Vec<u8>)>(16);
        let mut outputs = Vec::new();
        let mut input: Option<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> = None;
        if let Some(master) = self.terminal.clone() {
            let reader = tokio_file(&master);
            let writer = tokio_file(&master);
            if let (Ok(reader), Ok(writer)) = (reader, writer) {
                outputs.push(pump(frames::STDOUT, reader, tx.clone()));
                input = Some(Box::new(writer));
            }
        } else {
            if let Some(out) = self.child.stdout.take() {
                outputs.push(pump(frames::STDOUT, out, tx.clone()));
            }
            if let Some(err) = self.child.stderr.take() {
                outputs.push(pump(frames::STDERR, err, tx.clone()));
            }
            if let Some(stdin) = self.child.stdin.take() {
                input = Some(Box::new(stdin));
            }
        }
        drop(tx);
        let tty = self.tty;
        // The detach keys end the client's stream; the session goes on,
        // its output read and dropped (a full terminal would stop it).
        let (detached, mut on_detach) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(async move {
            loop {
                let (stream, data) = tokio::select! {
                    next = rx.recv() => match next {
                        Some(next) => next,
                        None => break,
                    },
                    // (An error: the feeder ended without detaching.)
                    Ok(()) = on_detach.changed() => {
                        let _ = client_write.shutdown().await;
                        while rx.recv().await.is_some() {}
                        return None;
                    }
                };
                let result = if raw {
                    client_write.write_all(&data).await
                } else {
                    let mut frame = frames::header(stream, data.len()).to_vec();
                    frame.extend_from_slice(&data);
                    client_write.write_all(&frame).await
                };
                if result.is_err() {
                    break;
                }
            }
            Some(client_write)
        });
        let mut watcher = tty.then(|| {
            crate::detach::Watcher::new(
                crate::detach::parse(&self.detach_keys).unwrap_or(crate::detach::DEFAULT.to_vec()),
            )
        });
        let feeder = tokio::spawn(async move {
            let Some(mut input) = input else {
                return;
            };
            let mut buffer = vec![0u8; 32 * 1024];
            while let Ok(n) = client_read.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                let (data, detach) = match &mut watcher {
                    Some(watcher) => {
                        let fed = watcher.feed(&buffer[..n]);
                        (fed.pass, fed.detach)
                    }
                    None => (buffer[..n].to_vec(), false),
                };
                if input.write_all(&data).await.is_err() {
                    break;
                }
                if detach {
                    let _ = detached.send(true);
                    return;
                }
            }
            let _ = input.shutdown().await;
        });
        // A terminal's master never reads end-of-file: once the command
        // has exited, it gives what the command wrote last (still in the
        // terminal's buffer when the exit is known) and then EIO, as soon
        // as nothing holds the terminal. A process the command left in
        // the background may hold it for ever: the wait is bounded.
        let terminal = self.terminal.take();
        self.finish(daemon, exec_id, container).await;
        drop(terminal);
        for output in outputs {
            if tty {
                let abort = output.abort_handle();
                if tokio::time::timeout(TERMINAL_DRAIN, output).await.is_err() {
                    abort.abort();
                }
            } else {
                let _ = output.await;
            }
        }
        // The end of the stream only once the exit code is known: the
        // docker CLI asks for it as soon as the stream ends.
        if let Ok(Some(mut client_write)) = writer.await {
            let _ = client_write.shutdown().await;
        }
        feeder.abort();
    }
    // ANCHOR_END: relay
}

/// The descriptor the helper finds its console socket on.
const CONSOLE_FD: i32 = 3;

/// How long the output of an exec with a terminal is read after the
/// command's exit, at most (see `relay`).
const TERMINAL_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);

// ANCHOR: receive_master
/// Receives the terminal's master side from the helper (an `SCM_RIGHTS`
/// message); `None` when the helper ended without sending one (it failed
/// before it had a terminal, and said why on its stderr).
async fn receive_master(socket: std::os::unix::net::UnixStream) -> Option<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    socket.set_nonblocking(true).ok()?;
    let socket = tokio::net::UnixStream::from_std(socket).ok()?;
    loop {
        socket.readable().await.ok()?;
        let received = socket.try_io(tokio::io::Interest::READABLE, || {
            let mut name = [0u8; 64];
            let mut buffers = [std::io::IoSliceMut::new(&mut name)];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let message = recvmsg::<()>(
                socket.as_raw_fd(),
                &mut buffers,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)?;
            let fds: Vec<std::os::fd::RawFd> = message
                .cmsgs()
                .map_err(std::io::Error::from)?
                .filter_map(|c| match c {
                    ControlMessageOwned::ScmRights(fds) => Some(fds),
                    _ => None,
                })
                .flatten()
                .collect();
            Ok(fds)
        });
        match received {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
            // SAFETY: the kernel installed this descriptor for us alone.
            Ok(fds) => return fds.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }),
        }
    }
}
// ANCHOR_END: receive_master

fn internal(e: std::io::Error) -> ApiError {
    ApiError::internal(e.to_string())
}

/// A tokio handle on a copy of `fd` (a terminal's master side).
fn tokio_file(fd: &OwnedFd) -> std::io::Result<tokio::fs::File> {
    let copy = fd.as_fd().try_clone_to_owned()?;
    Ok(tokio::fs::File::from_std(std::fs::File::from(copy)))
}

/// Reads `source` into the channel as (stream, bytes) until its end.
fn pump<R>(
    stream: u8,
    mut source: R,
    tx: tokio::sync::mpsc::Sender<(u8, Vec<u8>)>,
) -> tokio::task::JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 32 * 1024];
        while let Ok(n) = source.read(&mut buffer).await {
            if n == 0 || tx.send((stream, buffer[..n].to_vec())).await.is_err() {
                break;
            }
        }
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct ResizeQuery {
    h: Option<u16>,
    w: Option<u16>,
}

/// `POST /exec/{id}/resize`.
pub async fn resize(
    State(daemon): State<Arc<Daemon>>,
    Path(exec_id): Path<String>,
    Query(query): Query<ResizeQuery>,
) -> ApiResult<StatusCode> {
    let execs = daemon.execs.lock().expect("execs lock");
    let exec = execs
        .get(&exec_id)
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {exec_id}")))?;
    if let Some(master) = &exec.terminal {
        crate::shim::io::resize(master, query.h.unwrap_or(24), query.w.unwrap_or(80));
    }
    Ok(StatusCode::OK)
}

/// `GET /exec/{id}/json`.
pub async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(exec_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let execs = daemon.execs.lock().expect("execs lock");
    let exec = execs
        .get(&exec_id)
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {exec_id}")))?;
    let (entrypoint, arguments) = exec
        .config
        .cmd
        .split_first()
        .map(|(first, rest)| (first.clone(), rest.to_vec()))
        .unwrap_or_default();
    Ok(Json(json!({
        "ID": exec_id,
        "Running": exec.running,
        "ExitCode": exec.exit_code,
        "ProcessConfig": {"tty": exec.config.tty, "entrypoint": entrypoint, "arguments": arguments,
                          "privileged": false, "user": exec.config.user},
        "OpenStdin": exec.config.attach_stdin,
        "OpenStderr": exec.config.attach_stderr,
        "OpenStdout": exec.config.attach_stdout,
        "CanRemove": false,
        "ContainerID": exec.container_id,
        "DetachKeys": exec.config.detach_keys,
        "Pid": exec.pid,
    })))
}

/// `skiff exec-helper CONTAINER --request JSON`: runs one exec session,
/// with this process's stdio; exits with the command's code.
pub fn helper_main(
    root: &std::path::Path,
    container: &str,
    request: &str,
    console_fd: Option<i32>,
) -> anyhow::Result<i32> {
    ch01_process::sealed_exe::ensure_sealed()?;
    let config: ExecConfig = serde_json::from_str(request)?;
    let engine = crate::engine::SkiffEngine::open(root)?;
    // SAFETY: the daemon passed this descriptor to us, open, for us alone;
    // nothing else in this process owns it.
    let console = console_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    let request = ch02_namespaces::exec::ExecRequest {
        argv: config.cmd,
        env: config.env.unwrap_or_default(),
        cwd: Some(config.working_dir)
            .filter(|d| !d.is_empty())
            .map(Into::into),
        user: Some(config.user).filter(|u| !u.is_empty()),
        terminal: config.tty,
        additional_gids: Vec::new(),
        console: console.map(|fd| ch02_namespaces::exec::ConsoleSocket(Arc::new(fd))),
    };
    Ok(ch02_namespaces::exec::exec(&engine, container, &request)?)
}
