//! Side-by-side comparison of cisgate with what an integrator would otherwise use, on the
//! same keys and queries, in one process and run.
//!
//! `cargo bench --bench compare -- --keys N [--population synthetic|skewed]
//! [--engines cisgate,hashbrown] [--work DIR]` (default 10,000,000 keys of the `cisgate gen` catalogue,
//! all engines). Prints a table with each figure and cisgate's ratio to every baseline, then
//! the engine-v2 goals as ratios measured in this run, and writes the figures to
//! `target/compare.json`.
//!
//! Engines: cisgate (`Index`, the КИ block layout), cisgate with the format-1 layout (one
//! FST per table, for the before/after), `hashbrown::HashSet` of the КИ (rebuilt in
//! memory), a plain `fst::Set` over the КИ text (memory-mapped), a sorted `Vec<u64>` of
//! xxh3 hashes (not exact: for scale only), SQLite with a `WITHOUT ROWID` table. Queries are
//! held as separate heap strings (`Vec<Vec<u8>>`), as a caller's scanned codes would be.
//!
//! Populations: `synthetic` is `cisgate gen`'s catalogue (20,000 GTINs, popularity falling
//! as u², real serial lengths and country letters); `skewed` is 200,000 GTINs with Zipf
//! popularity (s = 1.2: a few GTINs hold most codes, most hold one or two), serial lengths
//! 13, 6, 7 and 20, 21-character tobacco КИ, and a share of products with sequential
//! serials.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use cisgate::index::{self, OpenOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{Catalogue, GenConfig};

/// One engine under test: lookups only; build and open are measured by the caller.
trait Engine: Sync {
    fn contains(&self, key: &[u8]) -> bool;
    /// Batch lookups; engines without a batch API loop.
    fn contains_batch(&self, keys: &[Vec<u8>], out: &mut Vec<bool>) {
        out.clear();
        out.extend(keys.iter().map(|k| self.contains(k)));
    }
}

struct Cisgate(cisgate::Index);
impl Engine for Cisgate {
    fn contains(&self, key: &[u8]) -> bool {
        self.0.contains_ki(key)
    }
    fn contains_batch(&self, keys: &[Vec<u8>], out: &mut Vec<bool>) {
        self.0.contains_ki_batch(keys, out)
    }
}

struct HashSetEngine(hashbrown::HashSet<Box<[u8]>>);
impl Engine for HashSetEngine {
    fn contains(&self, key: &[u8]) -> bool {
        self.0.contains(key)
    }
}

struct FstEngine(fst::Set<memmap2::Mmap>);
impl Engine for FstEngine {
    fn contains(&self, key: &[u8]) -> bool {
        self.0.contains(key)
    }
}

struct HashVec(Vec<u64>);
impl Engine for HashVec {
    fn contains(&self, key: &[u8]) -> bool {
        self.0
            .binary_search(&xxhash_rust::xxh3::xxh3_64(key))
            .is_ok()
    }
}

/// SQLite connections are not `Sync`: one per thread, opened on first use.
struct Sqlite {
    path: PathBuf,
}
thread_local! {
    static CONN: std::cell::RefCell<Option<(PathBuf, rusqlite::Connection)>> = const { std::cell::RefCell::new(None) };
}
impl Engine for Sqlite {
    fn contains(&self, key: &[u8]) -> bool {
        CONN.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_none_or(|(p, _)| *p != self.path) {
                let conn = rusqlite::Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                *c = Some((self.path.clone(), conn));
            }
            let conn = &c.as_ref().unwrap().1;
            let mut stmt = conn
                .prepare_cached("SELECT 1 FROM ki WHERE k = ?1")
                .unwrap();
            stmt.exists([key]).unwrap()
        })
    }
}

