//! Crash tests: real `cisgate apply`, `compact` and `sell` processes killed with SIGKILL at
//! random moments, again and again. Every reopen must give the old or the new state, never
//! a torn one, and every sale the process acknowledged must still be there.

#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cisgate::Index;
use cisgate::index::{self, ApplyOptions};
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{Catalogue, GenConfig};

const ROUNDS: u64 = 10;

fn config() -> GenConfig {
    GenConfig {
        seed: 77,
        codes: 60_000,
        gtins: 500,
        zstd: false,
        version: "v0".into(),
        as_of_ms: cisgate::time::now_ms(),
    }
}

/// Deterministic pseudo-random kill delays.
fn delay(round: u64, max: Duration) -> Duration {
    let x = round.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 1000;
    max.mul_f64(x as f64 / 1000.0)
}

fn build_base(dir: &Path) -> PathBuf {
    common::synthetic_index(dir, &config())
}

fn deltas(dir: &Path, n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|k| common::synthetic_delta(dir, &config(), k, 8000, 800))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Runs the command to completion once, to learn how long it takes.
fn timed(args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = common::cisgate(args, None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    started.elapsed()
}

fn spawn_and_kill(args: &[&str], after: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
}

/// The index opens, verifies, and is exactly at one of the known versions.
fn assert_whole(idx: &Path, known: &[(String, String)]) -> usize {
    let index = Index::open(idx).unwrap();
    let m = index.manifest();
    let pos = known
        .iter()
        .position(|(v, _)| *v == m.version)
        .unwrap_or_else(|| panic!("unknown version {}", m.version));
    assert_eq!(
        m.content_digest, known[pos].1,
        "version {} with a foreign digest",
        m.version
    );
    assert_eq!(index.compute_digest().to_string(), m.content_digest);
    drop(index);
    index::verify(idx).unwrap();
    pos
}

#[test]
fn killed_apply_and_compact_leave_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let idx = build_base(dir.path());
    let deltas = deltas(dir.path(), ROUNDS);

    // The versions and digests the chain passes through, from an undisturbed copy.
    let reference = dir.path().join("reference");
    copy_dir(&idx, &reference);
    let mut known = vec![(
        "v0".to_string(),
        Index::open(&reference)
            .unwrap()
            .manifest()
            .content_digest
            .clone(),
    )];
    let keep_layers = ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    for d in &deltas {
        let r = index::apply(
            &reference,
            std::slice::from_ref(d),
            &keep_layers,
            &NoProgress,
        )
        .unwrap();
        known.push((
            r.manifest.version.clone(),
            r.manifest.content_digest.clone(),
        ));
    }

    let idx_s = idx.to_str().unwrap();
    let mut at = 0;
    let mut kills = 0;
    let mut round = 0;
    // Kills that left the old state, and the new one.
    let mut outcomes = [0; 2];
    while at < deltas.len() && round < 4 * ROUNDS {
        round += 1;
        let delta = deltas[at].to_str().unwrap();
        let args = [
            "apply",
            "--compact-after-layers",
            "0",
            "--compact-after-size-ratio",
            "0",
            "--index",
            idx_s,
            delta,
        ];
        // Learn the full duration on a copy, then kill the real one somewhere inside it.
        let probe = dir.path().join(format!("probe-{round}"));
        copy_dir(&idx, &probe);
        let mut probe_args = args;
        probe_args[6] = probe.to_str().unwrap();
        let full = timed(&probe_args);
        std::fs::remove_dir_all(&probe).unwrap();
        spawn_and_kill(&args, delay(round, full));
        kills += 1;
        let now_at = assert_whole(&idx, &known);
        outcomes[usize::from(now_at > at)] += 1;
        at = now_at;

        if round % 3 == 0 {
            // Kill a compaction too: content must not change.
            let before = Index::open(&idx).unwrap().manifest().content_digest.clone();
            spawn_and_kill(
                &["compact", "--index", idx_s],
                delay(round + 1000, full.mul_f64(3.0)),
            );
            kills += 1;
            assert_eq!(assert_whole(&idx, &known), at);
            assert_eq!(Index::open(&idx).unwrap().manifest().content_digest, before);
        }
    }
    eprintln!(
        "apply killed {kills} times: {} left the old state, {} the new one",
        outcomes[0], outcomes[1]
    );
    assert!(kills >= ROUNDS as usize);
    // Whatever happened, finishing the chain gives the reference result.
    for d in &deltas[at..] {
        index::apply(&idx, std::slice::from_ref(d), &keep_layers, &NoProgress).unwrap();
    }
    assert_eq!(
        Index::open(&idx).unwrap().manifest().content_digest,
        known.last().unwrap().1
    );
}

