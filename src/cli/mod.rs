//! The `cisgate` command line: one file per subcommand, each a thin shell over the library.

pub mod apply;
pub mod build;
pub mod check;
pub mod compact;
pub mod demo;
pub mod generate;
pub mod info;
pub mod keygen;
pub mod lists;
pub mod parse;
pub mod progress;
pub mod publish;
pub mod pull;
pub mod remote;
pub mod sell;
pub mod serve;
pub mod verify;

use std::io::{BufRead, Write};
use std::sync::OnceLock;
use std::time::Instant;

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Records when the process started (first thing in `main`).
pub fn mark_process_start() {
    PROCESS_START.get_or_init(Instant::now);
}

/// When the process started: the moment of the scan for codes given as arguments, from
/// which the online budget counts.
pub fn process_start() -> Instant {
    *PROCESS_START.get_or_init(Instant::now)
}

/// Result type of a subcommand: the process exit code, or an error to print.
pub type CmdResult = Result<i32, Box<dyn std::error::Error>>;

/// Codes from the arguments, or else one per line from standard input, in batches.
pub fn for_each_input_batch(
    codes: &[String],
    batch: usize,
    mut f: impl FnMut(&[String]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if !codes.is_empty() {
        return f(codes);
    }
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut buf = Vec::new();
    let mut lines = Vec::with_capacity(batch);
    loop {
        buf.clear();
        if lock.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        lines.push(String::from_utf8_lossy(&buf).into_owned());
        if lines.len() == batch {
            f(&lines)?;
            lines.clear();
        }
    }
    if !lines.is_empty() {
        f(&lines)?;
    }
    Ok(())
}

/// The process's peak resident memory (Linux), for build summaries.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes one JSON value per line.
pub fn write_json_line<T: serde::Serialize>(
    out: &mut impl Write,
    value: &T,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
