//! The services' images: built from their Dockerfiles (chapter 5's
//! builder) or pulled (chapter 5's pull), before any container is made.
//!
//! A service with `build:` is built when its image is missing, or always
//! with `up --build`; the image is tagged with the service's `image:`, or
//! `PROJECT-SERVICE`. Any other image that is missing is pulled. A pull
//! runs in a child process (it starts threads for its downloads, and a
//! process with threads must not go on to create containers); a build runs
//! here, since its `RUN` steps are containers.

use crate::engine::ComposeEngine;
use crate::model::Build;
use crate::resolve::Project;
use crate::translate::{TranslateError, reference_of};
use ch05_images::build::{BuildError, BuildRequest, build};
use ch05_images::dockerfile::BuildOptions;
use ch05_images::engine::ImageError;
use ch05_images::reference::Reference;
use ch05_images::verbs::ImageVerbError;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Why an image could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error("{0}")]
    Translate(#[from] TranslateError),
    #[error("{0}")]
    Image(#[from] Box<ImageError>),
    #[error("service {service:?}: pulling {image}: {source}")]
    Pull {
        service: String,
        image: String,
        source: Box<ImageVerbError>,
    },
    #[error("service {service:?}: building {image}: {source}")]
    Build {
        service: String,
        image: String,
        source: Box<BuildError>,
    },
    #[error("service {0:?}: the build context must be a directory, not a URL")]
    RemoteContext(String),
}

/// Whether the image `reference` is in the store.
pub fn is_here(engine: &ComposeEngine, reference: &Reference) -> Result<bool, ImagesError> {
    Ok(engine
        .images()
        .store()
        .image(reference)
        .map_err(|e| Box::new(ImageError::from(e)))?
        .is_some())
}

// ANCHOR: ensure
/// Builds or pulls the images of `services`, as `up` needs them.
pub fn ensure(
    engine: &ComposeEngine,
    project: &Project,
    services: &[String],
    always_build: bool,
) -> Result<(), ImagesError> {
    let mut done = BTreeSet::new();
    for name in services {
        let reference = reference_of(project, name)?;
        if !done.insert(reference.to_string()) {
            continue; // two services of one image
        }
        let here = is_here(engine, &reference)?;
        match &project.services[name].build {
            Some(build) if always_build || !here => {
                build_service(engine, project, name, build, &reference)?;
            }
            _ if !here => pull(engine, name, &reference)?,
            _ => {}
        }
    }
    Ok(())
}
// ANCHOR_END: ensure

/// Pulls `reference` for service `name`, in a child process.
pub fn pull(engine: &ComposeEngine, name: &str, reference: &Reference) -> Result<(), ImagesError> {
    eprintln!(" {name} Pulling");
    ch05_images::verbs::pull_in_child(engine.images(), &reference.to_string(), false).map_err(
        |source| ImagesError::Pull {
            service: name.to_string(),
            image: reference.to_string(),
            source: Box::new(source),
        },
    )?;
    eprintln!(" {name} Pulled");
    Ok(())
}

// ANCHOR: build_service
/// Builds service `name`'s image from its `build:` and tags it `reference`.
pub fn build_service(
    engine: &ComposeEngine,
    project: &Project,
    name: &str,
    build_section: &Build,
    reference: &Reference,
) -> Result<(), ImagesError> {
    let context = PathBuf::from(build_section.context.as_deref().unwrap_or("."));
    if crate::resolve::is_remote(&context.to_string_lossy()) {
        return Err(ImagesError::RemoteContext(name.to_string()));
    }
    let dockerfile = build_section
        .dockerfile
        .as_deref()
        .map(|file| context.join(file));
    let request = BuildRequest {
        dockerfile,
        tags: vec![reference.clone()],
        options: BuildOptions {
            target: build_section.target.clone(),
            build_args: build_section
                .args
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                .collect(),
        },
        no_cache: false,
        network: ch02_namespaces::namespaces::NetworkMode::None,
        labels: build_section.labels.clone(),
        quiet: false,
        context,
    };
    eprintln!(" {name} Building ({})", project.image_of(name));
    let mut out = std::io::stdout();
    build(engine.images(), &request, &mut out).map_err(|source| ImagesError::Build {
        service: name.to_string(),
        image: reference.to_string(),
        source: Box::new(source),
    })?;
    eprintln!(" {name} Built");
    Ok(())
}
// ANCHOR_END: build_service
