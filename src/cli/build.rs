//! `cisgate build`: compile snapshot lists into an index.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::index::{self, BuildOptions};

use super::CmdResult;
use super::progress::TerminalProgress;

/// Builds, publishes, and prints a summary.
pub fn run(out: PathBuf, lists: Vec<PathBuf>, options: BuildOptions) -> CmdResult {
    let started = Instant::now();
    let report = index::build(&out, &lists, &options, &TerminalProgress::new())?;
    let m = &report.manifest;
    let bytes: u64 = m.files().map(|f| f.len).sum();
    let codes = m.counts.values().sum::<u64>().max(1);
    println!(
        "built {} generation {} version {} as_of {} in {:.2}s",
        out.display(),
        m.generation,
        m.version,
        cisgate::time::format_rfc3339(m.as_of_ms),
        started.elapsed().as_secs_f64()
    );
    for (kind, count) in &m.counts {
        println!("  {kind:<15} {count:>12}");
    }
    println!(
        "  {bytes} bytes in {} files, {:.2} bytes per entry",
        m.files().count(),
        bytes as f64 / codes as f64
    );
    println!("  content digest {}", m.content_digest);
    if report.duplicates > 0 {
        println!("  {} duplicate entries kept once", report.duplicates);
    }
    if report.price_conflicts > 0 {
        println!(
            "  {} GTINs with conflicting minimum prices (highest kept)",
            report.price_conflicts
        );
    }
    if let Some(path) = &report.rejects_path {
        println!(
            "  {} malformed lines rejected, written to {}",
            report.rejected,
            path.display()
        );
    }
    Ok(0)
}
