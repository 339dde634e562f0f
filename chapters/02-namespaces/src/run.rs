//! The run path: create, prepare, start, wait.
//!
//! `docker run` is four steps, and a caller can sit between any two of them
//! (the engine's daemon creates a container long before a shim starts it):
//!
//! ```text
//! create    the record (id, name, spec) and what lives as long as the
//!           container (chapter 4: its writable layer)
//! prepare   what one run needs (chapter 3: a cgroup); checks the root
//! start     clone, the hooks, execve: returns once the command runs
//! wait      its exit status; what one run needed is released; --rm removes
//! ```
//!
//! Each chapter's [`Engine`] says what its spec is and which [`Step`]s its
//! containers take; this module runs them, the same for every chapter.

use crate::container::{ContainerError, ContainerHooks, ensure_single_threaded};
use crate::records::{Containers, ProcessId, Record, RecordError, Status, now};
use crate::spec::{RunSpec, SpecError};
use crate::step::{ExitReport, Step, StepError, WatchSteps};
use ch01_process::supervise::SuperviseError;
use ch01_process::{
    Child, HookError, SpawnHooks, SpawnOptions, SuperviseOptions, Supervisor, explain, spawn,
};
use nix::unistd::Pid;
use std::time::Duration;

/// Why a container could not be created, started, waited for or removed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("{0}")]
    Step(#[from] StepError),
    #[error("{0}")]
    Container(#[from] ContainerError),
    #[error("{0}")]
    Supervise(#[from] SuperviseError),
    #[error("{0}")]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("container {0} is running: stop it before removing it, or force the removal")]
    StillRunning(String),
    #[error("container {name} did not stop within {seconds} s of SIGKILL")]
    WontStop { name: String, seconds: u64 },
    #[error(
        "writing the init (--init) into the engine's directory: {0} (is --root writable, with room left?)"
    )]
    Init(std::io::Error),
}

// ANCHOR: engine
/// What a chapter's engine is: a spec type, the steps its containers take,
/// and where its records are.
pub trait Engine {
    type Spec: RunSpec;
    type Steps: Step;

    fn containers(&self) -> &Containers;

    /// The steps of the container `spec` describes. Built from the spec
    /// alone, so that another process can release what a dead supervisor
    /// left behind.
    fn steps(&self, spec: &Self::Spec) -> Self::Steps;
}
// ANCHOR_END: engine

/// A container that exists: its record and its steps.
pub struct Container<'a, E: Engine> {
    engine: &'a E,
    record: Record<E::Spec>,
    steps: E::Steps,
}

