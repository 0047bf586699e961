//! `cisgate verify`: check every byte of an index.

use std::path::PathBuf;

use super::CmdResult;

/// Check every byte of an index; exits non-zero naming the damaged file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
}

/// Prints what was checked; a damaged index is an error naming the file.
pub fn run(args: Args) -> CmdResult {
    let dir = &args.index;
    let progress = super::progress::TerminalProgress::new();
    let report = cisgate::index::verify_with(dir, &progress)?;
    drop(progress);
    outln!(
        "ok: {} files, {} bytes, {} entries verified in {}",
        report.files,
        report.bytes,
        report.entries,
        dir.display()
    );
    Ok(0)
}
