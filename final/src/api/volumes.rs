//! `docker volume`: `GET /volumes`, `POST /volumes/create`,
//! `GET|DELETE /volumes/{name}`, `POST /volumes/prune`, on chapter 4's
//! [`VolumeStore`](ch04_overlayfs::volumes::VolumeStore).
//!
//! A volume is in use while any container's record names it, running or
//! not, as in docker: removing it would take a stopped container's data.
//! Labels (`docker volume create --label`, which compose sets) are kept
//! beside the data, in the volume's directory (`<name>/labels.json`, next
//! to `<name>/_data`), out of the containers' sight.

use super::containers::Filters;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use crate::engine::Spec;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ch02_namespaces::Engine;
use ch04_overlayfs::volumes::{ANONYMOUS_LABEL, VolumeError, VolumeStore};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn store(daemon: &Daemon) -> &VolumeStore {
    daemon.engine.images().overlay().volumes()
}

fn volume_error(error: VolumeError) -> ApiError {
    let message = ch01_process::exit::report(&error);
    match error {
        VolumeError::NoSuchVolume(name) => {
            ApiError::not_found(format!("get {name}: no such volume"))
        }
        VolumeError::InvalidName(_) => ApiError::bad_request(message),
        VolumeError::InUse(_) => ApiError::conflict(message),
        _ => ApiError::internal(message),
    }
}

/// The containers (ids) whose records name each volume.
fn users(daemon: &Daemon) -> ApiResult<BTreeMap<String, Vec<String>>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in daemon.engine.containers().list::<Spec>()? {
        for mount in &record.spec.storage().mounts {
            if let Some(name) = mount.source.volume_name() {
                users
                    .entry(name.to_string())
                    .or_default()
                    .push(record.id().to_string());
            }
        }
    }
    Ok(users)
}

/// `docker volume inspect`'s object.
pub fn volume_json(daemon: &Daemon, name: &str) -> ApiResult<Value> {
    let store = store(daemon);
    let data = store
        .path(name)
        .ok_or_else(|| ApiError::not_found(format!("get {name}: no such volume")))?;
    let created = std::fs::metadata(data.parent().unwrap_or(&data))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    Ok(json!({
        "Name": name,
        "Driver": "local",
        "Mountpoint": data,
        "CreatedAt": ch05_images::history::rfc3339_nanos(created),
        "Labels": store.labels(name),
        "Scope": "local",
        "Options": {},
    }))
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    filters: Option<String>,
}

/// Whether volume `name` passes `filters` (`name`, `label`, `dangling`).
fn keep(filters: &Filters, name: &str, labels: &BTreeMap<String, String>, used: bool) -> bool {
    let names_ok = filters
        .get("name")
        .is_none_or(|wanted| wanted.iter().any(|w| name.contains(w.as_str())));
    let labels_ok = filters.get("label").is_none_or(|wanted| {
        wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
            None => labels.contains_key(w),
        })
    });
    let dangling_ok = filters.get("dangling").is_none_or(|wanted| {
        wanted
            .iter()
            .any(|w| matches!(w.as_str(), "true" | "1") != used)
    });
    names_ok && labels_ok && dangling_ok
}

/// `GET /volumes`: `docker volume ls`.
pub async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filters = Filters::parse(query.filters.as_deref());
    blocking(move || {
        let users = users(&daemon)?;
        let mut volumes = Vec::new();
        for name in store(&daemon).list().map_err(volume_error)? {
            let labels = store(&daemon).labels(&name);
            if keep(&filters, &name, &labels, users.contains_key(&name)) {
                volumes.push(volume_json(&daemon, &name)?);
            }
        }
        Ok(Json(json!({ "Volumes": volumes, "Warnings": [] })))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

// ANCHOR: create
/// `POST /volumes/create`: `docker volume create [--label K=V] [NAME]`
/// (a random name without one); an existing volume is returned as it is.
pub async fn create(
    State(daemon): State<Arc<Daemon>>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = super::json::decode(&body)?;
    // dockerd looks a driver other than `local` up among its plugins, and
    // answers 404 when there is none by that name: here there never is.
    if !matches!(body.driver.as_str(), "" | "local") {
        return Err(ApiError::not_found(format!(
            "volume driver {:?} is not supported: volumes here are local directories",
            body.driver
        )));
    }
    if body.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::bad_request(
            "driver options are not supported: volumes here are plain directories",
        ));
    }
    blocking(move || {
        let name = match body.name.as_str() {
            "" => ch02_namespaces::records::new_id(),
            name => name.to_string(),
        };
        store(&daemon)
            .create_labelled(&name, &body.labels.unwrap_or_default())
            .map_err(volume_error)?;
        daemon
            .events
            .publish("volume", "create", &name, BTreeMap::new());
        Ok((StatusCode::CREATED, Json(volume_json(&daemon, &name)?)).into_response())
    })
    .await
}
// ANCHOR_END: create

