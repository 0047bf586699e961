//! The `cisgate` binary: parses arguments and calls the library.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cisgate::CheckOptions;
use cisgate::index::BuildOptions;
use cisgate::synth::{GenConfig, ScanConfig};

/// Offline checks of Russian marking codes (Честный ЗНАК) against compiled FST indexes.
#[derive(Parser)]
#[command(name = "cisgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Normalise codes (arguments, else one per line on stdin) and print them as JSON.
    Parse {
        /// Codes to parse.
        codes: Vec<String>,
    },
    /// Compile snapshot list files into an index directory and publish it.
    Build {
        /// Index directory (created if missing; an existing index gets a new generation).
        #[arg(long)]
        out: PathBuf,
        /// Fail on any malformed line instead of writing rejects to a side file.
        #[arg(long)]
        strict: bool,
        /// Database version (default: the version all lists share).
        #[arg(long)]
        version: Option<String>,
        /// Where to write rejected lines (default: OUT/rejects.tsv).
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// List files (plain or zstd).
        #[arg(required = true)]
        lists: Vec<PathBuf>,
    },
    /// Check codes (arguments, else one per line on stdin) and print verdicts as JSON.
    Check {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        /// Sale price in kopecks, compared with minimum and max retail prices.
        #[arg(long)]
        price: Option<u64>,
        /// Skip hashing the index on open (structure and lengths are still checked).
        #[arg(long)]
        no_verify: bool,
        /// Print counts and rate to stderr at the end.
        #[arg(long)]
        summary: bool,
        /// Codes to check.
        codes: Vec<String>,
    },
    /// Describe an index.
    Info {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
    },
    /// Check every byte of an index; exits non-zero naming the damaged file.
    Verify {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
    },
    /// Write realistic synthetic lists (and optionally a scan stream).
    Gen {
        /// Directory for the list files.
        #[arg(long)]
        out: PathBuf,
        /// Banned КИ to generate.
        #[arg(long, default_value_t = 100_000)]
        codes: u64,
        /// Distinct GTINs.
        #[arg(long, default_value_t = 5_000)]
        gtins: u32,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Compress lists with zstd.
        #[arg(long)]
        zstd: bool,
        /// Version to write in the headers.
        #[arg(long, default_value = "synthetic-1")]
        version: String,
        /// as_of to write (RFC 3339 or Unix ms; default: now).
        #[arg(long)]
        as_of: Option<String>,
        /// Also write a scan stream to this file (expected decisions to FILE.expected).
        #[arg(long)]
        scans: Option<PathBuf>,
        /// Number of scans.
        #[arg(long, default_value_t = 10_000)]
        scan_count: u64,
        /// Share of scans that hit banned codes.
        #[arg(long, default_value_t = 0.01)]
        banned_share: f64,
        /// Share of scans with scanner noise.
        #[arg(long, default_value_t = 0.2)]
        noise_share: f64,
    },
    /// Build the bundled sample index and check the hand-made codes against it.
    Demo {
        /// The data directory (holding sample/ and codes/).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Where to build the demo index.
        #[arg(long, default_value = "target/demo-index")]
        out: PathBuf,
    },
}

fn run(cli: Cli) -> cli::CmdResult {
    match cli.command {
        Command::Parse { codes } => cli::parse::run(&codes),
        Command::Build {
            out,
            strict,
            version,
            rejects,
            lists,
        } => cli::build::run(
            out,
            lists,
            BuildOptions {
                strict,
                version,
                rejects_path: rejects,
            },
        ),
        Command::Check {
            index,
            price,
            no_verify,
            summary,
            codes,
        } => cli::check::run(
            &index,
            &codes,
            CheckOptions {
                price_kopecks: price,
            },
            !no_verify,
            summary,
        ),
        Command::Info { index } => cli::info::run(&index),
        Command::Verify { index } => cli::verify::run(&index),
        Command::Gen {
            out,
            codes,
            gtins,
            seed,
            zstd,
            version,
            as_of,
            scans,
            scan_count,
            banned_share,
            noise_share,
        } => {
            let as_of_ms = match as_of {
                None => cisgate::time::now_ms(),
                Some(t) => cisgate::time::parse_timestamp(&t)
                    .ok_or_else(|| format!("--as-of {t:?} is neither RFC 3339 nor Unix ms"))?,
            };
            let config = GenConfig {
                seed,
                codes,
                gtins,
                zstd,
                version,
                as_of_ms,
            };
            let scans = scans.map(|p| {
                (
                    p,
                    ScanConfig {
                        count: scan_count,
                        banned_share,
                        noise_share,
                    },
                )
            });
            cli::generate::run(&out, &config, scans)
        }
        Command::Demo { data, out } => cli::demo::run(&data, &out),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("cisgate: error: {e}");
            ExitCode::from(2)
        }
    }
}
