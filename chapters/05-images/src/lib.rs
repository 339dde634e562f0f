//! # Chapter 5: images
//!
//! Chapter 4 ran containers on a stack of layer directories. This chapter
//! gets the layers from where images live: a registry. An image is a few
//! JSON documents and some tarballs, all named by the sha256 of their bytes;
//! pulling one is a handful of HTTP requests, each answer verified against
//! the digest that asked for it, and the layers unpacked as the hostile
//! input they are.
//!
//! - [`reference`]: `busybox`, `user/app:1.0`, `localhost:5000/app@sha256:...`.
//! - [`digest`]: content addresses, verified while bytes stream.
//! - [`image`]: index, manifest, config; platforms; the command to run.
//! - [`registry`]: the distribution protocol, with Basic and Bearer auth.
//! - [`extract`]: unpacking a layer without letting it write outside its directory.
//! - [`store`]: blobs, unpacked layers and image records, written atomically.
//! - [`pull`]: all of it, in order, layers in parallel.
//! - [`push`]: the other way: blobs the registry lacks, then the manifest.
//! - [`archive`]: `save` and `load`: images in a tar docker can read.
//! - [`history`]: how an image was made, as `docker history` shows it.
//! - [`dockerfile`]: the recipe of an image, parsed, planned and applied.
//! - [`dockerignore`]: which files of a build context a build sees.
//! - [`build`]: a Dockerfile run, step by step, into an image, with a cache.
//! - [`credentials`]: the credentials `login` stores.
//! - [`engine`]: containers of an image: chapter 4's engine on the store.
//! - [`verbs`], [`cli`]: `run IMAGE` and the verbs on images.

pub mod archive;
pub mod build;
pub mod cli;
pub mod credentials;
pub mod digest;
pub mod dockerfile;
pub mod dockerignore;
pub mod engine;
pub mod extract;
pub mod history;
pub mod image;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod store;
pub mod verbs;
