//! `cisgate build`: compile snapshot lists into an index.

use std::path::PathBuf;
use std::time::Instant;

use cisgate::index::{self, BuildOptions};

use super::CmdResult;
use super::lists::{ListInput, expand};
use super::progress::TerminalProgress;

/// Exit code of a build that published but rejected some lines.
pub const EXIT_PUBLISHED_WITH_REJECTS: i32 = 3;

/// Compile snapshot list files into an index directory and publish it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory (created if missing; an existing index gets a new generation).
    #[arg(long)]
    out: PathBuf,
    /// Fail on any malformed line instead of writing rejects to a side file.
    #[arg(long)]
    strict: bool,
    /// Database version (default: the version all lists share; for header-less lists, the
    /// lists' version too).
    #[arg(long)]
    version: Option<String>,
    /// Where to write rejected lines (default: OUT/rejects.tsv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Fail (publishing nothing) when more than this percentage of a list's lines is
    /// rejected.
    #[arg(long, default_value_t = 1.0, value_name = "PERCENT")]
    max_rejects: f64,
    /// Publish even when the lists are older than the index's current data.
    #[arg(long)]
    allow_older: bool,
    #[command(flatten)]
    input: ListInput,
    /// List files (plain, zstd or gzip) or directories of them.
    #[arg(required = true)]
    lists: Vec<PathBuf>,
}

/// Builds, publishes, and prints a summary.
pub fn run(args: Args) -> CmdResult {
    let started = Instant::now();
    let options = BuildOptions {
        strict: args.strict,
        version: args.version.clone(),
        rejects_path: args.rejects.clone(),
        max_reject_share: args.max_rejects / 100.0,
        allow_older: args.allow_older,
        read: args.input.read(),
        entries: args.input.entries()?,
        header: args.input.header(args.version.as_deref(), None)?,
        ..Default::default()
    };
    let lists = expand(&args.lists)?;
    let out = args.out;
    super::progress::stop_on_interrupt();
    let progress = TerminalProgress::new();
    let report = match index::build(&out, &lists, &options, &progress) {
        Ok(report) => report,
        Err(index::IndexError::Interrupted) => {
            drop(progress);
            eprintln!("cisgate: interrupted, nothing published");
            return Ok(130);
        }
        Err(e) => return Err(e.into()),
    };
    drop(progress);
    let m = &report.manifest;
    let bytes: u64 = m.files().map(|f| f.len).sum();
    let entries = m.counts.values().sum::<u64>();
    outln!(
        "built {} generation {} version {} as_of {} in {:.2}s",
        out.display(),
        m.generation,
        m.version,
        cisgate::time::format_rfc3339(m.as_of_ms),
        started.elapsed().as_secs_f64()
    );
    for (kind, count) in &m.counts {
        outln!("  {kind:<15} {count:>12}");
    }
    if entries > 0 {
        outln!(
            "  {bytes} bytes in {} files, {:.2} bytes per entry",
            m.files().count(),
            bytes as f64 / entries as f64
        );
    } else {
        outln!("  {bytes} bytes in {} files, no entries", m.files().count());
    }
    outln!("  content digest {}", m.content_digest);
    let age_ms = cisgate::time::now_ms() - m.as_of_ms;
    if age_ms > cisgate::live::DEFAULT_MAX_AGE_MS {
        eprintln!(
            "cisgate: WARNING: the data is as of {}, {:.1} h old: checks and sales will be refused past {} h (check/serve --max-age-hours, --ignore-freshness)",
            cisgate::time::format_rfc3339(m.as_of_ms),
            age_ms as f64 / 3_600_000.0,
            cisgate::live::DEFAULT_MAX_AGE_MS / 3_600_000
        );
    }
    if report.normalised > 0 {
        outln!(
            "  {} full marking codes listed by their КИ",
            report.normalised
        );
    }
    if report.duplicates > 0 {
        outln!("  {} duplicate entries kept once", report.duplicates);
    }
    if report.price_conflicts > 0 {
        outln!(
            "  {} GTINs with conflicting minimum prices (highest kept)",
            report.price_conflicts
        );
    }
    if let Some(peak) = super::peak_rss_bytes() {
        outln!(
            "  memory: {} MiB of entries, peak resident {} MiB",
            report.entry_bytes >> 20,
            peak >> 20
        );
    }
    if let Some(path) = &report.rejects_path {
        eprintln!(
            "cisgate: WARNING: {} malformed line(s) rejected and NOT in the index (see {}); the codes on them are not banned by it",
            report.rejected,
            path.display()
        );
        return Ok(EXIT_PUBLISHED_WITH_REJECTS);
    }
    Ok(0)
}
