//! `cisgate verify`: check every byte of an index.

use std::path::Path;

use super::CmdResult;

/// Prints what was checked; a damaged index is an error naming the file.
pub fn run(dir: &Path) -> CmdResult {
    let report = cisgate::index::verify(dir)?;
    println!(
        "ok: {} files, {} bytes, {} entries verified in {}",
        report.files,
        report.bytes,
        report.entries,
        dir.display()
    );
    Ok(0)
}
