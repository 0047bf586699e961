//! `cisgate compact`: fold layers and the sold journal into a new base.

use std::path::Path;
use std::time::Instant;

use cisgate::index::{self, CompactOptions};

use super::CmdResult;
use super::progress::TerminalProgress;

/// Compacts and prints what was folded.
pub fn run(dir: &Path, options: &CompactOptions) -> CmdResult {
    let started = Instant::now();
    let r = index::compact(dir, options, &TerminalProgress::new())?;
    println!(
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
