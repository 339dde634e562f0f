//! A service's `volumes`: named volumes, bind mounts and tmpfs.
//!
//! Short syntax: `SOURCE:TARGET[:OPTIONS]`, or `TARGET` alone (an
//! anonymous volume). Whether SOURCE is a directory of the host (a bind
//! mount) or the name of a volume the engine manages is decided by its
//! first character, as compose decides it: `.`, `/` or `~` start a path,
//! anything else is a volume's name. `./data:/data` binds the project's
//! `data` directory; `data:/data` mounts the volume `PROJECT_data`, which
//! must be declared in the top-level `volumes:`.
//!
//! Options (comma-separated): `ro` / `rw`, `nocopy`, SELinux's `z` / `Z`,
//! and a propagation (`rprivate`, `shared`, ...). Each entry ends in
//! compose's long form, which is what `config` prints and what files merge
//! on (two entries with the same target are one mount).

use serde::Deserialize;
use serde::Serialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

/// What is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A volume managed by the engine (named, or anonymous).
    Volume,
    /// A file or directory of the host.
    Bind,
    /// A memory-backed filesystem.
    Tmpfs,
}

/// One mount of a service, in the long form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceVolume {
    /// volume, bind or tmpfs.
    #[serde(rename = "type")]
    pub kind: MountType,
    /// The volume's name (in the file, before the project prefix) or the
    /// host path; absent for anonymous volumes and tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The path in the container.
    pub target: String,
    /// Mounted read-only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Options of a bind mount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    /// Options of a volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    /// Options of a tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
}

/// `bind:` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindOptions {
    /// `rprivate`, `private`, `rshared`, `shared`, `rslave`, `slave`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Create the host directory when it is missing (the short syntax's
    /// behaviour, inherited from `docker run -v`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_host_path: bool,
    /// `z` (shared label) or `Z` (private label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
}

/// `volume:` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    /// Do not copy the image's files into a new, empty volume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    /// Mount only this subdirectory of the volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

/// `tmpfs:` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsOptions {
    /// The size limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<super::resources::Bytes>,
    /// The mode of the mount's root, in octal when written as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

const PROPAGATIONS: [&str; 6] = [
    "rprivate", "private", "rshared", "shared", "rslave", "slave",
];

/// Is `source` a path of the host rather than a volume's name?
pub fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// A volume name as docker accepts it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

// ANCHOR: short_volume
/// Parses one short-syntax entry.
///
/// ```
/// use ch07_compose::model::volumes::{parse_short, MountType};
/// let v = parse_short("./site:/usr/share/nginx/html:ro").unwrap();
/// assert_eq!((v.kind, v.source.as_deref(), v.read_only), (MountType::Bind, Some("./site"), true));
/// let v = parse_short("data:/var/lib/data").unwrap();
/// assert_eq!((v.kind, v.source.as_deref()), (MountType::Volume, Some("data")));
/// assert_eq!(parse_short("/cache").unwrap().source, None); // anonymous
/// ```
pub fn parse_short(text: &str) -> Result<ServiceVolume, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, options] => (Some(*source), *target, Some(*options)),
        _ => {
            return Err(format!(
                "{text:?} has too many ':': write SOURCE:TARGET[:OPTIONS]"
            ));
        }
    };
    if !target.starts_with('/') {
        return Err(format!(
            "the target {target:?} of {text:?} must be an absolute path in the container"
        ));
    }
    let kind = match source {
        Some(s) if is_host_path(s) => MountType::Bind,
        Some(s) if !valid_volume_name(s) => {
            return Err(format!(
                "{s:?} is neither a host path (start it with ./ or /) nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
            ));
        }
        _ => MountType::Volume,
    };
    let mut volume = ServiceVolume {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only: false,
        bind: (kind == MountType::Bind).then(|| BindOptions {
            create_host_path: true,
            ..BindOptions::default()
        }),
        volume: (kind == MountType::Volume).then(VolumeOptions::default),
        tmpfs: None,
    };
    for option in options.into_iter().flat_map(|o| o.split(',')) {
        match (option, kind) {
            ("ro", _) => volume.read_only = true,
            ("rw", _) => volume.read_only = false,
            ("nocopy", MountType::Volume) => {
                volume.volume.get_or_insert_with(Default::default).nocopy = true;
            }
            ("z" | "Z", MountType::Bind) => {
                volume.bind.get_or_insert_with(Default::default).selinux = Some(option.to_string());
            }
            (p, MountType::Bind) if PROPAGATIONS.contains(&p) => {
                volume.bind.get_or_insert_with(Default::default).propagation = Some(p.to_string());
            }
            _ => {
                return Err(format!(
                    "unknown option {option:?} in {text:?}: use ro, rw, nocopy (volumes), z, Z or a propagation (binds)"
                ));
            }
        }
    }
    Ok(volume)
}
// ANCHOR_END: short_volume

/// The long syntax, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongVolume {
    #[serde(rename = "type")]
    kind: MountType,
    source: Option<String>,
    target: String,
    #[serde(default)]
    read_only: bool,
    bind: Option<BindOptions>,
    volume: Option<VolumeOptions>,
    tmpfs: Option<TmpfsOptions>,
    consistency: Option<String>,
}

