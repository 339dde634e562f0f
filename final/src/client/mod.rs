//! The CLI's side of the API: requests by path, errors as the daemon
//! words them.

pub mod http;

use http::{Endpoint, Response};
use serde_json::Value;

/// An answer that is not a success: the daemon's `{"message": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Daemon { status, .. } => Some(*status),
            ClientError::Io(_) => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// The daemon, as a client sees it.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
}

/// The API version the CLI speaks (the daemon's own).
const VERSION: &str = crate::api::API_VERSION;

/// `?a=1&b=x%20y`, from pairs (empty values left out).
pub fn query(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", ch05_images::registry::percent_encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    pub fn new(host: &str) -> std::result::Result<Client, String> {
        Ok(Client {
            endpoint: Endpoint::parse(host)?,
        })
    }

    fn path(path: &str) -> String {
        format!("/v{VERSION}{path}")
    }

    /// Sends a request; an answer of 400 or more is an error.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<Response> {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("plain data"));
        let body = bytes.as_deref().map(|b| ("application/json", b));
        let response = self
            .endpoint
            .request(method, &Self::path(path), body, headers, false)?;
        check(response)
    }

    /// Sends a request with a raw body (a tar, for `build` and `load`).
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> Result<Response> {
        let response = self.endpoint.request(
            method,
            &Self::path(path),
            Some((content_type, body)),
            headers,
            false,
        )?;
        check(response)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        Ok(self.send("GET", path, None, &[])?.json()?)
    }

    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self.send("POST", path, body, &[])?.json()?)
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        Ok(self.send("DELETE", path, None, &[])?.json()?)
    }

    /// Sends a request that upgrades the connection to a raw stream.
    pub fn upgrade(&self, path: &str, body: Option<&Value>) -> Result<Response> {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("plain data"));
        let body = bytes.as_deref().map(|b| ("application/json", b));
        let response = self
            .endpoint
            .request("POST", &Self::path(path), body, &[], true)?;
        check(response)
    }
}

fn check(response: Response) -> Result<Response> {
    if response.status < 400 {
        return Ok(response);
    }
    let status = response.status;
    let bytes = response.bytes().unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
    Err(ClientError::Daemon { status, message })
}
