//! Side-by-side comparison of cisgate with what an integrator would otherwise use, on the
//! same keys and queries, in one process and run.
//!
//! `cargo bench --bench compare -- --keys N [--engines cisgate,hashbrown]` (default
//! 10,000,000 keys, all engines). Prints a table with each
//! figure and cisgate's ratio to every baseline, and writes the same to
//! `target/compare.json`.
//!
//! Engines: cisgate (`Index`), `hashbrown::HashSet` of the КИ (rebuilt in memory), a plain
//! `fst::Set` over the КИ text (memory-mapped), a sorted `Vec<u64>` of xxh3 hashes (not
//! exact: for scale only), SQLite with a `WITHOUT ROWID` table.

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

/// The layout proposed for the КИ table (a prototype, measured here only): a memory-mapped
/// open-addressing hash table over `prefix + serial length` (prefix = `01` + GTIN + `21`,
/// or the GTIN of a 21-character tobacco КИ; the key is stored, so a hit is exact) pointing
/// at a block of that group's serials, each packed base-82 into the
/// fewest bytes (11 for 13 characters), big-endian so that byte order is serial order,
/// searched by interpolation then a short binary search. Exact: a hit compares the packed
/// serial in full.
struct GtinBlocks {
    dict: memmap2::Mmap,
    blocks: memmap2::Mmap,
}

/// One dictionary slot: key length (0 = empty), key (≤ 19 bytes), 4 spare, value (u64 LE).
const SLOT: usize = 32;

fn dict_slot(dict: &[u8], key: &[u8]) -> Option<u64> {
    let slots = dict.len() / SLOT;
    let mut i = (xxhash_rust::xxh3::xxh3_64(key) as usize) & (slots - 1);
    loop {
        let slot = &dict[i * SLOT..(i + 1) * SLOT];
        match slot[0] as usize {
            0 => return None,
            n if n == key.len() && &slot[1..1 + n] == key => {
                return Some(u64::from_le_bytes(slot[24..32].try_into().unwrap()));
            }
            _ => i = (i + 1) & (slots - 1),
        }
    }
}

/// Serial character → base-82 digit in byte order (0xFF: not a GS1 character).
fn gs1_digits() -> [u8; 256] {
    let mut table = [0xFFu8; 256];
    let mut next = 0u8;
    for b in 0..=255u8 {
        if cisgate::code::alphabet::is_gs1_char(b) {
            table[b as usize] = next;
            next += 1;
        }
    }
    table
}

fn split_ki(ki: &[u8]) -> (&[u8], &[u8]) {
    let at = if ki.starts_with(b"01") && ki.len() > 18 {
        18
    } else {
        14.min(ki.len())
    };
    ki.split_at(at)
}

/// Bytes of a packed serial of `len` characters: ceil(len × log2 82 / 8).
fn packed_width(len: usize) -> usize {
    ((len as f64 * 82f64.log2()) / 8.0).ceil() as usize
}

fn pack(serial: &[u8], digits: &[u8; 256], out: &mut [u8]) -> bool {
    let mut v: u128 = 0;
    for &c in serial {
        let d = digits[c as usize];
        if d == 0xFF {
            return false;
        }
        v = v * 82 + u128::from(d);
    }
    let bytes = v.to_be_bytes();
    out.copy_from_slice(&bytes[16 - out.len()..]);
    true
}

