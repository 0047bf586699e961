//! `cisgate check`: check codes against an index.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use cisgate::CheckOptions;
use cisgate::live::{LiveError, LiveIndex, LiveOptions};
use cisgate::online::{AnsweredBy, OnlineChecker, OnlineConfig};

use cisgate::answer::{self, AnswerCounts, LineFormat};

use super::{
    CmdResult, Freshness, SoldShare, for_each_input_batch, for_each_input_lines, sync_sold_list,
    write_json_line,
};

/// How `check` prints its answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// One JSON verdict per line.
    Json,
    /// One `status<TAB>reasons<TAB>КИ` line per code (reasons by name, comma-separated).
    Tsv,
}

/// Check codes (arguments, else one per line on stdin) and print verdicts as JSON.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    /// Sale price, compared with minimum and max retail prices: rubles with kopecks
    /// (`100.50`) or whole kopecks (`10050`).
    #[arg(long, value_parser = parse_price)]
    price: Option<u64>,
    /// Skip hashing the index on open: structure, lengths, the FSTs' own checksums and a
    /// sample of keys through each filter are still checked, a flipped bit elsewhere is not
    /// (run `cisgate verify` after copying an index by hand).
    #[arg(long)]
    no_verify: bool,
    /// Print counts and rate to stderr at the end.
    #[arg(long)]
    summary: bool,
    /// How to print answers: `json` lines (the full verdict) or `tsv`
    /// (`status<TAB>reasons<TAB>КИ`, the fastest). Offline checks only.
    #[arg(long, value_enum, default_value = "json")]
    output: Output,
    /// Ask True API first with this JSON configuration; the index answers when online
    /// does not within the budget.
    #[arg(long, value_name = "CONFIG")]
    online: Option<PathBuf>,
    #[command(flatten)]
    freshness: Freshness,
    #[command(flatten)]
    sold: SoldShare,
    /// Codes to check.
    codes: Vec<String>,
}

/// A price in kopecks from `100.50` / `100,50` (rubles) or `10050` (kopecks).
fn parse_price(text: &str) -> Result<u64, String> {
    let wrong = || {
        format!(
            "{text:?} is not a price: give rubles with kopecks (100.50) or whole kopecks (10050)"
        )
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once(['.', ',']) {
        None if digits(text) => text.parse().map_err(|_| wrong()),
        Some((rubles, kopecks)) if digits(rubles) && digits(kopecks) && kopecks.len() <= 2 => {
            let rubles: u64 = rubles.parse().map_err(|_| wrong())?;
            let kopecks: u64 = format!("{kopecks:0<2}").parse().map_err(|_| wrong())?;
            rubles
                .checked_mul(100)
                .and_then(|k| k.checked_add(kopecks))
                .ok_or_else(wrong)
        }
        _ => Err(wrong()),
    }
}

/// Checks offline, or online first with `--online`.
pub fn run(args: Args) -> CmdResult {
    let options = CheckOptions {
        price_kopecks: args.price,
    };
    let live = args.sold.apply(args.freshness.options(!args.no_verify))?;
    match &args.online {
        Some(config) => run_online(
            &args.index,
            config,
            &args.codes,
            options,
            live,
            args.summary,
        ),
        None => run_offline(
            &args.index,
            &args.codes,
            options,
            live,
            args.summary,
            args.output,
        ),
    }
}

/// Prints one answer line per code (`cisgate::answer`); with `summary`, counts and rate go
/// to stderr.
fn run_offline(
    dir: &Path,
    codes: &[String],
    options: CheckOptions,
    live: LiveOptions,
    summary: bool,
    output: Output,
) -> CmdResult {
    let index = LiveIndex::open(dir, live)?;
    sync_sold_list(&index);
    let format = match output {
        Output::Json => LineFormat::Json,
        Output::Tsv => LineFormat::Tsv,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut counts = AnswerCounts::default();
    let started = Instant::now();
    let mut warned = false;
    let mut buf = Vec::new();
    for_each_input_lines(codes, 16_384, |batch| {
        buf.clear();
        match index.with_view(|view| answer::write_lines(view, batch, &options, format, &mut buf)) {
            Ok(written) => counts.add(written),
            // Old data: every code still gets its line, refused, and the reason once.
            Err(
                stale @ LiveError::Stale {
                    age_hours,
                    max_age_hours,
                    ..
                },
            ) => {
                if !std::mem::replace(&mut warned, true) {
                    eprintln!("cisgate: {stale}");
                }
                let generation = index.generation();
                counts.add(answer::write_refused_lines(
                    generation.index(),
                    batch,
                    age_hours,
                    max_age_hours,
                    format,
                    &mut buf,
                ));
            }
            Err(e) => return Err(std::io::Error::other(e)),
        }
        out.write_all(&buf)?;
        out.flush()
    })?;
    out.flush()?;
    if summary {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{} codes: {} allowed, {} blocked, {} invalid, {} refused in {secs:.3}s ({:.0} codes/s)",
            counts.total(),
            counts.allowed,
            counts.blocked,
            counts.invalid,
            counts.refused,
            counts.total() as f64 / secs.max(1e-9)
        );
    }
    // Refusals are answers, but a script must notice that the data is too old.
    Ok(if counts.refused > 0 { 4 } else { 0 })
}

/// Like [`run_offline`], online first: prints one [`cisgate::online::OnlineVerdict`] per code.
fn run_online(
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
    sync_sold_list(&offline);
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
