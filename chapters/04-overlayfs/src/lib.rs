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
//! - [`volumes`]: bind mounts, named volumes and tmpfs, mounted safely
//!   inside the container's root.
//! - [`container`]: all of it in chapter 2's root filesystem steps.
//! - [`run`]: chapter 3's run on a layer stack, with volumes (chapter 5 reuses it).

pub mod changes;
pub mod container;
pub mod layers;
pub mod resolve;
pub mod run;
pub mod volumes;