impl GtinBlocks {
    /// Builds from sorted, distinct КИ of at most 20 serial characters.
    fn build(sorted: &[Vec<u8>], dir: &Path) -> GtinBlocks {
        let digits = gs1_digits();
        // Sorted input keeps each prefix's КИ together: one pass, split by serial length.
        fn flush<'k>(
            prefix: &[u8],
            run: &mut Vec<(usize, Vec<&'k [u8]>)>,
            groups: &mut Vec<(Vec<u8>, Vec<&'k [u8]>)>,
        ) {
            for (len, serials) in run.drain(..) {
                let mut key = prefix.to_vec();
                key.push(len as u8);
                groups.push((key, serials));
            }
        }
        let mut groups: Vec<(Vec<u8>, Vec<&[u8]>)> = Vec::new();
        let mut run_prefix: &[u8] = &[];
        let mut run: Vec<(usize, Vec<&[u8]>)> = Vec::new();
        for ki in sorted {
            let (prefix, serial) = split_ki(ki);
            if prefix != run_prefix {
                flush(run_prefix, &mut run, &mut groups);
                run_prefix = prefix;
            }
            match run.iter_mut().find(|(len, _)| *len == serial.len()) {
                Some((_, serials)) => serials.push(serial),
                None => run.push((serial.len(), vec![serial])),
            }
        }
        flush(run_prefix, &mut run, &mut groups);
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut blocks = Vec::new();
        let slots = (groups.len() * 2).next_power_of_two().max(2);
        let mut dict = vec![0u8; slots * SLOT];
        for (key, serials) in &groups {
            let width = packed_width(serials[0].len());
            let offset = blocks.len() as u64;
            let mut records: Vec<Vec<u8>> = serials
                .iter()
                .filter_map(|s| {
                    let mut packed = vec![0u8; width];
                    pack(s, &digits, &mut packed).then_some(packed)
                })
                .collect();
            // Packing keeps order only among equal lengths, which a group has.
            records.sort_unstable();
            for r in &records {
                blocks.extend_from_slice(r);
            }
            // Value: offset (40 bits) | count (24 bits).
            let value = (offset << 24) | records.len() as u64;
            let mut at = (xxhash_rust::xxh3::xxh3_64(key) as usize) & (slots - 1);
            while dict[at * SLOT] != 0 {
                at = (at + 1) & (slots - 1);
            }
            let slot = &mut dict[at * SLOT..(at + 1) * SLOT];
            slot[0] = key.len() as u8;
            slot[1..1 + key.len()].copy_from_slice(key);
            slot[24..32].copy_from_slice(&value.to_le_bytes());
        }
        std::fs::write(dir.join("blocks.dict"), &dict).unwrap();
        std::fs::write(dir.join("blocks.data"), &blocks).unwrap();
        GtinBlocks::open(dir)
    }

    fn open(dir: &Path) -> GtinBlocks {
        let map = |name: &str| unsafe {
            memmap2::Mmap::map(&std::fs::File::open(dir.join(name)).unwrap()).unwrap()
        };
        GtinBlocks {
            dict: map("blocks.dict"),
            blocks: map("blocks.data"),
        }
    }
}

thread_local! {
    static DIGITS: [u8; 256] = gs1_digits();
}

impl Engine for GtinBlocks {
    fn contains(&self, ki: &[u8]) -> bool {
        let (prefix, serial) = split_ki(ki);
        if serial.is_empty() || serial.len() > 20 {
            return false;
        }
        let mut key = [0u8; 19];
        key[..prefix.len()].copy_from_slice(prefix);
        key[prefix.len()] = serial.len() as u8;
        let Some(v) = dict_slot(&self.dict, &key[..prefix.len() + 1]) else {
            return false;
        };
        let (offset, count) = ((v >> 24) as usize, (v & 0xFF_FFFF) as usize);
        let width = packed_width(serial.len());
        let mut want = [0u8; 16];
        if !DIGITS.with(|d| pack(serial, d, &mut want[..width])) {
            return false;
        }
        let want = &want[..width];
        let block = &self.blocks[offset..offset + count * width];
        let record = |i: usize| &block[i * width..(i + 1) * width];
        // Serials are uniform: interpolate on the leading 8 bytes, then search near the guess.
        let lead = |r: &[u8]| {
            let mut b = [0u8; 8];
            let n = r.len().min(8);
            b[..n].copy_from_slice(&r[..n]);
            u64::from_be_bytes(b)
        };
        let (mut lo, mut hi) = (0usize, count);
        if count > 16 {
            let (first, last, x) = (lead(record(0)), lead(record(count - 1)), lead(want));
            if x < first || x > last {
                return false;
            }
            let span = (last - first).max(1) as u128;
            let guess = (((x - first) as u128 * (count - 1) as u128) / span) as usize;
            let window = 8usize;
            let (a, b) = (
                guess.saturating_sub(window),
                (guess + window + 1).min(count),
            );
            if record(a) <= want && want <= record(b - 1) {
                lo = a;
                hi = b;
            }
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            match record(mid).cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

#[derive(Default, serde::Serialize)]
struct Figures {
    build_sorted_s: Option<f64>,
    build_unsorted_zstd_s: Option<f64>,
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` only checks that this compiles.
    }
    let keys_n: u64 = args
        .iter()
        .position(|a| a == "--keys")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(10_000_000);
    // `--engines cisgate,hashbrown` measures only those (names: cisgate, hashbrown, fst,
    // vec, blocks, sqlite); all by default.
    let engines: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--engines")
        .and_then(|i| args.get(i + 1))
        .map(|e| e.split(',').map(str::to_string).collect());
    let wanted = |name: &str| engines.as_ref().is_none_or(|e| e.iter().any(|w| w == name));
    let threads = rayon::current_num_threads();
    let tmp = tempfile::tempdir().unwrap();
    let config = GenConfig {
        seed: 5,
        codes: keys_n,
        gtins: 20_000,
        zstd: false,
        version: "bench".into(),
        as_of_ms: 0,
    };
    let catalogue = Catalogue::new(&config);
    let started = Instant::now();
    let unsorted: Vec<Vec<u8>> = (0..keys_n)
        .into_par_iter()
        .map(|i| catalogue.code(i).ki)
        .collect();
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
        .map(|i| catalogue.code(keys_n + 1_000_000_000 + i).ki)
        .collect();
    let mix: Vec<Vec<u8>> = (0..q)
        .map(|i| {
            if i % 1000 == 0 {
                present[i].clone()
            } else {
                absent[i].clone()
            }
        })
        .collect();
    println!(
        "{n} distinct КИ and 3 × {q} queries generated in {:.1}s; {threads} threads",
        started.elapsed().as_secs_f64()
    );

    let sorted_list = tmp.path().join("sorted.list");
    let zstd_list = tmp.path().join("unsorted.list.zst");
    write_list(&sorted_list, &sorted, false);
    write_list(&zstd_list, &unsorted, true);

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

    // cisgate
    if wanted("cisgate") {
        let timed_build = |dir: &Path, list: &Path| {
            let t = Instant::now();
            index::build(dir, &[list.to_path_buf()], &Default::default(), &NoProgress).unwrap();
            secs(t.elapsed())
        };
        let d1 = tmp.path().join("cis-sorted");
        let build_sorted = timed_build(&d1, &sorted_list);
        std::fs::remove_dir_all(&d1).unwrap();
        let d = tmp.path().join("cis");
        let build_zstd = timed_build(&d, &zstd_list);
        let t = Instant::now();
        drop(OpenOptions::new().verify_checksums(true).open(&d).unwrap());
        let open_verified = secs(t.elapsed()) * 1000.0;
        let t = Instant::now();
        let idx = OpenOptions::new().verify_checksums(false).open(&d).unwrap();
        let open = secs(t.elapsed()) * 1000.0;
        let bytes = dir_bytes(&d, "seg-");
        let engine = Cisgate(idx);
        let f = Figures {
            build_sorted_s: Some(build_sorted),
            build_unsorted_zstd_s: Some(build_zstd),
            bytes_per_key: Some(bytes as f64 / n as f64),
            open_ms: Some(open),
            open_verified_ms: Some(open_verified),
            ..Default::default()
        };
        let (name, mut f) = measure("cisgate", &engine, f);
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
        let path = tmp.path().join("plain.fst");
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
        let t = Instant::now();
        let mut keys = unsorted.clone();
        keys.sort_unstable();
        keys.dedup();
        let mut b = fst::SetBuilder::new(std::io::BufWriter::new(
            std::fs::File::create(&path).unwrap(),
        ))
        .unwrap();
        for k in &keys {
            b.insert(k).unwrap();
        }
        b.finish().unwrap();
        drop(keys);
        let build_unsorted = secs(t.elapsed());
        let bytes = std::fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        // SAFETY: the file is not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
        let set = fst::Set::new(map).unwrap();
        let open = secs(t.elapsed()) * 1000.0;
        let f = Figures {
            build_sorted_s: Some(build_sorted),
            build_unsorted_zstd_s: Some(build_unsorted),
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
    // The proposed КИ layout, prototype: GTIN dictionary + packed serial blocks.
    if wanted("blocks") {
        let dir = tmp.path().join("blocks");
        std::fs::create_dir_all(&dir).unwrap();
        let t = Instant::now();
        let engine = GtinBlocks::build(&sorted, &dir);
        let build = secs(t.elapsed());
        let t = Instant::now();
        drop(GtinBlocks::open(&dir));
        let open = secs(t.elapsed()) * 1000.0;
        let bytes = dir_bytes(&dir, "blocks.");
        let f = Figures {
            build_sorted_s: Some(build),
            bytes_per_key: Some(bytes as f64 / n as f64),
            open_ms: Some(open),
            memory_bytes_per_key: Some(bytes as f64 / n as f64),
            ..Default::default()
        };
        results.extend([measure("GTIN blocks (proposed, prototype)", &engine, f)]);
    }
    // SQLite WITHOUT ROWID
    if wanted("sqlite") {
        let path = tmp.path().join("ki.sqlite");
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

    report(&results, n);
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn report(results: &BTreeMap<&str, Figures>, n: usize) {
    let ours = results.get("cisgate");
    println!("\n{n} keys. Rates in million lookups per second; ratio = cisgate ÷ baseline.\n");
    print!("{:<34}", "figure");
    for (name, _) in results.iter() {
        print!(" {name:>24}");
    }
    println!();
    type Row = (&'static str, fn(&Figures) -> Option<f64>, usize);
    let rows: [Row; 6] = [
        ("build from sorted, s", |f| f.build_sorted_s, 2),
        (
            "build from unsorted zstd, s",
            |f| f.build_unsorted_zstd_s,
            2,
        ),
        ("bytes per key", |f| f.bytes_per_key, 2),
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
    let json = serde_json::json!({ "keys": n, "engines": results });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    println!("\nwritten to {}", out.display());
}