#[derive(Default, serde::Serialize)]
struct Figures {
    build_sorted_s: Option<f64>,
    build_unsorted_zstd_s: Option<f64>,
    compact_s: Option<f64>,
    bytes_per_key: Option<f64>,
    open_ms: Option<f64>,
    open_verified_ms: Option<f64>,
    memory_bytes_per_key: Option<f64>,
    rates: BTreeMap<String, f64>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Lookups per second for one query set: best of three passes over as many queries as take
/// about a third of a second (slow engines get fewer queries, never under 10,000).
fn rate(engine: &dyn Engine, queries: &[Vec<u8>], threads: usize, batch: bool) -> f64 {
    let probe = &queries[..queries.len().min(10_000)];
    let started = Instant::now();
    black_box(probe.iter().filter(|q| engine.contains(q)).count());
    let estimate = probe.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let take = ((estimate * threads as f64 * 0.33) as usize).clamp(probe.len(), queries.len());
    let queries = &queries[..take];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let hits: usize = pool.install(|| {
            queries
                .par_chunks(queries.len().div_ceil(threads * 8).max(1))
                .map(|chunk| {
                    if batch {
                        let mut out = Vec::with_capacity(chunk.len());
                        let mut hits = 0;
                        for sub in chunk.chunks(256) {
                            engine.contains_batch(sub, &mut out);
                            hits += out.iter().filter(|&&b| b).count();
                        }
                        hits
                    } else {
                        chunk
                            .iter()
                            .filter(|q| engine.contains(black_box(q)))
                            .count()
                    }
                })
                .sum()
        });
        black_box(hits);
        best = best.min(started.elapsed());
    }
    queries.len() as f64 / best.as_secs_f64()
}

fn write_list(path: &Path, keys: &[Vec<u8>], zstd: bool) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w: Box<dyn Write> = if zstd {
        Box::new(
            zstd::stream::write::Encoder::new(file, 3)
                .unwrap()
                .auto_finish(),
        )
    } else {
        Box::new(file)
    };
    writeln!(
        w,
        "#cisgate-list 1\n#kind: blocked_cis\n#version: bench\n#as_of: 0"
    )
    .unwrap();
    for k in keys {
        w.write_all(k).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
}

