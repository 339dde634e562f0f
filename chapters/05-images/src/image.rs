//! What an image is: an index, a manifest, a config, and layers.
//!
//! ```text
//! index (optional)   one manifest per platform: linux/amd64, linux/arm64, ...
//!   └─ manifest      the config's digest, and the layers' digests in order
//!        ├─ config   JSON: how to run it (Entrypoint, Cmd, Env, WorkingDir, User)
//!        │           and rootfs.diff_ids: the digest of each layer *uncompressed*
//!        └─ layers   tar archives (usually gzip'd), bottom first
//! ```
//!
//! Everything is named by the sha256 of its bytes (its *digest*), and each
//! object names the next by digest: knowing the manifest's digest pins every
//! byte of the image. That is why a digest reference (`name@sha256:...`)
//! always means the same image, while a tag can be moved.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reference to a blob: its type, digest and size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The platform of one manifest in an index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

/// A single-platform manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The image config: how to run the image, and how it was made.
///
/// Field names are the OCI image spec's ("Image Configuration"), which took
/// them from docker: lowercase at the top, docker's capitalised names in
/// `config`. Fields this engine does not know (docker's `container_config`,
/// `os.version`, `variant`, ...) are kept in `extra`, so that a config read
/// and written again (a build on top of a base image) loses nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was made, RFC 3339 (`2026-11-02T10:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it (`MAINTAINER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
    /// One entry per build step, bottom first; steps that changed no files
    /// have `empty_layer: true` and no entry in `rootfs.diff_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Everything else the config holds, kept as it was.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// How to run the image: docker's fields, with docker's capitalised names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `"80/tcp": {}` for each EXPOSE'd port (a set, written as a map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `NAME=value` strings, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `"/data": {}` for each VOLUME (a set, written as a map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal `stop` sends first (`SIGTERM` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker's extension: how the engine checks the container's health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Docker's extension: the shell of the shell form (`SHELL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Docker's extension: ONBUILD triggers, run by builds FROM this image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Everything else (`Hostname`, `ArgsEscaped`, ...), kept as it was.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Docker's `Healthcheck` (durations in nanoseconds; 0 = the engine's default).
///
/// A number may also be `null`: docker-py (and so docker-compose 1.29)
/// sends `"StartPeriod": null` for what the file leaves out, and Go's
/// decoder, which dockerd uses, reads `null` as "leave it zero".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", command]`.
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_zero"
    )]
    pub interval: i64,
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_zero"
    )]
    pub timeout: i64,
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_zero"
    )]
    pub start_period: i64,
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_zero"
    )]
    pub start_interval: i64,
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_as_zero"
    )]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A number, or `null` read as 0 (what Go's JSON decoder leaves).
fn null_as_zero<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(deserializer)?.unwrap_or(0))
}

