//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
#[cfg(feature = "cli")]
use std::process::{Command, Output};

use cisgate::index::{self, BuildOptions};
use cisgate::progress::NoProgress;

#[cfg(feature = "cli")]
pub mod browser;
pub mod http;
#[cfg(feature = "cli")]
pub mod servers;
pub mod tools;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every list file of the bundled sample.
pub fn sample_lists() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("data/sample"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Builds the bundled sample into `dir`.
pub fn build_sample(dir: &Path) {
    index::build(dir, &sample_lists(), &BuildOptions::default(), &NoProgress).unwrap();
}

/// Runs the real `cisgate` binary.
#[cfg(feature = "cli")]
pub fn cisgate(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cisgate"));
    cmd.args(args).current_dir(root());
    cmd.stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// Standard output as text.
#[cfg(feature = "cli")]
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
#[cfg(feature = "cli")]
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a list file with a header.
pub fn write_list(path: &Path, kind: &str, version: &str, extra_header: &str, body: &str) {
    let text = format!(
        "#cisgate-list 1\n#kind: {kind}\n#version: {version}\n#as_of: 2026-11-23T10:00:00Z\n{extra_header}{body}"
    );
    std::fs::write(path, text).unwrap();
}

/// Generates synthetic lists for `config` under `dir/lists` and builds them into `dir/idx`.
#[cfg(feature = "synth")]
pub fn synthetic_index(dir: &Path, config: &cisgate::synth::GenConfig) -> PathBuf {
    let lists = cisgate::synth::write_lists(&dir.join("lists"), config).unwrap();
    let idx = dir.join("idx");
    index::build(&idx, &lists.files, &BuildOptions::default(), &NoProgress).unwrap();
    idx
}

/// Writes synthetic delta `k` (version `v{k}` → `v{k+1}`) for `config`.
#[cfg(feature = "synth")]
pub fn synthetic_delta(
    dir: &Path,
    config: &cisgate::synth::GenConfig,
    k: u64,
    adds: u64,
    removes: u64,
) -> PathBuf {
    let ext = if config.zstd { "list.zst" } else { "list" };
    let path = dir.join(format!("delta-{k}.{ext}"));
    let d = cisgate::synth::DeltaConfig {
        parent: format!("v{k}"),
        version: format!("v{}", k + 1),
        sequence: k,
        adds,
        removes,
    };
    cisgate::synth::write_delta(&path, config, &d).unwrap();
    path
}

/// Builds an index of one blocked_cis list (`kis`, `version`, data as of `as_of_ms`) under
/// `dir/index` and returns its path.
pub fn blocked_cis_index(dir: &Path, version: &str, as_of_ms: i64, kis: &[&str]) -> PathBuf {
    let list = dir.join("cis.list");
    let as_of = cisgate::time::format_rfc3339(as_of_ms);
    let mut text =
        format!("#cisgate-list 1\n#kind: blocked_cis\n#version: {version}\n#as_of: {as_of}\n");
    for ki in kis {
        text.push_str(ki);
        text.push('\n');
    }
    std::fs::write(&list, text).unwrap();
    let out = dir.join("index");
    index::build(&out, &[list], &BuildOptions::default(), &NoProgress).unwrap();
    out
}

/// A small synthetic catalogue (20,000 banned КИ over 300 GTINs) whose lists are as of now.
#[cfg(feature = "synth")]
pub fn small_config() -> cisgate::synth::GenConfig {
    cisgate::synth::GenConfig {
        seed: 5,
        codes: 20_000,
        gtins: 300,
        zstd: true,
        version: "v0".into(),
        as_of_ms: cisgate::time::now_ms(),
    }
}
