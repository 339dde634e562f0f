//! The build: stages in the plan's order, each from its base, instruction
//! by instruction, and the target stage stored as an image.

use super::cache::Cache;
use super::error::BuildError;
use super::image::{image_id, scratch_config, store_image, stored};
use super::layer::LayerRef;
use super::output::{Progress, short};
use super::sources::Tree;
use crate::archive::familiar_name;
use crate::digest::Digest;
use crate::dockerfile::{self, Base, BuildOptions, Dockerfile, PlannedStage, StageState};
use crate::engine::ImageEngine;
use crate::reference::{self, Reference};
use crate::store::ImageRecord;
use crate::verbs;
use ch02_namespaces::namespaces::NetworkMode;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// What `build` was asked.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The build context: the directory COPY and ADD read from.
    pub context: PathBuf,
    /// `-f`: the Dockerfile (default: `CONTEXT/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// `-t`: the names of the image.
    pub tags: Vec<Reference>,
    /// `--target` and `--build-arg`.
    pub options: BuildOptions,
    /// `--no-cache`: run every step (their results still fill the cache).
    pub no_cache: bool,
    /// `--network`: the network of RUN steps (none by default).
    pub network: NetworkMode,
    /// `--label`: labels of the image.
    pub labels: BTreeMap<String, String>,
    /// `-q`: print only the image id.
    pub quiet: bool,
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The image id: the digest of its config.
    pub id: Digest,
    /// The digest of its manifest.
    pub manifest: Digest,
}

/// A stage being built, or built: its state (config, ARGs) and its layers.
#[derive(Debug, Clone)]
pub struct Stage {
    pub state: StageState,
    pub layers: Vec<LayerRef>,
}

/// A build in progress.
pub(super) struct Builder<'a, 'o> {
    pub(super) engine: &'a ImageEngine,
    pub(super) request: &'a BuildRequest,
    pub(super) cache: Cache,
    /// The context, walked when a COPY first needs it.
    pub(super) context: Option<Tree>,
    /// The stages built so far, by index.
    pub(super) built: Vec<Option<Stage>>,
    pub(super) progress: Progress<'o>,
}

/// Reads the Dockerfile: its path, and the name its messages use.
fn read_dockerfile(request: &BuildRequest) -> Result<Dockerfile, BuildError> {
    let (path, name) = match &request.dockerfile {
        Some(path) => (path.clone(), path.display().to_string()),
        None => (request.context.join("Dockerfile"), "Dockerfile".to_string()),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| BuildError::ReadDockerfile {
        path: path.clone(),
        source,
    })?;
    Ok(dockerfile::parse(&name, &text)?)
}

// ANCHOR: build
/// Builds the image `request` describes, printing docker's lines to `out`.
pub fn build(
    engine: &ImageEngine,
    request: &BuildRequest,
    out: &mut dyn Write,
) -> Result<Built, BuildError> {
    if !request.context.is_dir() {
        return Err(BuildError::NoContext(request.context.clone()));
    }
    let dockerfile = read_dockerfile(request)?;
    // Absolute: the children that copy from it change their directory.
    let context = std::fs::canonicalize(&request.context)
        .map_err(BuildError::io("resolve", &request.context))?;
    let request = &BuildRequest {
        context,
        ..request.clone()
    };
    let plan = dockerfile.plan(&request.options)?;
    // Shared, as a pull holds it: no `rmi` removes a layer under the build.
    let _lock = engine.store().lock(false)?;
    let mut builder = Builder {
        engine,
        request,
        cache: Cache::open(engine.root())?,
        context: None,
        built: vec![None; dockerfile.stages.len()],
        progress: Progress::new(out, request.quiet),
    };
    for warning in &dockerfile.warnings {
        builder
            .progress
            .line(&format!("[WARNING]: {}:{warning}", dockerfile.file))?;
    }
    builder.progress.total = plan
        .stages
        .iter()
        .map(|s| 1 + dockerfile.stages[s.index].instructions.len())
        .sum::<usize>()
        + usize::from(!request.labels.is_empty());
    for planned in &plan.stages {
        let stage = builder.stage(
            &dockerfile,
            planned,
            &plan.globals,
            planned.index == plan.target,
        )?;
        builder.built[planned.index] = Some(stage);
    }
    let Stage { state, layers } = builder.built[plan.target]
        .take()
        .expect("the target was built");
    let manifest = store_image(engine.store(), &state.config, &layers, &request.tags)?;
    let id = image_id(&state.config);
    if !plan.unused_build_args.is_empty() {
        builder.progress.line(&format!(
            "[Warning] One or more build-args [{}] were not consumed",
            plan.unused_build_args.join(" ")
        ))?;
    }
    if request.quiet {
        builder.progress.always(&id.to_string())?;
    } else {
        builder
            .progress
            .line(&format!("Successfully built {}", short(&id)))?;
        for tag in &request.tags {
            let name = familiar_name(tag).unwrap_or_else(|| tag.to_string());
            builder
                .progress
                .line(&format!("Successfully tagged {name}"))?;
        }
    }
    Ok(Built { id, manifest })
}
// ANCHOR_END: build

