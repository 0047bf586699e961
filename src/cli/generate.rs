//! `cisgate gen`: write synthetic lists and scan streams.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cisgate::synth::{self, GenConfig, ScanConfig};

use super::CmdResult;

/// Writes lists into `out` and, if asked, a scan stream with its expected decisions.
pub fn run(out: &Path, config: &GenConfig, scans: Option<(PathBuf, ScanConfig)>) -> CmdResult {
    let started = Instant::now();
    let report = synth::write_lists(out, config)?;
    println!(
        "wrote {} banned КИ in {} list files to {} in {:.2}s",
        report.codes,
        report.files.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some((path, scan)) = scans {
        let expected = expected_path(&path);
        synth::write_scans(&path, &expected, config, &scan)?;
        println!(
            "wrote {} scans to {} (expected decisions in {})",
            scan.count,
            path.display(),
            expected.display()
        );
    }
    Ok(0)
}

/// `scans.txt` → `scans.txt.expected`.
pub fn expected_path(scans: &Path) -> PathBuf {
    let mut name = scans.as_os_str().to_owned();
    name.push(".expected");
    PathBuf::from(name)
}
