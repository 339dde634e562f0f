//! `POST /build`: docker's classic builder (`DOCKER_BUILDKIT=0 docker
//! build`), on chapter 5's.
//!
//! ```text
//! docker CLI ── tar of the context ──> daemon: unpacks it (chapter 5's safe extractor)
//!                                        into a private directory of the store's tmp/
//!            <── {"stream": "Step 1/3 : FROM busybox\n"}    skiff build-helper: chapter 5's
//!            <── {"stream": " ---> 3f57d9401f8d\n"}           build, its output line by line
//!            <── {"aux": {"ID": "sha256:..."}}                 on a pipe, its result on fd 3
//! ```
//!
//! The builder starts a container for each RUN step, so it runs in a
//! helper process, never in the daemon's threads (see [`super::helper`]);
//! it pulls missing base images with `skiff image-pull`, in a child of its
//! own. The Dockerfile is read from the unpacked context *inside* it (a
//! `Dockerfile` that is a symbolic link to `/etc/shadow` reads the
//! context's, not the host's) and copied aside for the builder, under the
//! name the client gave, which is the name its error messages show
//! (`Dockerfile:3:1: unknown instruction "RUNN"`).

use super::body::BodyReader;
use super::helper::{self, StatusPipe};
use super::query::QueryPairs;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use ch05_images::build::{BuildError, BuildRequest};
use ch05_images::dockerfile::BuildOptions;
use ch05_images::reference;
use ch05_images::store::WorkDir;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

/// The longest piece of output sent as one `{"stream"}` line.
const MAX_LINE: u64 = 64 * 1024;

/// The largest Dockerfile the daemon reads.
const MAX_DOCKERFILE: u64 = 4 << 20;

/// A build, as the daemon hands it to `skiff build-helper`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildJob {
    /// The unpacked context.
    pub context: PathBuf,
    /// The directory that holds the copy of the Dockerfile...
    pub dockerfile_dir: PathBuf,
    /// ...under this relative name (the one the client gave).
    pub dockerfile: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// RUN steps on the host's network (`--network host`); none otherwise.
    pub host_network: bool,
    pub labels: BTreeMap<String, String>,
    pub quiet: bool,
}

/// The query of `POST /build` as a job (its directories still empty).
fn job_of(query: &QueryPairs) -> ApiResult<BuildJob> {
    if query.non_empty("remote").is_some() {
        return Err(ApiError::bad_request(
            "remote build contexts are not supported: send the context as a tar body",
        ));
    }
    let mut tags = Vec::new();
    for tag in query.all("t").into_iter().filter(|t| !t.is_empty()) {
        let parsed = reference::parse(tag)
            .map_err(|e| ApiError::bad_request(format!("invalid tag {tag:?}: {e}")))?;
        tags.push(parsed.to_string());
    }
    let dockerfile = clean_dockerfile(query.non_empty("dockerfile").unwrap_or("Dockerfile"))?;
    let build_args = json_map(query, "buildargs")?
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            // null: "take it from the environment", which the client did.
            _ => None,
        })
        .collect();
    let labels = json_map(query, "labels")?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let host_network = match query.non_empty("networkmode").unwrap_or("default") {
        "default" | "none" | "bridge" => false,
        "host" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "network mode {other:?} is not supported for RUN steps: use default (none) or host"
            )));
        }
    };
    Ok(BuildJob {
        tags,
        dockerfile,
        build_args,
        target: query.non_empty("target").map(String::from),
        no_cache: query.flag("nocache"),
        host_network,
        labels,
        quiet: query.flag("q"),
        ..BuildJob::default()
    })
}

/// A query parameter holding a JSON object (`buildargs`, `labels`).
fn json_map(query: &QueryPairs, key: &str) -> ApiResult<serde_json::Map<String, Value>> {
    match query.non_empty(key) {
        None => Ok(serde_json::Map::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("{key} is not a JSON object: {e}"))),
    }
}

/// The Dockerfile's name: relative, inside the context (`./` dropped).
fn clean_dockerfile(name: &str) -> ApiResult<String> {
    let mut parts = Vec::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "the Dockerfile {name:?} is not inside the build context: give its path relative to the context"
                )));
            }
        }
    }
    if parts.is_empty() {
        return Err(ApiError::bad_request("the Dockerfile's name is empty"));
    }
    Ok(parts.join("/"))
}

