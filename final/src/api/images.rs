//! The image endpoints: pull, list, inspect, remove, tag, history, login.

use super::create::{find_image, image_error};
use super::json::GoJson;
use super::query::QueryPairs;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ch05_images::history::{directory_size, parse_rfc3339};
use ch05_images::reference::{self, Reference};
use ch05_images::registry::Credentials;
use ch05_images::store::ImageRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Credentials sent with a request (`X-Registry-Auth`, base64 JSON), or
/// those stored by `login` for the reference's registry.
pub(super) fn credentials(
    daemon: &Daemon,
    headers: &HeaderMap,
    reference: &Reference,
) -> Option<Credentials> {
    let sent = headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::base64::decode)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|auth| {
            let user = auth["username"].as_str()?.to_string();
            let password = auth["password"].as_str()?.to_string();
            (!user.is_empty()).then_some(Credentials { user, password })
        });
    sent.or_else(|| {
        ch05_images::credentials::load(&daemon.root, &reference.registry)
            .ok()
            .flatten()
    })
}

pub(super) fn progress(status: impl Into<String>, id: Option<&str>) -> bytes::Bytes {
    let mut line = json!({ "status": status.into() });
    if let Some(id) = id {
        line["id"] = json!(id);
    }
    let mut bytes = serde_json::to_vec(&line).expect("plain data");
    bytes.push(b'\n');
    bytes.into()
}

pub(super) fn failure(message: &str) -> bytes::Bytes {
    let mut bytes = serde_json::to_vec(&json!({
        "errorDetail": {"message": message}, "error": message
    }))
    .expect("plain data");
    bytes.push(b'\n');
    bytes.into()
}

/// `POST /images/create`: a pull (`fromImage`), or an import (`fromSrc`,
/// see [`super::import`]).
pub async fn create(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let query = QueryPairs::parse(raw.as_deref());
    if query.get("fromSrc").is_some() {
        return super::import::import(daemon, query, request).await;
    }
    pull(daemon, &query, &headers).await
}

