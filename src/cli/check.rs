//! `cisgate check`: check codes against an index.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use std::sync::Arc;

use cisgate::CheckOptions;
use cisgate::check::Status;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::online::{AnsweredBy, OnlineChecker, OnlineConfig};

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

/// Like [`run`], online first: prints one [`cisgate::online::OnlineVerdict`] per code.
pub fn run_online(
    dir: &Path,
    config: &Path,
    codes: &[String],
    options: CheckOptions,
    live: LiveOptions,
    summary: bool,
) -> CmdResult {
    let config = OnlineConfig::from_file(config)?;
    let batch = config.batch_size;
    let offline = Arc::new(LiveIndex::open(dir, live)?);
    let checker = OnlineChecker::builder(config, offline).build()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut online, mut offline, mut denied, mut total) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for_each_input_batch(codes, batch, |lines| {
        // The budget counts from the scan: for arguments, the start of the process; for
        // lines read from stdin, when they were read.
        let scanned = if codes.is_empty() {
            Instant::now()
        } else {
            super::process_start()
        };
        // Arguments arrive as one slice; each request still holds at most `batch` codes.
        for chunk in lines.chunks(batch) {
            for verdict in checker.check_batch_since(chunk, &options, scanned) {
                total += 1;
                match verdict.answered_by {
                    AnsweredBy::Online => online += 1,
                    AnsweredBy::Offline => offline += 1,
                }
                denied += u64::from(verdict.is_denied());
                write_json_line(&mut out, &verdict)?;
            }
            out.flush()?;
        }
        Ok(())
    })?;
    if summary {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{total} codes: {online} answered online, {offline} offline, {denied} denied in {secs:.3}s"
        );
    }
    Ok(0)
}
