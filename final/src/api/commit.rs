//! `POST /commit?container=C&repo=R&tag=T&comment=&author=&changes=...`:
//! `docker commit`, a container's writable layer as a new image.
//!
//! It is a RUN step of the builder, after the fact: the container's upper
//! directory becomes a layer on top of its image's layers, the same way
//! (chapter 5's `commit_upper`, with the container frozen meanwhile by
//! chapter 4's `with_frozen_layer`), and the new image's config is the
//! container's: the image's, with the container's command, environment,
//! directory, user and labels, then the `--change` instructions applied
//! by chapter 5's Dockerfile state (only those that change the config).

use super::containers::record_of;
use super::query::QueryPairs;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::{Daemon, shims};
use crate::engine::Spec;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ch02_namespaces::records::Record;
use ch05_images::build::image::{image_id, store_image, stored};
use ch05_images::build::layer::commit_upper;
use ch05_images::dockerfile::{Position, StageState, Step, parse_trigger};
use ch05_images::image::{History, ImageConfig};
use ch05_images::reference::{self, Reference};
use ch05_images::store::ImageRecord;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The instructions `--change` may give, as docker allows them.
const CHANGES: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

// ANCHOR: commit
/// `POST /commit`: 201 and `{"Id": "sha256:..."}`.
pub async fn commit(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let query = QueryPairs::parse(raw.as_deref());
    let container = query
        .non_empty("container")
        .ok_or_else(|| ApiError::bad_request("container is required"))?
        .to_string();
    let worker = daemon.clone();
    let (id, container_id) = blocking(move || {
        let record = record_of(&worker, &container)?;
        let target = target_of(&query)?;
        let image = image_of(&worker, &record)?;
        let store = worker.engine.images().store();
        // Shared, as a build holds it: no `rmi` removes a layer under us.
        let _lock = store.lock(false).map_err(internal)?;
        let (base, mut layers) = stored(store, &image).map_err(internal)?;
        let mut config = container_config(base, &record);
        config.author = query.non_empty("author").map(String::from);
        apply_changes(&mut config, &query.all("changes"))?;
        let overlay = worker.engine.images().overlay();
        let layer = ch04_overlayfs::verbs::with_frozen_layer(overlay, record.id(), |upper| {
            commit_upper(store, upper, &layers).map_err(|e| ch01_process::exit::report(&e))
        })
        .map_err(|e| ApiError::conflict(ch01_process::exit::report(&e)))?
        .map_err(ApiError::internal)?;
        config.rootfs.diff_ids.push(layer.diff_id.to_string());
        config.history.push(History {
            created: config.created.clone(),
            created_by: Some(record.spec.process.argv.join(" ")),
            author: query.non_empty("author").map(String::from),
            comment: query.non_empty("comment").map(String::from),
            empty_layer: false,
        });
        layers.push(layer);
        store_image(store, &config, &layers, &[target]).map_err(internal)?;
        Ok((image_id(&config).to_string(), record.id().to_string()))
    })
    .await?;
    shims::publish(&daemon, "commit", &container_id);
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}
// ANCHOR_END: commit

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(error.to_string())
}

/// `repo` and `tag` as the new image's name: the store keeps images by
/// name, so an image without one would be lost at once.
fn target_of(query: &QueryPairs) -> ApiResult<Reference> {
    let repo = query.non_empty("repo").ok_or_else(|| {
        ApiError::bad_request(
            "commit needs a repository name (docker commit CONTAINER NAME[:TAG]): images here are kept by name",
        )
    })?;
    let name = match query.non_empty("tag") {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    reference::parse(&name).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}

/// The image the container runs: by its id (a name may have moved), else
/// by the name it was run as.
fn image_of(daemon: &Daemon, record: &Record<Spec>) -> ApiResult<ImageRecord> {
    let store = daemon.engine.images().store();
    let images = store.images().map_err(internal)?;
    images
        .into_iter()
        .find(|image| image.config.to_string() == record.spec.engine.image_id)
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "the image of container {} ({}) is not here any more: it cannot be committed",
                record.name(),
                record.image.as_deref().unwrap_or("unknown")
            ))
        })
}

