//! Which stages a build runs, in which order, on which bases.
//!
//! A Dockerfile with several FROMs has several *stages*. A stage can start
//! from an earlier one (`FROM build AS test`) and copy files out of one
//! (`COPY --from=build /out /app`); `--target NAME` picks the stage whose
//! result is the image (the last stage by default). Only the stages the
//! target needs, directly or through others, are built, each after the
//! stages it needs: since a stage can only name stages *before* it, the
//! order of the file is a valid order.
//!
//! The ARGs before the first FROM are the *global* scope: they are
//! substituted in FROM lines (image and `--platform`), with `--build-arg`
//! values replacing their defaults. A `--build-arg` that no ARG of the
//! built stages (or of the global scope) declares is reported as unused,
//! as docker warns about it; the proxy variables are exempt.

use std::collections::{BTreeMap, BTreeSet};

use super::Dockerfile;
use super::error::{DockerfileError, ErrorKind};
use super::instruction::Kind;
use super::state::{PROXY_ARGS, StageState};
use crate::image::ImageConfig;

/// What the user asked of the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// `--target`: the stage whose result is the image (the last one by default).
    pub target: Option<String>,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: nothing, an empty config.
    Scratch,
    /// An earlier stage of this Dockerfile (by index).
    Stage(usize),
    /// An image reference, variables substituted (`busybox:1.36`).
    Image(String),
}

/// One stage to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    /// Its index among all the stages of the Dockerfile.
    pub index: usize,
    /// Its base.
    pub base: Base,
    /// `--platform`, substituted.
    pub platform: Option<String>,
    /// Earlier stages it copies from (`COPY --from`).
    pub copies_from: Vec<usize>,
}

/// The stages to build, in order; the last one is the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub stages: Vec<PlannedStage>,
    /// The index of the target stage.
    pub target: usize,
    /// The global ARGs with their values (for [`StageState::new`]).
    pub globals: BTreeMap<String, Option<String>>,
    /// `--build-arg` names no ARG declares (docker warns: "were not consumed").
    pub unused_build_args: Vec<String>,
}

impl Dockerfile {
    /// The stage a `--from` value or a FROM image names, among the stages
    /// before `before`: a stage name (case-insensitive) or an index.
    pub fn stage_named(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages[..before.min(self.stages.len())]
            .iter()
            .position(|s| s.from.name.as_deref() == Some(lower.as_str()))
    }

    // ANCHOR: plan
    /// Resolves FROM lines, `--target` and the stages it needs.
    pub fn plan(&self, options: &BuildOptions) -> Result<Plan, DockerfileError> {
        let escape = self.directives.escape;
        let globals = self.global_values(&options.build_args)?;
        let global_vars = |name: &str| globals.get(name).cloned().flatten();

        let mut planned: Vec<PlannedStage> = Vec::new();
        let mut states: Vec<StageState> = Vec::new();
        for (index, stage) in self.stages.iter().enumerate() {
            let image = stage.from.image.expand(&self.file, escape, &global_vars)?;
            if image.is_empty() {
                return Err(DockerfileError::at(
                    &self.file,
                    stage.from.image.position,
                    ErrorKind::EmptyValue {
                        instruction: "FROM",
                    },
                ));
            }
            let platform = match &stage.from.platform {
                Some(word) => Some(word.expand(&self.file, escape, &global_vars)?),
                None => None,
            };
            let base = match self.stage_named(&image, index) {
                Some(parent) => Base::Stage(parent),
                None if image == "scratch" => Base::Scratch,
                None => Base::Image(image),
            };
            // Follow the stage's ARGs and ENVs, enough to substitute the
            // variables of COPY --from (the base image's ENV is not known
            // before it is pulled; a --from that needs it is rare).
            let mut state = match base {
                Base::Stage(parent) => StageState::inherit(&states[parent]),
                _ => StageState::new(
                    &self.file,
                    escape,
                    ImageConfig::default(),
                    &options.build_args,
                    &globals,
                ),
            };
            let mut copies_from = Vec::new();
            for instruction in &stage.instructions {
                match &instruction.kind {
                    Kind::Arg(_) | Kind::Env(_) => {
                        state.apply(instruction)?;
                    }
                    Kind::Copy(copy) => {
                        let Some(word) = &copy.from else { continue };
                        let from = state.expand(word)?;
                        if let Some(stage) = self.stage_named(&from, index) {
                            copies_from.push(stage);
                        } else if let Ok(number) = from.parse::<usize>() {
                            if number >= index {
                                return Err(DockerfileError::at(
                                    &self.file,
                                    word.position,
                                    ErrorKind::StageNotBefore { stage: from },
                                ));
                            }
                            copies_from.push(number);
                        }
                    }
                    _ => {}
                }
            }
            copies_from.sort_unstable();
            copies_from.dedup();
            states.push(state);
            planned.push(PlannedStage {
                index,
                base,
                platform,
                copies_from,
            });
        }

        let target = match &options.target {
            None => self.stages.len() - 1,
            Some(name) => self.stage_named(name, self.stages.len()).ok_or_else(|| {
                let known: Vec<String> = self
                    .stages
                    .iter()
                    .filter_map(|s| s.from.name.clone())
                    .collect();
                DockerfileError::whole(
                    &self.file,
                    ErrorKind::UnknownTarget {
                        target: name.clone(),
                        known: if known.is_empty() {
                            "unnamed (name one with FROM IMAGE AS NAME)".into()
                        } else {
                            known.join(", ")
                        },
                    },
                )
            })?,
        };

        // Everything the target needs, through bases and COPY --from.
        let mut needed = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(index) = todo.pop() {
            if !needed.insert(index) {
                continue;
            }
            if let Base::Stage(parent) = planned[index].base {
                todo.push(parent);
            }
            todo.extend(planned[index].copies_from.iter().copied());
        }

        let mut declared: BTreeSet<&str> =
            self.global_args.iter().map(|a| a.name.as_str()).collect();
        for &index in &needed {
            for instruction in &self.stages[index].instructions {
                if let Kind::Arg(decls) = &instruction.kind {
                    declared.extend(decls.iter().map(|d| d.name.as_str()));
                }
            }
        }
        let unused_build_args = options
            .build_args
            .keys()
            .filter(|k| !declared.contains(k.as_str()) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect();

        Ok(Plan {
            stages: planned
                .into_iter()
                .filter(|s| needed.contains(&s.index))
                .collect(),
            target,
            globals,
            unused_build_args,
        })
    }
    // ANCHOR_END: plan

    /// The global ARGs' values: `--build-arg`, else the default (which may
    /// use the global ARGs above it), else unset.
    pub fn global_values(
        &self,
        build_args: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Option<String>>, DockerfileError> {
        let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
        for decl in &self.global_args {
            let value = match (build_args.get(&decl.name), &decl.default) {
                (Some(given), _) => Some(given.clone()),
                (None, Some(word)) => {
                    let vars = |name: &str| values.get(name).cloned().flatten();
                    Some(word.expand(&self.file, self.directives.escape, &vars)?)
                }
                (None, None) => None,
            };
            values.insert(decl.name.clone(), value);
        }
        Ok(values)
    }
}