// ANCHOR: pull
/// `POST /images/create?fromImage=NAME&tag=TAG`: `docker pull`, its
/// progress as a stream of JSON lines.
pub async fn pull(
    daemon: Arc<Daemon>,
    query: &QueryPairs,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let name = query
        .get("fromImage")
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?
        .to_string();
    let full = match query.non_empty("tag") {
        Some(tag) if tag.starts_with("sha256:") => format!("{name}@{tag}"),
        Some(tag) => format!("{name}:{tag}"),
        None => name,
    };
    let reference = reference::parse(&full).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let credentials = credentials(&daemon, headers, &reference);
    let before = daemon
        .engine
        .images()
        .store()
        .image(&reference)
        .ok()
        .flatten()
        .map(|r| r.manifest);
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let _ = tx
        .send(progress(
            format!("Pulling from {}", reference.name()),
            Some(&reference.reference()),
        ))
        .await;
    tokio::task::spawn_blocking(move || {
        let result =
            ch05_images::pull::pull(daemon.engine.images().store(), &reference, credentials);
        let lines = match result {
            Ok(record) => {
                let status = if before.as_ref() == Some(&record.manifest) {
                    format!("Status: Image is up to date for {reference}")
                } else {
                    format!("Status: Downloaded newer image for {reference}")
                };
                daemon
                    .events
                    .publish("image", "pull", &reference.to_string(), BTreeMap::new());
                vec![
                    progress(format!("Digest: {}", record.manifest), None),
                    progress(status, None),
                ]
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
// ANCHOR_END: pull

/// The images of the store, grouped by image (config) id: one image may
/// have several names.
fn grouped(daemon: &Daemon) -> ApiResult<Vec<(String, Vec<ImageRecord>)>> {
    let records = daemon
        .engine
        .images()
        .store()
        .images()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut groups: BTreeMap<String, Vec<ImageRecord>> = BTreeMap::new();
    for record in records {
        groups
            .entry(record.config.to_string())
            .or_default()
            .push(record);
    }
    Ok(groups.into_iter().collect())
}

fn image_size(daemon: &Daemon, record: &ImageRecord) -> u64 {
    record
        .layers
        .iter()
        .map(|chain| directory_size(&daemon.engine.images().store().layer_path(chain)).unwrap_or(0))
        .sum()
}

/// A record's name as docker shows it in `RepoTags` (see
/// [`Reference::familiar`]): clients compare it with the name they gave.
pub(super) fn repo_tag(record: &ImageRecord) -> String {
    reference::parse(&record.reference)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| record.reference.clone())
}

fn repo_digest(record: &ImageRecord) -> String {
    let familiar = repo_tag(record);
    let name = familiar
        .rsplit_once('@')
        .map(|(n, _)| n)
        .unwrap_or(&familiar);
    let name = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    format!("{name}@{}", record.manifest)
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    filters: Option<String>,
}

/// Whether an image named `references` passes `--filter reference=PATTERN`
/// (`docker images NAME` sends it too): a pattern (Go's `path.Match`, as
/// dockerd's) matches a name with its tag (`busybox:1.36`, `busy*:*`) or
/// without (`busybox`: every tag), in the form the client gave the name.
fn reference_matches(patterns: &[String], references: &[&str]) -> bool {
    let familiar = |name: &str| -> String {
        let name = name.strip_prefix("docker.io/").unwrap_or(name);
        name.strip_prefix("library/").unwrap_or(name).to_string()
    };
    patterns.iter().any(|pattern| {
        references.iter().any(|reference| {
            let tagged = familiar(reference);
            let untagged = match tagged.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => name.to_string(),
                _ => tagged.clone(),
            };
            [&tagged, &untagged]
                .iter()
                .any(|text| ch05_images::dockerignore::glob_match(pattern, text))
        })
    })
}

/// `GET /images/json?filters=...`: `docker images`, with the `reference`,
/// `label` and `dangling` filters (every image here has a name: none is
/// dangling).
pub async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let filters = super::containers::Filters::parse(query.filters.as_deref());
    blocking(move || {
        let mut out = Vec::new();
        let dangling = filters
            .get("dangling")
            .is_some_and(|v| v.iter().any(|d| super::query::bool_value(Some(d))));
        if dangling {
            return Ok(Json(out));
        }
        for (id, records) in grouped(&daemon)? {
            let names: Vec<&str> = records.iter().map(|r| r.reference.as_str()).collect();
            if let Some(patterns) = filters.get("reference")
                && !reference_matches(patterns, &names)
            {
                continue;
            }
            let first = &records[0];
            let config = daemon
                .engine
                .images()
                .image(
                    &reference::parse(&first.reference)
                        .map_err(|e| ApiError::internal(e.to_string()))?,
                )
                .ok()
                .map(|(_, c)| c);
            let created = config
                .as_ref()
                .and_then(|c| c.created.as_deref())
                .and_then(parse_rfc3339)
                .unwrap_or(first.created as i64);
            let labels = config
                .as_ref()
                .and_then(|c| c.config.labels.clone())
                .unwrap_or_default();
            if !filters.labels_match(&labels) {
                continue;
            }
            let size = image_size(&daemon, first);
            out.push(json!({
                "Id": id,
                "ParentId": "",
                "RepoTags": records.iter().map(repo_tag).collect::<Vec<_>>(),
                "RepoDigests": records.iter().map(repo_digest).collect::<Vec<_>>(),
                "Created": created,
                "Size": size,
                "SharedSize": -1,
                "VirtualSize": size,
                "Labels": labels,
                "Containers": -1,
            }));
        }
        Ok(Json(out))
    })
    .await
}

/// `GET /images/{name}/json` and `GET /images/{name}/history` (the name
/// may hold slashes, so the route takes the rest of the path).
pub async fn by_name(
    State(daemon): State<Arc<Daemon>>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    if let Some(name) = path.strip_suffix("/json") {
        let name = name.to_string();
        return blocking(move || inspect(&daemon, &name).map(|v| Json(v).into_response())).await;
    }
    if let Some(name) = path.strip_suffix("/history") {
        let name = name.to_string();
        return blocking(move || history(&daemon, &name).map(|v| Json(v).into_response())).await;
    }
    if let Some(name) = path.strip_suffix("/get") {
        return super::transfer::save_one(daemon, name.to_string()).await;
    }
    Err(ApiError::not_found(format!(
        "page not found: /images/{path}"
    )))
}

/// `docker image inspect`.
pub fn inspect(daemon: &Daemon, name: &str) -> ApiResult<Value> {
    let reference = find_image(daemon, name)?;
    let (record, config) = daemon
        .engine
        .images()
        .image(&reference)
        .map_err(image_error)?;
    let id = record.config.to_string();
    let names: Vec<ImageRecord> = grouped(daemon)?
        .into_iter()
        .find(|(group, _)| *group == id)
        .map(|(_, records)| records)
        .unwrap_or_default();
    let mut run = serde_json::to_value(&config.config).unwrap_or_default();
    // dockerd always shows these fields, null when the image has none:
    // clients index them (docker-py's tests read `Config.OnBuild`).
    for field in ["OnBuild", "Entrypoint", "Volumes"] {
        if let Some(run) = run.as_object_mut() {
            run.entry(field).or_insert(Value::Null);
        }
    }
    let size = image_size(daemon, &record);
    Ok(json!({
        "Id": id,
        "RepoTags": names.iter().map(repo_tag).collect::<Vec<_>>(),
        "RepoDigests": names.iter().map(repo_digest).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": "",
        "Created": config.created.clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Config": run,
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": size,
        "VirtualSize": size,
        "GraphDriver": {"Name": "overlay2", "Data": {}},
        "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }))
}

/// `docker history`: newest step first, as docker gives it, with the size
/// of each step's layer (chapter 5's rows).
fn history(daemon: &Daemon, name: &str) -> ApiResult<Value> {
    let reference = find_image(daemon, name)?;
    let (record, config) = daemon
        .engine
        .images()
        .image(&reference)
        .map_err(image_error)?;
    let store = daemon.engine.images().store();
    let sizes: Vec<u64> = record
        .layers
        .iter()
        .map(|chain| directory_size(&store.layer_path(chain)).unwrap_or(0))
        .collect();
    let rows = ch05_images::history::rows(&config, record.config.hex(), &sizes);
    let entries: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let newest = i == 0;
            json!({
                "Id": if newest { record.config.to_string() } else { row.image.clone() },
                "Created": row.created.unwrap_or(0),
                "CreatedBy": row.created_by,
                "Tags": if newest { json!([record.reference]) } else { Value::Null },
                "Size": row.size,
                "Comment": row.comment,
            })
        })
        .collect();
    Ok(json!(entries))
}

#[derive(Debug, Deserialize, Default)]
pub struct RemoveQuery {
    force: Option<String>,
}

/// The lower layers every container mounts (from their specs): an image
/// removed by force, or a prune, must leave them in the store, or the
/// container could not start again.
pub fn layers_in_use(daemon: &Daemon) -> ApiResult<Vec<std::path::PathBuf>> {
    use ch02_namespaces::Engine;
    Ok(daemon
        .engine
        .containers()
        .list::<crate::engine::Spec>()?
        .into_iter()
        .flat_map(|record| record.spec.storage().layers.clone())
        .collect())
}

/// `DELETE /images/{name}`: `docker rmi`.
pub async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let reference = find_image(&daemon, &name)?;
        let force = super::query::bool_value(query.force.as_deref());
        if !force {
            use ch02_namespaces::Engine;
            let user = daemon
                .engine
                .containers()
                .list::<crate::engine::Spec>()?
                .into_iter()
                .find(|r| r.image.as_deref() == Some(&reference.to_string()));
            if let Some(user) = user {
                return Err(ApiError::conflict(format!(
                    "conflict: unable to remove repository reference \"{reference}\" (must force) - container {} is using its referenced image",
                    &user.id()[..12]
                )));
            }
        }
        let in_use = layers_in_use(&daemon)?;
        let deleted = daemon
            .engine
            .images()
            .store()
            .remove_image_keeping(&reference, &in_use)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        daemon.events.publish("image", "untag", &reference.to_string(), BTreeMap::new());
        let mut out = vec![json!({"Untagged": reference.to_string()})];
        out.extend(deleted.iter().map(|d| json!({"Deleted": d.to_string()})));
        Ok(Json(json!(out)))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct TagQuery {
    repo: Option<String>,
    tag: Option<String>,
}

/// `POST /images/{name}/tag?repo=R&tag=T`, and `POST /images/{name}/push`.
pub async fn tag_or_push(
    State(daemon): State<Arc<Daemon>>,
    Path(path): Path<String>,
    Query(query): Query<TagQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(name) = path.strip_suffix("/push") {
        return super::transfer::push(daemon, name.to_string(), query.tag, headers).await;
    }
    let Some(name) = path.strip_suffix("/tag").map(String::from) else {
        return Err(ApiError::not_found(format!(
            "page not found: /images/{path}"
        )));
    };
    blocking(move || {
        let source = find_image(&daemon, &name)?;
        let repo = query
            .repo
            .ok_or_else(|| ApiError::bad_request("repo is required"))?;
        let target = match query.tag.filter(|t| !t.is_empty()) {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo,
        };
        let target = reference::parse(&target).map_err(|e| ApiError::bad_request(e.to_string()))?;
        daemon
            .engine
            .images()
            .store()
            .tag(&source, &target)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        daemon
            .events
            .publish("image", "tag", &target.to_string(), BTreeMap::new());
        Ok(StatusCode::CREATED.into_response())
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct PruneQuery {
    filters: Option<String>,
}

/// `POST /images/prune`: dangling images (without a name: the store keeps
/// none, every image it holds has one), or with `dangling=false`
/// (`docker image prune -a`) every image no container uses.
pub async fn prune(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<PruneQuery>,
) -> ApiResult<Json<Value>> {
    let filters = super::containers::Filters::parse(query.filters.as_deref());
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|d| d == "false" || d == "0"));
    blocking(move || {
        let mut deleted = Vec::new();
        if all {
            use ch02_namespaces::Engine;
            let used: Vec<String> = daemon
                .engine
                .containers()
                .list::<crate::engine::Spec>()?
                .into_iter()
                .map(|r| r.spec.engine.image_id.clone())
                .collect();
            let in_use = layers_in_use(&daemon)?;
            for (id, records) in grouped(&daemon)? {
                if used.contains(&id) {
                    continue;
                }
                for record in records {
                    let reference = reference::parse(&record.reference)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    let layers = daemon
                        .engine
                        .images()
                        .store()
                        .remove_image_keeping(&reference, &in_use)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    deleted.push(json!({"Untagged": record.reference}));
                    deleted.extend(layers.iter().map(|d| json!({"Deleted": d.to_string()})));
                }
            }
        }
        Ok(Json(json!({"ImagesDeleted": deleted, "SpaceReclaimed": 0})))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct AuthBody {
    username: String,
    password: String,
    serveraddress: String,
}

/// `POST /auth`: `docker login`: the credentials are stored for the
/// registry (checked when they are used).
pub async fn auth(
    State(daemon): State<Arc<Daemon>>,
    GoJson(body): GoJson<AuthBody>,
) -> ApiResult<Json<Value>> {
    let registry = body
        .serveraddress
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .trim_end_matches("/v1")
        .to_string();
    let registry = if registry.is_empty() || registry.contains("index.docker.io") {
        "docker.io".to_string()
    } else {
        registry
    };
    blocking(move || {
        ch05_images::credentials::store(&daemon.root, &registry, &body.username, &body.password)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Json(
            json!({"Status": "Login Succeeded", "IdentityToken": ""}),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::reference_matches;

    #[test]
    fn reference_filters_match_as_dockerd() {
        let names = ["busybox:1.36", "127.0.0.1:5000/test/app:v1"];
        let matches = |pattern: &str| reference_matches(&[pattern.to_string()], &names);
        assert!(matches("busybox") && matches("busybox:1.36") && matches("busy*"));
        assert!(matches("busybox:*") && matches("127.0.0.1:5000/test/app"));
        assert!(matches("*/test/app:v?"));
        assert!(!matches("busybox:latest") && !matches("app"));
        assert!(matches("*"), "a name without a slash, as path.Match has it");
        assert!(reference_matches(
            &["busybox".into()],
            &["docker.io/library/busybox:latest"]
        ));
    }
}
