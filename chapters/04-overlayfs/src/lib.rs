//! # Chapter 4: overlayfs
//!
//! Until now a container's root was a directory it could change, and every
//! change stayed. Images do not work that way: an image is a stack of
//! read-only layers shared by every container made from it, and each
//! container gets one thin writable layer of its own on top. The kernel's
//! overlay filesystem joins them into one tree, copying a file up into the
//! writable layer the first time the container changes it.
//!
//! - [`layers`]: the layer stack, short links for hundreds of layers, the mount.
//! - [`changes`]: what a container changed (`diff`), and its writable layer
//!   as an OCI layer tarball (`commit`).
//! - [`resolve`]: opening a path inside a root (`openat2` RESOLVE_IN_ROOT).
//! - [`populate`]: an empty volume filled with what the image has there.
//! - [`volumes`]: bind mounts, named volumes and tmpfs, mounted safely
//!   inside the container's root.
//! - [`spec`]: chapter 3's run spec, with layers and volumes.
//! - [`userns`]: letting a user namespace's root use the layers.
//! - [`container`]: all of it as a step of chapter 2's run path, and this
//!   chapter's engine.
//! - [`verbs`]: `diff` and `commit` of a container, by name.
//! - [`cli`]: this chapter's flags and verbs, kept by the next.

pub mod changes;
pub mod cli;
pub mod container;
pub mod layers;
pub mod populate;
pub mod resolve;
pub mod spec;
pub mod userns;
pub mod verbs;
pub mod volumes;

pub use container::{OverlayEngine, StorageStep};
