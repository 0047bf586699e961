//! `cisgate ingest`: the builder as a service (`cisgate::distribute::Ingester`).

use std::path::PathBuf;
use std::time::Duration;

use cisgate::distribute::alert::{AlertConfig, Alerter};
use cisgate::distribute::{IngestOptions, Ingester, Step};

use super::CmdResult;
use super::remote::{RemoteArgs, SigningArgs};

/// Take list files from an inbox as they arrive, apply them and publish each new
/// generation within a second; runs until stopped. Files count once renamed into the inbox
/// (write NAME.tmp or .NAME, then rename); a snapshot set is a folder renamed in.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The inbox folder (rejected/ and applied/ are made inside it).
    #[arg(long)]
    inbox: PathBuf,
    /// The builder's own index (created by the first snapshot).
    #[arg(long)]
    index: PathBuf,
    /// Where to publish: s3://bucket/prefix.
    #[arg(long, env = "CISGATE_CHAIN")]
    to: String,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Seconds a delta waits for its parent before it is rejected.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    wait_for_parent: u64,
    /// Merge the delta layers into one past this many (stores download only the merged
    /// layer).
    #[arg(long, default_value_t = 8)]
    fold_after_layers: usize,
    /// Write a new base once the layers' bytes pass this fraction of the base's (stores
    /// download the new base whole).
    #[arg(long, default_value_t = 0.25)]
    fold_after_ratio: f64,
    /// Send a push notice to this NATS server after each publish (nats://host:4222).
    #[arg(long, value_name = "URL", env = "CISGATE_NATS")]
    nats: Option<String>,
    /// The builder's name in its status report.
    #[arg(long, default_value = "builder")]
    node: String,
    /// Seconds between status reports when nothing changed.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    status_every: u64,
    /// Webhooks for alerts (rejected files, publishing that stops): a JSON file, see
    /// docs/DISTRIBUTION.md.
    #[arg(long, value_name = "FILE", env = "CISGATE_ALERTS")]
    alerts: Option<PathBuf>,
}

/// Runs the builder; every step is one JSON line on stdout.
pub fn run(args: Args) -> CmdResult {
    let remote = args.remote.remote(&args.to)?;
    let mut options = IngestOptions::new(
        args.inbox.clone(),
        args.index.clone(),
        args.signing.options(&args.remote.channel)?,
    );
    options.wait_for_parent = Duration::from_secs(args.wait_for_parent);
    options.fold_after_layers = args.fold_after_layers;
    options.fold_after_ratio = args.fold_after_ratio;
    options.nats = args.nats.clone().filter(|u| !u.is_empty());
    options.node = args.node.clone();
    options.status_every = Duration::from_secs(args.status_every.max(1));
    let alerter = match args.alerts.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        Some(path) => Some(Alerter::new(&AlertConfig::from_file(path)?)?),
        None => None,
    };
    let mut ingester = Ingester::start(&remote, options, alerter)?;
    eprintln!(
        "cisgate: taking lists from {} into {}, publishing to {remote} channel {}",
        args.inbox.display(),
        args.index.display(),
        args.remote.channel
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut failure = None;
    ingester.run(&stop, |step| {
        let ts = cisgate::time::format_rfc3339(cisgate::time::now_ms());
        let line = match step {
            Step::Published {
                files,
                version,
                sequence,
            } => serde_json::json!({"ts": ts, "event": "published", "files": files,
                "version": version, "sequence": sequence}),
            Step::AlreadyApplied(file) => {
                serde_json::json!({"ts": ts, "event": "already_applied", "file": file})
            }
            Step::Rejected(file, why) => {
                serde_json::json!({"ts": ts, "event": "rejected", "file": file, "why": why})
            }
            Step::Renewed(sequence) => {
                serde_json::json!({"ts": ts, "event": "renewed", "sequence": sequence})
            }
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes())
            .and_then(|()| std::io::Write::flush(&mut out))
        {
            failure = Some(e);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}