fn dir_bytes(dir: &Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Writes a delta list: `+` lines for `adds`, `-` lines for `removes`.
fn write_delta(path: &Path, parent: &str, version: &str, adds: &[Vec<u8>], removes: &[Vec<u8>]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        w,
        "#cisgate-list 1\n#kind: blocked_cis\n#type: delta\n#parent: {parent}\n#version: {version}\n#as_of: 0"
    )
    .unwrap();
    for k in adds {
        w.write_all(b"+").unwrap();
        w.write_all(k).unwrap();
        w.write_all(b"\n").unwrap();
    }
    for k in removes {
        w.write_all(b"-").unwrap();
        w.write_all(k).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` only checks that this compiles.
    }
    let keys_n: u64 = arg(&args, "--keys").unwrap_or(10_000_000);
    let population: String = arg(&args, "--population").unwrap_or_else(|| "synthetic".into());
    // `--engines cisgate,hashbrown` measures only those (names: cisgate, cisgate-fst,
    // hashbrown, fst, vec, sqlite); all by default.
    let engines: Option<Vec<String>> =
        arg::<String>(&args, "--engines").map(|e| e.split(',').map(str::to_string).collect());
    let wanted = |name: &str| engines.as_ref().is_none_or(|e| e.iter().any(|w| w == name));
    let threads = rayon::current_num_threads();
    // `--work DIR` keeps the lists and indexes there (to study them afterwards); without
    // it they go to a temporary directory removed when `_scratch` drops.
    let (_scratch, tmp) = match arg::<PathBuf>(&args, "--work") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            let kept = tempfile::Builder::new().prefix("compare-").tempdir_in(&dir);
            (None, kept.unwrap().keep())
        }
        None => {
            let scratch = tempfile::tempdir().unwrap();
            let path = scratch.path().to_path_buf();
            (Some(scratch), path)
        }
    };
    let started = Instant::now();
    // Stream 0: the list; stream 1: absent queries and codes added by deltas.
    let code: Box<dyn Fn(u64, u64) -> Vec<u8> + Sync> = match population.as_str() {
        "skewed" => {
            let skewed = cisgate::synth::Skewed::new();
            Box::new(move |stream, i| skewed.ki(stream, i))
        }
        "synthetic" => {
            let config = GenConfig {
                seed: 5,
                codes: keys_n,
                gtins: 20_000,
                zstd: false,
                version: "bench".into(),
                as_of_ms: 0,
            };
            let catalogue = Catalogue::new(&config);
            Box::new(move |stream, i| catalogue.code(stream * (keys_n + 1_000_000_000) + i).ki)
        }
        other => panic!("--population {other:?}: synthetic or skewed"),
    };
    let unsorted: Vec<Vec<u8>> = (0..keys_n).into_par_iter().map(|i| code(0, i)).collect();
    let mut sorted = unsorted.clone();
    sorted.par_sort_unstable();
    sorted.dedup();
    let n = sorted.len();
    let q = 1_000_000.min(n).max(1);
    let present: Vec<Vec<u8>> = (0..q)
        .map(|i| unsorted[(i as u64 * 7919 % keys_n) as usize].clone())
        .collect();
    let absent: Vec<Vec<u8>> = (0..q as u64)
        .into_par_iter()
        .map(|i| code(1, i))
        .filter(|k| sorted.binary_search(k).is_err())
        .collect();
    let mix = cisgate::synth::checkout_mix(&present, &absent);
    let blocks: std::collections::HashSet<&[u8]> = sorted
        .iter()
        .map(|k| &k[..k.len().saturating_sub(if k.len() == 21 { 7 } else { 13 })])
        .collect();
    println!(
        "{n} distinct КИ ({population} population, about {} products) and {} queries generated in {:.1}s; {threads} threads",
        blocks.len(),
        present.len() + absent.len() + mix.len(),
        started.elapsed().as_secs_f64()
    );

    let sorted_list = tmp.join("sorted.list");
    let zstd_list = tmp.join("unsorted.list.zst");
    write_list(&sorted_list, &sorted, false);
    write_list(&zstd_list, &unsorted, true);
    // Eight deltas of 12,500 additions and 12,500 removals each, for the compaction figure.
    let deltas: Vec<PathBuf> = (0..8u64)
        .map(|d| {
            let per = 12_500.min(n / 16);
            let adds: Vec<Vec<u8>> = (0..per as u64)
                .map(|i| code(2, d * per as u64 + i))
                .filter(|k| sorted.binary_search(k).is_err())
                .collect();
            let removes: Vec<Vec<u8>> = (0..per)
                .map(|i| sorted[(d as usize * per + i) * 7 % n].clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let path = tmp.join(format!("delta-{d}.list"));
            let parent = if d == 0 {
                "bench".to_string()
            } else {
                format!("bench-{d}")
            };
            write_delta(&path, &parent, &format!("bench-{}", d + 1), &adds, &removes);
            path
        })
        .collect();

    let mut results: BTreeMap<&str, Figures> = BTreeMap::new();
    let query_sets = [
        ("present", &present),
        ("absent", &absent),
        ("mix 0.1%", &mix),
    ];
    let measure =
        |name: &'static str, engine: &dyn Engine, mut f: Figures| -> (&'static str, Figures) {
            for (qname, qs) in &query_sets {
                for (t, tname) in [(1, "1 thread"), (threads, "all cores")] {
                    f.rates
                        .insert(format!("{qname}, {tname}"), rate(engine, qs, t, false));
                    f.rates.insert(
                        format!("{qname}, {tname}, batch"),
                        rate(engine, qs, t, true),
                    );
                }
            }
            println!("measured {name}");
            (name, f)
        };

    // cisgate, in the КИ block layout and in format 1's layout (one FST).
    for (name, layout) in [
        ("cisgate", index::Layout::KiBlocks),
        ("cisgate-fst", index::Layout::Fst),
    ] {
        if !wanted(name) {
            continue;
        }
        let options = index::BuildOptions {
            cis_layout: layout,
            ..Default::default()
        };
        let timed_build = |dir: &Path, list: &Path| {
            let t = Instant::now();
            index::build(dir, &[list.to_path_buf()], &options, &NoProgress).unwrap();
            secs(t.elapsed())
        };
        let d1 = tmp.join(format!("{name}-sorted"));
        let build_sorted = timed_build(&d1, &sorted_list);
        // Compaction: the base and eight delta layers folded into a new base.
        let keep = index::ApplyOptions {
            compact_after_layers: 0,
            compact_after_size_ratio: 0.0,
            ..Default::default()
        };
        for delta in &deltas {
            index::apply(&d1, std::slice::from_ref(delta), &keep, &NoProgress).unwrap();
        }
        let t = Instant::now();
        let compact_options = index::CompactOptions {
            cis_layout: layout,
            ..Default::default()
        };
        let compacted = index::compact(&d1, &compact_options, &NoProgress).unwrap();
        let compact = secs(t.elapsed());
        assert_eq!(compacted.layers_folded, 8);
        std::fs::remove_dir_all(&d1).unwrap();
        let d = tmp.join(name);
        let build_zstd = timed_build(&d, &zstd_list);
        let t = Instant::now();
        drop(OpenOptions::new().verify_checksums(true).open(&d).unwrap());
        let open_verified = secs(t.elapsed()) * 1000.0;
        let t = Instant::now();
        let idx = OpenOptions::new().verify_checksums(false).open(&d).unwrap();
        let open = secs(t.elapsed()) * 1000.0;
        let bytes = dir_bytes(&d, "seg-000001-blocked_cis.");
        let engine = Cisgate(idx);
        let f = Figures {
            build_sorted_s: Some(build_sorted),
            build_unsorted_zstd_s: Some(build_zstd),
            compact_s: Some(compact),
            bytes_per_key: Some(bytes as f64 / n as f64),
            open_ms: Some(open),
            open_verified_ms: Some(open_verified),
            ..Default::default()
        };
        let (name, mut f) = measure(name, &engine, f);
        // Memory-mapped: what is resident is the page cache of the files, at most their size.
        f.memory_bytes_per_key = f.bytes_per_key;
        results.insert(name, f);
    }
    // hashbrown HashSet, rebuilt in memory from the unsorted list
    if wanted("hashbrown") {
        let t = Instant::now();
        let mut set = hashbrown::HashSet::with_capacity(n);
        for k in &unsorted {
            set.insert(k.clone().into_boxed_slice());
        }
        let build = secs(t.elapsed());
        // Heap: the table (pointer, length and control byte per bucket) plus one
        // allocation per key (rounded up to the allocator's 16-byte classes).
        let table = set.capacity() as f64 * (std::mem::size_of::<Box<[u8]>>() + 1) as f64;
        let keys: f64 = unsorted
            .iter()
            .map(|k| k.len().div_ceil(16) as f64 * 16.0)
            .sum();
        let engine = HashSetEngine(set);
        let f = Figures {
            build_sorted_s: Some(build),
            memory_bytes_per_key: Some((table + keys) / n as f64),
            ..Default::default()
        };
        results.extend([measure("hashbrown HashSet", &engine, f)]);
    }
    // plain fst::Set, memory-mapped
    if wanted("fst") {
        let path = tmp.join("plain.fst");
        let t = Instant::now();
        let mut b = fst::SetBuilder::new(std::io::BufWriter::new(
            std::fs::File::create(&path).unwrap(),
        ))
        .unwrap();
        for k in &sorted {
            b.insert(k).unwrap();
        }
        b.finish().unwrap();
        let build_sorted = secs(t.elapsed());
        let bytes = std::fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        // SAFETY: the file is not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
        let set = fst::Set::new(map).unwrap();
        let open = secs(t.elapsed()) * 1000.0;
        let f = Figures {
            build_sorted_s: Some(build_sorted),
            bytes_per_key: Some(bytes as f64 / n as f64),
            memory_bytes_per_key: Some(bytes as f64 / n as f64),
            open_ms: Some(open),
            ..Default::default()
        };
        results.extend([measure("fst::Set (plain)", &FstEngine(set), f)]);
    }
    // sorted Vec<u64> of xxh3 hashes: not exact, shown for scale
    if wanted("vec") {
        let t = Instant::now();
        let mut v: Vec<u64> = unsorted
            .par_iter()
            .map(|k| xxhash_rust::xxh3::xxh3_64(k))
            .collect();
        v.par_sort_unstable();
        v.dedup();
        let build = secs(t.elapsed());
        let per_key = 8.0 * v.len() as f64 / n as f64;
        let f = Figures {
            build_sorted_s: Some(build),
            bytes_per_key: Some(per_key),
            memory_bytes_per_key: Some(per_key),
            ..Default::default()
        };
        results.extend([measure("Vec<u64> xxh3 (inexact)", &HashVec(v), f)]);
    }
    // SQLite WITHOUT ROWID
    if wanted("sqlite") {
        let path = tmp.join("ki.sqlite");
        let t = Instant::now();
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; CREATE TABLE ki (k BLOB PRIMARY KEY) WITHOUT ROWID;").unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare("INSERT OR IGNORE INTO ki (k) VALUES (?1)")
                .unwrap();
            for k in &sorted {
                stmt.execute([k]).unwrap();
            }
        }
        tx.commit().unwrap();
        drop(conn);
        let build = secs(t.elapsed());
        let bytes = std::fs::metadata(&path).unwrap().len();
        let f = Figures {
            build_sorted_s: Some(build),
            bytes_per_key: Some(bytes as f64 / n as f64),
            ..Default::default()
        };
        results.extend([measure("SQLite WITHOUT ROWID", &Sqlite { path }, f)]);
    }

    report(&results, n, &population);
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn report(results: &BTreeMap<&str, Figures>, n: usize, population: &str) {
    let ours = results.get("cisgate");
    println!(
        "\n{n} keys ({population}). Rates in million lookups per second; ratio = cisgate ÷ baseline.\n"
    );
    print!("{:<34}", "figure");
    for (name, _) in results.iter() {
        print!(" {name:>24}");
    }
    println!();
    type Row = (&'static str, fn(&Figures) -> Option<f64>, usize);
    let rows: [Row; 7] = [
        ("build from sorted, s", |f| f.build_sorted_s, 2),
        (
            "build from unsorted zstd, s",
            |f| f.build_unsorted_zstd_s,
            2,
        ),
        ("compact base + 8 layers, s", |f| f.compact_s, 2),
        (
            "bytes per key (КИ table, filter incl.)",
            |f| f.bytes_per_key,
            2,
        ),
        ("open, ms (no verification)", |f| f.open_ms, 3),
        ("open, ms (verified)", |f| f.open_verified_ms, 1),
        ("memory, bytes per key", |f| f.memory_bytes_per_key, 1),
    ];
    for (label, get, digits) in rows {
        print!("{label:<34}");
        for f in results.values() {
            print!(" {:>24}", fmt_opt(get(f), digits));
        }
        println!();
    }
    let Some(first) = results.values().next() else {
        return;
    };
    for key in first.rates.keys() {
        print!("{key:<34}");
        for (name, f) in results.iter() {
            let r = f.rates[key];
            match ours {
                Some(ours) if *name != "cisgate" => print!(
                    " {:>24}",
                    format!("{:.2} ({:.2}×)", r / 1e6, ours.rates[key] / r)
                ),
                _ => print!(" {:>24}", format!("{:.2}", r / 1e6)),
            }
        }
        println!();
    }
    // The engine-v2 goals, as ratios within this run.
    if let Some(ours) = ours {
        println!("\ngoals (issue 12), measured in this run:");
        let rate = |f: &Figures, k: &str| f.rates.get(k).copied();
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        let show = |label: &str, value: Option<f64>, goal: &str, met: Option<bool>| {
            println!(
                "  {label:<58} {:>9}  goal {goal:<10} {}",
                fmt_opt(value, 2),
                match met {
                    Some(true) => "met",
                    Some(false) => "NOT met",
                    None => "–",
                }
            );
        };
        let at_least = |label: &str, value: Option<f64>, min: f64| {
            show(label, value, &format!("≥ {min}"), value.map(|r| r >= min))
        };
        // cisgate's rate for `key` ÷ the baseline's rate.
        let vs = |baseline: Option<&Figures>, key: &str| {
            ratio(rate(ours, key), baseline.and_then(|b| rate(b, key)))
        };
        let hash = results.get("hashbrown HashSet");
        let fst = results.get("fst::Set (plain)");
        let v1 = results.get("cisgate-fst");
        let bpk = ours.bytes_per_key;
        show(
            "bytes per key, КИ table with its filter",
            bpk,
            "≤ 10.5",
            bpk.map(|b| b <= 10.5),
        );
        let present = vs(hash, "present, 1 thread, batch");
        at_least("present, batch, 1 thread ÷ HashSet", present, 1.0);
        let present_fst = vs(fst, "present, 1 thread, batch");
        at_least(
            "present, batch, 1 thread ÷ plain fst::Set",
            present_fst,
            2.0,
        );
        let mix = vs(hash, "mix 0.1%, 1 thread, batch");
        at_least("checkout mix, batch, 1 thread ÷ HashSet", mix, 3.0);
        let scaling = ratio(
            rate(ours, "mix 0.1%, all cores, batch"),
            rate(ours, "mix 0.1%, 1 thread, batch"),
        );
        at_least("checkout mix, batch, all cores ÷ 1 thread", scaling, 1.8);
        let build = ratio(
            fst.and_then(|f| f.build_sorted_s),
            ours.build_unsorted_zstd_s,
        );
        at_least(
            "build: plain fst::Set from sorted ÷ cisgate from unsorted zstd",
            build,
            5.0,
        );
        let compact = ratio(v1.and_then(|f| f.compact_s), ours.compact_s);
        at_least("compaction: format-1 layout ÷ КИ blocks", compact, 5.0);
        show(
            "open without verification, ms",
            ours.open_ms,
            "< 1",
            ours.open_ms.map(|t| t < 1.0),
        );
        show(
            "open with checksum verification, ms",
            ours.open_verified_ms,
            "< 100",
            ours.open_verified_ms.map(|t| t < 100.0),
        );
    }
    let json = serde_json::json!({ "keys": n, "population": population, "engines": results });
    let out =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/compare-{population}.json"));
    std::fs::write(&out, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    println!("\nwritten to {}", out.display());
}
