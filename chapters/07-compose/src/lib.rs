//! # Chapter 7: compose
//!
//! Six chapters built one container at a time: `run` with a dozen flags.
//! An application is several containers that must agree on a network,
//! find each other by name, share volumes and start in the right order.
//! Compose describes all of it once, in a file, and runs it.
//!
//! ```text
//!  compose.yaml ─┐                                          ┌─► config (YAML)
//!  override.yaml ┼─ parse ─ substitute ─ type ─ merge ─ resolve ─ validate ─┤
//!  .env ─────────┘  node   interpolate    de    merge   resolve  validate   └─► plan ─► runner
//! ```
//!
//! The model (pure: nothing here touches the kernel, so every rule is
//! tested on its own with small files):
//!
//! - [`load`]: which files (`compose.yaml` here or above, `-f`,
//!   `COMPOSE_FILE`), which variables (shell, `.env`, `--env-file`),
//!   which profiles, which project name; then every step below.
//! - [`node`]: YAML into a tree that remembers where each value was
//!   written (anchors, aliases and `<<` merge keys expanded).
//! - [`interpolate`]: `${VAR:-default}` and friends, in values, before
//!   typing. [`dotenv`]: `KEY=VALUE` files.
//! - [`de`]: the tree into typed structs ([`model`]), with the key path,
//!   file, line and column of every error, and "did you mean" for unknown
//!   keys. [`words`]: command strings cut into argv as compose cuts them.
//! - [`merge`]: several files into one, by compose's rules.
//! - [`resolve`]: the defaults filled in: the `default` network,
//!   `PROJECT_NAME` names, absolute paths, env files, profiles.
//! - [`validate`]: rules across the whole project (cycles, undeclared
//!   networks and volumes, `container_name` with replicas...).
//! - [`config`]: the resolved project as YAML, like `docker compose config`.
//! - [`plan`]: start and stop order, `PROJECT-SERVICE-N` containers, the
//!   `com.docker.compose.*` labels, and the config hash that decides
//!   whether a container is recreated.
//!
//! The runner, on chapter 6's engine:
//!
//! - [`spec`], [`engine`]: chapter 6's spec with a compose section (labels,
//!   stop signal and grace period, restart policy, healthcheck), and the
//!   engine that finds a project's containers by label.
//! - [`translate`]: a service into that spec, through the chapters' own
//!   flag structures.
//! - [`runner`]: `up` in the foreground (a supervisor process per
//!   container, dependency order, healthchecks, restarts, ordered stop),
//!   `down`, `ps`.
//! - [`cli`]: the binary's options and verbs.

pub mod cli;
pub mod config;
pub mod de;
pub mod dotenv;
pub mod engine;
pub mod error;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod node;
pub mod plan;
pub mod resolve;
pub mod runner;
pub mod spec;
pub mod translate;
pub mod validate;
pub mod words;

pub use config::to_yaml;
pub use error::{ComposeError, Invalid, Warning};
pub use load::{LoadOptions, load};
pub use model::{ComposeFile, Service};
pub use plan::{Plan, PlannedContainer, Resource, plan};
pub use resolve::Project;
