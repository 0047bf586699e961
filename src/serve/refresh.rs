//! Following the index: new generations published by other processes, and their sales.

use std::sync::Arc;
use std::time::Duration;

use super::metrics::DAYS_FILE;
use super::state::{AppState, log};

/// How often the day counts are left beside the index.
const DAYS_SAVE_EVERY: Duration = Duration::from_secs(60);

/// Polls for generations published by other processes (and their sales).
pub(crate) async fn refresh_loop(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.refresh_interval_ms.max(10));
    let days_file = state.live.dir().join(DAYS_FILE);
    let mut days_saved = std::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        // The day counts outlive a restart (a minute's worth may be lost).
        if days_saved.elapsed() >= DAYS_SAVE_EVERY {
            days_saved = std::time::Instant::now();
            let (metrics_state, path) = (state.clone(), days_file.clone());
            let _ =
                tokio::task::spawn_blocking(move || metrics_state.metrics.save_days(&path)).await;
        }
        let live = state.live.clone();
        match tokio::task::spawn_blocking(move || live.refresh()).await {
            Ok(Ok(true)) => {
                state.metrics.add_generation_switch();
                let generation = state.live.generation();
                let manifest = generation.index().manifest();
                log(
                    "generation",
                    serde_json::json!({"version": manifest.version, "manifest": manifest.file_name()}),
                );
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => log(
                "refresh_failed",
                serde_json::json!({"error": e.to_string()}),
            ),
            Err(e) => log(
                "refresh_failed",
                serde_json::json!({"error": e.to_string()}),
            ),
        }
    }
}
