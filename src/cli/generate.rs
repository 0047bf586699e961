//! `cisgate gen` and `gen-delta`: write synthetic lists, scan streams and deltas.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cisgate::synth::{self, DeltaConfig, GenConfig, ScanConfig};

use super::CmdResult;

/// The synthetic world `gen` draws from.
#[derive(clap::Args, Debug)]
pub struct Synthetic {
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

/// Write realistic synthetic lists (and optionally a scan stream).
#[derive(clap::Args, Debug)]
pub struct GenArgs {
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
}

/// Write a synthetic blocked_cis delta against lists `gen` wrote.
#[derive(clap::Args, Debug)]
pub struct DeltaArgs {
    /// The delta file to write.
    #[arg(long)]
    out: PathBuf,
    /// The directory `gen` wrote: the delta follows that snapshot (its codes, GTINs,
    /// seed and version). Without it, give the same --codes, --gtins and --seed as to `gen`.
    #[arg(long)]
    lists: Option<PathBuf>,
    #[command(flatten)]
    synthetic: Synthetic,
    /// Version the delta applies to (default with --lists: the lists' version).
    #[arg(long)]
    parent: Option<String>,
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
}

/// Writes lists into `out` and, if asked, a scan stream with its expected decisions.
pub fn run(args: GenArgs) -> CmdResult {
    let started = Instant::now();
    let as_of_ms = match &args.as_of {
        None => cisgate::time::now_ms(),
        Some(t) => cisgate::time::parse_timestamp(t)
            .ok_or_else(|| format!("--as-of {t:?} is neither RFC 3339 nor Unix ms"))?,
    };
    let config = args.synthetic.config(args.version.clone(), as_of_ms);
    let out = &args.out;
    let report = synth::write_lists(out, &config)?;
    outln!(
        "wrote {} banned КИ in {} list files to {} in {:.2}s",
        report.codes,
        report.files.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.scans {
        let scan = ScanConfig {
            count: args.scan_count,
            banned_share: args.banned_share,
            noise_share: args.noise_share,
        };
        let expected = expected_path(path);
        synth::write_scans(path, &expected, &config, &scan)?;
        outln!(
            "wrote {} scans to {} (expected decisions in {})",
            scan.count,
            path.display(),
            expected.display()
        );
    }
    Ok(0)
}

/// Writes a delta that removes codes of the snapshot and adds new ones.
pub fn run_delta(args: DeltaArgs) -> CmdResult {
    let config = match &args.lists {
        Some(dir) => {
            // The codes follow the lists' snapshot; the parent is theirs unless given (a
            // delta for an index the lists were applied to since, say).
            let recorded = synth::read_config(dir)?;
            GenConfig {
                version: args.version.clone(),
                as_of_ms: cisgate::time::now_ms(),
                ..recorded
            }
        }
        None => {
            eprintln!(
                "cisgate: the delta follows the snapshot of `gen --codes {} --gtins {} --seed {}`; with other lists its removals match nothing (give --lists DIR to follow the lists gen wrote there)",
                args.synthetic.codes, args.synthetic.gtins, args.synthetic.seed
            );
            args.synthetic
                .config(args.version.clone(), cisgate::time::now_ms())
        }
    };
    let parent = match (&args.parent, &args.lists) {
        (Some(parent), _) => parent.clone(),
        (None, Some(dir)) => synth::read_config(dir)?.version,
        (None, None) => return Err("give --parent (or --lists DIR)".into()),
    };
    let delta = DeltaConfig {
        parent,
        version: args.version.clone(),
        sequence: args.sequence,
        adds: args.adds,
        removes: args.removes,
    };
    synth::write_delta(&args.out, &config, &delta)?;
    outln!(
        "wrote delta {} ({} → {}: +{} -{})",
        args.out.display(),
        delta.parent,
        delta.version,
        args.adds,
        args.removes
    );
    Ok(0)
}

/// `scans.txt` → `scans.txt.expected`.
pub fn expected_path(scans: &Path) -> PathBuf {
    let mut name = scans.as_os_str().to_owned();
    name.push(".expected");
    PathBuf::from(name)
}
