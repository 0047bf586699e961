//! `cisgate pull`: bring a node's index to what a channel points at.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cisgate::distribute::{PullOptions, PullOutcome, pull};

use super::CmdResult;
use super::remote::RemoteArgs;

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
    /// Keep pulling every this many seconds.
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Pulls once, or every `--watch` seconds; each attempt prints one line.
pub fn run(args: Args) -> CmdResult {
    let remote = args.remote.remote(&args.from)?;
    let options = PullOptions {
        channel: args.remote.channel.clone(),
        ..PullOptions::new(args.public_key.clone())
    };
    loop {
        let started = Instant::now();
        let result = pull(&args.index, &remote, &options);
        let took = started.elapsed().as_secs_f64();
        match (&result, args.watch) {
            (Ok(r), _) => match &r.outcome {
                PullOutcome::UpToDate => println!("up to date ({remote} {})", options.channel),
                PullOutcome::Updated { from, to } => println!(
                    "pulled version {to} (from {}) in {took:.2}s: {} objects downloaded ({} bytes), {} already here",
                    from.as_deref().unwrap_or("nothing"),
                    r.objects_downloaded,
                    r.bytes_downloaded,
                    r.objects_reused
                ),
            },
            (Err(e), _) => eprintln!("cisgate: pull failed, the index is unchanged: {e}"),
        }
        match args.watch {
            None => return Ok(if result.is_ok() { 0 } else { 1 }),
            Some(seconds) => std::thread::sleep(Duration::from_secs(seconds.max(1))),
        }
    }
}