impl<'a, E: Engine> Container<'a, E> {
    // ANCHOR: create
    /// Creates a container: validates the spec, records it (taking its
    /// name), and runs the steps' `create`. Nothing is left if that fails.
    pub fn create(
        engine: &'a E,
        spec: E::Spec,
        image: Option<String>,
    ) -> Result<Container<'a, E>, RunError> {
        spec.container().validate()?;
        let mut record = Record::new(spec, image);
        engine.containers().create(&mut record)?;
        let steps = engine.steps(&record.spec);
        let mut container = Container {
            engine,
            record,
            steps,
        };
        if let Err(error) = container.steps.create() {
            let _ = container.delete();
            return Err(error.into());
        }
        Ok(container)
    }
    // ANCHOR_END: create

    /// The container called `wanted` (name, id, or unique id prefix).
    pub fn open(engine: &'a E, wanted: &str) -> Result<Container<'a, E>, RunError> {
        let record = engine.containers().find::<E::Spec>(wanted)?;
        let steps = engine.steps(&record.spec);
        Ok(Container {
            engine,
            record,
            steps,
        })
    }

    pub fn record(&self) -> &Record<E::Spec> {
        &self.record
    }

    pub fn steps(&mut self) -> &mut E::Steps {
        &mut self.steps
    }

    // ANCHOR: prepare
    /// Prepares a run: the steps' `prepare`, then the root filesystem
    /// checked. Must be called in a single-threaded process, which then
    /// blocks the signals its supervisor will forward.
    pub fn prepare(mut self) -> Result<Prepared<'a, E>, RunError> {
        ensure_single_threaded()?;
        if self.record.is_running() {
            return Err(RunError::AlreadyRunning(self.record.name().into()));
        }
        let stop_timeout = self.record.spec.container().stop_timeout;
        // Before anything is started: from here on, the signals to forward
        // queue up instead of killing us.
        let supervisor = Supervisor::new(SuperviseOptions {
            subreaper: true,
            stop_timeout: stop_timeout.map(Duration::from_secs),
        })?;
        if let Err(error) = self.steps.prepare() {
            let _ = self.steps.release();
            return Err(error.into());
        }
        let prepared = Prepared {
            container: Some(self),
            supervisor: Some(supervisor),
        };
        prepared
            .container()
            .record
            .spec
            .container()
            .check_rootfs()?;
        Ok(prepared)
    }
    // ANCHOR_END: prepare

    /// Releases what a run of a container that does not run any more still
    /// holds: a supervisor that was killed could not do it (its cgroup, its
    /// network). The container and its writable layer stay.
    pub fn release(mut self) -> Result<(), RunError> {
        if self.record.is_running() {
            return Err(RunError::StillRunning(self.record.name().into()));
        }
        Ok(self.steps.release()?)
    }

    /// Removes a container that does not run: what a run left (a dead
    /// supervisor's), what `create` made, and the record.
    pub fn remove(mut self) -> Result<(), RunError> {
        if self.record.is_running() {
            return Err(RunError::StillRunning(self.record.name().into()));
        }
        self.delete()
    }

    fn delete(&mut self) -> Result<(), RunError> {
        let released = self.steps.release();
        let removed = self.steps.remove();
        self.engine.containers().remove(self.record.id())?;
        released?;
        Ok(removed?)
    }

    fn update(&mut self, change: impl Fn(&mut Record<E::Spec>)) -> Result<(), RunError> {
        change(&mut self.record);
        Ok(self
            .engine
            .containers()
            .update::<E::Spec>(self.record.id(), change)?)
    }
}

/// A container ready to start. Dropped without starting, it releases
/// what `prepare` took.
pub struct Prepared<'a, E: Engine> {
    container: Option<Container<'a, E>>,
    supervisor: Option<Supervisor>,
}

impl<'a, E: Engine> Prepared<'a, E> {
    fn container(&self) -> &Container<'a, E> {
        self.container.as_ref().expect("held until started")
    }

    // ANCHOR: start
    /// Starts the container's first process: `clone` with its namespaces,
    /// chapter 2's hooks with the steps at their places, `execve`. The
    /// record says "running" before the child may go on, so nothing the
    /// container's program does can come before it; if the start fails, the
    /// record says so.
    pub fn start(mut self) -> Result<Running<'a, E>, RunError> {
        let mut container = self.container.take().expect("held until started");
        let supervisor = self.supervisor.take().expect("held until started");
        let spec = container.record.spec.container().clone();
        // Compiled here, before the fork: the child must not allocate.
        let filter = match crate::seccomp::compile(&spec.seccomp, &spec.caps) {
            Ok(filter) => filter,
            Err(error) => {
                let _ = container.steps.release();
                return Err(error.into());
            }
        };
        let options = SpawnOptions {
            clone_flags: spec.isolation.clone_flags(),
            own_process_group: true,
            die_with_parent: true,
        };
        let containers = container.engine.containers();
        // With --init, chapter 1's binary (a file of the host, written once)
        // is what the container executes first, the command its child.
        let init = match spec.init.then(|| crate::init::install(containers.root())) {
            Some(Ok(path)) => Some(path),
            Some(Err(error)) => {
                let _ = container.steps.release();
                return Err(RunError::Init(error));
            }
            None => None,
        };
        let process = if init.is_some() {
            crate::init::wrap(&spec.process)
        } else {
            spec.process.clone()
        };
        let mut hooks = ContainerHooks {
            spec: &spec,
            steps: &mut container.steps,
            filter: filter.as_ref(),
            init: init.as_deref(),
        }
        .then(RecordStart {
            containers,
            id: &spec.id,
        });
        let child = spawn(&process, &options, &mut hooks);
        let child = match child {
            Ok(child) => child,
            Err(error) => {
                let _ = container.steps.release();
                let message = error.to_string();
                let _ = container.update(|record| {
                    record.state.status = Status::Created;
                    record.state.error = Some(message.clone());
                });
                return Err(ContainerError::Spawn(error).into());
            }
        };
        container.record = containers.load(&spec.id)?;
        Ok(Running {
            container,
            child,
            supervisor,
        })
    }
    // ANCHOR_END: start
}

