//! The push notice: when the builder publishes, it tells every node through NATS, so that
//! nodes pull at once instead of at their next poll.
//!
//! A notice carries only the channel and the new pointer's sequence, on subject
//! `cisgate.<channel>` (characters other than letters, digits, `-` and `_` become `_`):
//!
//! ```text
//! {"channel": "LATEST", "sequence": 1796528170}
//! ```
//!
//! It is a hint, never trusted: a node that hears one pulls the signed pointer and checks
//! everything as on any poll; a forged notice costs one conditional request. When NATS is
//! down nodes still converge by polling, and the client reconnects by itself.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::DistributeError;

/// How long a publish waits for NATS to take its notice before going on without it.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a notice says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The channel that moved.
    pub channel: String,
    /// Its new pointer's sequence.
    pub sequence: u64,
}

/// The NATS subject of a channel's notices.
pub fn subject(channel: &str) -> String {
    let token: String = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("cisgate.{token}")
}

fn runtime(url: &str) -> Result<tokio::runtime::Runtime, DistributeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DistributeError::Store {
            url: url.to_string(),
            reason: format!("cannot start the notice runtime: {e}"),
        })
}

/// The builder's side: publishes a notice after each publish, in the background (a NATS
/// server that is down must not hold up the next delta).
pub struct Notifier {
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
}

impl Notifier {
    /// Connects to the NATS server(s) at `url` (`nats://host:4222`, comma-separated for
    /// a cluster). A server that is down at start is retried in the background.
    pub fn connect(url: &str) -> Result<Notifier, DistributeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cisgate-notify")
            .enable_all()
            .build()
            .map_err(|e| DistributeError::Store {
                url: url.to_string(),
                reason: format!("cannot start the notice runtime: {e}"),
            })?;
        let client = runtime
            .block_on(
                async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connect(url),
            )
            .map_err(|e| DistributeError::Store {
                url: url.to_string(),
                reason: format!("cannot reach NATS: {e}"),
            })?;
        Ok(Notifier { runtime, client })
    }

    /// Tells the nodes that `channel` moved to `sequence`, without waiting: a notice that
    /// cannot go out within a few seconds is logged (the nodes will poll).
    pub fn notify(&self, channel: &str, sequence: u64) {
        let notice = Notice {
            channel: channel.to_string(),
            sequence,
        };
        let payload = serde_json::to_vec(&notice).unwrap_or_default();
        let (client, subject) = (self.client.clone(), subject(channel));
        self.runtime.spawn(async move {
            let sent = tokio::time::timeout(NOTICE_TIMEOUT, async {
                client.publish(subject, payload.into()).await?;
                client.flush().await.map_err(|e| e.to_string())?;
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            })
            .await;
            let failed = match sent {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("not taken within {NOTICE_TIMEOUT:?}"),
            };
            eprintln!(
                "{}",
                serde_json::json!({"ts": crate::time::format_rfc3339(crate::time::now_ms()),
                    "event": "notice_failed", "sequence": sequence, "error": failed})
            );
        });
    }
}

/// The highest sequence noticed and not yet acted on, shared with the thread that listens.
#[derive(Default)]
pub(crate) struct Noticed {
    sequence: Mutex<Option<u64>>,
    wake: Condvar,
}

impl Noticed {
    fn record(&self, sequence: u64) {
        let mut held = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
        *held = Some(held.map_or(sequence, |s| s.max(sequence)));
        self.wake.notify_all();
    }

    /// Waits up to `timeout` for a notice; returns (and clears) the highest sequence
    /// noticed, if any.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<u64> {
        let held = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
        let (mut held, _) = self
            .wake
            .wait_timeout_while(held, timeout, |s| s.is_none())
            .unwrap_or_else(|e| e.into_inner());
        held.take()
    }
}

/// A node's side: listens for its channel's notices on a thread of its own.
pub(crate) struct Listener {
    pub(crate) noticed: Arc<Noticed>,
    _thread: std::thread::JoinHandle<()>,
}

impl Listener {
    /// Subscribes to `channel`'s notices at `url`. NATS being down at start or later is
    /// not an error: the client keeps reconnecting, and polling goes on meanwhile.
    pub(crate) fn start(url: &str, channel: &str) -> Result<Listener, DistributeError> {
        let noticed = Arc::new(Noticed::default());
        let runtime = runtime(url)?;
        let (url, channel, shared) = (url.to_string(), channel.to_string(), noticed.clone());
        let thread = std::thread::Builder::new()
            .name("cisgate-notice".into())
            .spawn(move || {
                runtime.block_on(listen(&url, &channel, &shared));
            })
            .map_err(|e| DistributeError::Invalid(format!("cannot start a thread: {e}")))?;
        Ok(Listener {
            noticed,
            _thread: thread,
        })
    }
}

async fn listen(url: &str, channel: &str, noticed: &Noticed) {
    use futures_util::StreamExt;
    loop {
        let connected = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(url)
            .await;
        let Ok(client) = connected else {
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        };
        let Ok(mut notices) = client.subscribe(subject(channel)).await else {
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        };
        // The subscription survives reconnects; it ends only when the client is gone.
        while let Some(message) = notices.next().await {
            if let Ok(notice) = serde_json::from_slice::<Notice>(&message.payload)
                && notice.channel == channel
            {
                noticed.record(notice.sequence);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_single_tokens() {
        assert_eq!(subject("LATEST"), "cisgate.LATEST");
        assert_eq!(subject("store.7 west"), "cisgate.store_7_west");
    }

    #[test]
    fn a_wait_takes_the_highest_notice_once() {
        let noticed = Noticed::default();
        noticed.record(5);
        noticed.record(9);
        noticed.record(7);
        assert_eq!(noticed.wait(Duration::from_millis(1)), Some(9));
        assert_eq!(noticed.wait(Duration::from_millis(1)), None);
    }
}
