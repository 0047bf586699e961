//! What every handler shares: the index, the configuration, credentials, metrics, the
//! request deadline, and the service's log lines.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use super::auth::Credentials;
use super::config::ServeConfig;
use super::metrics::Metrics;
use crate::live::LiveIndex;

/// When a request must be answered; the sale and return handlers enforce it themselves,
/// so that a write under way is never reported as a failure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestDeadline(pub(crate) Instant);

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) live: Arc<LiveIndex>,
    pub(crate) config: ServeConfig,
    pub(crate) credentials: Credentials,
    pub(crate) instance: String,
    pub(crate) metrics: Metrics,
    pub(crate) in_flight: Arc<Semaphore>,
    /// The shop's time zone (`ServeConfig::timezone`).
    pub(crate) tz: crate::time::TimeZone,
    /// The store as its nodes' sold authority.
    pub(crate) sold: super::nodes::SoldAuthorityState,
}

/// One structured log line on stderr.
pub(crate) fn log(event: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({
        "ts": crate::time::format_rfc3339(crate::time::now_ms()),
        "event": event,
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}
