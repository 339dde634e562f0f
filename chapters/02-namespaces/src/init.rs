//! `--init`: chapter 1's supervisor as the container's PID 1.
//!
//! The first process of a PID namespace has duties no ordinary program
//! expects (chapter 1): orphans are handed to it, and it must reap them or
//! they stay zombies; the kernel delivers it no signal it has no handler
//! for, so a `sleep` as PID 1 ignores `docker stop`'s SIGTERM. Docker's
//! `--init` runs a small init as PID 1 that starts the command as its
//! child, forwards signals to it, reaps every orphan, and exits with the
//! command's status. Chapter 1's binary does exactly that; `build.rs`
//! links it statically (the image has no C library of ours), the crate
//! embeds it, and a container started with `--init` finds it bind-mounted
//! on [`PATH`] (in the container's private /dev, so that no image layer,
//! and no `commit`, ever holds it).

use ch01_process::ProcessSpec;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Chapter 1's binary, statically linked.
pub const BINARY: &[u8] = include_bytes!(env!("SKIFF_INIT_BINARY"));

/// Where the container sees its init.
pub const PATH: &str = "/dev/init";

// ANCHOR: wrap
/// The process that runs the container's command under the init:
/// `/dev/init run -- COMMAND...`, everything else as it was.
pub fn wrap(process: &ProcessSpec) -> ProcessSpec {
    let mut argv = vec![PATH.to_string(), "run".into(), "--".into()];
    argv.extend(process.argv.iter().cloned());
    ProcessSpec {
        argv,
        ..process.clone()
    }
}
// ANCHOR_END: wrap

/// The init as a file of the host, under `root` (the engine's state, on a
/// filesystem that allows executing: the containers' layers are there
/// too), written once per version of the binary.
pub fn install(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join("init");
    std::fs::create_dir_all(&dir)?;
    let version = format!("{:016x}", fnv1a(BINARY));
    let path = dir.join(format!("skiff-init-{version}"));
    if path.exists() {
        return Ok(path);
    }
    // Written under a temporary name, then renamed: a container starting
    // meanwhile never sees half a binary.
    let partial = dir.join(format!(".skiff-init-{version}-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&partial)?;
    file.write_all(BINARY)?;
    file.sync_all()?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&partial, &path)?;
    // Earlier versions go (a container started with one keeps it: its
    // bind mount holds the file, not its name).
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("skiff-init-") && entry.path() != path {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(path)
}

/// A 64-bit FNV-1a hash: a name for this version of the binary.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_under_the_init() {
        let process = ProcessSpec {
            argv: vec!["sleep".into(), "1".into()],
            ..ProcessSpec::default()
        };
        assert_eq!(
            wrap(&process).argv,
            ["/dev/init", "run", "--", "sleep", "1"]
        );
    }

    #[test]
    fn the_embedded_init_is_a_static_executable() {
        // ELF, and no program interpreter (PT_INTERP): it needs no ld.so.
        assert_eq!(&BINARY[..4], b"\x7fELF");
        assert!(!BINARY.windows(15).any(|w| w == b"/lib64/ld-linux"));
    }
}
