//! One instruction of a stage: config only, RUN, WORKDIR, COPY or ADD,
//! each through the build cache.

use super::builder::{Builder, Stage};
use super::cache;
use super::child::{Mounts, in_child};
use super::copy::{CopyRequest, Origin, copy_into, is_archive};
use super::error::{BuildError, SourceError};
use super::fetch;
use super::image::{image_id, stored};
use super::layer::{LayerRef, commit_upper, is_empty, layer_dirs};
use super::output::short;
use super::run_step::{self, RunRequest};
use super::scratch::Scratch;
use super::sources::{self, Match, Matches, Tree};
use crate::digest::Digest;
use crate::dockerfile::values::nop;
use crate::dockerfile::{Dockerfile, Instruction, RunNetwork, Step};
use crate::dockerignore::{ContextEntry, DockerIgnore, EntryKind, walk};
use ch02_namespaces::namespaces::NetworkMode;
use ch04_overlayfs::resolve::{Create, open_creating};
use nix::fcntl::OFlag;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// The arguments of a COPY or ADD, substituted.
struct CopyArgs {
    add: bool,
    sources: Vec<String>,
    dest: String,
    from: Option<String>,
    chown: Option<String>,
    chmod: Option<u32>,
    checksum: Option<String>,
}

/// What a COPY or ADD takes from the context (and downloads).
struct ContextSources {
    trees: Vec<Tree>,
    matches: Matches,
    /// ADD's local tar archives (unpacked, not copied), with their paths.
    archives: Vec<(Match, PathBuf)>,
}

impl Builder<'_, '_> {
    // ANCHOR: instruction
    /// Applies one instruction to `stage`: the config changes at once; a
    /// step that changes files is looked up in the cache, and done when it
    /// is not there. Prints the id of the image after it.
    pub(super) fn instruction(
        &mut self,
        dockerfile: &Dockerfile,
        index: usize,
        stage: &mut Stage,
        instruction: &Instruction,
    ) -> Result<(), BuildError> {
        let parent = image_id(&stage.state.config);
        match stage.state.apply(instruction)? {
            Step::Config => {
                let created_by = stage
                    .state
                    .config
                    .history
                    .last()
                    .and_then(|h| h.created_by.clone())
                    .unwrap_or_default();
                let key = cache::key(&parent, &created_by);
                if !self.cached(&key, stage)? {
                    self.finish(&key, stage, None)?;
                }
            }
            Step::Run {
                argv,
                env,
                network,
                created_by,
            } => {
                let key = cache::key(&parent, &format!("RUN {created_by}"));
                if !self.cached(&key, stage)? {
                    let network = match network {
                        RunNetwork::Default => self.request.network,
                        RunNetwork::None => NetworkMode::None,
                        RunNetwork::Host => NetworkMode::Host,
                    };
                    let request = RunRequest {
                        argv: &argv,
                        env: &env,
                        config: &stage.state.config.config,
                        network,
                        layers: &stage.layers,
                        image: short(&parent),
                    };
                    let layer = run_step::run(self.engine, &request, &mut self.progress)?;
                    stage.state.record(created_by, false);
                    self.finish(&key, stage, Some(layer))?;
                }
            }
            Step::Workdir { path, created_by } => {
                let key = cache::key(&parent, &created_by);
                if !self.cached(&key, stage)? {
                    let layer = self.workdir(stage, &path)?;
                    stage.state.record(created_by, layer.is_none());
                    self.finish(&key, stage, layer)?;
                }
            }
            Step::Copy {
                add,
                sources,
                dest,
                from,
                chown,
                chmod,
                link: _,
                checksum,
            } => {
                let args = CopyArgs {
                    add,
                    sources,
                    dest,
                    from,
                    chown,
                    chmod,
                    checksum,
                };
                self.copy(dockerfile, index, stage, &parent, &args)?;
            }
        }
        self.progress.image(&image_id(&stage.state.config))
    }
    // ANCHOR_END: instruction

    /// `--label`: a config-only step at the end of the target stage.
    pub(super) fn labels(&mut self, stage: &mut Stage) -> Result<(), BuildError> {
        let parent = image_id(&stage.state.config);
        let created_by = stage.state.add_labels(&self.request.labels);
        let key = cache::key(&parent, &created_by);
        if !self.cached(&key, stage)? {
            self.finish(&key, stage, None)?;
        }
        self.progress.image(&image_id(&stage.state.config))
    }

