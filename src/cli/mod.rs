//! The `cisgate` command line: one file per subcommand, each a thin shell over the library.

/// `println!` that returns the error instead of panicking: a closed pipe (`cisgate info |
/// head -1`) then ends the command quietly ([`is_broken_pipe`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod apply;
pub mod build;
pub mod check;
pub mod compact;
pub mod demo;
pub mod docs;
#[cfg(any(windows, test))]
pub mod envfile;
pub mod fleet;
pub mod generate;
pub mod info;
pub mod ingest;
pub mod keygen;
pub mod lists;
#[cfg(any(windows, test))]
pub mod logfile;
pub mod parse;
pub mod progress;
pub mod publish;
pub mod pull;
pub mod remote;
pub mod sell;
pub mod serve;
#[cfg(windows)]
pub mod service;
pub mod verify;

use std::io::Write;
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
    /// The checkout's options, with the node's own journal as its sold list.
    pub fn options(&self, verify_checksums: bool) -> cisgate::LiveOptions {
        cisgate::LiveOptions {
            max_age_ms: (!self.ignore_freshness)
                .then_some((self.max_age_hours * 3_600_000.0) as i64),
            sold_retention_ms: i64::from(self.sold_retention_days) * 86_400_000,
            verify_checksums,
            sold_authority: None,
        }
    }
}

/// The store's sold list shared with this node (an embedded till or kiosk), for the
/// commands that check or sell on the node's own index copy.
#[derive(clap::Args, Debug)]
pub struct SoldShare {
    /// The store's `cisgate serve` as this node's sold authority (http://host:port): sales
    /// and returns go there first, and checks first read every till's sales from it. The
    /// node's token is read from CISGATE_SOLD_TOKEN or --sold-token-file, never from the
    /// command line (where `ps` shows it).
    #[arg(long, value_name = "URL", env = "CISGATE_SOLD_AUTHORITY")]
    sold_authority: Option<String>,
    /// A file holding this node's token at the sold authority (serve.json `nodes`).
    #[arg(long, value_name = "PATH", env = "CISGATE_SOLD_TOKEN_FILE")]
    sold_token_file: Option<std::path::PathBuf>,
}

impl SoldShare {
    /// The sold authority, when one is given (an empty value counts as none); an error
    /// when it is given without a token.
    pub fn authority(&self) -> Result<Option<cisgate::sold::SoldAuthority>, String> {
        let Some(url) = self.sold_authority.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let token = match &self.sold_token_file {
            Some(path) if !path.as_os_str().is_empty() => std::fs::read_to_string(path)
                .map_err(|e| format!("--sold-token-file {}: {e}", path.display()))?
                .trim()
                .to_string(),
            _ => std::env::var("CISGATE_SOLD_TOKEN").unwrap_or_default(),
        };
        if token.is_empty() {
            return Err(format!(
                "--sold-authority {url} needs this node's token: set CISGATE_SOLD_TOKEN or give --sold-token-file"
            ));
        }
        Ok(Some(cisgate::sold::SoldAuthority::new(url, &token)))
    }

    /// `live` with this node's sold authority, when one is given.
    pub fn apply(&self, mut live: cisgate::LiveOptions) -> Result<cisgate::LiveOptions, String> {
        live.sold_authority = self.authority()?;
        Ok(live)
    }
}

/// With a sold authority, brings the node's replica up to the store before it checks or
/// sells (the queue of offline sales forwarded, the store's feed read). The store
/// unreachable is a warning, not a failure: the node answers from its own journal, as the
/// Local Module does offline.
pub fn sync_sold_list(live: &cisgate::LiveIndex) {
    if live.has_sold_authority()
        && let Err(e) = cisgate::sold::sync_now(live)
    {
        eprintln!(
            "warning: the store's sold list is unreachable ({e}); answering from this node's journal"
        );
    }
}

/// Result type of a subcommand: the process exit code, or an error to print.
pub type CmdResult = Result<i32, Box<dyn std::error::Error>>;

