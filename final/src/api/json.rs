//! Request bodies read as dockerd reads them.
//!
//! dockerd is written in Go, whose JSON decoder treats `null` as "leave the
//! field as it is": a `null` where a number is expected is simply zero.
//! Clients rely on that: docker-py sends `"Timeout": null` in a healthcheck
//! whose timeout was not given, `"Labels": null` for a network without
//! labels. serde refuses `null` for a plain number, so the members that are
//! `null` are taken out before the body is decoded: absent and `null` then
//! mean the same, as they do for dockerd. A missing body is an empty
//! object, as Go decodes it for the endpoints whose body is optional.

use super::ApiError;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON body with Go's meaning of `null`.
pub struct GoJson<T>(pub T);

/// `value` with every object member whose value is `null` removed, at any
/// depth (the `null`s inside arrays stay: they are values, not absences).
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Decodes `bytes` as dockerd would (empty is `{}`).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    serde_json::from_value(without_nulls(value))
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for GoJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        decode(&bytes).map(GoJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Health {
        interval: i64,
        timeout: i64,
        test: Vec<String>,
    }

    #[test]
    fn null_is_the_zero_value_as_in_go() {
        let health: Health = decode(br#"{"Interval": 5, "Timeout": null}"#).unwrap();
        assert_eq!(health.interval, 5);
        assert_eq!(health.timeout, 0);
        let empty: Health = decode(b"").unwrap();
        assert_eq!(empty, Health::default());
    }

    #[test]
    fn a_null_inside_an_array_is_a_value() {
        assert!(decode::<Health>(br#"{"Test": ["CMD", null]}"#).is_err());
    }
}
