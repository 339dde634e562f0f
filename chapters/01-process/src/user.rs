//! Running as another user: `--user` (docker's `-u`), and an image's `User`.
//!
//! A user is given as `UID[:GID]` or `NAME[:GROUP]`. Names are looked up in
//! the `/etc/passwd` and `/etc/group` the *process* sees, which in a
//! container is the image's, not the host's: the lookup happens in the
//! child, after the container's root is in place. A numeric uid that has no
//! passwd entry is fine (docker allows it), with gid 0 unless given.
//!
//! The switch happens in the child before `execve`, in the order the kernel
//! needs: supplementary groups and gid first (changing them needs
//! `CAP_SETGID`), uid last (it needs `CAP_SETUID`). When uid 0 becomes
//! another uid, the kernel clears the permitted and effective capability
//! sets, unless `PR_SET_KEEPCAPS` is set: we set it, so that the steps after
//! the switch (chapter 2 drops capabilities there) still can. At `execve` a
//! non-root process gets no capabilities anyway, which is exactly what
//! docker's non-root containers have.

use crate::explain;
use nix::unistd::{Gid, Uid};

/// Finds the uid and gid of `user` (`UID[:GID]` or `NAME[:GROUP]`).
pub fn resolve(user: &str, passwd: &str, group: &str) -> Result<(u32, u32), String> {
    let (who, wanted_group) = match user.split_once(':') {
        Some((who, group)) => (who, Some(group)),
        None => (user, None),
    };
    let entry = |table: &str, name: &str| -> Option<Vec<String>> {
        table
            .lines()
            .map(|line| line.split(':').map(String::from).collect::<Vec<_>>())
            .find(|fields| fields.first().is_some_and(|f| f == name))
    };
    let (uid, mut gid) = match who.parse::<u32>() {
        Ok(uid) => {
            let gid = passwd
                .lines()
                .map(|line| line.split(':').collect::<Vec<_>>())
                .find(|f| f.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
                .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
                .unwrap_or(0);
            (uid, gid)
        }
        Err(_) => {
            let fields = entry(passwd, who)
                .ok_or_else(|| format!("no user {who:?} in the container's /etc/passwd"))?;
            let number = |i: usize| fields.get(i).and_then(|v| v.parse::<u32>().ok());
            (
                number(2).ok_or_else(|| format!("bad /etc/passwd entry for {who:?}"))?,
                number(3).unwrap_or(0),
            )
        }
    };
    if let Some(name) = wanted_group {
        gid = match name.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => entry(group, name)
                .and_then(|f| f.get(2).and_then(|g| g.parse().ok()))
                .ok_or_else(|| format!("no group {name:?} in the container's /etc/group"))?,
        };
    }
    Ok((uid, gid))
}

// ANCHOR: switch
/// Becomes `user`, looked up in this process's `/etc`, with `extra_groups`
/// as supplementary groups besides the user's own gid.
pub fn switch_to(user: &str, extra_groups: &[u32]) -> Result<(), String> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let (uid, gid) = resolve(user, &read("/etc/passwd"), &read("/etc/group"))?;
    let mut groups = vec![Gid::from_raw(gid)];
    groups.extend(extra_groups.iter().map(|g| Gid::from_raw(*g)));
    groups.dedup();
    explain!("setgroups({groups:?}); setresgid({gid}); setresuid({uid})");
    let gid = Gid::from_raw(gid);
    let uid = Uid::from_raw(uid);
    // SAFETY: prctl with integer arguments only.
    let kept = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    nix::errno::Errno::result(kept)
        .map_err(|e| format!("prctl(PR_SET_KEEPCAPS): {}", e.desc().to_lowercase()))?;
    nix::unistd::setgroups(&groups)
        .map_err(|e| format!("setgroups: {}", e.desc().to_lowercase()))?;
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| format!("setresgid: {}", e.desc().to_lowercase()))?;
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| format!("setresuid: {}", e.desc().to_lowercase()))?;
    Ok(())
}
// ANCHOR_END: switch

/// Keeps the user and gets `extra_groups` as supplementary groups besides
/// the current gid (`--group-add` without `--user`).
pub fn add_groups(extra_groups: &[u32]) -> Result<(), String> {
    let mut groups = vec![nix::unistd::getegid()];
    groups.extend(extra_groups.iter().map(|g| Gid::from_raw(*g)));
    groups.dedup();
    explain!("setgroups({groups:?})");
    nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {}", e.desc().to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\napp:x:1000:1001::/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:\n";

    #[test]
    fn users_resolve_as_docker_resolves_them() {
        assert_eq!(resolve("nobody", PASSWD, GROUP), Ok((65534, 65534)));
        assert_eq!(resolve("app", PASSWD, GROUP), Ok((1000, 1001)));
        assert_eq!(resolve("app:staff", PASSWD, GROUP), Ok((1000, 50)));
        assert_eq!(resolve("1000", PASSWD, GROUP), Ok((1000, 1001)));
        assert_eq!(resolve("4242", PASSWD, GROUP), Ok((4242, 0)));
        assert_eq!(resolve("4242:7", PASSWD, GROUP), Ok((4242, 7)));
        assert!(
            resolve("ghost", PASSWD, GROUP)
                .unwrap_err()
                .contains("no user \"ghost\"")
        );
        assert!(
            resolve("app:ghosts", PASSWD, GROUP)
                .unwrap_err()
                .contains("no group")
        );
    }
}
