//! `GET /system/df`: `docker system df`, what images, containers and
//! volumes take on disk.
//!
//! Layers are shared: two images on the same base hold its layers once.
//! So an image's size counts its layers, its `SharedSize` those another
//! image also has, and the total (`LayersSize`) counts each layer once. A
//! container's own size is its writable layer (`SizeRw`, its upper
//! directory); `SizeRootFs` adds the image's layers under it.

use super::containers::state_word;
use super::volumes::volume_json;
use super::{ApiResult, blocking};
use crate::daemon::Daemon;
use crate::engine::Spec;
use axum::Json;
use axum::extract::State;
use ch02_namespaces::Engine;
use ch05_images::digest::Digest;
use ch05_images::history::{directory_size, parse_rfc3339};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

fn size_of(path: &std::path::Path) -> u64 {
    directory_size(path).unwrap_or(0)
}

// ANCHOR: df
/// `GET /system/df`.
pub async fn df(State(daemon): State<Arc<Daemon>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let store = daemon.engine.images().store();
        let records = daemon.engine.containers().list::<Spec>()?;
        let images = store
            .images()
            .map_err(|e| super::ApiError::internal(e.to_string()))?;
        // Each layer's size once, and how many images hold it.
        let mut layer_sizes: HashMap<Digest, u64> = HashMap::new();
        let mut by_id: BTreeMap<String, Vec<&ch05_images::store::ImageRecord>> = BTreeMap::new();
        for image in &images {
            by_id
                .entry(image.config.to_string())
                .or_default()
                .push(image);
        }
        let mut holders: HashMap<Digest, usize> = HashMap::new();
        for names in by_id.values() {
            for chain in &names[0].layers {
                *holders.entry(chain.clone()).or_default() += 1;
                layer_sizes
                    .entry(chain.clone())
                    .or_insert_with(|| size_of(&store.layer_path(chain)));
            }
        }
        let mut image_rows = Vec::new();
        for (id, names) in &by_id {
            let first = names[0];
            let size: u64 = first.layers.iter().map(|c| layer_sizes[c]).sum();
            let shared: u64 = first
                .layers
                .iter()
                .filter(|c| holders[*c] > 1)
                .map(|c| layer_sizes[c])
                .sum();
            let created = store
                .read_blob(&first.config)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|c| c["created"].as_str().and_then(parse_rfc3339))
                .unwrap_or(first.created as i64);
            let users = records
                .iter()
                .filter(|r| r.spec.engine.image_id == *id)
                .count();
            image_rows.push(json!({
                "Id": id,
                "ParentId": "",
                "RepoTags": names.iter().map(|r| super::images::repo_tag(r)).collect::<Vec<_>>(),
                "RepoDigests": [],
                "Created": created,
                "Size": size,
                "SharedSize": shared,
                "VirtualSize": size,
                "Labels": {},
                "Containers": users,
            }));
        }
        let mut container_rows = Vec::new();
        let mut volume_users: BTreeMap<String, usize> = BTreeMap::new();
        for record in &records {
            let dir = daemon.engine.dir(record.id());
            let rw = size_of(&dir.join("upper"));
            let below: u64 = record
                .spec
                .storage()
                .layers
                .iter()
                .map(|l| size_of(l))
                .sum();
            for mount in &record.spec.storage().mounts {
                if let Some(name) = mount.source.volume_name() {
                    *volume_users.entry(name.to_string()).or_default() += 1;
                }
            }
            container_rows.push(json!({
                "Id": record.id(),
                "Names": [format!("/{}", record.name())],
                "Image": record.image.clone().unwrap_or_default(),
                "ImageID": record.spec.engine.image_id,
                "Command": record.spec.process.argv.join(" "),
                "Created": (record.created / 1_000_000_000) as i64,
                "State": state_word(&daemon, record),
                "Status": state_word(&daemon, record),
                "SizeRw": rw,
                "SizeRootFs": rw + below,
                "Labels": record.spec.engine.labels,
                "Mounts": [],
            }));
        }
        let volumes = daemon.engine.images().overlay().volumes();
        let mut volume_rows = Vec::new();
        for name in volumes
            .list()
            .map_err(|e| super::ApiError::internal(e.to_string()))?
        {
            let mut volume = volume_json(&daemon, &name)?;
            let size = volumes.path(&name).map_or(0, |p| size_of(&p));
            volume["UsageData"] = json!({
                "Size": size,
                "RefCount": volume_users.get(&name).copied().unwrap_or(0),
            });
            volume_rows.push(volume);
        }
        Ok(Json(json!({
            "LayersSize": layer_sizes.values().sum::<u64>(),
            "Images": image_rows,
            "Containers": container_rows,
            "Volumes": volume_rows,
            "BuildCache": [],
        })))
    })
    .await
}
// ANCHOR_END: df
