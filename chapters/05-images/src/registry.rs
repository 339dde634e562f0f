//! The OCI distribution protocol, by hand.
//!
//! A registry is an HTTP server with a small API (the OCI distribution
//! specification; Docker Hub speaks it too):
//!
//! ```text
//! GET /v2/                                  is this a registry? (200, or 401 + how to log in)
//! GET /v2/<name>/manifests/<tag or digest>  the manifest (or an index of manifests)
//! GET /v2/<name>/blobs/<digest>             a config or a layer, by digest
//! ```
//!
//! Three things make a real pull more than three GETs:
//!
//! - **Content negotiation.** A manifest comes in several media types
//!   (OCI, Docker schema 2; single-platform or an index of platforms). The
//!   client lists the ones it understands in `Accept`; a registry may refuse
//!   to serve a type the client did not list.
//! - **Authentication.** A registry answers 401 with a `WWW-Authenticate`
//!   challenge. `Basic` means: send the user and password with every request.
//!   `Bearer realm=...,service=...,scope=...` means: ask the *token server* at
//!   `realm` for a token for that scope (anonymously, or with the user and
//!   password), then repeat the request with `Authorization: Bearer <token>`.
//!   Docker Hub does this even for public images.
//! - **Redirects.** Blob downloads are often redirected to a storage service
//!   on another host. Credentials must not follow the redirect there.

use crate::digest::Digest;
use crate::reference::Reference;
use ch01_process::explain;
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The manifest media types we understand, in the `Accept` header.
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Why talking to a registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "cannot reach the registry {registry}: {reason} (is it running, and is the address right?)"
    )]
    Unreachable { registry: String, reason: String },
    #[error("{image} was not found in {registry}: check the name and tag")]
    NotFound { image: String, registry: String },
    #[error(
        "the registry refused our credentials for {image}: check the user and password, \
         and log in again with `ch05-images login {registry}`"
    )]
    Unauthorized { image: String, registry: String },
    #[error(
        "the registry wants a login for {image} and we have none for it: log in with `ch05-images login {registry}`"
    )]
    LoginRequired { image: String, registry: String },
    #[error("the registry answered {status} for {url}")]
    Status { status: StatusCode, url: String },
    #[error("the token server at {realm} failed: {reason}")]
    Token { realm: String, reason: String },
    #[error("the registry sent a manifest of type {0:?}, which this engine does not understand")]
    UnknownMediaType(String),
    #[error("reading the registry's answer: {0}")]
    Body(reqwest::Error),
    #[error("cannot read what to send: {0}")]
    Payload(String),
}

type Result<T> = std::result::Result<T, RegistryError>;

/// A user name and password for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// A session with one registry, for one repository. Cloning it shares the
/// connection pool and the authorization already obtained.
#[derive(Clone)]
pub struct Session {
    http: Client,
    base: String,
    reference: Reference,
    credentials: Option<Credentials>,
    /// What to send in `Authorization`, once a challenge told us.
    authorization: Option<String>,
    /// The access a token must grant on our repository: `pull`, or
    /// `pull,push` for a push.
    actions: &'static str,
}