/// One step of the image's making (`docker history` shows these).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct History {
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made the step (`/bin/sh -c #(nop)  ENV A=b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step added no layer (config-only steps).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The uncompressed digests of the layers, bottom first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

// ANCHOR: platform
/// The platform of this machine, in the OCI spec's words (Go's names).
pub fn host_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform {
        architecture: architecture.into(),
        os: "linux".into(),
        variant: None,
    }
}

/// Picks the manifest for `platform` from an index. Entries for the
/// platform `unknown/unknown` are build attestations, not images.
pub fn pick<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    index.manifests.iter().find(|m| {
        m.platform
            .as_ref()
            .is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
    })
}
// ANCHOR_END: platform

// ANCHOR: command
/// The command a container of this image runs: docker's rule. A command
/// given on the command line replaces `Cmd`; `Entrypoint`, if any, comes first.
pub fn command(config: &RunConfig, given: &[String]) -> Vec<String> {
    // SOLUTION START: ch05-command the command of a container of the image, docker's rule: the Entrypoint first, then the command given, or else the image's Cmd (book: Images > What and why > Running an image)
    let mut argv = config.entrypoint.clone().unwrap_or_default();
    if given.is_empty() {
        argv.extend(config.cmd.clone().unwrap_or_default());
    } else {
        argv.extend(given.iter().cloned());
    }
    argv
    // SOLUTION END
}
// ANCHOR_END: command

/// The command with `--entrypoint` given: docker's rule is that a given
/// entrypoint replaces the image's and drops the image's `Cmd` too (only a
/// command given with it follows it); an empty one clears the image's.
pub fn command_with_entrypoint(
    config: &RunConfig,
    entrypoint: Option<&[String]>,
    given: &[String],
) -> Vec<String> {
    match entrypoint {
        None => command(config, given),
        Some(entrypoint) => {
            let mut argv: Vec<String> = entrypoint
                .iter()
                .filter(|a| !a.is_empty())
                .cloned()
                .collect();
            if !given.is_empty() {
                argv.extend(given.iter().cloned());
            } else if argv.is_empty() {
                argv.extend(config.cmd.clone().unwrap_or_default());
            }
            argv
        }
    }
}

// ANCHOR: defaults
/// What an image says about the process, before the user's flags: its
/// `Env` (always `KEY=VALUE`; set as it is, never looked up in our own
/// environment as a bare `-e KEY` is), its `WorkingDir` and its `User`.
pub fn process_defaults(config: &RunConfig) -> ch01_process::ProcessSpec {
    // SOLUTION START: ch05-defaults the process defaults an image gives, under the flags: its Env as it is, its WorkingDir and User when not empty (book: Images > What and why > Running an image)
    ch01_process::ProcessSpec {
        argv: Vec::new(),
        env: config.env.clone().unwrap_or_default(),
        cwd: config
            .working_dir
            .clone()
            .filter(|dir| !dir.is_empty())
            .map(Into::into),
        user: config.user.clone().filter(|user| !user.is_empty()),
        terminal: false,
        additional_gids: Vec::new(),
    }
    // SOLUTION END
}
// ANCHOR_END: defaults

// ANCHOR: image_volumes
/// The anonymous volumes an image asks for: each path of its `VOLUME`s
/// that no mount of the user's already covers (`-v data:/var/lib/db`
/// replaces the image's `VOLUME /var/lib/db`), as docker gives them. A path
/// the image declares that is not absolute is refused, as docker does.
pub fn image_volumes(
    config: &RunConfig,
    mounts: &[ch04_overlayfs::volumes::Mount],
) -> Result<Vec<ch04_overlayfs::volumes::Mount>, ImageVolumeError> {
    let mut volumes: Vec<ch04_overlayfs::volumes::Mount> = Vec::new();
    for path in config.volumes.iter().flat_map(|v| v.keys()) {
        let volume =
            ch04_overlayfs::volumes::Mount::anonymous(path).map_err(|reason| ImageVolumeError {
                path: path.clone(),
                reason,
            })?;
        let covered = mounts
            .iter()
            .chain(&volumes)
            .any(|m| m.target == volume.target);
        if !covered {
            volumes.push(volume);
        }
    }
    Ok(volumes)
}
// ANCHOR_END: image_volumes

/// A `VOLUME` of the image that cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("the image's VOLUME {path:?}: {reason}")]
pub struct ImageVolumeError {
    pub path: String,
    pub reason: ch04_overlayfs::volumes::VolumeError,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docker-compose 1.29's healthcheck for a file without `start_period`.
    #[test]
    fn a_null_healthcheck_number_reads_as_zero() {
        let sent = r#"{"Test": ["CMD", "true"], "Interval": 200000000,
            "Timeout": null, "Retries": 3, "StartPeriod": null}"#;
        let config: HealthConfig = serde_json::from_str(sent).unwrap();
        assert_eq!(
            config,
            HealthConfig {
                test: vec!["CMD".into(), "true".into()],
                interval: 200_000_000,
                retries: 3,
                ..HealthConfig::default()
            }
        );
        let text = serde_json::to_string(&config).unwrap();
        assert!(!text.contains("StartPeriod"), "{text}");
    }

    #[test]
    fn an_images_volumes_are_anonymous_unless_a_mount_covers_them() {
        use ch04_overlayfs::volumes::{VolumeSource, parse_volume};
        let config = RunConfig {
            volumes: Some(BTreeMap::from([
                ("/var/lib/db".to_string(), serde_json::json!({})),
                ("/cache/".to_string(), serde_json::json!({})),
            ])),
            ..RunConfig::default()
        };
        let given = [parse_volume("data:/var/lib/db").unwrap()];
        let volumes = image_volumes(&config, &given).unwrap();
        assert_eq!(volumes.len(), 1, "{volumes:?}");
        assert_eq!(volumes[0].target, std::path::Path::new("/cache"));
        assert!(matches!(volumes[0].source, VolumeSource::Anonymous(_)));
        let relative = RunConfig {
            volumes: Some(BTreeMap::from([(
                "data".to_string(),
                serde_json::json!({}),
            )])),
            ..RunConfig::default()
        };
        let error = image_volumes(&relative, &[]).unwrap_err().to_string();
        assert!(error.contains("must be absolute"), "{error}");
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_in_docker() {
        let config = RunConfig {
            entrypoint: Some(vec!["/bin/app".into()]),
            cmd: Some(vec!["--help".into()]),
            ..RunConfig::default()
        };
        assert_eq!(command(&config, &[]), ["/bin/app", "--help"]);
        assert_eq!(command(&config, &["serve".into()]), ["/bin/app", "serve"]);
        let plain = RunConfig {
            cmd: Some(vec!["sh".into()]),
            ..RunConfig::default()
        };
        assert_eq!(command(&plain, &["ls".into()]), ["ls"]);
    }

    /// A bare name in an image's `Env` must not copy our own value, as a
    /// bare `-e NAME` does on purpose. (Cargo sets `CARGO_PKG_NAME` for us.)
    #[test]
    fn a_bare_name_in_an_images_env_is_never_taken_from_ours() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            container: ch02_namespaces::cli::ContainerArgs,
            #[command(flatten)]
            process: ch01_process::cli::ProcessArgs,
        }
        use clap::Parser;
        assert!(std::env::var("CARGO_PKG_NAME").is_ok());
        let config = RunConfig {
            env: Some(vec!["CARGO_PKG_NAME".into(), "GREETING=hi".into()]),
            ..RunConfig::default()
        };
        let spec_env = |flags: &[&str]| {
            let flags = Flags::parse_from(std::iter::once("run").chain(flags.iter().copied()));
            let spec = flags
                .container
                .to_spec(
                    "/".into(),
                    &flags.process,
                    &["sh".into()],
                    &process_defaults(&config),
                )
                .unwrap();
            spec.process.env
        };
        let env = spec_env(&[]);
        assert!(env.contains(&"GREETING=hi".to_string()), "{env:?}");
        assert!(
            !env.iter().any(|kv| kv.starts_with("CARGO_PKG_NAME")),
            "{env:?}"
        );
        let env = spec_env(&["-e", "CARGO_PKG_NAME"]);
        assert!(
            env.iter().any(|kv| kv.starts_with("CARGO_PKG_NAME=")),
            "{env:?}"
        );
    }

    #[test]
    fn attestations_are_not_picked() {
        let index: Index = serde_json::from_str(
            r#"{"manifests":[
              {"mediaType":"m","digest":"sha256:aa","size":1,"platform":{"architecture":"unknown","os":"unknown"}},
              {"mediaType":"m","digest":"sha256:bb","size":1,"platform":{"architecture":"arm64","os":"linux"}},
              {"mediaType":"m","digest":"sha256:cc","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#,
        )
        .unwrap();
        let amd64 = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        };
        assert_eq!(pick(&index, &amd64).unwrap().digest, "sha256:cc");
    }
}