/// The image's config with the container's own settings on top, as docker
/// commits it.
fn container_config(mut config: ImageConfig, record: &Record<Spec>) -> ImageConfig {
    let spec = &record.spec;
    let run = &mut config.config;
    let sent = |key: &str| -> Option<Vec<String>> {
        match spec.engine.config.get(key)? {
            Value::String(one) => Some(vec![one.clone()]),
            Value::Array(_) => serde_json::from_value(spec.engine.config[key].clone()).ok(),
            _ => None,
        }
    };
    // The image's environment with the container's own (`-e`) on top; not
    // what the engine adds when it runs it (HOSTNAME, HOME).
    let mut env = run.env.clone().unwrap_or_default();
    for pair in sent("Env").unwrap_or_default() {
        let key = pair.split('=').next().unwrap_or_default().to_string();
        env.retain(|old| old.split('=').next() != Some(key.as_str()));
        env.push(pair);
    }
    run.env = (!env.is_empty()).then_some(env);
    if let Some(entrypoint) = sent("Entrypoint") {
        run.entrypoint = Some(entrypoint);
    }
    if let Some(cmd) = sent("Cmd") {
        run.cmd = Some(cmd);
    }
    if let Some(dir) = &spec.process.cwd {
        run.working_dir = Some(dir.display().to_string());
    }
    if let Some(user) = &spec.process.user {
        run.user = Some(user.clone());
    }
    if !spec.engine.labels.is_empty() {
        run.labels
            .get_or_insert_default()
            .extend(spec.engine.labels.clone());
    }
    config.created = Some(ch05_images::history::rfc3339(ch05_images::store::now()));
    config
}

// ANCHOR: changes
/// Applies `--change` instructions (`CMD ["sh"]`, `ENV A=1`) to `config`,
/// with chapter 5's Dockerfile parser and stage state.
pub(super) fn apply_changes(config: &mut ImageConfig, changes: &[&str]) -> ApiResult<()> {
    let bad = |change: &str, why: &str| {
        ApiError::bad_request(format!("invalid change {change:?}: {why}"))
    };
    // ONBUILD triggers are kept as text; the stage state takes a base's
    // triggers out (to run them), so they are put back after.
    let mut triggers = config.config.on_build.take().unwrap_or_default();
    let history = config.history.len();
    let mut state = StageState::new(
        "--change",
        '\\',
        config.clone(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    for change in changes.iter().filter(|c| !c.trim().is_empty()) {
        let keyword = change
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase();
        if !CHANGES.contains(&keyword.as_str()) {
            return Err(bad(change, &format!("use one of {}", CHANGES.join(", "))));
        }
        if keyword == "ONBUILD" {
            let trigger = change.trim()["ONBUILD".len()..].trim();
            parse_trigger("--change", trigger, '\\', Position::new(1, 1))
                .map_err(|e| bad(change, &e.to_string()))?;
            triggers.push(trigger.to_string());
            continue;
        }
        let instruction = parse_trigger("--change", change, '\\', Position::new(1, 1))
            .map_err(|e| bad(change, &e.to_string()))?;
        match state.apply(&instruction) {
            Ok(Step::Config | Step::Workdir { .. }) => {}
            Ok(_) => return Err(bad(change, "it would change files, not the config")),
            Err(e) => return Err(bad(change, &e.to_string())),
        }
    }
    *config = state.config;
    // One history entry for the commit, not one per change.
    config.history.truncate(history);
    config.config.on_build = (!triggers.is_empty()).then_some(triggers);
    Ok(())
}
// ANCHOR_END: changes

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_set_the_config_and_keep_the_history() {
        let mut config = ImageConfig::default();
        config.config.cmd = Some(vec!["sh".into()]);
        config.config.on_build = Some(vec!["RUN true".into()]);
        apply_changes(
            &mut config,
            &[
                "CMD [\"echo\", \"hi\"]",
                "ENV A=1 B=$A",
                "WORKDIR /srv",
                "ONBUILD RUN make",
            ],
        )
        .unwrap();
        assert_eq!(config.config.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(config.config.env, Some(vec!["A=1".into(), "B=".into()]));
        assert_eq!(config.config.working_dir.as_deref(), Some("/srv"));
        assert_eq!(
            config.config.on_build,
            Some(vec!["RUN true".into(), "RUN make".into()])
        );
        assert!(config.history.is_empty());
    }

    #[test]
    fn a_change_that_runs_or_copies_is_refused() {
        let mut config = ImageConfig::default();
        for change in ["RUN rm -rf /", "COPY a /b", "FROM busybox"] {
            let error = apply_changes(&mut config, &[change]).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{change}");
        }
    }
}
