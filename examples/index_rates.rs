//! Lookup rates on an index built from `cisgate gen` lists, for indexes too large for the
//! side-by-side harness (which keeps every key in memory for its baselines):
//!
//! ```sh
//! cisgate gen --out lists --codes 100000000 --gtins 200000 --seed 10 --zstd
//! cisgate build --out idx lists
//! cargo run --release --example index_rates -- idx 100000000 200000 10
//! ```
//!
//! Regenerates a million present КИ (every 7919th code of the catalogue) and a million
//! absent ones, and prints lookups per second: present, absent and the checkout mix
//! (0.1 % present), one by one and in batches, on one thread and on all cores.

use std::time::Instant;

use rayon::prelude::*;

use cisgate::synth::{Catalogue, GenConfig};

fn rate(index: &cisgate::Index, keys: &[Vec<u8>], threads: usize, batch: bool) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let found: usize = pool.install(|| {
            keys.par_chunks(keys.len().div_ceil(threads * 8))
                .map(|chunk| {
                    if batch {
                        let mut out = Vec::new();
                        chunk
                            .chunks(256)
                            .map(|c| {
                                index.contains_ki_batch(c, &mut out);
                                out.iter().filter(|&&b| b).count()
                            })
                            .sum::<usize>()
                    } else {
                        chunk.iter().filter(|k| index.contains_ki(k)).count()
                    }
                })
                .sum()
        });
        std::hint::black_box(found);
        best = best.min(started.elapsed().as_secs_f64());
    }
    keys.len() as f64 / best / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: index_rates INDEX CODES GTINS SEED";
    let dir = args.get(1).expect(usage);
    let codes: u64 = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
    let gtins: u32 = args.get(3).and_then(|s| s.parse().ok()).expect(usage);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).expect(usage);
    let started = Instant::now();
    let index = cisgate::index::OpenOptions::new()
        .verify_checksums(false)
        .open(dir.as_ref())
        .expect("open the index");
    println!(
        "opened {dir} in {:.3} ms ({} КИ)",
        started.elapsed().as_secs_f64() * 1000.0,
        index.manifest().counts[&cisgate::index::Table::BlockedCis]
    );
    let config = GenConfig {
        seed,
        codes,
        gtins,
        zstd: true,
        version: String::new(),
        as_of_ms: 0,
    };
    let catalogue = Catalogue::new(&config);
    let n = 1_000_000u64;
    let present: Vec<Vec<u8>> = (0..n)
        .into_par_iter()
        .map(|i| catalogue.code(i * 7919 % codes).ki)
        .collect();
    let absent: Vec<Vec<u8>> = (0..n)
        .into_par_iter()
        .map(|i| catalogue.code(codes + 1_000_000_000 + i).ki)
        .collect();
    let mix = cisgate::synth::checkout_mix(&present, &absent);
    let threads = rayon::current_num_threads();
    println!("million lookups per second ({threads} cores):");
    for (name, keys) in [
        ("present", &present),
        ("absent", &absent),
        ("mix 0.1%", &mix),
    ] {
        println!(
            "  {name:<9} one by one {:>7.2} | batch {:>7.2} | all cores, batch {:>7.2}",
            rate(&index, keys, 1, false),
            rate(&index, keys, 1, true),
            rate(&index, keys, threads, true)
        );
    }
}
