//! `cisgate pull`: bring a node's index to what a channel points at.

use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use cisgate::distribute::{
    DistributeError, PullOptions, PullOutcome, PullReport, Puller, TransferPolicy, Trigger, pull,
    watch,
};

use super::CmdResult;
use super::remote::{RemoteArgs, WatchArgs};

/// Pull the channel's signed generation into the index (atomically; a running `serve`
/// switches to it).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory (created if missing).
    #[arg(long)]
    index: PathBuf,
    /// Where to pull from: s3://bucket/prefix.
    #[arg(long)]
    from: String,
    /// The publisher's minisign public key.
    #[arg(long)]
    public_key: PathBuf,
    /// Keep pulling every this many seconds (0.5 or more; fractions allowed), each wait
    /// varied by --jitter. An unchanged channel costs one conditional request a round.
    #[arg(long, value_name = "SECONDS")]
    watch: Option<f64>,
    /// A read of an object that receives nothing for this long is cut and resumed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    stall_timeout: f64,
    /// Give up a round after this long without any progress (retrying with backoff
    /// meanwhile); what was downloaded is kept for the next round.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    give_up_after: f64,
    /// Read at most this fast: bytes per second, with k, M or G (`200k`), so a pull does
    /// not starve the till's own traffic.
    #[arg(long, value_parser = parse_rate)]
    max_rate: Option<u64>,
    /// Fail at once when another writer (a `pull --watch`, an `apply`) holds the index,
    /// instead of waiting up to 10 minutes for it.
    #[arg(long)]
    no_wait: bool,
    /// Do not write a status report to the store after each round.
    #[arg(long)]
    no_status: bool,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    watching: WatchArgs,
}

/// `200k` → 200,000; `1.5M` → 1,500,000 (bytes per second).
fn parse_rate(text: &str) -> Result<u64, String> {
    let (number, scale) = match text.trim().char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1e3),
        Some((at, 'm' | 'M')) => (&text[..at], 1e6),
        Some((at, 'g' | 'G')) => (&text[..at], 1e9),
        _ => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok((n * scale).round() as u64),
        _ => Err(format!(
            "{text:?} is not a rate: bytes per second, like 200k or 1M"
        )),
    }
}

/// Pulls once, or every `--watch` seconds; each attempt prints one line. Exit status:
/// 0 when the (last) round succeeded, 1 when it failed (the index unchanged).
pub fn run(args: Args) -> CmdResult {
    let remote = args.remote.remote(&args.from)?;
    let seconds = |s: f64, what: &str| {
        if s > 0.0 && s.is_finite() {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(format!("--{what} must be a positive number of seconds"))
        }
    };
    let options = PullOptions {
        channel: args.remote.channel.clone(),
        transfer: TransferPolicy {
            stall_timeout: seconds(args.stall_timeout, "stall-timeout")?,
            give_up_after: seconds(args.give_up_after, "give-up-after")?,
            max_rate: args.max_rate,
            ..TransferPolicy::default()
        },
        lock_wait: if args.no_wait {
            Duration::ZERO
        } else {
            Duration::from_secs(600)
        },
        on_wait: Some(|dir| {
            eprintln!(
                "cisgate: another writer holds {} (a pull or apply); waiting for it (up to 10 minutes; --no-wait to fail instead)",
                dir.display()
            )
        }),
        report_status: !args.no_status,
        node: args.watching.node(),
        ..PullOptions::new(args.public_key.clone())
    };
    let channel = options.channel.clone();
    let report = |result: &Result<PullReport, DistributeError>| match result {
        Ok(r) => {
            let resumed = if r.bytes_resumed > 0 || r.interruptions > 0 {
                format!(
                    "; {} bytes resumed from earlier attempts, {} reads resumed",
                    r.bytes_resumed, r.interruptions
                )
            } else {
                String::new()
            };
            let line = match &r.outcome {
                PullOutcome::UpToDate => format!("up to date ({remote} {channel})"),
                PullOutcome::Updated { from, to } => format!(
                    "pulled version {to} (from {}) in {:.2}s: {} objects downloaded ({} bytes), {} already here{resumed}",
                    from.as_deref().unwrap_or("nothing"),
                    r.elapsed.as_secs_f64(),
                    r.objects_downloaded,
                    r.bytes_downloaded,
                    r.objects_reused
                ),
            };
            if let Some(e) = &r.status_error {
                eprintln!("cisgate: warning: the status report was not written: {e}");
            }
            Some(line)
        }
        Err(e) => {
            eprintln!("cisgate: pull failed, the index is unchanged: {e}");
            None
        }
    };
    let Some(every) = args.watch else {
        let result = pull(&args.index, &remote, &options);
        if let Some(line) = report(&result) {
            outln!("{line}");
        }
        return Ok(if result.is_ok() { 0 } else { 1 });
    };
    let watching = args.watching.options(every, &options.channel)?;
    let options = PullOptions {
        status_every: args.watching.status_every(),
        ..options
    };
    let mut puller = Puller::new(&args.index, &remote, options)?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut failure: Option<std::io::Error> = None;
    watch(&mut puller, &watching, &stop, |_, trigger, result| {
        // Unchanged rounds print nothing: a line a second would bury what matters.
        let changed = !matches!(result, Ok(r) if r.outcome == PullOutcome::UpToDate);
        if let Some(line) = report(result)
            && (changed || trigger == Trigger::Start)
        {
            let why = match trigger {
                Trigger::Notice(seq) => format!(" (notice of sequence {seq})"),
                _ => String::new(),
            };
            let mut out = std::io::stdout().lock();
            if let Err(e) = writeln!(out, "{line}{why}").and_then(|()| out.flush()) {
                failure = Some(e);
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    })?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}