/// What the helper's run brings the client.
enum Event {
    /// A line of output (with its line break).
    Output(String),
    /// The image's id.
    Built(String),
    /// The build failed: the message, whether the request was at fault
    /// (a Dockerfile that does not parse) rather than the build, and the
    /// exit code of a RUN command that failed.
    Failed(String, bool, Option<i64>),
}

impl Event {
    fn to_line(&self) -> bytes::Bytes {
        let value = match self {
            Event::Output(text) => json!({ "stream": text }),
            Event::Built(id) => json!({ "aux": { "ID": id } }),
            Event::Failed(message, _, code) => {
                let mut detail = json!({ "message": message });
                if let Some(code) = code {
                    detail["code"] = json!(code);
                }
                json!({ "errorDetail": detail, "error": message })
            }
        };
        let mut line = serde_json::to_vec(&value).expect("plain data");
        line.push(b'\n');
        line.into()
    }
}

// ANCHOR: build
/// `POST /build?t=NAME&dockerfile=PATH&buildargs={...}&target=&nocache=&labels={...}&q=`,
/// the context as a tar body.
pub async fn build(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let mut job = job_of(&QueryPairs::parse(raw.as_deref()))?;
    let body = BodyReader::new(request.into_body());
    let worker = daemon.clone();
    let (work, job) = blocking(move || {
        let work = worker
            .engine
            .images()
            .store()
            .work_dir("build")
            .map_err(|e| ApiError::internal(e.to_string()))?;
        receive_context(body, work.path(), &mut job)?;
        Ok((work, job))
    })
    .await?;
    let request = serde_json::to_string(&job).expect("plain data");
    let (reader, writer) = std::io::pipe().map_err(|e| ApiError::internal(e.to_string()))?;
    let errors = writer
        .try_clone()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let args = ["build-helper", "--request", &request].map(String::from);
    let helper = helper::spawn(
        &daemon,
        &args,
        std::process::Stdio::null(),
        writer.into(),
        errors.into(),
    )?;
    let output = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(relay(helper, output, work, tx));
    // The answer's head waits for the first event: a build that fails
    // before it prints anything (a Dockerfile that does not parse) is an
    // error answer, as docker gives it, not a stream with an error in it.
    let first = rx
        .recv()
        .await
        .ok_or_else(|| ApiError::internal("the build helper ended without a word"))?;
    if let Event::Failed(message, invalid, _) = &first {
        return Err(if *invalid {
            ApiError::bad_request(message.clone())
        } else {
            ApiError::internal(message.clone())
        });
    }
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    use futures_util::StreamExt;
    let lines = futures_util::stream::once(async { first })
        .chain(rest)
        .map(|event| Ok::<_, std::convert::Infallible>(event.to_line()));
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(lines))
        .expect("a valid response"))
}
// ANCHOR_END: build

/// Unpacks the context into `work/context` and copies its Dockerfile to
/// `work/dockerfile/NAME`, resolved inside the context.
fn receive_context(body: BodyReader, work: &Path, job: &mut BuildJob) -> ApiResult<()> {
    use ch04_overlayfs::resolve::open_in_root;
    use nix::fcntl::OFlag;
    use std::io::Read;
    let context = work.join("context");
    let copies = work.join("dockerfile");
    for dir in [&context, &copies] {
        std::fs::create_dir(dir).map_err(|e| ApiError::internal(format!("{dir:?}: {e}")))?;
    }
    ch05_images::extract::unpack(
        completed_tar(body).map_err(|e| ApiError::bad_request(e.to_string()))?,
        &context,
        &ch05_images::extract::Limits::default(),
    )
    .map_err(|e| ApiError::bad_request(format!("the build context is not a tar: {e}")))?;
    let root = std::fs::File::open(&context).map_err(|e| ApiError::internal(e.to_string()))?;
    let missing = || {
        ApiError::bad_request(format!(
            "Cannot locate specified Dockerfile: {}",
            job.dockerfile
        ))
    };
    let file = open_in_root(root.as_fd(), Path::new(&job.dockerfile), OFlag::O_RDONLY)
        .map_err(|_| missing())?;
    let mut text = Vec::new();
    std::fs::File::from(file)
        .take(MAX_DOCKERFILE + 1)
        .read_to_end(&mut text)
        .map_err(|_| missing())?;
    if text.len() as u64 > MAX_DOCKERFILE {
        return Err(ApiError::bad_request(format!(
            "the Dockerfile {} is larger than {} MiB",
            job.dockerfile,
            MAX_DOCKERFILE >> 20
        )));
    }
    let copy = copies.join(&job.dockerfile);
    if let Some(parent) = copy.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ApiError::internal(e.to_string()))?;
    }
    std::fs::write(&copy, text).map_err(|e| ApiError::internal(e.to_string()))?;
    job.context = context;
    job.dockerfile_dir = copies;
    Ok(())
}

