//! The command-line options of `ch02-namespaces`, kept by every later chapter.

use crate::caps::{CapSet, UnknownCapability};
use crate::container::ContainerConfig;
use crate::namespaces::{Isolation, NetworkMode, PidMode, random_hostname};
use crate::userns::DEFAULT_MAP;
use clap::Args;
use std::path::PathBuf;

/// Options that make a process a container.
#[derive(Debug, Clone, Args)]
pub struct ContainerArgs {
    /// The directory that becomes the container's root filesystem (required)
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// The container's hostname (default: 12 random hex digits)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// Add a capability to docker's default set (NET_ADMIN, SYS_TIME, ..., or ALL)
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Drop a capability from docker's default set (or ALL)
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// Run in a user namespace: root inside is uid 100000 outside
    #[arg(long)]
    pub userns: bool,

    /// Share the host's PID namespace
    #[arg(long, value_name = "host", value_enum)]
    pub pid: Option<PidMode>,

    /// none: only loopback, in the container's own network namespace; host: the host's network
    #[arg(long, value_name = "MODE", value_enum, default_value = "none")]
    pub network: NetworkMode,

    /// Security options; `no-new-privileges` is the one this chapter knows
    #[arg(long = "security-opt", value_name = "OPT", value_parser = ["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"])]
    pub security_opt: Vec<String>,
}

impl ContainerArgs {
    /// The container configuration these flags describe.
    pub fn to_config(&self) -> Result<ContainerConfig, UnknownCapability> {
        let isolation = Isolation {
            network: self.network,
            pid: self.pid.unwrap_or_default(),
            userns: self.userns,
        };
        let hostname = match (&self.hostname, self.network) {
            (Some(name), _) => name.clone(),
            // Sharing the host's network, docker also shows the host's name.
            (None, NetworkMode::Host) => nix::unistd::gethostname()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|_| random_hostname()),
            (None, NetworkMode::None) => random_hostname(),
        };
        Ok(ContainerConfig {
            rootfs: self.rootfs.clone().unwrap_or_default(),
            hostname,
            isolation,
            caps: CapSet::docker_default().with_changes(&self.cap_add, &self.cap_drop)?,
            no_new_privileges: !self.security_opt.is_empty(),
            id_map: DEFAULT_MAP,
        })
    }
}
