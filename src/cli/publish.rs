//! `cisgate publish`: upload the current generation and point a channel at it.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::distribute::publish;

use super::CmdResult;
use super::remote::{RemoteArgs, SigningArgs};

/// Publish the index's current generation to an S3-compatible store, signed.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Where to publish: s3://bucket/prefix.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Publishes and prints what moved.
pub fn run(args: Args) -> CmdResult {
    let started = Instant::now();
    let remote = args.remote.remote(&args.to)?;
    let options = args.signing.options(&args.remote.channel)?;
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