impl Builder<'_, '_> {
    /// Wraps an error of the current step with the step.
    fn at_step(&self, text: &str) -> impl FnOnce(BuildError) -> BuildError {
        let (step, total, text) = (self.progress.step, self.progress.total, text.to_string());
        move |source| BuildError::Step {
            step,
            total,
            text,
            source: Box::new(source),
        }
    }

    // ANCHOR: stage
    /// Builds one stage: its base, the base's ONBUILD triggers, its
    /// instructions, and for the target the `--label`s.
    fn stage(
        &mut self,
        dockerfile: &Dockerfile,
        planned: &PlannedStage,
        globals: &BTreeMap<String, Option<String>>,
        target: bool,
    ) -> Result<Stage, BuildError> {
        let source = &dockerfile.stages[planned.index];
        self.progress.step(&source.text)?;
        let mut stage = self
            .base(dockerfile, planned, globals)
            .map_err(self.at_step(&source.text))?;
        let triggers = stage.state.take_triggers(source.position)?;
        if !triggers.is_empty() {
            let n = triggers.len();
            let s = if n == 1 { "" } else { "s" };
            self.progress
                .line(&format!("# Executing {n} build trigger{s}"))?;
        }
        for trigger in &triggers {
            self.instruction(dockerfile, planned.index, &mut stage, trigger)
                .map_err(self.at_step(&format!("ONBUILD {}", trigger.text)))?;
        }
        for instruction in &source.instructions {
            self.progress.step(&instruction.text)?;
            self.instruction(dockerfile, planned.index, &mut stage, instruction)
                .map_err(self.at_step(&instruction.text))?;
        }
        if target && !self.request.labels.is_empty() {
            let text: Vec<String> = self
                .request
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let text = format!("LABEL {}", text.join(" "));
            self.progress.step(&text)?;
            self.labels(&mut stage).map_err(self.at_step(&text))?;
        }
        Ok(stage)
    }
    // ANCHOR_END: stage

    /// The stage's starting point: `scratch`, an earlier stage, or an
    /// image (pulled first if it is not here).
    fn base(
        &mut self,
        dockerfile: &Dockerfile,
        planned: &PlannedStage,
        globals: &BTreeMap<String, Option<String>>,
    ) -> Result<Stage, BuildError> {
        let options = &self.request.options;
        let fresh = |config| {
            StageState::new(
                &dockerfile.file,
                dockerfile.directives.escape,
                config,
                &options.build_args,
                globals,
            )
        };
        match &planned.base {
            Base::Scratch => Ok(Stage {
                state: fresh(scratch_config()),
                layers: Vec::new(),
            }),
            Base::Stage(parent) => {
                let parent = self.built[*parent]
                    .as_ref()
                    .expect("a base stage is built first");
                self.progress.image(&image_id(&parent.state.config))?;
                Ok(Stage {
                    state: StageState::inherit(&parent.state),
                    layers: parent.layers.clone(),
                })
            }
            Base::Image(name) => {
                let record = self.image(name)?;
                let (config, layers) = stored(self.engine.store(), &record)?;
                self.progress.image(&record.config)?;
                Ok(Stage {
                    state: fresh(config),
                    layers,
                })
            }
        }
    }

    // ANCHOR: pull_base
    /// The record of image `name`, pulled first when it is not here, by a
    /// child process: a pull starts threads, and this process must stay
    /// single-threaded to start the containers of RUN steps.
    pub(super) fn image(&mut self, name: &str) -> Result<ImageRecord, BuildError> {
        let reference = reference::parse(name)?;
        let store = self.engine.store();
        if let Some(record) = store.image(&reference)? {
            return Ok(record);
        }
        let _ = std::io::stdout().flush();
        verbs::pull_in_child(self.engine, name, self.request.quiet)?;
        Ok(store
            .image(&reference)?
            .ok_or_else(|| crate::store::StoreError::NoSuchImage(reference.to_string()))?)
    }
    // ANCHOR_END: pull_base
}
