//! `cisgate apply`: apply delta lists as a new layer and generation.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::index::{self, ApplyOptions};

use super::CmdResult;
use super::lists::{ListInput, expand};
use super::progress::TerminalProgress;

/// Apply delta lists in order as one new layer and generation (all or nothing).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Compact automatically past this many layers (0: never).
    #[arg(long, default_value_t = 8)]
    compact_after_layers: usize,
    /// Compact automatically once layers exceed this fraction of the base's bytes (0: never).
    #[arg(long, default_value_t = 0.25)]
    compact_after_size_ratio: f64,
    /// Header-less deltas: the version they produce.
    #[arg(long)]
    version: Option<String>,
    /// Header-less deltas: the version they apply to.
    #[arg(long)]
    parent: Option<String>,
    #[command(flatten)]
    input: ListInput,
    /// Delta list files (plain, zstd or gzip), in order.
    #[arg(required = true)]
    deltas: Vec<PathBuf>,
}

/// Applies the deltas in order and prints what changed.
pub fn run(args: Args) -> CmdResult {
    let started = Instant::now();
    if args.input.header(None, None)?.is_some() && args.parent.is_none() {
        return Err("header-less deltas need --parent (and --version)".into());
    }
    let options = ApplyOptions {
        compact_after_layers: args.compact_after_layers,
        compact_after_size_ratio: args.compact_after_size_ratio,
        entries: args.input.entries()?,
        header: args
            .input
            .header(args.version.as_deref(), args.parent.as_deref())?,
    };
    let deltas = expand(&args.deltas)?;
    let r = index::apply(&args.index, &deltas, &options, &TerminalProgress::new())?;
    let m = &r.manifest;
    outln!(
        "applied {} delta(s) in {:.3}s: {} added or changed, {} removed, {} unchanged; now generation {} version {} with {} layer(s){}",
        r.deltas,
        started.elapsed().as_secs_f64(),
        r.upserted,
        r.removed,
        r.unchanged,
        m.generation,
        m.version,
        m.segments.len() - 1,
        if r.compacted { " (compacted)" } else { "" }
    );
    outln!("  content digest {}", m.content_digest);
    Ok(0)
}
