//! Steps: what each chapter adds to the run path.
//!
//! Chapter 2 runs a container in five moments, and a later chapter adds its
//! work at the moments it needs, by implementing [`Step`]:
//!
//! ```text
//! create     once, when the container is made    ch4: its writable layer
//! prepare    before each start                   ch3: its cgroup   ch6: an address
//!   ── clone ──
//! in_parent  the parent, while the child waits    ch3: join the cgroup (v2)   ch6: a veth
//!            (exec_prepare, exec_in_parent and exec_in_child: the same
//!            for a process that `exec` starts in the running container)
//! in the child, around chapter 2's mounts:
//!   in_child       (first, before its namespaces) ch3: join the cgroup (v1)
//!   before_bind    (the root not yet bound)       ch4: mount the layers
//!   before_pivot   (the host still reachable)     ch4: volumes   ch6: /etc/hosts
//!   before_exec    (after the user switch)        an OCI runtime: wait for `start`
//!   ── execve ──
//! while it runs, the supervisor watches the steps' descriptors   ch6: DNS
//! exited     its first process has ended          ch3: was it OOM-killed?
//! release    after each run: undo prepare         ch3: remove the cgroup
//! remove     when the container is removed        ch4: delete the writable layer
//! ```
//!
//! `release` and `remove` must work from the spec and the disk alone: they
//! also clean up after a supervisor that was killed, from another process.
//!
//! Two more hooks serve chapter 6. [`Step::watch_fds`] and
//! [`Step::on_ready`]: descriptors the single-threaded supervisor polls
//! beside its signals while the container runs (a DNS responder), without a
//! thread. [`Step::network_namespace`]: a network namespace, opened in
//! `prepare`, that the child joins instead of getting a new one
//! (`--network container:NAME`, with [`NetworkMode::Joined`]).
//!
//! [`NetworkMode::Joined`]: crate::namespaces::NetworkMode::Joined
//! Steps compose with [`Step::then`]: chapter 4's steps are chapter 3's,
//! then its own.

use ch01_process::{ExitStatus, HookError, Watch};
use nix::unistd::Pid;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;

/// A step that failed outside the child (create, prepare, release, remove).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct StepError {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StepError {
    pub fn new(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StepError {
        StepError {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// How a container's first process ended, and what the steps learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitReport {
    /// The container's name.
    pub name: String,
    pub status: ExitStatus,
    /// The kernel's OOM killer ended a process of the container.
    pub oom_killed: bool,
}

impl ExitReport {
    /// The exit code to relay (128 + N for death by signal N).
    pub fn code(&self) -> i32 {
        self.status.code()
    }
}

// ANCHOR: step
/// What a chapter adds to the run path; every method does nothing unless
/// implemented. See the module docs for when each runs.
pub trait Step {
    fn create(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    fn prepare(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    /// In the parent, after `clone`, while the child waits.
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        let _ = child;
        Ok(())
    }

    /// In the child, first thing once the parent has let it go on (before
    /// it creates its cgroup namespace and enters its root): what only the
    /// child can do to itself.
    fn in_child(&mut self) -> Result<(), HookError> {
        Ok(())
    }

    /// Before `exec` enters a running container, while the host's files
    /// are still in view (after `setns` into the container's mount
    /// namespace, our paths name the container's files): open what
    /// [`Step::exec_in_parent`] will need.
    fn exec_prepare(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    /// In the parent, for a process `exec` starts in the running container.
    fn exec_in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        let _ = child;
        Ok(())
    }

    /// In the child, for a process `exec` starts: [`Step::in_child`]'s
    /// moment.
    fn exec_in_child(&mut self) -> Result<(), HookError> {
        Ok(())
    }

    /// In the child, in its own mount namespace, before the root is bound.
    fn before_bind(&mut self, rootfs: &Path) -> Result<(), HookError> {
        let _ = rootfs;
        Ok(())
    }

    /// In the child, after /proc, /dev and /sys, before `pivot_root`.
    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        let _ = rootfs;
        Ok(())
    }

    /// In the child, after the user switch, right before chapter 2 drops
    /// capabilities and `execve` runs the command.
    fn before_exec(&mut self) -> Result<(), HookError> {
        Ok(())
    }

    /// While the container runs: descriptors its supervisor polls beside
    /// its signals (see ch01's `Watch`).
    fn watch_fds(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }

    /// One of [`Step::watch_fds`] is readable (perhaps another step's:
    /// ignore a descriptor that is not yours). Must not block.
    fn on_ready(&mut self, fd: RawFd) {
        let _ = fd;
    }

    /// The network namespace the child joins when the spec says
    /// `NetworkMode::Joined`: a descriptor opened in `prepare`.
    fn network_namespace(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn exited(&mut self, report: &mut ExitReport) {
        let _ = report;
    }

    fn release(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    fn remove(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    /// These steps, then `next`'s (undone in the reverse order).
    fn then<B: Step>(self, next: B) -> Then<Self, B>
    where
        Self: Sized,
    {
        Then(self, next)
    }
}
// ANCHOR_END: step

/// No steps beyond chapter 2's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSteps;
impl Step for NoSteps {}

/// Two steps: the first's work before the second's, undone after it.
pub struct Then<A, B>(pub A, pub B);

impl<A: Step, B: Step> Step for Then<A, B> {
    fn create(&mut self) -> Result<(), StepError> {
        self.0.create()?;
        self.1.create()
    }

    fn prepare(&mut self) -> Result<(), StepError> {
        self.0.prepare()?;
        self.1.prepare()
    }

    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        self.0.in_parent(child)?;
        self.1.in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        self.0.in_child()?;
        self.1.in_child()
    }

    fn exec_prepare(&mut self) -> Result<(), StepError> {
        self.0.exec_prepare()?;
        self.1.exec_prepare()
    }

    fn exec_in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        self.0.exec_in_parent(child)?;
        self.1.exec_in_parent(child)
    }

    fn exec_in_child(&mut self) -> Result<(), HookError> {
        self.0.exec_in_child()?;
        self.1.exec_in_child()
    }

    fn before_bind(&mut self, rootfs: &Path) -> Result<(), HookError> {
        self.0.before_bind(rootfs)?;
        self.1.before_bind(rootfs)
    }

    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        self.0.before_pivot(rootfs)?;
        self.1.before_pivot(rootfs)
    }

    fn before_exec(&mut self) -> Result<(), HookError> {
        self.0.before_exec()?;
        self.1.before_exec()
    }

    fn watch_fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut fds = self.0.watch_fds();
        fds.extend(self.1.watch_fds());
        fds
    }

    fn on_ready(&mut self, fd: RawFd) {
        self.0.on_ready(fd);
        self.1.on_ready(fd);
    }

    fn network_namespace(&self) -> Option<BorrowedFd<'_>> {
        self.0
            .network_namespace()
            .or_else(|| self.1.network_namespace())
    }

    fn exited(&mut self, report: &mut ExitReport) {
        self.0.exited(report);
        self.1.exited(report);
    }

    /// Both are released even when the second fails; the first error wins.
    fn release(&mut self) -> Result<(), StepError> {
        let second = self.1.release();
        let first = self.0.release();
        second.and(first)
    }

    fn remove(&mut self) -> Result<(), StepError> {
        let second = self.1.remove();
        let first = self.0.remove();
        second.and(first)
    }
}

