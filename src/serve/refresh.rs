//! Following the index: new generations published by other processes, and their sales.

use std::sync::Arc;
use std::time::Duration;

use super::state::{AppState, log};

/// Polls for generations published by other processes (and their sales).
pub(crate) async fn refresh_loop(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.refresh_interval_ms.max(10));
    loop {
        tokio::time::sleep(every).await;
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
