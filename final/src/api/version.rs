//! The API version a request speaks.
//!
//! A client puts the version it chose into the path (`/v1.38/...`): the
//! lower of its own and the one `/_ping` announced. dockerd keeps answering
//! old versions as they answered: when a field changed meaning in a later
//! version, the answer depends on the version in the path. A path without
//! one speaks the newest.

use super::API_VERSION;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

/// `major.minor`, ordered as versions are (1.9 < 1.38 < 1.47).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    /// `"1.38"` as a version; None when it is not two numbers.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// The version this engine implements, spoken by paths without one.
    pub fn newest() -> ApiVersion {
        ApiVersion::parse(API_VERSION).expect("API_VERSION is major.minor")
    }

    /// Whether this version is older than `major.minor`.
    pub fn before(self, major: u32, minor: u32) -> bool {
        self < ApiVersion { major, minor }
    }
}

/// Handlers take the version as an argument; the layer that strips it
/// from the path leaves it in the request's extensions.
impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or_else(ApiVersion::newest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_number_not_by_text() {
        let old = ApiVersion::parse("1.9").unwrap();
        let compose = ApiVersion::parse("1.38").unwrap();
        assert!(old < compose);
        assert!(compose.before(1, 45));
        assert!(!ApiVersion::newest().before(1, 45));
        assert_eq!(ApiVersion::parse("latest"), None);
    }
}
