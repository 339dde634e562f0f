//! `POST /images/create?fromSrc=-&repo=R&tag=T&changes=...&message=M`:
//! `docker import`, the tar of a whole filesystem (what `docker export`
//! writes) as an image of one layer.
//!
//! The body is the tar, plain or gzip'd; chapter 5's `import_layer` makes
//! it a layer of the store with the extractor that unpacks pulled layers.
//! The config is `FROM scratch`'s with the `--change` instructions applied,
//! as `docker commit` applies them. The answer is a stream of JSON lines
//! whose last one holds the new image's id as its `status`, as dockerd's.
//!
//! A `fromSrc` other than `-` asks the daemon to download the tar from a
//! URL, which this daemon does not do (its traffic stays with registries).

use super::body::BodyReader;
use super::commit::apply_changes;
use super::images::{failure, progress};
use super::query::QueryPairs;
use super::{ApiError, ApiResult};
use crate::daemon::Daemon;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use ch05_images::build::image::{image_id, scratch_config, store_image};
use ch05_images::build::layer::import_layer;
use ch05_images::image::History;
use ch05_images::reference::{self, Reference};
use std::collections::BTreeMap;
use std::sync::Arc;

// ANCHOR: import
/// `docker import`: the request's body as an image named `repo:tag`.
pub async fn import(
    daemon: Arc<Daemon>,
    query: QueryPairs,
    request: Request,
) -> ApiResult<Response> {
    let mut config = scratch_config();
    config.created = Some(ch05_images::history::rfc3339(ch05_images::store::now()));
    let checked = from_stdin(&query)
        .and_then(|()| target_of(&query))
        .and_then(|target| apply_changes(&mut config, &query.all("changes")).map(|()| target));
    let target = match checked {
        Ok(target) => target,
        Err(error) => {
            super::body::drain(request.into_body().into_data_stream()).await;
            return Err(error);
        }
    };
    let message = query.non_empty("message").map(String::from);
    let body = BodyReader::new(request.into_body());
    let line = tokio::task::spawn_blocking(move || {
        let store = daemon.engine.images().store();
        // Shared, as a build holds it: no prune removes the layer meanwhile.
        let _lock = store.lock(false).map_err(|e| e.to_string())?;
        let layer = import_layer(store, body).map_err(|e| ch01_process::exit::report(&e))?;
        config.rootfs.diff_ids.push(layer.diff_id.to_string());
        config.history.push(History {
            created: config.created.clone(),
            created_by: Some(String::new()),
            author: None,
            comment: Some(message.unwrap_or_else(|| "Imported from -".into())),
            empty_layer: false,
        });
        store_image(store, &config, &[layer], std::slice::from_ref(&target))
            .map_err(|e| e.to_string())?;
        let id = image_id(&config).to_string();
        daemon
            .events
            .publish("image", "import", &target.to_string(), BTreeMap::new());
        Ok::<_, String>(id)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    // The import's outcome comes after the body was read: an error is the
    // stream's last line, as dockerd sends it.
    let line = match line {
        Ok(id) => progress(id, None),
        Err(message) => failure(&message),
    };
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from(line))
        .expect("a valid response"))
}
// ANCHOR_END: import

/// The tar comes in the body (`fromSrc=-`), not from a URL.
fn from_stdin(query: &QueryPairs) -> ApiResult<()> {
    match query.get("fromSrc") {
        Some("-") => Ok(()),
        _ => Err(ApiError::bad_request(
            "importing from a URL is not supported: send the tar as the request's body (docker import FILE, or - for stdin)",
        )),
    }
}

/// `repo` and `tag` as the image's name (`docker import FILE NAME[:TAG]`).
/// Without a `repo` the image would have no name, which the store cannot
/// keep: refused, with what to do.
fn target_of(query: &QueryPairs) -> ApiResult<Reference> {
    let Some(repo) = query.non_empty("repo") else {
        return Err(ApiError::bad_request(
            "import needs a repository name (docker import FILE NAME[:TAG]): images here are kept by name",
        ));
    };
    let name = match query.non_empty("tag") {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    reference::parse(&name).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}
