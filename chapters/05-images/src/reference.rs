//! Image references: what `busybox` means.
//!
//! A learner types `busybox`; the engine has to turn that into a registry
//! to connect to, a repository on it and a tag or digest to ask for. The
//! rules are docker's (the reference grammar of the CNCF distribution
//! project, `distribution/reference`), and every engine that wants to be
//! docker-compatible follows them:
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component [ "/" path-component ]*
//! domain     := host [ ":" port ]          host: DNS name, IPv4, or [IPv6]
//! path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator  := "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex          (see the digest module)
//! ```
//!
//! The grammar alone is ambiguous: in `foo/bar`, is `foo` a registry or part
//! of the repository? Docker decides with one rule: the first component is a
//! registry when it contains a `.` or a `:`, or is exactly `localhost`.
//! Otherwise the registry is Docker Hub, `docker.io`, and a one-component
//! name on Docker Hub lives in the `library/` namespace of official images.
//! With no tag and no digest, the tag is `latest`. So:
//!
//! | typed | means |
//! |---|---|
//! | `busybox` | `docker.io/library/busybox:latest` |
//! | `user/app:1.0` | `docker.io/user/app:1.0` |
//! | `localhost:5000/app` | `localhost:5000/app:latest` |
//! | `ghcr.io/o/app@sha256:…` | that exact manifest, no tag |

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::digest::{Digest, DigestError};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "https://registry-1.docker.io";
/// The tag used when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// docker's limit on the length of a full name (registry and repository).
pub const NAME_MAX: usize = 255;

/// Why a reference could not be parsed. Every message quotes the input.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// Nothing was given.
    #[error("empty image reference: name an image, e.g. busybox or registry.example.com/app:1.0")]
    Empty,
    /// The repository has uppercase letters (docker refuses them too).
    #[error("invalid reference {text:?}: repository name must be lowercase (try {suggestion:?})")]
    Uppercase {
        /// The input.
        text: String,
        /// The input with the repository lowercased.
        suggestion: String,
    },
    /// A `/`-separated part of the repository breaks the grammar.
    #[error(
        "invalid reference {text:?}: repository component {component:?} is not valid; \
         use lowercase letters and digits, separated by '.', '_', '__' or '-'"
    )]
    Component {
        /// The input.
        text: String,
        /// The offending component (may be empty, as in `a//b`).
        component: String,
    },
    /// The tag breaks the grammar.
    #[error(
        "invalid tag {tag:?} in {text:?}: a tag is 1 to 128 letters, digits, '_', '.' or '-', \
         and does not start with '.' or '-'"
    )]
    Tag {
        /// The input.
        text: String,
        /// The offending tag.
        tag: String,
    },
    /// The part after `@` is not a digest this engine can use.
    #[error("invalid digest in {text:?}: {source}")]
    Digest {
        /// The input.
        text: String,
        /// What is wrong with the digest.
        source: DigestError,
    },
    /// The registry part is not a host with an optional port.
    #[error(
        "invalid registry {registry:?} in {text:?}: use a host name, an IPv4 address or \
         [an IPv6 address], optionally followed by :port"
    )]
    Registry {
        /// The input.
        text: String,
        /// The offending registry.
        registry: String,
    },
    /// The name is longer than docker allows.
    #[error("invalid reference {text:?}: the name is {len} characters long, the limit is 255")]
    TooLong {
        /// The input.
        text: String,
        /// The name's length.
        len: usize,
    },
    /// The name is 64 hex digits: that is an image id, not a repository.
    #[error(
        "invalid reference {text:?}: 64 hex digits are an image id, not a repository name; \
         use the id where an id is expected, or name a repository"
    )]
    LooksLikeId {
        /// The input.
        text: String,
    },
}

// ANCHOR: reference
/// A fully qualified image reference.
///
/// After [`parse`], `registry` is never empty (`docker.io` by default) and
/// `repository` includes `library/` for official Docker Hub images. A
/// reference keeps its tag and digest both when both were given
/// (`app:1.0@sha256:…`); the digest is what gets pulled then, and the tag is
/// only a label.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`, ...
    pub registry: String,
    /// `library/busybox`, `user/app`, ...
    pub repository: String,
    /// The tag; `latest` when the reference named neither tag nor digest.
    pub tag: Option<String>,
    /// The manifest digest, when the reference pins one.
    pub digest: Option<Digest>,
}
// ANCHOR_END: reference