/// The context's tar, completed: the docker CLI, when it adds a `-f`
/// Dockerfile from outside the context, ends the tar right after that
/// file's bytes, without the padding of its last block and the two zero
/// blocks that end an archive (Go's reader forgives it). Zeros added
/// after a plain tar complete it; a whole tar ignores them. A gzip'd
/// context is left as it is.
fn completed_tar(mut body: BodyReader) -> std::io::Result<impl std::io::Read> {
    use std::io::Read;
    let mut head = Vec::with_capacity(2);
    (&mut body).take(2).read_to_end(&mut head)?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let padding = if gzip { 0 } else { 512 + 1024 };
    Ok(std::io::Cursor::new(head)
        .chain(body)
        .chain(std::io::repeat(0).take(padding)))
}

/// Reads the helper's output lines and its result into `tx`, then removes
/// the build's directory. A client that goes away does not stop the build
/// (its containers end cleanly): its output is read and dropped.
async fn relay(
    mut helper: helper::Helper,
    output: tokio::net::unix::pipe::Receiver,
    work: WorkDir,
    tx: tokio::sync::mpsc::Sender<Event>,
) {
    use tokio::io::AsyncReadExt;
    // Line by line, as the output comes; a "line" that never ends (a
    // command printing a binary) goes in pieces of at most MAX_LINE.
    let mut lines = tokio::io::BufReader::new(output).take(u64::MAX);
    let mut line = Vec::new();
    // dockerd sends the image's id (`aux`) before the closing lines
    // ("Successfully built ID", "Successfully tagged NAME"), and clients
    // take the last line for the last word: docker-py's tests read
    // `lines[-1]["stream"]`. The builder prints them before it reports
    // the id, so they wait for it here.
    let mut closing = Vec::new();
    loop {
        line.clear();
        lines.set_limit(MAX_LINE);
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).into_owned();
                if text.starts_with("Successfully built ") || !closing.is_empty() {
                    closing.push(text);
                } else {
                    let _ = tx.send(Event::Output(text)).await;
                }
            }
        }
    }
    let report = helper.report().await;
    let code = helper.wait().await;
    let event = match report {
        Some(report) if report["id"].is_string() => {
            Event::Built(report["id"].as_str().unwrap_or_default().to_string())
        }
        Some(report) => Event::Failed(
            report["error"]
                .as_str()
                .unwrap_or("the build failed")
                .to_string(),
            report["invalid"].as_bool().unwrap_or(false),
            report["code"].as_i64(),
        ),
        None => Event::Failed(
            format!("the build helper ended (exit code {code}) without a result"),
            false,
            None,
        ),
    };
    let built = matches!(event, Event::Built(_));
    if !built {
        for text in closing.drain(..) {
            let _ = tx.send(Event::Output(text)).await;
        }
    }
    let _ = tx.send(event).await;
    for text in closing {
        let _ = tx.send(Event::Output(text)).await;
    }
    let _ = tokio::task::spawn_blocking(move || drop(work)).await;
}

/// Whether a build error is the request's fault: docker answers 400.
fn invalid_request(error: &BuildError) -> bool {
    matches!(
        error,
        BuildError::Dockerfile(_)
            | BuildError::ReadDockerfile { .. }
            | BuildError::NoContext(_)
            | BuildError::Reference(_)
    )
}