/// The exit status of a command that failed, by the type of its error (the table is in
/// docs/ARCHITECTURE.md): 130 when the user interrupted it, 2 for every other error (the
/// message names the file, line or code). Statuses a command returns itself: 1 a failed
/// `pull` (the index unchanged), 3 a `build` published with rejects, 4 `check` answers
/// refused for stale data.
pub fn exit_code(e: &(dyn std::error::Error + 'static)) -> u8 {
    match e.downcast_ref::<cisgate::index::IndexError>() {
        Some(cisgate::index::IndexError::Interrupted) => 130,
        _ => 2,
    }
}

/// Whether `e` (or what it wraps) is a write to a closed pipe: the reader (`head`, a
/// pager) has what it wanted, so the command ends quietly with status 0.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
            if let Some(inner) = io.get_ref()
                && is_broken_pipe(inner)
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// Codes from the arguments, or else one per line from standard input, in batches of at
/// most `batch`. A batch ends as soon as no more input is waiting, so a process kept open
/// by cash software answers each scan at once, while a piped file still goes in large
/// batches. `f` should flush what it prints.
pub fn for_each_input_batch(
    codes: &[String],
    batch: usize,
    mut f: impl FnMut(&[String]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for_each_input_lines(codes, batch, |lines| {
        let owned: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        f(&owned)
    })
}

/// Calls `f` with the codes to work on, as bytes, at most `batch` at a time: the
/// arguments if any, else the lines of stdin. Lines are read in blocks (no allocation per
/// line) and handed over as soon as no more input is waiting, so a program that writes one
/// code and waits gets its answer at once.
pub fn for_each_input_lines(
    codes: &[String],
    batch: usize,
    mut f: impl FnMut(&[&[u8]]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if !codes.is_empty() {
        let lines: Vec<&[u8]> = codes.iter().map(|c| c.as_bytes()).collect();
        for chunk in lines.chunks(batch.max(1)) {
            f(chunk)?;
        }
        return Ok(());
    }
    // A reader thread hands over the complete lines of every read, so lines pile up while
    // a batch is being checked and are answered together.
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<LineBlock>>(64);
    std::thread::spawn(move || read_stdin_blocks(&tx));
    while let Ok(first) = rx.recv() {
        let mut blocks = vec![first?];
        let mut held = blocks[0].lines.len();
        while held < batch {
            match rx.try_recv() {
                Ok(more) => {
                    let more = more?;
                    held += more.lines.len();
                    blocks.push(more);
                }
                Err(_) => break,
            }
        }
        let lines: Vec<&[u8]> = blocks.iter().flat_map(LineBlock::lines).collect();
        for chunk in lines.chunks(batch.max(1)) {
            f(chunk)?;
        }
    }
    Ok(())
}

/// Complete lines read from stdin: their bytes and where each lies (line ends, `\r\n`
/// and a leading UTF-8 BOM removed).
struct LineBlock {
    bytes: Vec<u8>,
    lines: Vec<(usize, usize)>,
}

impl LineBlock {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.lines
            .iter()
            .map(|&(start, end)| &self.bytes[start..end])
    }
}

/// Reads stdin in large blocks and sends the complete lines of each read.
fn read_stdin_blocks(tx: &std::sync::mpsc::SyncSender<std::io::Result<LineBlock>>) {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut carry: Vec<u8> = Vec::new();
    let mut first = true;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut bytes = std::mem::take(&mut carry);
        bytes.extend_from_slice(&buf[..n]);
        let Some(last) = bytes.iter().rposition(|&b| b == b'\n') else {
            carry = bytes;
            continue;
        };
        carry = bytes[last + 1..].to_vec();
        bytes.truncate(last + 1);
        let block = split_lines(bytes, &mut first);
        if tx.send(Ok(block)).is_err() {
            return;
        }
    }
    if !carry.is_empty() {
        let _ = tx.send(Ok(split_lines(carry, &mut first)));
    }
}

/// The lines of `bytes` (the last one may lack its `\n`).
fn split_lines(bytes: Vec<u8>, first: &mut bool) -> LineBlock {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        let mut line = (start, end);
        while line.1 > line.0 && matches!(bytes[line.1 - 1], b'\r' | b'\n') {
            line.1 -= 1;
        }
        if std::mem::take(first) && bytes[line.0..line.1].starts_with(b"\xEF\xBB\xBF") {
            line.0 += 3;
        }
        lines.push(line);
        start = end + 1;
    }
    LineBlock { bytes, lines }
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
