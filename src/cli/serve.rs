//! `cisgate serve`: run the HTTP service until SIGTERM or Ctrl-C.

use std::path::Path;
use std::sync::Arc;

use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::serve::{ServeConfig, Server};

use super::CmdResult;

/// Serves `dir`; returns when a shutdown signal has drained the requests in progress.
pub fn run(
    dir: &Path,
    listen: Option<String>,
    config: Option<&Path>,
    live: LiveOptions,
) -> CmdResult {
    let mut config = match config {
        Some(path) => ServeConfig::from_file(path)?,
        None => ServeConfig::default(),
    };
    if let Some(listen) = listen {
        config.listen = listen;
    }
    let live = Arc::new(LiveIndex::open(dir, live)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cisgate-serve")
        .build()?;
    runtime.block_on(async move {
        let server = Server::bind(config, live).await?;
        server.run(shutdown_signal()).await
    })?;
    Ok(0)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        // Without a SIGTERM handler, Ctrl-C still stops the service.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
