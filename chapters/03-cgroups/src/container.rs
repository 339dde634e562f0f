//! A container in a cgroup: chapter 2's container, limited.
//!
//! The order matters. The parent moves the child into the cgroup while the
//! child still waits on chapter 1's pipe, so the container's program never
//! runs a single instruction outside its limits, and everything it starts is
//! born inside. Only then does the child create its cgroup namespace
//! (chapter 2's hooks do it), so that the cgroup becomes the root of what
//! the container sees in `/proc/self/cgroup`.

use crate::cgroup::Cgroup;
use ch01_process::{HookError, SpawnHooks};
use ch02_namespaces::ContainerHooks;
use nix::unistd::Pid;

// ANCHOR: hooks
/// Chapter 2's hooks, with the child put in `cgroup` first.
pub struct CgroupHooks<'a> {
    pub cgroup: &'a Cgroup,
    pub container: ContainerHooks<'a>,
}

impl SpawnHooks for CgroupHooks<'_> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        self.cgroup
            .add(child)
            .map_err(|e| HookError::new("joining the cgroup", e))?;
        self.container.in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        self.container.in_child()
    }
}
// ANCHOR_END: hooks