/// The exit code of the RUN command that failed the build, if one did:
/// docker's client exits with it.
fn command_code(error: &BuildError) -> Option<i32> {
    match error {
        BuildError::Step { source, .. } => command_code(source),
        BuildError::NonZero { code, .. } => Some(*code),
        _ => None,
    }
}

// ANCHOR: helper
/// `skiff build-helper --request JSON`: runs one build with chapter 5's
/// builder, its output on stdout, its result on the status pipe.
pub fn helper_main(root: &Path, request: &str) -> anyhow::Result<i32> {
    // RUN steps enter containers: from a sealed copy of the binary.
    ch01_process::sealed_exe::ensure_sealed()?;
    let mut status = StatusPipe::open()?;
    let job: BuildJob = serde_json::from_str(request)?;
    let engine = ch05_images::engine::ImageEngine::open(root)?.with_pull_verb(&["image-pull"]);
    // The Dockerfile's name is relative to its copy's directory, so that
    // messages name it as the client did.
    std::env::set_current_dir(&job.dockerfile_dir)?;
    let request = BuildRequest {
        context: job.context.clone(),
        dockerfile: Some(PathBuf::from(&job.dockerfile)),
        tags: job
            .tags
            .iter()
            .map(|t| reference::parse(t))
            .collect::<Result<_, _>>()?,
        options: BuildOptions {
            target: job.target.clone(),
            build_args: job.build_args.clone(),
        },
        no_cache: job.no_cache,
        network: if job.host_network {
            ch02_namespaces::namespaces::NetworkMode::Host
        } else {
            ch02_namespaces::namespaces::NetworkMode::None
        },
        labels: job.labels.clone(),
        quiet: job.quiet,
    };
    let result = ch05_images::build::build(&engine, &request, &mut std::io::stdout());
    let report = match &result {
        Ok(built) => json!({ "id": built.id.to_string() }),
        Err(error) => json!({
            "error": ch01_process::exit::report(error),
            "invalid": invalid_request(error),
            "code": command_code(error),
        }),
    };
    status.send(&report)?;
    Ok(if result.is_ok() { 0 } else { 1 })
}
// ANCHOR_END: helper

/// `skiff image-pull IMAGE`: the pull a build's helper makes in a child
/// process (the HTTP client's threads must not start in the builder), with
/// chapter 5's pull, its lines as docker's legacy builder shows them.
pub fn image_pull_main(root: &Path, image: &str) -> anyhow::Result<i32> {
    let engine = ch05_images::engine::ImageEngine::open(root)?;
    let reference = reference::parse(image)?;
    println!(
        "{}: Pulling from {}",
        reference.reference(),
        reference.name()
    );
    let record = ch05_images::verbs::pull(&engine, image)?;
    println!("Digest: {}", record.manifest);
    println!("Status: Downloaded newer image for {reference}");
    Ok(0)
}

// ANCHOR: prune
/// `POST /build/prune`: `docker builder prune`, and the build-cache part of
/// `docker system prune`. The cache's entries go (each is a hint: a step
/// without one runs again), then every layer and blob no image uses: the
/// layers of steps that only the cache, or an untagged build, had.
pub async fn prune(State(daemon): State<Arc<Daemon>>) -> ApiResult<axum::Json<Value>> {
    blocking(move || {
        let images = daemon.engine.images();
        let cache = ch05_images::build::cache::Cache::open(images.root())
            .map_err(|e| ApiError::internal(ch01_process::exit::report(&e)))?;
        let mut freed = cache
            .clear()
            .map_err(|e| ApiError::internal(ch01_process::exit::report(&e)))?;
        let in_use = super::images::layers_in_use(&daemon)?;
        freed.extend(
            images
                .store()
                .remove_unreferenced_keeping(&in_use)
                .map_err(|e| ApiError::internal(e.to_string()))?,
        );
        let deleted: Vec<String> = freed.iter().map(|(d, _)| d.hex().to_string()).collect();
        let reclaimed: u64 = freed.iter().map(|(_, bytes)| bytes).sum();
        Ok(axum::Json(
            json!({ "CachesDeleted": deleted, "SpaceReclaimed": reclaimed }),
        ))
    })
    .await
}
// ANCHOR_END: prune