    // ANCHOR: cached
    /// Takes the step's result from the cache, if it is there (and the
    /// build may use it).
    fn cached(&mut self, key: &Digest, stage: &mut Stage) -> Result<bool, BuildError> {
        if self.request.no_cache {
            return Ok(false);
        }
        let Some(hit) = self.cache.get(key, self.engine.store(), &stage.layers)? else {
            return Ok(false);
        };
        stage.state.config = hit.config;
        stage.layers.extend(hit.layer);
        self.progress.arrow("Using cache")?;
        Ok(true)
    }

    /// Ends a step that was done: its layer joins the stage, the config is
    /// dated by its history entry, and the result goes into the cache.
    fn finish(
        &mut self,
        key: &Digest,
        stage: &mut Stage,
        layer: Option<LayerRef>,
    ) -> Result<(), BuildError> {
        let config = &mut stage.state.config;
        config.created = config.history.last().and_then(|h| h.created.clone());
        if let Some(layer) = &layer {
            config.rootfs.diff_ids.push(layer.diff_id.to_string());
            stage.layers.push(layer.clone());
        }
        self.cache.put(
            key,
            self.engine.store(),
            &stage.state.config,
            layer.as_ref(),
        )
    }
    // ANCHOR_END: cached

    /// WORKDIR: the directory made in the image, if it is not there (a
    /// layer); nothing when it is.
    fn workdir(&mut self, stage: &Stage, path: &str) -> Result<Option<LayerRef>, BuildError> {
        let store = self.engine.store();
        let scratch = Scratch::new(self.engine, layer_dirs(store, &stage.layers))?;
        let inside = path.trim_start_matches('/').to_string();
        in_child("WORKDIR", Mounts::Private, || {
            scratch.mount()?;
            let merged = scratch.merged();
            let root = File::open(&merged).map_err(|e| format!("open {merged:?}: {e}"))?;
            open_creating(root.as_fd(), Path::new(&inside), Create::Dir, OFlag::O_PATH)
                .map(drop)
                .map_err(|e| format!("create {path}: {} {:?}: {}", e.step, e.path, e.errno))
        })?;
        if is_empty(&scratch.upper())? {
            return Ok(None);
        }
        Ok(Some(commit_upper(store, &scratch.upper(), &stage.layers)?))
    }

    /// The build context, walked (what .dockerignore leaves) on first use.
    fn context(&mut self) -> Result<Tree, BuildError> {
        if self.context.is_none() {
            let root = self.request.context.clone();
            let ignore = DockerIgnore::read(&root)?;
            let entries = walk(&root, &ignore)?;
            self.context = Some(Tree { root, entries });
        }
        Ok(self.context.clone().expect("walked above"))
    }

    /// The layers and id of what `--from` names: a stage before this one
    /// (by name or index), or an image.
    fn from(
        &mut self,
        dockerfile: &Dockerfile,
        index: usize,
        name: &str,
    ) -> Result<(Vec<LayerRef>, Digest), BuildError> {
        let stage = dockerfile
            .stage_named(name, index)
            .or_else(|| name.parse::<usize>().ok().filter(|n| *n < index));
        if let Some(stage) = stage {
            let built = self.built[stage]
                .as_ref()
                .expect("planned before this stage");
            return Ok((built.layers.clone(), image_id(&built.state.config)));
        }
        let record = self.image(name).map_err(|source| {
            let named: Vec<&str> = dockerfile.stages[..index]
                .iter()
                .filter_map(|s| s.name())
                .collect();
            BuildError::From {
                name: name.to_string(),
                stages: match named.is_empty() {
                    true => "it has no named stage".into(),
                    false => format!("they are {}", named.join(", ")),
                },
                source: Box::new(source),
            }
        })?;
        let (_, layers) = stored(self.engine.store(), &record)?;
        Ok((layers, record.config))
    }

