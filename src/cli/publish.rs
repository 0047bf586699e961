//! `cisgate publish`: upload the current generation and point a channel at it.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::distribute::{PublishOptions, publish};

use super::CmdResult;
use super::remote::RemoteArgs;

/// Publish the index's current generation to an S3-compatible store, signed.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Where to publish: s3://bucket/prefix.
    #[arg(long)]
    to: String,
    /// The minisign secret key (from `cisgate keygen`).
    #[arg(long)]
    secret_key: PathBuf,
    /// Hours nodes accept the pointer; a feed not renewed by then freezes nodes.
    /// Fractions are fine (`0.5` is 30 minutes); 0 or less is refused, under a day warns.
    #[arg(long, default_value_t = 168.0)]
    valid_hours: f64,
    /// Publish even when the data is older than what the channel points at.
    #[arg(long)]
    allow_older: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Publishes and prints what moved.
pub fn run(args: Args) -> CmdResult {
    let started = Instant::now();
    if !(args.valid_hours > 0.0 && args.valid_hours.is_finite()) {
        return Err(format!(
            "--valid-hours {}: a pointer must stay valid for some time (nodes refuse an expired one, and the whole fleet would freeze); give hours, fractions allowed (168 is a week)",
            args.valid_hours
        )
        .into());
    }
    if args.valid_hours < 24.0 {
        eprintln!(
            "cisgate: warning: --valid-hours {}: nodes refuse the pointer after that unless it is renewed by a publish; a day or more leaves room for a late one",
            args.valid_hours
        );
    }
    let remote = args.remote.remote(&args.to)?;
    let options = PublishOptions {
        channel: args.remote.channel.clone(),
        valid_for_ms: (args.valid_hours * 3_600_000.0) as i64,
        allow_older: args.allow_older,
        ..PublishOptions::new(args.secret_key)
    };
    let r = publish(&args.index, &remote, &options)?;
    outln!(
        "published version {} to {remote} channel {} sequence {} in {:.2}s: {} objects uploaded ({} bytes), {} already there{}; valid until {}",
        r.pointer.version,
        r.pointer.channel,
        r.pointer.sequence,
        started.elapsed().as_secs_f64(),
        r.objects_uploaded,
        r.bytes_uploaded,
        r.objects_present,
        if r.generation_uploaded {
            ""
        } else {
            " (same generation as before: pointer renewed)"
        },
        cisgate::time::format_rfc3339(r.pointer.expires_ms)
    );
    Ok(0)
}
