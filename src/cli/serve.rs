//! `cisgate serve`: run the HTTP service until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;

use cisgate::LiveIndex;
use cisgate::distribute::PullOptions;
use cisgate::serve::{ServeConfig, Server};

use super::remote::{RemoteArgs, WatchArgs};
use super::{CmdResult, Freshness};

/// Serve the index through the Local Module's HTTP API (v2 and v1), a streaming bulk
/// endpoint and /metrics; picks up new generations without a restart.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Address to listen on: ip:port or host:port (default 127.0.0.1:5995, or the
    /// configuration's).
    #[arg(long)]
    listen: Option<String>,
    /// JSON configuration: users, tokens, CORS origins, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Skip hashing the index on open: structure, lengths, the FSTs' own checksums and a
    /// sample of keys through each filter are still checked, a flipped bit elsewhere is not
    /// (run `cisgate verify` after copying an index by hand).
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    freshness: Freshness,
    /// Follow the chain's channel in this process (s3://bucket/prefix): the store runs one
    /// service, pulling as `pull --watch` does and switching to each generation at once.
    /// Needs --public-key.
    #[arg(long, value_name = "URL", env = "CISGATE_PULL_FROM")]
    pull_from: Option<String>,
    /// The publisher's minisign public key (with --pull-from).
    #[arg(long, env = "CISGATE_PUBLIC_KEY")]
    public_key: Option<PathBuf>,
    /// With --pull-from, poll the channel every this many seconds (0.5 or more).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5.0,
        env = "CISGATE_PULL_EVERY"
    )]
    pull_every: f64,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    watching: WatchArgs,
}

/// Serves the index; returns when a shutdown signal has drained the requests in progress.
pub fn run(args: Args) -> CmdResult {
    run_until(args, shutdown_signal())
}

/// Serves the index until `stop` completes (a signal, or the Windows Service Control
/// Manager's stop), then drains the requests in progress.
pub fn run_until(args: Args, stop: impl Future<Output = ()> + Send + 'static) -> CmdResult {
    let mut config = match &args.config {
        Some(path) => ServeConfig::from_file(path)?,
        None => ServeConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cisgate-serve")
        .build()?;
    // An empty variable in /etc/default/cisgate means "not set".
    let pull_from = args.pull_from.clone().filter(|u| !u.is_empty());
    let public_key = args
        .public_key
        .clone()
        .filter(|k| !k.as_os_str().is_empty());
    let follow = match (&pull_from, &public_key) {
        (Some(_), None) => {
            return Err(
                "--pull-from needs --public-key (CISGATE_PUBLIC_KEY): the publisher's key".into(),
            );
        }
        (Some(url), Some(key)) => {
            let remote = args.remote.remote(url)?;
            let channel = args.remote.channel.clone();
            let pull = PullOptions {
                channel: channel.clone(),
                node: args.watching.node(),
                status_every: args.watching.status_every(),
                ..PullOptions::new(key.clone())
            };
            Some((
                remote,
                pull,
                args.watching.options(args.pull_every, &channel)?,
            ))
        }
        _ => None,
    };
    // A new store has no index yet: the first pull makes it, before anything is served.
    if let Some((remote, pull, _)) = &follow
        && !args.index.join(cisgate::index::CURRENT).exists()
    {
        eprintln!(
            "cisgate: no index at {} yet; pulling it first",
            args.index.display()
        );
        cisgate::distribute::pull(&args.index, remote, pull)?;
    }
    let live = Arc::new(LiveIndex::open(
        &args.index,
        args.freshness.options(!args.no_verify),
    )?);
    runtime.block_on(async move {
        let server = Server::bind(config, live).await?;
        if let Some((remote, pull, watching)) = follow {
            server.follow(&remote, pull, watching)?;
        }
        server.run(stop).await
    })?;
    Ok(0)
}

/// Stops on SIGTERM (systemd) or Ctrl-C.
#[cfg(unix)]
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

/// Stops on Ctrl-C or Ctrl-Break, or when the console closes or Windows shuts down (a
/// service wrapper sends Ctrl-Break).
#[cfg(windows)]
async fn shutdown_signal() {
    use tokio::signal::windows;
    let (mut brk, mut close, mut shutdown) = match (
        windows::ctrl_break(),
        windows::ctrl_close(),
        windows::ctrl_shutdown(),
    ) {
        (Ok(b), Ok(c), Ok(s)) => (b, c, s),
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
        _ = shutdown.recv() => {}
    }
}
