//! `cisgate compact`: fold layers and the sold journal into a new base.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::index::{self, CompactOptions};

use super::CmdResult;
use super::progress::TerminalProgress;

/// Fold delta layers and the sold journal into a new base.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Days a sale stays on the sold list (sales older than this are dropped).
    #[arg(long, visible_alias = "retention-days", default_value_t = 30)]
    sold_retention_days: u32,
}

/// Compacts and prints what was folded.
pub fn run(args: Args) -> CmdResult {
    let started = Instant::now();
    let options = CompactOptions {
        sold_retention_ms: i64::from(args.sold_retention_days) * 86_400_000,
        ..Default::default()
    };
    let r = index::compact(&args.index, &options, &TerminalProgress::new())?;
    outln!(
        "compacted {} layer(s) and {} journal entries in {:.3}s: generation {} version {}, {} sold",
        r.layers_folded,
        r.journal_entries,
        started.elapsed().as_secs_f64(),
        r.manifest.generation,
        r.manifest.version,
        r.manifest
            .counts
            .get(&index::Table::Sold)
            .copied()
            .unwrap_or(0)
    );
    Ok(0)
}
