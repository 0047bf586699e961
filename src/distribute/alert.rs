//! Alerts: one message per change of a subject's condition (a store turning stale, the
//! builder rejecting a file), one when it recovers, none in between, sent to webhooks.
//!
//! The conditions already alerted are kept in a small JSON file, so that a restart neither
//! repeats an alert nor misses a recovery. Three webhook formats:
//!
//! - `json`: `POST url` with `{"subject", "condition", "previous", "recovered", "text",
//!   "at"}` for a receiver of one's own;
//! - `telegram`: the Bot API's `sendMessage` (`url` is
//!   `https://api.telegram.org/bot<TOKEN>/sendMessage`, `chat_id` the chat);
//! - `ntfy`: `POST` to the topic URL with the text as the body and `Title`, `Priority` and
//!   `Tags` headers.
//!
//! A webhook that fails is retried at the next transition's send, not in a loop: the
//! alert is logged on stderr either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::DistributeError;

/// How long one webhook call may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where alerts go (`alerts.json`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The receivers.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

impl AlertConfig {
    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<AlertConfig, DistributeError> {
        let bytes = std::fs::read(path).map_err(|source| DistributeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            DistributeError::Invalid(format!(
                "{}: not an alert configuration: {e}",
                path.display()
            ))
        })
    }
}

/// One receiver.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `json`, `telegram` or `ntfy`.
    pub kind: WebhookKind,
    /// Where to POST.
    pub url: String,
    /// The Telegram chat (with `telegram`).
    #[serde(default)]
    pub chat_id: Option<String>,
}

/// A webhook's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// cisgate's own JSON.
    Json,
    /// The Telegram Bot API's `sendMessage`.
    Telegram,
    /// An ntfy topic.
    Ntfy,
}

/// One alert: a subject's condition changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What it is about: a store's name, or `builder`.
    pub subject: String,
    /// The condition now (`stale`, `frozen`, `silent`, `failing`, `behind`, `rejected`,
    /// `not_publishing`), `None` when it recovered.
    pub condition: Option<String>,
    /// The condition before.
    pub previous: Option<String>,
    /// Whether this is the recovery notice.
    pub recovered: bool,
    /// The message, for people.
    pub text: String,
    /// When, RFC 3339.
    pub at: String,
}

/// The conditions alerted so far, kept in a file.
pub struct AlertBook {
    path: PathBuf,
    conditions: BTreeMap<String, String>,
}

impl AlertBook {
    /// The book at `path` (empty when it does not exist yet).
    pub fn open(path: &Path) -> Result<AlertBook, DistributeError> {
        let conditions = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                DistributeError::Invalid(format!(
                    "{}: not an alert state file: {e}",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(DistributeError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(AlertBook {
            path: path.to_path_buf(),
            conditions,
        })
    }

    /// Records that `subject` is now in `condition` (`None`: fine) and returns the alert
    /// this is, if it changed anything. `describe` words it.
    pub fn observe(
        &mut self,
        subject: &str,
        condition: Option<&str>,
        describe: impl FnOnce(Option<&str>, Option<&str>) -> String,
    ) -> Result<Option<Alert>, DistributeError> {
        let previous = self.conditions.get(subject).cloned();
        if previous.as_deref() == condition {
            return Ok(None);
        }
        match condition {
            Some(c) => self.conditions.insert(subject.to_string(), c.to_string()),
            None => self.conditions.remove(subject),
        };
        self.save()?;
        Ok(Some(Alert {
            subject: subject.to_string(),
            condition: condition.map(str::to_string),
            previous: previous.clone(),
            recovered: condition.is_none(),
            text: describe(condition, previous.as_deref()),
            at: crate::time::format_rfc3339(crate::time::now_ms()),
        }))
    }

    /// An event that is its own alert every time (a rejected file), not a condition.
    pub fn event(subject: &str, condition: &str, text: String) -> Alert {
        Alert {
            subject: subject.to_string(),
            condition: Some(condition.to_string()),
            previous: None,
            recovered: false,
            text,
            at: crate::time::format_rfc3339(crate::time::now_ms()),
        }
    }

    fn save(&self) -> Result<(), DistributeError> {
        let json = serde_json::to_vec_pretty(&self.conditions).unwrap_or_default();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self.path.file_name().map_or_else(
            || "ALERTS.json".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        crate::durable::write(dir, &name, &json)?;
        Ok(())
    }
}

/// A URL shown without its path and query (a bot token may be in either).
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            format!("{scheme}://{host}/…")
        }
        None => "…".into(),
    }
}

/// Sends alerts to the configured webhooks.
pub struct Alerter {
    webhooks: Vec<Webhook>,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Alerter {
    /// An alerter for `config`.
    pub fn new(config: &AlertConfig) -> Result<Alerter, DistributeError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        for hook in &config.webhooks {
            if hook.kind == WebhookKind::Telegram && hook.chat_id.is_none() {
                return Err(DistributeError::Invalid(format!(
                    "the telegram webhook {} needs a chat_id",
                    hook.url
                )));
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                DistributeError::Invalid(format!("cannot start the alert runtime: {e}"))
            })?;
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .build()
            .map_err(|e| DistributeError::Invalid(format!("cannot make the HTTP client: {e}")))?;
        Ok(Alerter {
            webhooks: config.webhooks.clone(),
            runtime,
            client,
        })
    }

    /// Sends `alert` to every webhook; returns what failed (the others were sent).
    pub fn send(&self, alert: &Alert) -> Vec<String> {
        eprintln!(
            "{}",
            serde_json::json!({"ts": alert.at, "event": "alert", "alert": alert})
        );
        let mut failures = Vec::new();
        for hook in &self.webhooks {
            let request = match hook.kind {
                WebhookKind::Json => self.client.post(&hook.url).json(alert),
                WebhookKind::Telegram => self.client.post(&hook.url).json(&serde_json::json!({
                    "chat_id": hook.chat_id,
                    "text": alert.text,
                })),
                WebhookKind::Ntfy => self
                    .client
                    .post(&hook.url)
                    .header("Title", format!("cisgate: {}", alert.subject))
                    .header("Priority", if alert.recovered { "default" } else { "high" })
                    .header(
                        "Tags",
                        if alert.recovered {
                            "white_check_mark"
                        } else {
                            "warning"
                        },
                    )
                    .body(alert.text.clone()),
            };
            let sent = self.runtime.block_on(async {
                request
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
            });
            if let Err(e) = sent {
                // Without the path: a Telegram URL carries the bot's token.
                failures.push(format!("{}: {}", redacted(&hook.url), e.without_url()));
            }
        }
        failures
    }
}
