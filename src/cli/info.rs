//! `cisgate info`: describe an index.

use std::path::Path;

use serde_json::json;

use super::CmdResult;

/// Prints the current generation's manifest summary as JSON.
pub fn run(dir: &Path) -> CmdResult {
    let index = cisgate::index::OpenOptions::new()
        .verify_checksums(false)
        .open(dir)?;
    let m = index.manifest();
    let bytes: u64 = m.files().map(|f| f.len).sum();
    let entries: u64 = m.counts.values().sum();
    let info = json!({
        "dir": dir.display().to_string(),
        "generation": m.generation,
        "version": m.version,
        "as_of": cisgate::time::format_rfc3339(m.as_of_ms),
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
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(0)
}