fn check_long(long: LongVolume) -> Result<ServiceVolume, String> {
    if !long.target.starts_with('/') {
        return Err(format!(
            "target {:?} must be an absolute path in the container",
            long.target
        ));
    }
    let misplaced = match long.kind {
        MountType::Volume => long.bind.is_some() || long.tmpfs.is_some(),
        MountType::Bind => long.volume.is_some() || long.tmpfs.is_some(),
        MountType::Tmpfs => long.bind.is_some() || long.volume.is_some() || long.source.is_some(),
    };
    if misplaced {
        return Err(format!(
            "a mount of type {:?} takes only its own options (and a tmpfs has no source)",
            long.kind
        ));
    }
    match (&long.kind, &long.source) {
        (MountType::Bind, None) => return Err("a bind mount needs a source (a host path)".into()),
        (MountType::Volume, Some(name)) if !valid_volume_name(name) => {
            return Err(format!(
                "{name:?} is not a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            ));
        }
        _ => {}
    }
    if let Some(propagation) = long.bind.as_ref().and_then(|b| b.propagation.as_deref())
        && !PROPAGATIONS.contains(&propagation)
    {
        return Err(format!(
            "unknown propagation {propagation:?}: use one of {PROPAGATIONS:?}"
        ));
    }
    // `consistency` only ever meant something to Docker Desktop on macOS.
    let _ = long.consistency;
    Ok(ServiceVolume {
        volume: long
            .volume
            .or_else(|| (long.kind == MountType::Volume).then(VolumeOptions::default)),
        kind: long.kind,
        source: long.source,
        target: long.target,
        read_only: long.read_only,
        bind: long.bind,
        tmpfs: long.tmpfs,
    })
}

impl<'de> Deserialize<'de> for ServiceVolume {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ServiceVolume, D::Error> {
        struct VolumeVisitor;
        impl<'de> Visitor<'de> for VolumeVisitor {
            type Value = ServiceVolume;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mount (\"SOURCE:TARGET[:ro]\") or a mapping with type, source, target",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ServiceVolume, E> {
                parse_short(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ServiceVolume, A::Error> {
                let long = LongVolume::deserialize(de::value::MapAccessDeserializer::new(map))?;
                check_long(long).map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(VolumeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::{TypeError, from_node};
    use crate::node::parse;

    #[derive(Deserialize)]
    struct Holder {
        volumes: Vec<ServiceVolume>,
    }

    fn volumes(text: &str) -> Result<Vec<ServiceVolume>, TypeError> {
        from_node::<Holder>(&parse(text, "c.yaml").unwrap()).map(|h| h.volumes)
    }

    #[test]
    fn named_bind_and_anonymous_by_the_first_character() {
        let v = volumes("volumes: [data:/data, ./src:/src, /abs:/abs, ~/x:/x, /anon]\n").unwrap();
        let kinds: Vec<_> = v.iter().map(|v| (v.kind, v.source.as_deref())).collect();
        assert_eq!(
            kinds,
            vec![
                (MountType::Volume, Some("data")),
                (MountType::Bind, Some("./src")),
                (MountType::Bind, Some("/abs")),
                (MountType::Bind, Some("~/x")),
                (MountType::Volume, None),
            ]
        );
        assert!(
            v[1].bind.as_ref().unwrap().create_host_path,
            "the short syntax creates the host path"
        );
        assert_eq!(v[0].volume, Some(VolumeOptions::default()));
    }

    #[test]
    fn short_options() {
        let v = volumes("volumes: ['data:/d:ro,nocopy', './c:/c:rw,Z,rshared']\n").unwrap();
        assert!(v[0].read_only && v[0].volume.as_ref().unwrap().nocopy);
        let bind = v[1].bind.as_ref().unwrap();
        assert_eq!(
            (bind.selinux.as_deref(), bind.propagation.as_deref()),
            (Some("Z"), Some("rshared"))
        );
        let err = volumes("volumes: ['data:/d:nocache']\n").unwrap_err();
        assert_eq!(err.path, "volumes[0]");
        assert!(err.message.contains("unknown option \"nocache\""), "{err}");
    }

    #[test]
    fn short_errors() {
        for (text, why) in [
            ("volumes: ['data:relative']\n", "absolute path"),
            ("volumes: ['a:/b:ro:x']\n", "too many"),
            ("volumes: ['bad name:/b']\n", "neither a host path"),
            ("volumes: ['./x:/y:nocopy']\n", "unknown option"),
        ] {
            let err = volumes(text).unwrap_err();
            assert!(err.message.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn long_syntax() {
        let v = volumes(
            "volumes:\n  - type: bind\n    source: ./conf\n    target: /etc/conf\n    read_only: true\n  - type: tmpfs\n    target: /run\n    tmpfs: {size: 64m}\n  - type: volume\n    source: data\n    target: /data\n    volume: {nocopy: true}\n",
        )
        .unwrap();
        assert_eq!(
            (v[0].kind, v[0].read_only, v[0].bind.is_none()),
            (MountType::Bind, true, true)
        );
        assert_eq!(
            v[1].tmpfs.as_ref().unwrap().size.map(|s| s.0),
            Some(64 << 20)
        );
        assert!(v[2].volume.as_ref().unwrap().nocopy);
    }

    #[test]
    fn long_syntax_errors() {
        let err = volumes("volumes:\n  - type: bind\n    target: /x\n").unwrap_err();
        assert!(err.message.contains("needs a source"), "{err}");
        let err = volumes("volumes:\n  - type: nfs\n    target: /x\n").unwrap_err();
        assert_eq!(err.path, "volumes[0].type");
        assert!(err.message.contains("unknown value `nfs`"), "{err}");
        let err =
            volumes("volumes:\n  - type: volume\n    source: d\n    target: /x\n    bind: {}\n")
                .unwrap_err();
        assert!(err.message.contains("only its own options"), "{err}");
        let err = volumes("volumes:\n  - type: volume\n    target: /x\n    readonly: true\n")
            .unwrap_err();
        assert!(err.message.contains("did you mean `read_only`"), "{err}");
    }
}
