//! `build`: an image from a Dockerfile, with docker's classic builder's
//! steps, output and cache.
//!
//! An image is layers and a config. A Dockerfile is a small program whose
//! every instruction changes one or the other:
//!
//! ```text
//! FROM busybox                 the base's layers and config      ┌─ layer 1 (busybox)
//! ENV GREETING=hello           config: Env                       │
//! RUN echo $GREETING > /msg    a container runs; what it wrote ──├─ layer 2  /msg
//! COPY app /usr/bin/app        files from the context ───────────├─ layer 3  /usr/bin/app
//! WORKDIR /srv                 config: WorkingDir; the directory ├─ layer 4  /srv/
//! CMD ["app"]                  config: Cmd                       └─ config
//! ```
//!
//! The builder walks the [`plan`](crate::dockerfile::plan) (stages in
//! order), applies each instruction to the stage's
//! [`StageState`](crate::dockerfile::StageState), and does what the state
//! cannot do alone, one module each:
//!
//! - [`run_step`]: RUN, a container of chapters 2 to 4, then its writable
//!   layer [committed](layer) as a new layer;
//! - [`copy`] with [`sources`], [`scratch`], [`users`] and [`fetch`]: COPY
//!   and ADD, files into a writable layer through the safe extractor;
//! - [`cache`]: a step with the same parent image and the same text (and,
//!   for COPY, the same file contents) is not done again;
//! - [`image`]: the image so far (its id), and the finished image stored as
//!   the store's other images are, so `run`, `push`, `save` and `history`
//!   work on it;
//! - [`child`]: downloads and mounts in forked children, so that the
//!   builder stays single-threaded and the host's mounts untouched;
//! - [`output`]: docker's `Step N/M :` lines.

mod builder;
pub mod cache;
pub mod child;
pub mod copy;
pub mod error;
pub mod fetch;
pub mod image;
pub mod layer;
pub mod output;
pub mod run_step;
pub mod scratch;
pub mod sources;
mod steps;
pub mod users;

pub use builder::{BuildRequest, Built, Stage, build};
pub use error::{BuildError, SourceError};
