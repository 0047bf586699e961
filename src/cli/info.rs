//! `cisgate info`: describe an index.

use std::path::PathBuf;

use serde_json::json;

use super::CmdResult;

/// Describe an index (JSON): version, data age, counts, files.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// The freshness limit to report against, in hours (as `check` and `serve` take it).
    #[arg(long, default_value_t = 72.0)]
    max_age_hours: f64,
}

/// Prints the current generation's manifest summary as JSON.
pub fn run(args: Args) -> CmdResult {
    let dir = &args.index;
    let index = cisgate::index::OpenOptions::new()
        .verify_checksums(false)
        .open(dir)?;
    let m = index.manifest();
    let age_ms = cisgate::time::now_ms() - m.as_of_ms;
    let limit_ms = (args.max_age_hours * 3_600_000.0) as i64;
    let bytes: u64 = m.files().map(|f| f.len).sum();
    let entries: u64 = m.counts.values().sum();
    let info = json!({
        "dir": dir.display().to_string(),
        "generation": m.generation,
        "version": m.version,
        "as_of": cisgate::time::format_rfc3339(m.as_of_ms),
        "age_hours": (age_ms as f64 / 360_000.0).round() / 10.0,
        "max_age_hours": args.max_age_hours,
        "stale_at": cisgate::time::format_rfc3339(m.as_of_ms.saturating_add(limit_ms)),
        "stale": age_ms > limit_ms,
        "created": cisgate::time::format_rfc3339(m.created_ms),
        "instance_id": m.instance_id,
        "counts": m.counts,
        "grey_gtins": m.grey_gtins,
        "segments": m.segments.len(),
        "files": m.files().map(|f| json!({"name": f.name, "len": f.len, "entries": f.entries, "xxh3": f.xxh3})).collect::<Vec<_>>(),
        "bytes": bytes,
        "bytes_per_entry": if entries > 0 { bytes as f64 / entries as f64 } else { 0.0 },
        "content_digest": m.content_digest,
        "lists": m.lists,
    });
    outln!("{}", serde_json::to_string_pretty(&info)?);
    Ok(0)
}