/// `GET /volumes/{name}`: `docker volume inspect`.
pub async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || volume_json(&daemon, &name).map(Json)).await
}

#[derive(Debug, Deserialize, Default)]
pub struct RemoveQuery {
    force: Option<String>,
}

/// `DELETE /volumes/{name}`: refused (409) while a container names it.
pub async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> ApiResult<StatusCode> {
    let force = super::query::bool_value(query.force.as_deref());
    blocking(move || {
        if store(&daemon).path(&name).is_none() {
            // `rm -f` of what is not there is done, as in docker.
            return match force {
                true => Ok(StatusCode::NO_CONTENT),
                false => Err(ApiError::not_found(format!("get {name}: no such volume"))),
            };
        }
        if let Some(users) = users(&daemon)?.get(&name) {
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        store(&daemon).remove(&name, &[]).map_err(volume_error)?;
        daemon
            .events
            .publish("volume", "destroy", &name, BTreeMap::new());
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

// ANCHOR: prune
/// `POST /volumes/prune`: the volumes no container names; without the
/// `all` filter (`docker volume prune -a`) only anonymous ones, as docker
/// does since API 1.42.
pub async fn prune(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filters = Filters::parse(query.filters.as_deref());
    let all = filters
        .get("all")
        .is_some_and(|v| v.iter().any(|a| matches!(a.as_str(), "true" | "1")));
    blocking(move || {
        let users = users(&daemon)?;
        let store = store(&daemon);
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for name in store.list().map_err(volume_error)? {
            let labels = store.labels(&name);
            if users.contains_key(&name)
                || !(all || labels.contains_key(ANONYMOUS_LABEL))
                || !keep(&filters, &name, &labels, false)
            {
                continue;
            }
            let size = store
                .path(&name)
                .and_then(|data| ch05_images::history::directory_size(&data).ok())
                .unwrap_or(0);
            store.remove(&name, &[]).map_err(volume_error)?;
            daemon
                .events
                .publish("volume", "destroy", &name, BTreeMap::new());
            reclaimed += size;
            deleted.push(name);
        }
        Ok(Json(
            json!({ "VolumesDeleted": deleted, "SpaceReclaimed": reclaimed }),
        ))
    })
    .await
}
// ANCHOR_END: prune

/// `docker rm -v`, and a `--rm` container's end: the anonymous volumes of
/// the container `record` (just removed) go, unless another container
/// names one. A failure is logged: the container is gone either way.
pub fn remove_anonymous(daemon: &Daemon, record: &ch02_namespaces::records::Record<Spec>) {
    let in_use: Vec<String> = match users(daemon) {
        Ok(users) => users.into_keys().collect(),
        Err(error) => {
            eprintln!(
                "skiff daemon: the volumes of {}: {}",
                record.id(),
                error.message
            );
            return;
        }
    };
    let mounts = &record.spec.storage().mounts;
    match store(daemon).remove_anonymous(mounts, &in_use) {
        Ok(removed) => {
            for name in removed {
                daemon
                    .events
                    .publish("volume", "destroy", &name, BTreeMap::new());
            }
        }
        Err(error) => eprintln!("skiff daemon: the volumes of {}: {error}", record.id()),
    }
}
