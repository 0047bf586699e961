//! Micro-benchmarks: parsing, single lookups, batch checks and lookups, and lookups with
//! pending delta layers, on a synthetic index.
//!
//! `cargo bench --bench lookup` (set CISGATE_BENCH_KEYS to change the index size; default
//! 1,000,000 banned КИ).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use cisgate::index::{self, ApplyOptions, BuildOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{self, Catalogue, DeltaConfig, GenConfig};
use cisgate::{CheckOptions, Index};

struct Fixture {
    _dir: tempfile::TempDir,
    index: Index,
    scans: Vec<String>,
    present: Vec<Vec<u8>>,
    absent: Vec<Vec<u8>>,
}

fn setup() -> Fixture {
    let keys = keys_from_env();
    let config = bench_config(keys);
    let dir = tempfile::tempdir().unwrap();
    let report = synth::write_lists(&dir.path().join("lists"), &config).unwrap();
    index::build(
        &dir.path().join("idx"),
        &report.files,
        &BuildOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let index = Index::open(&dir.path().join("idx")).unwrap();
    let catalogue = Catalogue::new(&config);
    let scans: Vec<String> = (0..4096)
        .map(|i| String::from_utf8(catalogue.code(keys + i).km).unwrap())
        .collect();
    let present: Vec<Vec<u8>> = (0..4096)
        .map(|i| catalogue.code(i * (keys / 4096).max(1)).ki)
        .collect();
    // Far beyond the codes the layer benchmarks add.
    let absent: Vec<Vec<u8>> = (0..4096)
        .map(|i| catalogue.code(keys + 50_000_000 + i).ki)
        .collect();
    Fixture {
        _dir: dir,
        index,
        scans,
        present,
        absent,
    }
}

fn benches(c: &mut Criterion) {
    let Fixture {
        _dir,
        index,
        scans,
        present,
        absent,
    } = setup();

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("full code with GS", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % scans.len();
            black_box(cisgate::code::parse(&scans[i]).is_ok())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    for (name, keys) in [
        ("contains_ki present", &present),
        ("contains_ki absent", &absent),
    ] {
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(index.contains_ki(&keys[i]))
            })
        });
    }
    g.bench_function("check (parse + all lists)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % scans.len();
            black_box(index.check(&scans[i]).status())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(scans.len() as u64));
    g.bench_function("check_batch 4096 on all cores", |b| {
        b.iter_batched(
            || (),
            |_| black_box(index.check_batch(&scans, &CheckOptions::default()).len()),
            BatchSize::SmallInput,
        )
    });
    // The checkout mix: one present key in a thousand.
    let mix = cisgate::synth::checkout_mix(&present, &absent);
    let mut out = Vec::new();
    g.bench_function("contains_ki_batch 4096, checkout mix", |b| {
        b.iter(|| {
            index.contains_ki_batch(black_box(&mix), &mut out);
            black_box(out.len())
        })
    });
    g.finish();

    // Delta layers over the same base: one, then four pending layers.
    let mut g = c.benchmark_group("layers");
    g.throughput(Throughput::Elements(1));
    let dir = _dir.path();
    let keep = ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    let config = bench_config(keys_from_env());
    for layer in 0..4u64 {
        let path = dir.join(format!("delta-{layer}.list"));
        let parent = if layer == 0 {
            "bench".to_string()
        } else {
            format!("v{layer}")
        };
        let d = DeltaConfig {
            parent,
            version: format!("v{}", layer + 1),
            sequence: layer,
            adds: 10_000,
            removes: 1_000,
        };
        synth::write_delta(&path, &config, &d).unwrap();
        index::apply(&dir.join("idx"), &[path], &keep, &NoProgress).unwrap();
        if layer == 0 || layer == 3 {
            let layered = Index::open(&dir.join("idx")).unwrap();
            for (name, keys) in [("present", &present), ("absent", &absent)] {
                g.bench_function(format!("contains_ki {name}, {} layer(s)", layer + 1), |b| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % keys.len();
                        black_box(layered.contains_ki(&keys[i]))
                    })
                });
            }
        }
    }
    g.finish();
}

fn keys_from_env() -> u64 {
    std::env::var("CISGATE_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn bench_config(keys: u64) -> GenConfig {
    GenConfig {
        seed: 42,
        codes: keys,
        gtins: 10_000,
        zstd: false,
        version: "bench".into(),
        as_of_ms: 0,
    }
}

criterion_group!(lookup, benches);
criterion_main!(lookup);
