//! `cisgate demo`: build the bundled sample index and check the hand-made codes against it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use cisgate::check::Status;
use cisgate::index::{self, BuildOptions, Index};

use super::CmdResult;
use super::progress::TerminalProgress;

/// One hand-made test code.
#[derive(Deserialize)]
pub struct HandmadeCode {
    /// What the scanner sent.
    pub input: String,
    /// The КИ it must parse to (absent for invalid inputs).
    #[serde(default)]
    pub ki: Option<String>,
    /// `allowed`, `blocked` or `invalid` against the sample index.
    pub expect: String,
    /// What the case shows.
    pub note: String,
}

/// Reads `data/codes/handmade.jsonl`.
pub fn read_handmade(path: &Path) -> Result<Vec<HandmadeCode>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1).into())
        })
        .collect()
}

/// Build the bundled sample index and check the hand-made codes against it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data directory (holding sample/ and codes/).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Where to build the demo index.
    #[arg(long, default_value = "target/demo-index")]
    out: PathBuf,
}

/// Builds `data/sample/*` into `out`, checks every hand-made code and reports mismatches.
pub fn run(args: Args) -> CmdResult {
    let (data, out) = (args.data.as_path(), args.out.as_path());
    let sample = data.join("sample");
    let mut lists: Vec<PathBuf> = std::fs::read_dir(&sample)
        .map_err(|e| {
            format!(
                "{}: {e} (run from the repository root or pass --data)",
                sample.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    lists.sort();
    let report = index::build(
        out,
        &lists,
        &BuildOptions::default(),
        &TerminalProgress::new(),
    )?;
    let m = &report.manifest;
    let bytes: u64 = m.files().map(|f| f.len).sum();
    outln!(
        "built {} from {} lists in {}: version {}, {} entries, {bytes} bytes",
        out.display(),
        lists.len(),
        sample.display(),
        m.version,
        m.counts.values().sum::<u64>()
    );
    for (kind, count) in &m.counts {
        outln!("  {kind:<15} {count:>9}");
    }
    let index = Index::open(out)?;
    outln!(
        "(sample data as of {}; the demo checks the lists offline without the 72-hour freshness rule)",
        cisgate::time::format_rfc3339(m.as_of_ms)
    );
    let codes = read_handmade(&data.join("codes/handmade.jsonl"))?;
    outln!("\nchecking {} hand-made codes:", codes.len());
    let mut mismatches = 0;
    for c in &codes {
        let v = index.explain(&c.input, &Default::default());
        let status = match v.status {
            Status::Allowed => "allowed",
            Status::Blocked => "blocked",
            Status::Invalid => "invalid",
        };
        let ok = status == c.expect
            && (c.ki.is_none()
                || v.ki == c.ki
                || v.candidates.iter().any(|k| Some(&k.ki) == c.ki.as_ref()));
        if !ok {
            mismatches += 1;
        }
        let detail = if let Some(e) = &v.error {
            e.clone()
        } else {
            let reasons: Vec<String> = v
                .reasons
                .iter()
                .map(|r| format!("{r:?}").to_lowercase())
                .collect();
            let ki =
                v.ki.clone()
                    .unwrap_or_else(|| format!("{} candidates", v.candidates.len()));
            format!("{ki} {}", reasons.join(","))
        };
        outln!(
            "{} {status:<8} {:<44} {}  [{detail}]",
            if ok { "ok " } else { "BAD" },
            c.note,
            input_for_display(&c.input)
        );
    }
    outln!(
        "\n{} of {} codes as expected",
        codes.len() - mismatches,
        codes.len()
    );
    Ok(if mismatches == 0 { 0 } else { 1 })
}

fn input_for_display(s: &str) -> String {
    let shown: String = s
        .chars()
        .take(48)
        .collect::<String>()
        .replace('\u{1d}', "<GS>");
    if s.chars().count() > 48 {
        format!("{shown}…")
    } else {
        shown
    }
}
