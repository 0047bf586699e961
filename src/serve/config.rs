//! The service's configuration (`serve.json`).

use std::path::Path;

use serde::Deserialize;

use super::auth::BasicUser;
use super::error::ServeError;

/// Shortest password accepted when listening beyond loopback.
pub const MIN_REMOTE_PASSWORD: usize = 12;

/// The default request body limit: 1000 codes (the LM's limit per request) of the longest
/// structure as JSON — a КИ with a 20-character serial, crypto key and an 88-character
/// crypto code, AIs 8005 and 3103, each GS escaped as `\u001d` — is about 200 KB.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The default listen address: the LM's port, loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5995";

/// How the service runs. Read from JSON with [`ServeConfig::from_file`]; every field has a
/// default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: String,
    /// Name reported by `/api/v2/status`.
    pub name: String,
    /// Basic-auth accounts.
    pub users: Vec<BasicUser>,
    /// Accepted `Authorization: Token …` values.
    pub tokens: Vec<String>,
    /// Origins allowed to call from a browser; none by default (no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// Largest request body of the LM endpoints.
    pub body_limit_bytes: usize,
    /// A request must be answered within this (the response headers, for the stream).
    pub request_timeout_ms: u64,
    /// Requests in progress at once; more get 503 at once instead of queueing.
    pub max_concurrent_requests: usize,
    /// Open connections at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout_ms: u64,
    /// A request's head (request line and headers) must arrive within this, however
    /// slowly it trickles.
    pub header_timeout_ms: u64,
    /// How often the index directory is polled for a new generation.
    pub refresh_interval_ms: u64,
    /// Log every request, not only failures.
    pub access_log: bool,
    /// Embedded nodes (tills and kiosks holding the index in process) that may use this
    /// store's sold list: sell and return through it and follow its feed. A token each.
    pub nodes: Vec<NodeToken>,
    /// The shop's time zone, for the status page and the day counts: `МСК` (the
    /// default), `МСК+2`, `UTC`, `+05:00` (see [`crate::time::TimeZone::parse`]).
    pub timezone: String,
}

/// An embedded node allowed to use the store's sold list.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeToken {
    /// Its name (for the status page and conflicts).
    pub name: String,
    /// Its token: `Authorization: Token <token>`.
    pub token: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN.to_string(),
            name: "cisgate".to_string(),
            users: Vec::new(),
            tokens: Vec::new(),
            cors_origins: Vec::new(),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            request_timeout_ms: 5000,
            max_concurrent_requests: 4096,
            max_connections: 1024,
            idle_timeout_ms: 30_000,
            header_timeout_ms: 10_000,
            refresh_interval_ms: 1000,
            access_log: false,
            timezone: "МСК".to_string(),
            nodes: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// Reads a JSON configuration file.
    pub fn from_file(path: &Path) -> Result<ServeConfig, ServeError> {
        let config_error = |message: String| ServeError::Config {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| config_error(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| config_error(e.to_string()))
    }
}