/// The last step in the parent, while the child still waits: the record
/// says the container runs, with its supervisor (us) and its first process.
struct RecordStart<'a> {
    containers: &'a Containers,
    id: &'a str,
}

impl SpawnHooks for RecordStart<'_> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        let me = ProcessId::of(std::process::id() as i32);
        let first = ProcessId::of(child.as_raw());
        self.containers
            .update::<crate::spec::Spec>(self.id, |record| {
                record.state.status = Status::Running;
                record.state.supervisor = me;
                record.state.pid = first;
                record.state.paused = false;
                record.state.started_at = Some(now());
                record.state.finished_at = None;
                record.state.exit_code = None;
                record.state.oom_killed = false;
                record.state.error = None;
            })
            .map_err(|e| HookError::new("recording the start", e))
    }
}

impl<E: Engine> Drop for Prepared<'_, E> {
    fn drop(&mut self) {
        if let Some(container) = self.container.as_mut() {
            let _ = container.steps.release();
        }
    }
}

/// A running container, watched by this process.
pub struct Running<'a, E: Engine> {
    container: Container<'a, E>,
    child: Child,
    supervisor: Supervisor,
}

impl<E: Engine> Running<'_, E> {
    /// Its first process, as the host sees it.
    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    pub fn record(&self) -> &Record<E::Spec> {
        &self.container.record
    }

    // ANCHOR: wait
    /// Waits for the container's first process to end (forwarding signals
    /// and reaping orphans meanwhile), lets the steps see how it ended,
    /// releases what the run took, records the exit, and removes the
    /// container when its spec says so.
    pub fn wait(self) -> Result<ExitReport, RunError> {
        let Running {
            mut container,
            child,
            mut supervisor,
        } = self;
        // The steps' descriptors (chapter 6's DNS responder) are served by
        // this same loop while the container runs.
        let status = supervisor.wait_with(child, &mut WatchSteps(&mut container.steps))?;
        let mut report = ExitReport {
            name: container.record.name().to_string(),
            status,
            oom_killed: false,
        };
        container.steps.exited(&mut report);
        let released = container.steps.release();
        let (code, oom_killed) = (report.code(), report.oom_killed);
        container.update(|record| {
            record.state.status = Status::Exited;
            record.state.exit_code = Some(code);
            record.state.oom_killed = oom_killed;
            record.state.finished_at = Some(now());
            record.state.paused = false;
        })?;
        if container.record.spec.container().auto_remove {
            explain!("--rm: remove container {}", container.record.name());
            container.delete()?;
        }
        released?;
        Ok(report)
    }
    // ANCHOR_END: wait
}

// ANCHOR: run
/// `docker run` in the foreground: create, prepare, start, wait. A
/// container whose start failed is removed: nothing is left of a run that
/// never ran.
pub fn run<E: Engine>(
    engine: &E,
    spec: E::Spec,
    image: Option<String>,
) -> Result<ExitReport, RunError> {
    let container = Container::create(engine, spec, image)?;
    let id = container.record().id().to_string();
    let started = container.prepare().and_then(Prepared::start);
    match started {
        Ok(running) => running.wait(),
        Err(error) => {
            if let Ok(container) = Container::open(engine, &id) {
                let _ = container.remove();
            }
            Err(error)
        }
    }
}
// ANCHOR_END: run

/// Chapter 2's engine: containers on a directory, in namespaces, with no
/// steps beyond chapter 2's own.
pub struct NamespaceEngine {
    containers: Containers,
}

impl NamespaceEngine {
    /// The engine whose records are under `root`.
    pub fn open(root: &std::path::Path) -> Result<NamespaceEngine, RunError> {
        Ok(NamespaceEngine {
            containers: Containers::open(root)?,
        })
    }
}

impl Engine for NamespaceEngine {
    type Spec = crate::spec::Spec;
    type Steps = crate::step::NoSteps;

    fn containers(&self) -> &Containers {
        &self.containers
    }

    fn steps(&self, _spec: &Self::Spec) -> Self::Steps {
        crate::step::NoSteps
    }
}
