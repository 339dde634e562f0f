//! Docker's Engine API, as the daemon serves it.
//!
//! Paths may carry a version (`/v1.47/containers/json`): clients ask
//! `/_ping` first, read the `Api-Version` header, and use the lower of
//! theirs and ours. Errors are JSON, `{"message": "..."}`, with docker's
//! status codes: 400 for a bad parameter, 404 for what does not exist,
//! 409 for a conflict (a name in use, a container that runs), 500 else.

pub mod archive;
pub mod attach;
pub mod body;
pub mod build;
pub mod commit;
pub mod containers;
pub mod create;
pub mod df;
pub mod exec;
pub mod helper;
pub mod images;
pub mod import;
pub mod json;
pub mod networks;
pub mod query;
pub mod system;
pub mod transfer;
pub mod update;
pub mod version;
pub mod volumes;

use crate::daemon::Daemon;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use std::sync::Arc;
use tower::Layer;

/// The API version this engine implements (docker 27's).
pub const API_VERSION: &str = "1.47";
/// The oldest version it accepts.
pub const MIN_API_VERSION: &str = "1.24";

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

/// An error of the chapters' run path, as docker words and codes it.
impl From<ch02_namespaces::RunError> for ApiError {
    fn from(error: ch02_namespaces::RunError) -> ApiError {
        use ch02_namespaces::RunError;
        use ch02_namespaces::records::RecordError;
        let message = ch01_process::exit::report(&error);
        match &error {
            RunError::Record(RecordError::NotFound(name)) => {
                ApiError::not_found(format!("No such container: {name}"))
            }
            RunError::Record(RecordError::NameInUse(name, id)) => ApiError::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
            )),
            RunError::Record(RecordError::InvalidName(_) | RecordError::Ambiguous(_)) => {
                ApiError::bad_request(message)
            }
            RunError::StillRunning(name) => ApiError::conflict(format!(
                "cannot remove container \"/{name}\": container is running: stop the container before removing or force remove"
            )),
            RunError::NotRunning(name) => {
                ApiError::conflict(format!("Container {name} is not running"))
            }
            RunError::Spec(_) => ApiError::bad_request(message),
            _ => ApiError::internal(message),
        }
    }
}

impl From<ch02_namespaces::records::RecordError> for ApiError {
    fn from(error: ch02_namespaces::records::RecordError) -> ApiError {
        ApiError::from(ch02_namespaces::RunError::from(error))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking engine work (files, records) off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("a task failed: {e}")))?
}

/// The API as a service: the routes behind the layer that strips versions.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

// ANCHOR: router
/// Every route, behind a layer that takes the version off the path.
pub fn router(daemon: Arc<Daemon>) -> App {
    let routes = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(system::events))
        .route("/containers/create", post(create::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/containers/{id}/stats", get(containers::stats))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/images/create", post(images::create))
        .route("/images/json", get(images::list))
        .route("/images/prune", post(images::prune))
        .route(
            "/images/{*name}",
            get(images::by_name)
                .delete(images::remove)
                .post(images::tag_or_push),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/auth", post(images::auth))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/commit", post(commit::commit))
        .route("/containers/{id}/update", post(update::update))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/images/get", get(transfer::save))
        .route("/images/load", post(transfer::load))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/system/df", get(df::df))
        .route("/swarm", get(system::not_in_swarm))
        .route("/swarm/{*rest}", axum::routing::any(system::not_in_swarm))
        .route("/nodes", get(system::not_in_swarm))
        .route("/services", get(system::not_in_swarm))
        .route("/tasks", get(system::not_in_swarm))
        .route("/secrets", get(system::not_in_swarm))
        .route("/configs", get(system::not_in_swarm))
        .with_state(daemon);
    tower::util::MapRequestLayer::new(strip_version as fn(Request) -> Request).layer(routes)
}
// ANCHOR_END: router

/// `/v1.47/containers/json` is `/containers/json`, and the request
/// remembers it speaks 1.47 (see [`version::ApiVersion`]).
fn strip_version(mut request: Request) -> Request {
    let path = request.uri().path();
    let stripped = path.strip_prefix("/v").and_then(|rest| {
        let (version, rest) = rest.split_once('/')?;
        Some((version::ApiVersion::parse(version)?, format!("/{rest}")))
    });
    if let Some((version, path)) = stripped {
        request.extensions_mut().insert(version);
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("{path}{query}").parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}
