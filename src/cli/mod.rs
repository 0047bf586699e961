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

/// The Local Module's freshness rule and the sold list's retention, for the commands that
/// check or sell.
#[derive(clap::Args, Debug)]
pub struct Freshness {
    /// Refuse when the index data is older than this many hours (pharmacies: 240).
    #[arg(long, default_value_t = 72.0)]
    max_age_hours: f64,
    /// Never refuse for old data.
    #[arg(long)]
    ignore_freshness: bool,
    /// Days a sale stays on the sold list.
    #[arg(long, default_value_t = 30)]
    sold_retention_days: u32,
}

impl Freshness {
    /// The checkout's options.
    pub fn options(&self, verify_checksums: bool) -> cisgate::LiveOptions {
        cisgate::LiveOptions {
            max_age_ms: (!self.ignore_freshness)
                .then_some((self.max_age_hours * 3_600_000.0) as i64),
            sold_retention_ms: i64::from(self.sold_retention_days) * 86_400_000,
            verify_checksums,
        }
    }
}

/// Result type of a subcommand: the process exit code, or an error to print.
pub type CmdResult = Result<i32, Box<dyn std::error::Error>>;

/// Codes from the arguments, or else one per line from standard input, in batches of at
/// most `batch`. A batch ends as soon as no more input is waiting, so a process kept open
/// by cash software answers each scan at once, while a piped file still goes in large
/// batches. `f` should flush what it prints.
pub fn for_each_input_batch(
    codes: &[String],
    batch: usize,
    mut f: impl FnMut(&[String]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if !codes.is_empty() {
        return f(codes);
    }
    // A reader thread hands over the lines read so far whenever its buffer runs dry (the
    // next read may block), so the lines pile up while a batch is being checked.
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<String>>>(64);
    std::thread::spawn(move || read_stdin_lines(batch, &tx));
    let mut lines: Vec<String> = Vec::with_capacity(batch);
    while let Ok(first) = rx.recv() {
        lines.extend(first?);
        while lines.len() < batch {
            match rx.try_recv() {
                Ok(more) => lines.extend(more?),
                Err(_) => break,
            }
        }
        for chunk in lines.chunks(batch) {
            f(chunk)?;
        }
        lines.clear();
    }
    Ok(())
}

/// Reads standard input line by line (a UTF-8 BOM at its start dropped) and sends the
/// lines whenever no more input is buffered, or `batch` lines are ready.
fn read_stdin_lines(batch: usize, tx: &std::sync::mpsc::SyncSender<std::io::Result<Vec<String>>>) {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let mut buf = Vec::new();
    let mut pending = Vec::new();
    let mut first = true;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = if std::mem::take(&mut first) {
            buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
        } else {
            &buf[..]
        };
        pending.push(String::from_utf8_lossy(line).into_owned());
        if (reader.buffer().is_empty() || pending.len() >= batch)
            && tx.send(Ok(std::mem::take(&mut pending))).is_err()
        {
            return;
        }
    }
    if !pending.is_empty() {
        let _ = tx.send(Ok(pending));
    }
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
