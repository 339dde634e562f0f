//! `docker cp` and `docker export`: `HEAD|GET|PUT
//! /containers/{id}/archive?path=PATH` and `GET /containers/{id}/export`.
//!
//! The docker CLI does the renaming (`cp a.txt c:/srv/b.txt`) itself: it
//! asks what the destination is (`HEAD`: the `X-Docker-Container-Path-Stat`
//! header, base64 of `{"name","size","mode","mtime","linkTarget"}`), then
//! sends or fetches a tar whose entries it named. The daemon only stats,
//! archives and extracts, in a helper process (`skiff cp-helper`, see
//! [`crate::copy`] for why), which reports on its status pipe: first the
//! path's stat or the error, then how the copy ended.

use super::containers::record_of;
use super::helper::{self, Helper, StatusPipe};
use super::{ApiError, ApiResult, blocking};
use crate::copy::{self, CopyError, Wanted};
use crate::daemon::Daemon;
use crate::engine::{SkiffEngine, Spec};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ch02_namespaces::Engine;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The header that tells what a path is.
pub const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

#[derive(Debug, Deserialize, Default)]
pub struct PathQuery {
    path: Option<String>,
}

impl PathQuery {
    fn path(self) -> ApiResult<String> {
        self.path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::bad_request("path is required"))
    }
}

/// What a helper's report says: its stat (or nothing), or docker's error.
fn outcome(report: Option<Value>) -> ApiResult<Value> {
    let report =
        report.ok_or_else(|| ApiError::internal("the copy helper ended without a word"))?;
    if let Some(message) = report["error"].as_str() {
        let status = report["status"].as_u64().unwrap_or(500) as u16;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(ApiError::new(status, message));
    }
    Ok(report["stat"].clone())
}

/// Starts `skiff cp-helper` for container `wanted` (404 first when there
/// is no such container).
async fn start(
    daemon: &Arc<Daemon>,
    container: String,
    mode: &str,
    path: &str,
    stdin: Stdio,
    stdout: Stdio,
) -> ApiResult<Helper> {
    let worker = daemon.clone();
    let id = blocking(move || Ok(record_of(&worker, &container)?.id().to_string())).await?;
    let args = ["cp-helper", &id, "--mode", mode, "--path", path].map(String::from);
    helper::spawn(daemon, &args, stdin, stdout, Stdio::inherit())
}

fn stat_header(stat: &Value) -> String {
    crate::base64::encode(&serde_json::to_vec(stat).expect("plain data"))
}

/// `HEAD /containers/{id}/archive?path=PATH`.
pub async fn head(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<PathQuery>,
) -> ApiResult<Response> {
    let path = query.path()?;
    let mut helper = start(&daemon, id, "stat", &path, Stdio::null(), Stdio::null()).await?;
    let stat = outcome(helper.report().await)?;
    helper.wait().await;
    Ok((StatusCode::OK, [(STAT_HEADER, stat_header(&stat))]).into_response())
}

// ANCHOR: get
/// `GET /containers/{id}/archive?path=PATH`: the stat header, then the
/// tar as the helper writes it.
pub async fn get(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<PathQuery>,
) -> ApiResult<Response> {
    let path = query.path()?;
    let mut helper = start(&daemon, id, "get", &path, Stdio::null(), Stdio::piped()).await?;
    let stat = outcome(helper.report().await)?;
    Ok(Response::builder()
        .header("Content-Type", "application/x-tar")
        .header(STAT_HEADER, stat_header(&stat))
        .body(tar_body(helper))
        .expect("a valid response"))
}
// ANCHOR_END: get

/// `GET /containers/{id}/export`: the container's whole root as a tar.
pub async fn export(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut helper = start(&daemon, id, "export", "/", Stdio::null(), Stdio::piped()).await?;
    outcome(helper.report().await)?;
    Ok(Response::builder()
        .header("Content-Type", "application/x-tar")
        .body(tar_body(helper))
        .expect("a valid response"))
}

