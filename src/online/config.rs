//! Configuration of the online adapter, and the clock it reads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Deserialize;

use super::error::OnlineError;

/// The CDN that lists the True API hosts.
pub const DEFAULT_CDN_URL: &str = "https://cdn.crpt.ru";

/// How the adapter reaches True API. Read from a JSON file by [`OnlineConfig::from_file`];
/// every duration is in milliseconds and every field but the token has a default.
///
/// ```
/// let config: cisgate::online::OnlineConfig =
///     serde_json::from_str(r#"{"token": "secret", "budget_ms": 1500}"#)?;
/// assert_eq!(config.bench_ms, 15 * 60 * 1000);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnlineConfig {
    /// The `X-API-KEY` token.
    pub token: Option<String>,
    /// A file holding the token (read when the adapter starts), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// Base URL of the CDN (`/api/v4/true-api/cdn/info`).
    pub cdn_url: String,
    /// Fixed host base URLs; when given, the CDN is not asked.
    pub hosts: Vec<String>,
    /// Fiscal drive number sent with every check.
    pub fiscal_drive_number: Option<String>,
    /// The whole online attempt of one call, retries and host switches included.
    pub budget_ms: u64,
    /// One request to one host; a host that does not answer within it is benched.
    pub attempt_timeout_ms: u64,
    /// TCP + TLS connection setup.
    pub connect_timeout_ms: u64,
    /// One CDN list or health-check request.
    pub health_timeout_ms: u64,
    /// How often the host list is fetched again (6.5 h by default).
    pub cdn_refresh_ms: u64,
    /// How long a failing host is skipped.
    pub bench_ms: u64,
    /// After online checks have failed without a break for this long, scans are answered
    /// offline at once while a background probe watches for recovery (2 h by default).
    pub outage_after_ms: u64,
    /// How often the probe asks the hosts during an outage.
    pub probe_interval_ms: u64,
    /// Codes per `codes/check` request in batch checks.
    pub batch_size: usize,
    /// Extra PEM root certificates (the Russian Trusted Root CA, say) on top of the
    /// bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            token: None,
            token_file: None,
            cdn_url: DEFAULT_CDN_URL.to_string(),
            hosts: Vec::new(),
            fiscal_drive_number: None,
            budget_ms: 1500,
            attempt_timeout_ms: 1000,
            connect_timeout_ms: 500,
            health_timeout_ms: 1500,
            cdn_refresh_ms: 390 * 60 * 1000,
            bench_ms: 15 * 60 * 1000,
            outage_after_ms: 2 * 3600 * 1000,
            probe_interval_ms: 60 * 1000,
            batch_size: 100,
            ca_file: None,
        }
    }
}

impl OnlineConfig {
    /// Reads a JSON configuration file.
    pub fn from_file(path: &Path) -> Result<OnlineConfig, OnlineError> {
        let text = std::fs::read_to_string(path).map_err(|e| OnlineError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_json(&text, path)
    }

    /// Reads a configuration from JSON text; `name` says where it came from in messages.
    pub fn from_json(text: &str, name: &Path) -> Result<OnlineConfig, OnlineError> {
        serde_json::from_str(text).map_err(|e| OnlineError::Config {
            path: name.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The token, from `token` or `token_file`.
    pub(crate) fn resolve_token(&self) -> Result<String, OnlineError> {
        match (&self.token, &self.token_file) {
            (Some(t), None) => Ok(t.trim().to_string()),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|t| t.trim().to_string())
                .map_err(|e| OnlineError::Config {
                    path: path.clone(),
                    message: format!("cannot read the token file: {e}"),
                }),
            (Some(_), Some(_)) => Err(OnlineError::Invalid(
                "give either token or token_file, not both".into(),
            )),
            (None, None) => Err(OnlineError::Invalid(
                "no True API token: set token or token_file".into(),
            )),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), OnlineError> {
        let positive = [
            ("budget_ms", self.budget_ms),
            ("attempt_timeout_ms", self.attempt_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("health_timeout_ms", self.health_timeout_ms),
            ("probe_interval_ms", self.probe_interval_ms),
            ("cdn_refresh_ms", self.cdn_refresh_ms),
            ("batch_size", self.batch_size as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(OnlineError::Invalid(format!("{name} must be above 0")));
            }
        }
        for url in self.hosts.iter().chain(std::iter::once(&self.cdn_url)) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(OnlineError::Invalid(format!(
                    "{url:?} is not an http(s) base URL"
                )));
            }
        }
        Ok(())
    }
}

/// Wall-clock time in Unix milliseconds, for benching and the outage rule. Tests pass their
/// own to step through hours at once; deadlines use the monotonic runtime timer instead.
pub trait Clock: Send + Sync {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::time::now_ms()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(now_ms))
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_example_parses_and_validates() {
        let text = include_str!("../../data/online/example.json");
        let config: OnlineConfig = serde_json::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.budget_ms, 1500);
        assert!(serde_json::from_str::<OnlineConfig>(r#"{"budgetms": 1}"#).is_err());
        let zero = OnlineConfig {
            budget_ms: 0,
            ..Default::default()
        };
        assert!(zero.validate().is_err());
    }
}
