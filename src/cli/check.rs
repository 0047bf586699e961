//! `cisgate check`: check codes against an index.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cisgate::CheckOptions;
use cisgate::check::Status;
use cisgate::live::{LiveIndex, LiveOptions};

use super::{CmdResult, for_each_input_batch, write_json_line};

/// Prints one verdict per code as JSON; with `summary`, counts and rate go to stderr.
pub fn run(
    dir: &Path,
    codes: &[String],
    options: CheckOptions,
    live: LiveOptions,
    summary: bool,
) -> CmdResult {
    let index = LiveIndex::open(dir, live)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut allowed, mut blocked, mut invalid) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for_each_input_batch(codes, 16_384, |batch| {
        let verdicts = index
            .check_batch(batch, &options)
            .map_err(std::io::Error::other)?;
        for verdict in verdicts {
            match verdict.status {
                Status::Allowed => allowed += 1,
                Status::Blocked => blocked += 1,
                Status::Invalid => invalid += 1,
            }
            write_json_line(&mut out, &verdict)?;
        }
        Ok(())
    })?;
    out.flush()?;
    if summary {
        let total = allowed + blocked + invalid;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{total} codes: {allowed} allowed, {blocked} blocked, {invalid} invalid in {secs:.3}s ({:.0} codes/s)",
            total as f64 / secs.max(1e-9)
        );
    }
    Ok(0)
}
