//! Delta layers: apply and compaction time, and lookup slowdown with 1, 4 and 8 pending
//! layers against the compacted index, measured in one run.
//!
//! `cargo bench --bench layers` (CISGATE_BENCH_KEYS sets the base size, default 1,000,000;
//! CISGATE_BENCH_DELTA the size of the timed delta, default 100,000 entries).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cisgate::index::{self, ApplyOptions, OpenOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{self, Catalogue, DeltaConfig, GenConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Best of three timed passes over `queries`, as lookups per second on one thread.
fn lookup_rate(dir: &std::path::Path, queries: &[Vec<u8>]) -> (f64, usize) {
    let index = OpenOptions::new()
        .verify_checksums(false)
        .open(dir)
        .unwrap();
    let mut best = Duration::MAX;
    let mut hits = 0;
    for _ in 0..3 {
        let started = Instant::now();
        hits = queries
            .iter()
            .filter(|q| index.contains_ki(black_box(q)))
            .count();
        best = best.min(started.elapsed());
    }
    (queries.len() as f64 / best.as_secs_f64(), hits)
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` only checks that this compiles.
    }
    let keys = env("CISGATE_BENCH_KEYS", 1_000_000);
    let delta_size = env("CISGATE_BENCH_DELTA", 100_000);
    let config = GenConfig {
        seed: 9,
        codes: keys,
        gtins: 20_000,
        zstd: false,
        version: "v0".into(),
        as_of_ms: cisgate::time::now_ms(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let lists = synth::write_lists(&tmp.path().join("lists"), &config).unwrap();
    let idx = tmp.path().join("idx");
    let started = Instant::now();
    index::build(&idx, &lists.files, &Default::default(), &NoProgress).unwrap();
    println!(
        "base: {keys} banned КИ built in {:.2}s",
        started.elapsed().as_secs_f64()
    );

    // Queries: half present in the base, half absent.
    let catalogue = Catalogue::new(&config);
    let queries: Vec<Vec<u8>> = (0..200_000u64)
        .map(|i| {
            if i % 2 == 0 {
                catalogue.code(i * 7 % keys).ki
            } else {
                catalogue.code(keys + 50_000_000 + i).ki
            }
        })
        .collect();

    let keep = ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    let mut version = 0u64;
    let mut apply_one = |adds: u64, removes: u64| {
        let path = tmp.path().join(format!("delta-{version}.list"));
        let d = DeltaConfig {
            parent: format!("v{version}"),
            version: format!("v{}", version + 1),
            sequence: version,
            adds,
            removes,
        };
        synth::write_delta(&path, &config, &d).unwrap();
        let started = Instant::now();
        index::apply(&idx, &[path], &keep, &NoProgress).unwrap();
        version += 1;
        started.elapsed()
    };

    let (base_rate, base_hits) = lookup_rate(&idx, &queries);
    println!(
        "lookups, compacted (0 layers): {:.2} M/s ({base_hits} hits of {})",
        base_rate / 1e6,
        queries.len()
    );
    let elapsed = apply_one(delta_size * 9 / 10, delta_size / 10);
    println!(
        "apply + publish a {delta_size}-entry delta: {:.3}s",
        elapsed.as_secs_f64()
    );
    let mut layers = 1;
    for target in [1, 4, 8] {
        while layers < target {
            apply_one(10_000, 1_000);
            layers += 1;
        }
        let (rate, _) = lookup_rate(&idx, &queries);
        println!(
            "lookups with {target} layer(s): {:.2} M/s = {:.2}× the compacted rate",
            rate / 1e6,
            rate / base_rate
        );
    }
    let started = Instant::now();
    let report = index::compact(&idx, &Default::default(), &NoProgress).unwrap();
    println!(
        "compaction of {} layers over {keys} keys: {:.2}s",
        report.layers_folded,
        started.elapsed().as_secs_f64()
    );
    let (rate, _) = lookup_rate(&idx, &queries);
    println!(
        "lookups after compaction: {:.2} M/s = {:.2}× the first compacted rate",
        rate / 1e6,
        rate / base_rate
    );
}
