//! A store's one service: `serve` following the chain's channel itself (the pull loop of
//! `pull --watch`, push notices included) instead of a separate pull service. A pulled
//! generation is served as the pull opened and verified it (no second open), and the
//! node's status reports carry the store's checks, refusals and sales per day.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::error::ServeError;
use super::server::Server;
use super::state::log;
use crate::distribute::{
    DayCounts, PullOptions, PullOutcome, Puller, Remote, Trigger, WatchOptions, watch,
};

/// Never set: the loop ends with the process.
static NEVER: AtomicBool = AtomicBool::new(false);

impl Server {
    /// Follows `remote`'s channel on a thread of its own, as `pull --watch` does, and
    /// switches this service to every generation it pulls. Fails at once when the puller
    /// cannot start (a missing key, an unusable store address).
    pub fn follow(
        &self,
        remote: &Remote,
        pull: PullOptions,
        watching: WatchOptions,
    ) -> Result<(), ServeError> {
        let state = self.state();
        let metrics = Arc::clone(&state);
        let mut puller = Puller::new(state.live.dir(), remote, pull)
            .map_err(|e| ServeError::Refused(format!("cannot follow the channel: {e}")))?
            .with_status_extra(move |status| {
                status.days = metrics
                    .metrics
                    .days()
                    .into_iter()
                    .map(|d| DayCounts {
                        date: d.date,
                        checks: d.checks,
                        refusals: d.refusals,
                        sales: d.sales,
                    })
                    .collect();
            });
        let remote = remote.to_string();
        std::thread::Builder::new()
            .name("cisgate-follow".into())
            .spawn(move || {
                let followed = watch(&mut puller, &watching, &NEVER, |puller, trigger, result| {
                    match result {
                        Ok(report) => {
                            if let PullOutcome::Updated { to, .. } = &report.outcome {
                                let switched = match puller.take_opened() {
                                    Some(index) => state.live.adopt(index),
                                    None => state.live.refresh(),
                                };
                                if let Err(e) = switched {
                                    log(
                                        "switch_failed",
                                        serde_json::json!({"error": e.to_string()}),
                                    );
                                    return;
                                }
                                state.metrics.add_generation_switch();
                                let why = match trigger {
                                    Trigger::Notice(sequence) => format!("notice {sequence}"),
                                    Trigger::Poll => "poll".into(),
                                    Trigger::Start => "start".into(),
                                };
                                log(
                                    "pulled",
                                    serde_json::json!({"version": to, "from": remote, "after": why,
                                        "bytes": report.bytes_downloaded}),
                                );
                            }
                        }
                        Err(e) => log("pull_failed", serde_json::json!({"error": e.to_string()})),
                    }
                });
                if let Err(e) = followed {
                    log(
                        "follow_stopped",
                        serde_json::json!({"error": e.to_string()}),
                    );
                }
            })
            .map_err(|e| ServeError::Refused(format!("cannot start the pull thread: {e}")))?;
        Ok(())
    }
}
