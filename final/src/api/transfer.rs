//! Images in and out of the engine without a pull: `docker push`
//! (`POST /images/{name}/push`), `docker save` (`GET /images/get`) and
//! `docker load` (`POST /images/load`), on chapter 5's push and archive.
//!
//! Save and load stream: the archive goes through a bounded channel
//! between chapter 5's blocking tar code and the connection (see
//! [`super::body`]), never whole in memory.

use super::body::{BodyReader, streamed_body};
use super::create::find_image;
use super::images::{credentials, failure, progress};
use super::query::QueryPairs;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ch05_images::reference::{self, Reference};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn json_line(value: serde_json::Value) -> bytes::Bytes {
    let mut line = serde_json::to_vec(&value).expect("plain data");
    line.push(b'\n');
    line.into()
}

// ANCHOR: push
/// `POST /images/{name}/push?tag=TAG`: `docker push`, its lines as
/// docker's: the repository, one line per layer, the digest and size.
pub async fn push(
    daemon: Arc<Daemon>,
    name: String,
    tag: Option<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let full = match tag.filter(|t| !t.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name.clone(),
    };
    let reference = reference::parse(&full).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let store_has = {
        let worker = daemon.clone();
        let reference = reference.clone();
        blocking(move || {
            worker
                .engine
                .images()
                .store()
                .image(&reference)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?
    };
    if store_has.is_none() {
        return Err(ApiError::not_found(format!(
            "An image does not exist locally with the tag: {}",
            reference.name()
        )));
    }
    let credentials = credentials(&daemon, &headers, &reference);
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let _ = tx
        .send(progress(
            format!("The push refers to repository [{}]", reference.name()),
            None,
        ))
        .await;
    tokio::task::spawn_blocking(move || {
        let pushed =
            ch05_images::push::push(daemon.engine.images().store(), &reference, credentials);
        let lines = match pushed {
            Ok(report) => {
                daemon
                    .events
                    .publish("image", "push", &reference.to_string(), BTreeMap::new());
                push_lines(&report)
            }
            Err(error) => vec![failure(&ch01_process::exit::report(&error))],
        };
        for line in lines {
            let _ = tx.blocking_send(line);
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(stream))
        .expect("a valid response"))
}
// ANCHOR_END: push

/// The lines of a push that went well: each layer (`abc123: Pushed`), the
/// summary, and the digest for the client (`aux`).
fn push_lines(report: &ch05_images::push::PushReport) -> Vec<bytes::Bytes> {
    let mut lines = Vec::new();
    for line in report.layer_lines().lines() {
        if let Some((id, status)) = line.split_once(": ") {
            lines.push(json_line(
                json!({"status": status, "progressDetail": {}, "id": id}),
            ));
        }
    }
    let tag = reference::parse(&report.reference)
        .map(|r| r.reference())
        .unwrap_or_default();
    lines.push(progress(report.to_string(), None));
    lines.push(json_line(json!({
        "progressDetail": {},
        "aux": {"Tag": tag, "Digest": report.digest.to_string(), "Size": report.size},
    })));
    lines
}

// ANCHOR: save
/// `GET /images/get?names=A&names=B`: `docker save`, one tar.
pub async fn save(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let query = QueryPairs::parse(raw.as_deref());
    let names: Vec<String> = query
        .all("names")
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    save_images(daemon, names).await
}
// ANCHOR_END: save

/// `GET /images/{name}/get`: one image's tar.
pub async fn save_one(daemon: Arc<Daemon>, name: String) -> ApiResult<Response> {
    save_images(daemon, vec![name]).await
}

async fn save_images(daemon: Arc<Daemon>, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image named: give names=IMAGE"));
    }
    // Every name is checked before the answer starts: a missing image is
    // a 404, not a broken archive.
    let worker = daemon.clone();
    let references: Vec<Reference> =
        blocking(move || names.iter().map(|name| find_image(&worker, name)).collect()).await?;
    let (mut writer, body) = streamed_body();
    tokio::task::spawn_blocking(move || {
        let store = daemon.engine.images().store();
        match ch05_images::archive::save(store, &references, &mut writer) {
            Ok(()) => {
                for reference in &references {
                    daemon
                        .events
                        .publish("image", "save", &reference.to_string(), BTreeMap::new());
                }
            }
            Err(error) => writer.fail(ch01_process::exit::report(&error)),
        }
    });
    Ok(Response::builder()
        .header("Content-Type", "application/x-tar")
        .body(body)
        .expect("a valid response"))
}

// ANCHOR: load
/// `POST /images/load`: `docker load`, the tar as the body; every digest
/// is checked and every layer unpacked before anything is stored. An
/// archive that cannot be loaded is told as dockerd tells it: an answer of
/// 200 whose stream ends with an `error` line (docker-py raises its
/// `ImageLoadError` from that line, and nothing else).
pub async fn load(State(daemon): State<Arc<Daemon>>, request: Request) -> ApiResult<Response> {
    let body = BodyReader::new(request.into_body());
    let loaded = tokio::task::spawn_blocking(move || {
        let store = daemon.engine.images().store();
        let report = ch05_images::archive::load(store, body, "the archive")?;
        for image in &report.images {
            daemon
                .events
                .publish("image", "load", &image.reference, BTreeMap::new());
        }
        Ok::<_, ch05_images::archive::ArchiveError>(report)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let lines: Vec<Result<bytes::Bytes, std::convert::Infallible>> = match loaded {
        Ok(report) => report
            .to_string()
            .lines()
            .map(|line| Ok(json_line(json!({ "stream": format!("{line}\n") }))))
            .collect(),
        Err(error) => vec![Ok(super::images::failure(&ch01_process::exit::report(
            &error,
        )))],
    };
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(lines)))
        .expect("a valid response"))
}
// ANCHOR_END: load
