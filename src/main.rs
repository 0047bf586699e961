//! The `cisgate` binary: parses arguments and calls the library.

mod cli;

// The service and batch checks allocate a few small strings per code from many threads;
// mimalloc's thread-local free lists cost a fraction of glibc malloc's there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cisgate::CheckOptions;
use cisgate::index::CompactOptions;
use cisgate::live::LiveOptions;
use cisgate::synth::{DeltaConfig, GenConfig, ScanConfig};

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
        /// Print only the КИ, one line per input (readings of an ambiguous input separated
        /// by spaces, an empty line for an input that is not a code).
        #[arg(long)]
        ki: bool,
        /// Codes to parse.
        codes: Vec<String>,
    },
    /// Compile snapshot list files into an index directory and publish it.
    Build(cli::build::Args),
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
        /// Ask True API first with this JSON configuration; the index answers when online
        /// does not within the budget.
        #[arg(long, value_name = "CONFIG")]
        online: Option<PathBuf>,
        #[command(flatten)]
        freshness: Freshness,
        /// Codes to check.
        codes: Vec<String>,
    },
    /// Apply delta lists in order as one new layer and generation (all or nothing).
    Apply(cli::apply::Args),
    /// Fold delta layers and the sold journal into a new base.
    Compact {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        /// Days a sale stays on the sold list.
        #[arg(long, default_value_t = 30)]
        retention_days: u32,
    },
    /// Register sales (codes from arguments, else one per line on stdin); durable before each output line.
    Sell {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        #[command(flatten)]
        freshness: Freshness,
        /// Codes sold.
        codes: Vec<String>,
    },
    /// Register returns of sold codes.
    Return {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        #[command(flatten)]
        freshness: Freshness,
        /// Codes returned.
        codes: Vec<String>,
    },
    /// Serve the index through the Local Module's HTTP API (v2 and v1), a streaming bulk
    /// endpoint and /metrics; picks up new generations without a restart.
    Serve {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        /// Address to listen on (default 127.0.0.1:5995, or the configuration's).
        #[arg(long)]
        listen: Option<String>,
        /// JSON configuration: users, tokens, CORS origins, limits.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Skip hashing the index on open (structure and lengths are still checked).
        #[arg(long)]
        no_verify: bool,
        #[command(flatten)]
        freshness: Freshness,
    },
    /// Write a key pair for signing published generations.
    Keygen(cli::keygen::Args),
    /// Publish the index's current generation to an S3-compatible store, signed.
    Publish(cli::publish::Args),
    /// Pull a channel's signed generation from an S3-compatible store into the index.
    Pull(cli::pull::Args),
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
        #[command(flatten)]
        synthetic: Synthetic,
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
    /// Write a synthetic blocked_cis delta against the lists `gen` wrote with the same seed.
    GenDelta {
        /// The delta file to write.
        #[arg(long)]
        out: PathBuf,
        /// The snapshot the delta follows (the same values as given to `gen`).
        #[command(flatten)]
        synthetic: Synthetic,
        /// Version the delta applies to.
        #[arg(long)]
        parent: String,
        /// Version it produces.
        #[arg(long)]
        version: String,
        /// Sequence number of this delta (each adds and removes different codes).
        #[arg(long, default_value_t = 0)]
        sequence: u64,
        /// КИ to add.
        #[arg(long, default_value_t = 1000)]
        adds: u64,
        /// КИ to remove.
        #[arg(long, default_value_t = 100)]
        removes: u64,
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

/// The synthetic world `gen` and `gen-delta` draw from.
#[derive(clap::Args)]
struct Synthetic {
    /// Banned КИ in the snapshot.
    #[arg(long, default_value_t = 100_000)]
    codes: u64,
    /// Distinct GTINs.
    #[arg(long, default_value_t = 5_000)]
    gtins: u32,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Compress with zstd.
    #[arg(long)]
    zstd: bool,
}

impl Synthetic {
    fn config(&self, version: String, as_of_ms: i64) -> GenConfig {
        GenConfig {
            seed: self.seed,
            codes: self.codes,
            gtins: self.gtins,
            zstd: self.zstd,
            version,
            as_of_ms,
        }
    }
}

/// The Local Module's freshness rule.
#[derive(clap::Args)]
struct Freshness {
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
    fn options(&self, verify_checksums: bool) -> LiveOptions {
        LiveOptions {
            max_age_ms: (!self.ignore_freshness)
                .then_some((self.max_age_hours * 3_600_000.0) as i64),
            sold_retention_ms: i64::from(self.sold_retention_days) * 86_400_000,
            verify_checksums,
        }
    }
}

fn run(cli: Cli) -> cli::CmdResult {
    match cli.command {
        Command::Parse { ki, codes } => cli::parse::run(&codes, ki),
        Command::Build(args) => cli::build::run(args),
        Command::Check {
            index,
            price,
            no_verify,
            summary,
            online,
            freshness,
            codes,
        } => {
            let options = CheckOptions {
                price_kopecks: price,
            };
            let live = freshness.options(!no_verify);
            match online {
                Some(config) => {
                    cli::check::run_online(&index, &config, &codes, options, live, summary)
                }
                None => cli::check::run(&index, &codes, options, live, summary),
            }
        }
        Command::Apply(args) => cli::apply::run(args),
        Command::Compact {
            index,
            retention_days,
        } => cli::compact::run(
            &index,
            &CompactOptions {
                sold_retention_ms: i64::from(retention_days) * 86_400_000,
                ..Default::default()
            },
        ),
        Command::Sell {
            index,
            freshness,
            codes,
        } => cli::sell::run(&index, &codes, freshness.options(true), false),
        Command::Return {
            index,
            freshness,
            codes,
        } => cli::sell::run(&index, &codes, freshness.options(true), true),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::Publish(args) => cli::publish::run(args),
        Command::Pull(args) => cli::pull::run(args),
        Command::Info { index } => cli::info::run(&index),
        Command::Verify { index } => cli::verify::run(&index),
        Command::Serve {
            index,
            listen,
            config,
            no_verify,
            freshness,
        } => cli::serve::run(
            &index,
            listen,
            config.as_deref(),
            freshness.options(!no_verify),
        ),
        Command::Gen {
            out,
            synthetic,
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
            let config = synthetic.config(version, as_of_ms);
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
        Command::GenDelta {
            out,
            synthetic,
            parent,
            version,
            sequence,
            adds,
            removes,
        } => {
            let config = synthetic.config(version.clone(), cisgate::time::now_ms());
            let delta = DeltaConfig {
                parent,
                version,
                sequence,
                adds,
                removes,
            };
            cisgate::synth::write_delta(&out, &config, &delta)?;
            println!("wrote delta {} (+{adds} -{removes})", out.display());
            Ok(0)
        }
        Command::Demo { data, out } => cli::demo::run(&data, &out),
    }
}

fn main() -> ExitCode {
    cli::mark_process_start();
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("cisgate: error: {e}");
            ExitCode::from(2)
        }
    }
}