    // ANCHOR: copy
    /// COPY and ADD: the sources found and hashed (the cache key), then
    /// copied into a writable layer on the stage, which becomes a layer.
    fn copy(
        &mut self,
        dockerfile: &Dockerfile,
        index: usize,
        stage: &mut Stage,
        parent: &Digest,
        args: &CopyArgs,
    ) -> Result<(), BuildError> {
        let keyword = if args.add { "ADD" } else { "COPY" };
        let shell = stage.state.shell();
        let store = self.engine.store();
        let flags = format!("chown={:?} chmod={:?}", args.chown, args.chmod);
        let layers = layer_dirs(store, &stage.layers);
        let (key, created_by, layer) = match &args.from {
            Some(from) => {
                let (source_layers, id) = self.from(dockerfile, index, from)?;
                let key = cache::key(
                    parent,
                    &format!(
                        "{keyword} --from={id} {flags} {:?} {}",
                        args.sources, args.dest
                    ),
                );
                let created_by = nop(
                    &shell,
                    &format!(
                        "{keyword} --from={from} {} in {}",
                        args.sources.join(" "),
                        args.dest
                    ),
                );
                if self.cached(&key, stage)? {
                    return Ok(());
                }
                let view = Scratch::new(self.engine, layer_dirs(store, &source_layers))?;
                let target = Scratch::new(self.engine, layers)?;
                copy_into(
                    &target,
                    &CopyRequest {
                        origin: Origin::View {
                            view: &view,
                            sources: &args.sources,
                        },
                        dest: &args.dest,
                        chown: args.chown.as_deref(),
                        chmod: args.chmod,
                    },
                )?;
                (
                    key,
                    created_by,
                    commit_upper(store, &target.upper(), &stage.layers)?,
                )
            }
            None => {
                let downloads = store.work_dir("downloads")?;
                let ContextSources {
                    trees,
                    matches,
                    archives,
                } = self.context_sources(args, downloads.path())?;
                let mut all = matches.clone();
                all.extend(archives.iter().map(|(m, _)| (0, m.clone())));
                let content = sources::content_hash(&trees, &all)
                    .map_err(BuildError::io("read", &self.request.context))?;
                let kind = match all.as_slice() {
                    [(_, only)] if only.kind == EntryKind::Dir => "dir",
                    [_] => "file",
                    _ => "multi",
                };
                let hex = content.trim_start_matches("sha256:");
                let key = cache::key(
                    parent,
                    &format!("{keyword} {flags} {} {content}", args.dest),
                );
                let created_by = nop(&shell, &format!("{keyword} {kind}:{hex} in {} ", args.dest));
                if self.cached(&key, stage)? {
                    return Ok(());
                }
                let archives: Vec<PathBuf> = archives.into_iter().map(|(_, path)| path).collect();
                let target = Scratch::new(self.engine, layers)?;
                copy_into(
                    &target,
                    &CopyRequest {
                        origin: Origin::Trees {
                            trees: &trees,
                            matches: &matches,
                            archives: &archives,
                        },
                        dest: &args.dest,
                        chown: args.chown.as_deref(),
                        chmod: args.chmod,
                    },
                )?;
                (
                    key,
                    created_by,
                    commit_upper(store, &target.upper(), &stage.layers)?,
                )
            }
        };
        stage.state.record(created_by, false);
        self.finish(&key, stage, Some(layer))
    }
    // ANCHOR_END: copy

    /// The sources of a COPY or ADD from the context (and, for ADD, URLs,
    /// downloaded into `downloads`): the trees, the matches, and the local
    /// archives ADD unpacks.
    fn context_sources(
        &mut self,
        args: &CopyArgs,
        downloads: &Path,
    ) -> Result<ContextSources, BuildError> {
        let mut trees = vec![self.context()?];
        let mut matches = Vec::new();
        let mut archives = Vec::new();
        for source in &args.sources {
            if args.add && fetch::is_url(source) {
                let name = fetch::file_name(source);
                if name.is_none() && args.dest.ends_with('/') {
                    return Err(SourceError::NoFileName(source.clone()).into());
                }
                let name = name.unwrap_or_else(|| "download".into());
                let dir = downloads.join(trees.len().to_string());
                std::fs::create_dir(&dir).map_err(BuildError::io("create", &dir))?;
                let path = fetch::download(source, &dir, &name)?;
                if let Some(expected) = &args.checksum {
                    let bytes = std::fs::read(&path).map_err(BuildError::io("read", &path))?;
                    let actual = crate::digest::sha256_of(&bytes).to_string();
                    if &actual != expected {
                        return Err(SourceError::Checksum {
                            url: source.clone(),
                            expected: expected.clone(),
                            actual,
                        }
                        .into());
                    }
                }
                let entry = ContextEntry {
                    path: name.clone(),
                    kind: EntryKind::File,
                };
                trees.push(Tree {
                    root: dir,
                    entries: vec![entry],
                });
                let found = Match {
                    path: name,
                    kind: EntryKind::File,
                };
                matches.push((trees.len() - 1, found));
                continue;
            }
            let cleaned = sources::clean(source)?;
            let found = sources::select(&trees[0], &cleaned);
            if found.is_empty() {
                return Err(match sources::is_glob(&cleaned) {
                    true => SourceError::NoMatch(source.clone()),
                    false => SourceError::NotInContext(source.clone()),
                }
                .into());
            }
            for found in found {
                let path = trees[0].root.join(&found.path);
                if args.add
                    && found.kind == EntryKind::File
                    && is_archive(&path).map_err(BuildError::io("read", &path))?
                {
                    archives.push((found, path));
                } else {
                    matches.push((0, found));
                }
            }
        }
        Ok(ContextSources {
            trees,
            matches,
            archives,
        })
    }
}
