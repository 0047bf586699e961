//! `cisgate apply`: apply delta lists as a new layer and generation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cisgate::index::{self, ApplyOptions};

use super::CmdResult;
use super::progress::TerminalProgress;

/// Applies the deltas in order and prints what changed.
pub fn run(dir: &Path, deltas: &[PathBuf], options: &ApplyOptions) -> CmdResult {
    let started = Instant::now();
    let r = index::apply(dir, deltas, options, &TerminalProgress::new())?;
    let m = &r.manifest;
    println!(
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
    println!("  content digest {}", m.content_digest);
    Ok(0)
}