impl Reference {
    /// The base URL of the registry's HTTP API (the distribution spec puts
    /// every endpoint under `/v2/`).
    ///
    /// Docker Hub is named `docker.io` in references but served from
    /// `registry-1.docker.io`. Registries are spoken to over HTTPS, except on
    /// loopback (`localhost`, `127.0.0.0/8`, `[::1]`), where docker also
    /// allows plain HTTP: no one between us and ourselves could read or
    /// change the traffic, and test registries run there.
    pub fn registry_url(&self) -> String {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API.to_string()
        } else if self.is_loopback() {
            format!("http://{}", self.registry)
        } else {
            format!("https://{}", self.registry)
        }
    }

    /// What to ask the registry for in `/v2/<repository>/manifests/<reference>`:
    /// the digest when there is one (it is exact), else the tag, else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// Whether the registry is on this machine's loopback interface.
    pub fn is_loopback(&self) -> bool {
        let host = split_port(&self.registry).0;
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
        }
        host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The short form docker shows (its "familiar" name): Docker Hub's
    /// registry and `library/` left out, `busybox:latest`, `user/app:1`;
    /// any other registry kept, `127.0.0.1:5000/app:1`.
    ///
    /// ```
    /// use ch05_images::reference::parse;
    /// assert_eq!(parse("busybox").unwrap().familiar(), "busybox:latest");
    /// assert_eq!(parse("docker.io/user/app:1").unwrap().familiar(), "user/app:1");
    /// assert_eq!(parse("localhost:5000/app").unwrap().familiar(), "localhost:5000/app:latest");
    /// ```
    pub fn familiar(&self) -> String {
        let full = self.to_string();
        let hub = format!("{DOCKER_HUB}/");
        let short = full.strip_prefix(&hub).unwrap_or(&full);
        short.strip_prefix("library/").unwrap_or(short).to_string()
    }
}

impl fmt::Display for Reference {
    /// The canonical form: `docker.io/library/busybox:latest`,
    /// `localhost:5000/app@sha256:…`, `ghcr.io/o/app:1.0@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        if self.tag.is_none() && self.digest.is_none() {
            write!(f, ":{DEFAULT_TAG}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        parse(s)
    }
}

/// Splits `host:port` into host and port; `[v6]:port` keeps its brackets.
fn split_port(registry: &str) -> (&str, Option<&str>) {
    if registry.starts_with('[') {
        match registry.find(']') {
            Some(end) => {
                let (host, rest) = registry.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (registry, None),
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    }
}

// ANCHOR: parse
/// Parses a reference the way `docker pull` reads it.
///
/// The steps follow docker's own parser: cut the digest at `@`, cut the tag
/// at the last `:` that comes after the last `/` (a `:` before a `/` is a
/// registry port), decide whether the first component is a registry, then
/// check every part against the grammar.
pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
    if text.is_empty() {
        return Err(ReferenceError::Empty);
    }
    // 1. `@digest`
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => {
            let digest = Digest::parse(digest).map_err(|source| ReferenceError::Digest {
                text: text.to_string(),
                source,
            })?;
            (rest, Some(digest))
        }
        None => (text, None),
    };
    // 2. `:tag`, only when the ':' is in the last path component.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            let tag = &rest[at + 1..];
            if !valid_tag(tag) {
                return Err(ReferenceError::Tag {
                    text: text.to_string(),
                    tag: tag.to_string(),
                });
            }
            (&rest[..at], Some(tag.to_string()))
        }
        None => (rest, None),
    };
    if name.len() > NAME_MAX {
        return Err(ReferenceError::TooLong {
            text: text.to_string(),
            len: name.len(),
        });
    }
    // 3. Is the first component a registry?
    let (mut registry, mut repository) = match name.split_once('/') {
        Some((first, remainder)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), remainder.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if registry == "index.docker.io" {
        registry = DOCKER_HUB.to_string();
    }
    if !valid_registry(&registry) {
        return Err(ReferenceError::Registry {
            text: text.to_string(),
            registry,
        });
    }
    // 4. The repository: lowercase components, and not an image id.
    if repository.bytes().any(|b| b.is_ascii_uppercase()) {
        let suggestion = text.replacen(&repository, &repository.to_ascii_lowercase(), 1);
        return Err(ReferenceError::Uppercase {
            text: text.to_string(),
            suggestion,
        });
    }
    if let Some(bad) = repository.split('/').find(|c| !valid_component(c)) {
        return Err(ReferenceError::Component {
            text: text.to_string(),
            component: bad.to_string(),
        });
    }
    if registry == DOCKER_HUB
        && repository.len() == 64
        && repository.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ReferenceError::LooksLikeId {
            text: text.to_string(),
        });
    }
    if registry == DOCKER_HUB && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    // 5. No tag and no digest means `latest`.
    let tag = match (tag, &digest) {
        (None, None) => Some(DEFAULT_TAG.to_string()),
        (tag, _) => tag,
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}
// ANCHOR_END: parse

/// `[a-z0-9]+ ( ("." | "_" | "__" | "-"+) [a-z0-9]+ )*`
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        // One or more alphanumerics.
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        // Then one separator.
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes() {
        [first, rest @ ..] => {
            rest.len() <= 127
                && word(*first)
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        [] => false,
    }
}

/// A host (DNS name, IPv4, `[IPv6]`) with an optional numeric port.
fn valid_registry(registry: &str) -> bool {
    let (host, port) = split_port(registry);
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return false;
    }
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
    }
    // DNS labels: alphanumerics, '-' inside; an IPv4 address passes this too.
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}