#[test]
fn killed_sell_keeps_every_acknowledged_sale() {
    let dir = tempfile::tempdir().unwrap();
    let idx = build_base(dir.path());
    let catalogue = Catalogue::new(&config());
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        // Fresh codes each round (beyond the banned ones), sold one per line.
        let first = 1_000_000 + round * 2000;
        let codes: Vec<String> = (first..first + 2000)
            .map(|i| String::from_utf8(catalogue.code(i).km).unwrap())
            .collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cisgate"))
            .args(["sell", "--index", idx.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            for c in codes {
                if writeln!(stdin, "{c}").is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut sold = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(v["sold"], true, "{line}");
                sold.push(v["ki"].as_str().unwrap().to_string());
            }
            sold
        });
        std::thread::sleep(delay(round, Duration::from_millis(400)) + Duration::from_millis(20));
        let _ = child.kill();
        let _ = child.wait();
        let _ = feeder.join();
        let sold = reader.join().unwrap();
        eprintln!(
            "round {round}: {} sales acknowledged before the kill",
            sold.len()
        );
        acknowledged.extend(sold);

        // Reopen as a new process would: every acknowledged sale is there.
        let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
        for ki in &acknowledged {
            assert!(
                live.is_sold(ki.as_bytes()),
                "acknowledged sale {ki} lost after kill in round {round}"
            );
        }
        if round == ROUNDS / 2 {
            index::compact(&idx, &Default::default(), &NoProgress).unwrap();
        }
    }
    assert!(
        acknowledged.len() > 20,
        "only {} sales acknowledged",
        acknowledged.len()
    );
    let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    assert!(acknowledged.iter().all(|ki| live.is_sold(ki.as_bytes())));
}

#[test]
fn killed_automatic_compactions_never_let_layers_pile_up() {
    let dir = tempfile::tempdir().unwrap();
    let idx = build_base(dir.path());
    let deltas = deltas(dir.path(), 9 + ROUNDS);
    let keep_layers = ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    // One layer over the limit of 8, as a killed compaction would leave it.
    for d in &deltas[..9] {
        index::apply(&idx, std::slice::from_ref(d), &keep_layers, &NoProgress).unwrap();
    }
    let idx_s = idx.to_str().unwrap();
    let mut most = 0;
    let mut next = 9;
    for round in 0..ROUNDS {
        let delta = deltas[next].to_str().unwrap();
        let args = ["apply", "--index", idx_s, delta];
        let probe = dir.path().join(format!("probe-{round}"));
        copy_dir(&idx, &probe);
        let full = timed(&["apply", "--index", probe.to_str().unwrap(), delta]);
        std::fs::remove_dir_all(&probe).unwrap();
        spawn_and_kill(&args, delay(round, full));
        let index = Index::open(&idx).unwrap();
        let layers = index.layer_count();
        most = most.max(layers);
        // Killed or not, an apply never leaves more layers than the backlog it found.
        assert!(layers <= 9, "round {round}: {layers} layers");
        if index.manifest().version == format!("v{}", next + 1) {
            next += 1;
        }
        drop(index);
        index::verify(&idx).unwrap();
    }
    eprintln!(
        "most layers seen: {most}; applied {} of {ROUNDS} deltas",
        next - 9
    );
}