/// The helper's stdout as a body; a copy that fails half-way breaks the
/// transfer (a short tar must not look whole).
fn tar_body(mut helper: Helper) -> Body {
    let stdout = helper.child.stdout.take();
    let stream =
        futures_util::stream::unfold((stdout, Some(helper)), |(stdout, helper)| async move {
            let mut stdout = stdout?;
            let mut buffer = vec![0u8; 64 * 1024];
            match stdout.read(&mut buffer).await {
                Ok(0) => {
                    let mut helper = helper?;
                    let report = helper.report().await;
                    helper.wait().await;
                    match report {
                        Some(report) if report["done"] == json!(true) => None,
                        Some(report) => Some((
                            Err(std::io::Error::other(
                                report["error"]
                                    .as_str()
                                    .unwrap_or("the copy failed")
                                    .to_string(),
                            )),
                            (None, None),
                        )),
                        None => Some((
                            Err(std::io::Error::other("the copy helper ended early")),
                            (None, None),
                        )),
                    }
                }
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok(bytes::Bytes::from(buffer)), (Some(stdout), helper)))
                }
                Err(e) => Some((Err(e), (None, None))),
            }
        });
    Body::from_stream(stream)
}

// ANCHOR: put
/// `PUT /containers/{id}/archive?path=DIR`: the tar body unpacked into DIR.
pub async fn put(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<PathQuery>,
    request: Request,
) -> ApiResult<StatusCode> {
    let mut body = request.into_body().into_data_stream();
    let started = match query.path() {
        Ok(path) => start(&daemon, id, "put", &path, Stdio::piped(), Stdio::null()).await,
        Err(error) => Err(error),
    };
    let mut helper = match started {
        Ok(helper) => helper,
        Err(error) => {
            super::body::drain(body).await;
            return Err(error);
        }
    };
    let mut stdin = helper.child.stdin.take().expect("stdin is piped");
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        // The helper stopped reading: its report says why.
        if stdin.write_all(&chunk).await.is_err() {
            break;
        }
    }
    drop(stdin);
    let report = helper.report().await;
    helper.wait().await;
    outcome(report)?;
    Ok(StatusCode::OK)
}
// ANCHOR_END: put

/// `skiff cp-helper CONTAINER --mode stat|get|put|export --path PATH`:
/// one copy, with this process's stdin or stdout as the tar.
pub fn helper_main(
    root: &std::path::Path,
    container: &str,
    mode: &str,
    path: &str,
) -> anyhow::Result<i32> {
    let mut status = StatusPipe::open()?;
    match copy_in_helper(root, container, mode, path, &mut status) {
        Ok(()) => {
            status.send(&json!({ "done": true }))?;
            Ok(0)
        }
        Err(error) => {
            status.send(&json!({ "error": error.to_string(), "status": error.status() }))?;
            Ok(1)
        }
    }
}

fn copy_in_helper(
    root: &std::path::Path,
    container: &str,
    mode: &str,
    path: &str,
    status: &mut StatusPipe,
) -> Result<(), CopyError> {
    use std::os::fd::AsFd;
    let failed = |e: &dyn std::fmt::Display| CopyError::Root(container.to_string(), e.to_string());
    let engine = SkiffEngine::open(root).map_err(|e| failed(&e))?;
    let record = engine
        .containers()
        .find::<Spec>(container)
        .map_err(|e| failed(&e))?;
    let container_root = copy::open_root(&engine, &record)?;
    let root_fd = container_root.as_fd();
    let wanted = Wanted::parse(path);
    let name = record.name().to_string();
    let mut report = |value: Value| status.send(&value).map_err(CopyError::Write);
    match mode {
        "stat" => {
            let stat = copy::stat(root_fd, &wanted, &name)?;
            report(json!({ "stat": stat }))
        }
        "get" => {
            let stat = copy::stat(root_fd, &wanted, &name)?;
            report(json!({ "stat": stat }))?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            copy::archive(root_fd, &wanted, &name, out)
        }
        "export" => {
            report(json!({ "stat": null }))?;
            copy::export(root_fd, std::io::BufWriter::new(std::io::stdout().lock()))
        }
        "put" => copy::extract(root_fd, &wanted, &name, std::io::stdin().lock()),
        other => Err(failed(&format!("unknown mode {other:?}"))),
    }
}
