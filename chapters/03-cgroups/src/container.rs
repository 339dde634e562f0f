//! A container in a cgroup: chapter 2's container, limited.
//!
//! The cgroup is one [`Step`] of the run path. It is created before the
//! container starts (`prepare`), and the child is in it before it does
//! anything else: on cgroup v2 the parent moves it in while it still waits
//! on chapter 1's pipe (`in_parent`); on v1 it moves itself, first thing
//! once it goes on (`in_child`, which costs the kernel less: see
//! [`Cgroup::self_join`]). Either way the container's program never runs a
//! single instruction outside its limits, and everything it starts is born
//! inside. Only then does the child create its cgroup namespace (chapter
//! 2's hooks do it), so that the cgroup becomes the root of what the
//! container sees in `/proc/self/cgroup`.
//! A process that `exec` starts joins the cgroup the same way, or it would
//! escape the container's limits.
//!
//! The cgroup is named after the container's id, so the step needs nothing
//! but the spec to find it again: `release` removes it after the run, or
//! from another process after a supervisor was killed.

use crate::cgroup::{Cgroup, CgroupError, PARENT, SelfJoin};
use crate::devices::{DEFAULT_RULES, DeviceRule};
use crate::layout::{Layout, LayoutError};
use crate::limits::Limits;
use crate::spec::Spec;
use ch01_process::{HookError, explain};
use ch02_namespaces::records::Containers;
use ch02_namespaces::step::StepError;
use ch02_namespaces::{Engine, ExitReport, RunError, Step};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};

// ANCHOR: step
/// The cgroup of a container, as a step of the run path.
pub struct CgroupStep {
    layout: Layout,
    /// Relative to each hierarchy's root: `skiff/<id>`, or the spec's path.
    path: PathBuf,
    limits: Limits,
    devices: Vec<DeviceRule>,
    /// For `exec`: the cgroup's `cgroup.procs` files, opened before the
    /// process enters the container (where the host's paths are gone).
    procs: Vec<std::fs::File>,
    /// On v1: what the child needs to move itself in, opened in `prepare`.
    self_join: Option<SelfJoin>,
}

impl CgroupStep {
    pub fn new(layout: &Layout, spec: &Spec) -> CgroupStep {
        CgroupStep {
            layout: layout.clone(),
            path: spec
                .cgroup
                .path
                .clone()
                .unwrap_or_else(|| Path::new(PARENT).join(&spec.id)),
            limits: spec.limits.clone(),
            devices: spec
                .cgroup
                .devices
                .clone()
                .unwrap_or_else(|| DEFAULT_RULES.to_vec()),
            procs: Vec::new(),
            self_join: None,
        }
    }

    /// The container's cgroup, if it exists.
    pub fn open(&self) -> Result<Cgroup, CgroupError> {
        Cgroup::open_at(&self.layout, &self.path)
    }

    fn join(&self, child: Pid) -> Result<(), HookError> {
        self.open()
            .and_then(|cgroup| cgroup.add(child))
            .map_err(|e| HookError::new("joining the cgroup", e))
    }
}

impl Step for CgroupStep {
    fn prepare(&mut self) -> Result<(), StepError> {
        // One left by a run whose supervisor was killed: its processes died
        // with the supervisor, the cgroup stayed. Only under `skiff/`: a
        // cgroup at a path the caller chose may be someone else's, and
        // creating ours there fails instead.
        let ours = self.path.parent() == Some(Path::new(PARENT));
        if ours && let Ok(stale) = self.open() {
            explain!("remove the stale cgroup of a previous run");
            stale
                .remove()
                .map_err(|e| StepError::new("removing a stale cgroup", e))?;
        }
        let cgroup = Cgroup::create_at(&self.layout, &self.path, &self.limits, &self.devices)
            .map_err(|e| StepError::new("creating the cgroup", e))?;
        self.self_join = cgroup
            .self_join()
            .map_err(|e| StepError::new("opening the cgroup for the child", e))?;
        Ok(())
    }

    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        // The child has its own copy of the files (v1): ours are closed.
        match self.self_join.take() {
            Some(_) => Ok(()),
            None => self.join(child),
        }
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        match self.self_join.take() {
            Some(join) => join
                .join()
                .map_err(|e| HookError::new("joining the cgroup", e)),
            None => Ok(()),
        }
    }

    fn exec_prepare(&mut self) -> Result<(), StepError> {
        let cgroup = self
            .open()
            .map_err(|e| StepError::new("finding the container's cgroup", e))?;
        // On v1 the process moves itself in, as a container's first does.
        self.self_join = cgroup
            .self_join()
            .map_err(|e| StepError::new("opening the cgroup for the process", e))?;
        if self.self_join.is_some() {
            return Ok(());
        }
        for dir in cgroup.dirs() {
            let path = dir.join("cgroup.procs");
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StepError::new(format!("open {}", path.display()), e))?;
            self.procs.push(file);
        }
        Ok(())
    }

    fn exec_in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        use std::io::Write;
        if self.self_join.take().is_some() {
            return Ok(());
        }
        for file in &mut self.procs {
            explain!("write cgroup.procs = {child} (exec joins the container's cgroup)");
            file.write_all(child.to_string().as_bytes())
                .map_err(|e| HookError::new("joining the cgroup", e))?;
        }
        Ok(())
    }

    fn exec_in_child(&mut self) -> Result<(), HookError> {
        self.in_child()
    }

    fn exited(&mut self, report: &mut ExitReport) {
        report.oom_killed = self.open().and_then(|c| c.oom_killed()).unwrap_or(false);
    }

    fn release(&mut self) -> Result<(), StepError> {
        match self.open() {
            Ok(cgroup) => cgroup
                .remove()
                .map_err(|e| StepError::new("removing the cgroup", e)),
            Err(CgroupError::NotFound(_)) => Ok(()),
            Err(e) => Err(StepError::new("removing the cgroup", e)),
        }
    }
}
// ANCHOR_END: step

/// Chapter 3's engine: chapter 2's containers, each in a cgroup.
pub struct CgroupEngine {
    containers: Containers,
    layout: Layout,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Layout(#[from] LayoutError),
}

impl CgroupEngine {
    /// The engine whose records are under `root`, on this machine's cgroups.
    pub fn open(root: &Path) -> Result<CgroupEngine, EngineError> {
        Ok(CgroupEngine {
            containers: Containers::open(root).map_err(RunError::from)?,
            layout: Layout::detect()?,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl Engine for CgroupEngine {
    type Spec = Spec;
    type Steps = CgroupStep;

    fn containers(&self) -> &Containers {
        &self.containers
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        CgroupStep::new(&self.layout, spec)
    }
}

/// What to tell the user when the kernel's OOM killer ended the container:
/// its exit code alone (137, as for any SIGKILL) does not say why.
pub fn oom_note(exit: &ExitReport, memory: Option<u64>) -> Option<String> {
    exit.oom_killed.then(|| {
        let limit = memory.map_or("its memory limit".into(), crate::stats::human);
        format!(
            "container {} was OOM-killed: it reached its memory limit ({limit})",
            exit.name
        )
    })
}