impl Session {
    /// A session for `reference`'s registry and repository.
    pub fn new(reference: &Reference, credentials: Option<Credentials>) -> Result<Session> {
        let http = Client::builder()
            // reqwest drops the Authorization header when a redirect leaves
            // the host, which is what a registry's blob redirects need.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| RegistryError::Unreachable {
                registry: reference.registry.clone(),
                reason: root_cause(&e),
            })?;
        Ok(Session {
            http,
            base: reference.registry_url(),
            reference: reference.clone(),
            credentials,
            authorization: None,
            actions: "pull",
        })
    }

    /// A session that will push: tokens are asked for `pull,push`.
    pub fn for_push(reference: &Reference, credentials: Option<Credentials>) -> Result<Session> {
        let mut session = Session::new(reference, credentials)?;
        session.actions = "pull,push";
        Ok(session)
    }

    /// Whether the session has credentials to answer a challenge with.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The reference the session was made for.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// `<registry>/v2/<repository>/<kind>/<what>`, e.g. `blobs/sha256:...`.
    pub fn url(&self, kind: &str, what: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{what}",
            self.base, self.reference.repository
        )
    }

    // ANCHOR: send
    /// Sends a GET, answering one authentication challenge if there is one.
    fn get(&mut self, url: &str, accept: &str) -> Result<Response> {
        let request = |session: &Session| {
            let mut builder: RequestBuilder = session.http.get(url).header(ACCEPT, accept);
            if let Some(value) = &session.authorization {
                builder = builder.header(AUTHORIZATION, value);
            }
            builder
        };
        explain!("GET {url}");
        let mut response = request(self).send().map_err(|e| self.unreachable(e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(response.headers(), WWW_AUTHENTICATE.as_str());
            explain!("401 {challenge}");
            self.authorization = Some(self.answer(&challenge)?);
            response = request(self).send().map_err(|e| self.unreachable(e))?;
        }
        match response.status() {
            status if status.is_success() => Ok(response),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.refused()),
            StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
                image: self.reference.to_string(),
                registry: self.reference.registry.clone(),
            }),
            status => Err(RegistryError::Status {
                status,
                url: url.to_string(),
            }),
        }
    }
    // ANCHOR_END: send

    /// The error of a refusal (401 or 403): a login is missing, or the
    /// credentials we sent were not good enough.
    fn refused(&self) -> RegistryError {
        let image = self.reference.to_string();
        let registry = self.reference.registry.clone();
        if self.credentials.is_some() {
            RegistryError::Unauthorized { image, registry }
        } else {
            RegistryError::LoginRequired { image, registry }
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.reference.registry.clone(),
            reason: root_cause(&error),
        }
    }

    // ANCHOR: challenge
    /// The `Authorization` value that answers a `WWW-Authenticate` challenge.
    fn answer(&self, challenge: &str) -> Result<String> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let params = parse_challenge(params);
        let basic = self
            .credentials
            .as_ref()
            .map(|c| basic_auth(&c.user, &c.password));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => basic.ok_or_else(|| self.refused()),
            "bearer" => {
                let realm = params
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                // A challenge may name several scopes, separated by blanks
                // (a cross-repository mount needs `pull` on the source
                // too); each goes to the token server as its own `scope`.
                // Ours gets the actions this session needs.
                let ours = format!("repository:{}:", self.reference.repository);
                let mut query: Vec<(String, String)> = Vec::new();
                for (key, value) in params {
                    match key.as_str() {
                        "service" => query.push((key, value)),
                        "scope" => {
                            for scope in value.split_whitespace() {
                                let scope = if scope.starts_with(&ours) {
                                    format!("{ours}{}", self.actions)
                                } else {
                                    scope.to_string()
                                };
                                query.push(("scope".into(), scope));
                            }
                        }
                        _ => {}
                    }
                }
                if !query
                    .iter()
                    .any(|(k, v)| k == "scope" && v.starts_with(&ours))
                {
                    query.push(("scope".into(), format!("{ours}{}", self.actions)));
                }
                explain!(
                    "GET {realm} (a token for {})",
                    query
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                let query: Vec<String> = query
                    .iter()
                    .map(|(k, v)| format!("{k}={}", percent_encode(v)))
                    .collect();
                let separator = if realm.contains('?') { '&' } else { '?' };
                let mut request = self
                    .http
                    .get(format!("{realm}{separator}{}", query.join("&")));
                if let Some(value) = basic {
                    request = request.header(AUTHORIZATION, value);
                }
                let token_error = |reason: String| RegistryError::Token {
                    realm: realm.clone(),
                    reason,
                };
                let response = request.send().map_err(|e| token_error(e.to_string()))?;
                if !response.status().is_success() {
                    return Err(token_error(format!("it answered {}", response.status())));
                }
                let body: serde_json::Value = serde_json::from_slice(
                    &response.bytes().map_err(|e| token_error(e.to_string()))?,
                )
                .map_err(|e| token_error(e.to_string()))?;
                let token = body["token"]
                    .as_str()
                    .or(body["access_token"].as_str())
                    .unwrap_or_default();
                if token.is_empty() {
                    return Err(token_error("its answer holds no token".into()));
                }
                Ok(format!("Bearer {token}"))
            }
            other => Err(RegistryError::Token {
                realm: String::new(),
                reason: format!("unknown scheme {other:?}"),
            }),
        }
    }
    // ANCHOR_END: challenge

    // ANCHOR: send_any
    /// Sends any request (HEAD, POST, PUT, PATCH, ...) and answers one
    /// authentication challenge, sending the payload again after it.
    /// Returns the response whatever its status, except when the registry
    /// still refuses after the challenge was answered.
    pub fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        payload: &Payload,
    ) -> Result<Response> {
        let request = |session: &Session| -> Result<RequestBuilder> {
            let mut builder = session.http.request(method.clone(), url);
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            if let Some(value) = &session.authorization {
                builder = builder.header(AUTHORIZATION, value);
            }
            match payload.body() {
                Ok(Some(body)) => Ok(builder.body(body)),
                Ok(None) => Ok(builder),
                Err(e) => Err(RegistryError::Payload(e.to_string())),
            }
        };
        explain!("{method} {url}");
        let mut response = request(self)?.send().map_err(|e| self.unreachable(e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(response.headers(), WWW_AUTHENTICATE.as_str());
            explain!("401 {challenge}");
            self.authorization = Some(self.answer(&challenge)?);
            response = request(self)?.send().map_err(|e| self.unreachable(e))?;
        }
        match response.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.refused()),
            _ => Ok(response),
        }
    }
    // ANCHOR_END: send_any

    /// Turns a `Location` header (absolute, or relative to the registry)
    /// into a URL.
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Fetches a manifest or index by tag or digest: (media type, bytes).
    pub fn manifest(&mut self, tag_or_digest: &str) -> Result<(String, Vec<u8>)> {
        let url = self.url("manifests", tag_or_digest);
        let response = self.get(&url, &MANIFEST_TYPES.join(", "))?;
        let media_type = header(response.headers(), CONTENT_TYPE.as_str());
        let bytes = response.bytes().map_err(RegistryError::Body)?.to_vec();
        Ok((media_type, bytes))
    }

    /// Opens the download of blob `digest` (a config or a layer).
    pub fn blob(&mut self, digest: &Digest) -> Result<Response> {
        let url = self.url("blobs", &digest.to_string());
        self.get(&url, "*/*")
    }
}

/// What a request carries; it can be sent again after a challenge.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of the file at `path`, from `offset`.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

impl Payload<'_> {
    fn body(&self) -> std::io::Result<Option<Body>> {
        Ok(match self {
            Payload::Empty => None,
            Payload::Bytes(bytes) => Some(Body::from(bytes.to_vec())),
            Payload::File { path, offset, len } => {
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                Some(Body::sized(file.take(*len), *len))
            }
        })
    }
}

/// The innermost cause of an error: "connection refused", not "error
/// sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string().to_lowercase()
}

/// Reads `key=value` or `key="value"` pairs of a challenge.
pub fn parse_challenge(params: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_string(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        pairs.push((key, value));
        rest = next.trim_start_matches(',').trim();
    }
    pairs
}

/// Percent-encodes a query value (RFC 3986: unreserved characters stay).
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64, for the Basic scheme.
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let pairs = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            pairs[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(pairs[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(
            pairs[2],
            ("scope".into(), "repository:library/busybox:pull".into())
        );
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