/// A container's steps as the supervisor's [`Watch`]: their descriptors,
/// polled while the container runs.
pub struct WatchSteps<'a, S: Step + ?Sized>(pub &'a mut S);

impl<S: Step + ?Sized> Watch for WatchSteps<'_, S> {
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.0.watch_fds()
    }

    fn ready(&mut self, fd: RawFd) {
        self.0.on_ready(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    struct Logged(&'static str, Rc<RefCell<Vec<String>>>);

    impl Step for Logged {
        fn prepare(&mut self) -> Result<(), StepError> {
            self.1.borrow_mut().push(format!("prepare {}", self.0));
            Ok(())
        }
        fn release(&mut self) -> Result<(), StepError> {
            self.1.borrow_mut().push(format!("release {}", self.0));
            Ok(())
        }
    }

    /// A step that watches one descriptor and counts its readiness.
    struct Watching(std::os::fd::OwnedFd, usize);

    impl Step for Watching {
        fn watch_fds(&self) -> Vec<BorrowedFd<'_>> {
            vec![std::os::fd::AsFd::as_fd(&self.0)]
        }
        fn on_ready(&mut self, fd: RawFd) {
            if fd == std::os::fd::AsRawFd::as_raw_fd(&self.0) {
                self.1 += 1;
            }
        }
    }

    #[test]
    fn composed_steps_watch_every_descriptor_and_each_hears_only_its_own() {
        use std::os::fd::AsRawFd;
        let open = || std::fs::File::open("/dev/null").unwrap().into();
        let mut steps = Watching(open(), 0).then(Watching(open(), 0));
        let fds: Vec<RawFd> = steps.watch_fds().iter().map(|fd| fd.as_raw_fd()).collect();
        assert_eq!(fds.len(), 2);
        let mut watch = WatchSteps(&mut steps);
        watch.ready(fds[1]);
        watch.ready(fds[1]);
        assert_eq!((steps.0.1, steps.1.1), (0, 2));
        assert!(steps.network_namespace().is_none());
    }

    #[test]
    fn steps_run_in_order_and_are_undone_in_reverse() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut steps = Logged("cgroup", log.clone()).then(Logged("network", log.clone()));
        steps.prepare().unwrap();
        steps.release().unwrap();
        assert_eq!(
            *log.borrow(),
            [
                "prepare cgroup",
                "prepare network",
                "release network",
                "release cgroup"
            ]
        );
    }
}
