//! `diff` and `commit`: what a container changed, found in its writable layer.

use crate::changes::{self, ChangesError, CommitSummary};
use crate::container::OverlayEngine;
use crate::spec::Spec;
use ch01_process::explain;
use ch02_namespaces::{Engine, RunError};
use ch03_cgroups::{Cgroup, CgroupError};
use std::path::Path;

/// Why `diff` or `commit` failed.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Changes(#[from] ChangesError),
    #[error("pausing the container for the commit: {0}")]
    Pause(#[from] CgroupError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// `docker diff`: the changes in a container's writable layer, one per line.
pub fn diff(engine: &OverlayEngine, wanted: &str) -> Result<String, VerbError> {
    let record = engine
        .containers()
        .find::<Spec>(wanted)
        .map_err(RunError::from)?;
    let stack = engine.stack(&record.spec);
    Ok(changes::render(&changes::diff(
        &stack.upper(),
        &stack.lowers,
    )?))
}

// ANCHOR: commit
/// `docker commit`, the layer part: writes the writable layer of a
/// container to `output` as an OCI layer tarball (written aside, then
/// renamed: never a half tarball).
pub fn commit(
    engine: &OverlayEngine,
    wanted: &str,
    output: &Path,
) -> Result<CommitSummary, VerbError> {
    with_frozen_layer(engine, wanted, |upper| write_layer(upper, output))?
}

/// Runs `read` on the writable layer (the upper directory) of container
/// `wanted`, with the container frozen meanwhile if it runs.
///
/// A running container is frozen while its layer is read, as docker does
/// (`--pause`, its default): otherwise it could change what is being read,
/// and swap a directory for a symbolic link to a host path between a check
/// and a read, getting a host file into the tarball.
pub fn with_frozen_layer<T>(
    engine: &OverlayEngine,
    wanted: &str,
    read: impl FnOnce(&Path) -> T,
) -> Result<T, VerbError> {
    let record = engine
        .containers()
        .find::<Spec>(wanted)
        .map_err(RunError::from)?;
    let stack = engine.stack(&record.spec);
    let frozen = match record.is_running() && !record.state.paused {
        true => {
            let cgroup = Cgroup::open(engine.cgroups().layout(), &record.spec.id)?;
            explain!("freeze the container while its layer is read");
            cgroup.freeze()?;
            Some(cgroup)
        }
        false => None,
    };
    let done = read(&stack.upper());
    if let Some(cgroup) = frozen {
        cgroup.thaw()?;
    }
    Ok(done)
}
// ANCHOR_END: commit

fn write_layer(upper: &Path, output: &Path) -> Result<CommitSummary, VerbError> {
    let partial = output.with_extension("tar.partial");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerbError::Io { path, source }
    };
    let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
    let summary = match changes::commit(upper, &mut file) {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.into());
        }
    };
    file.sync_all().map_err(io(&partial))?;
    std::fs::rename(&partial, output).map_err(io(output))?;
    Ok(summary)
}
