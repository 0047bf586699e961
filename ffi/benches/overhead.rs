//! The cost of the C ABI: batch checks of the same codes on the same index, through the
//! Rust API and through the C ABI from a C program, in one run.
//!
//! `cargo bench -p cisgate-ffi --bench overhead [-- --codes N]` (default 1,000,000 banned
//! КИ, 1,000,000 scans). Compiles examples/c/bench.c with the system C compiler against
//! this build's libcisgate_ffi.so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::synth::{Catalogue, GenConfig, ScanConfig};

const BATCH: usize = 1000;

fn best_of_three(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut out = 0;
    for _ in 0..3 {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let codes: u64 = args
        .iter()
        .position(|a| a == "--codes")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let config = GenConfig {
        seed: 3,
        codes,
        gtins: 20_000,
        zstd: false,
        version: "bench".into(),
        as_of_ms: cisgate::time::now_ms(),
    };
    let lists = cisgate::synth::write_lists(&dir.path().join("lists"), &config).unwrap();
    let idx = dir.path().join("idx");
    cisgate::index::build(
        &idx,
        &lists.files,
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    // Scans as a till sends them: full codes, 1 % banned, 20 % with scanner noise.
    let scans = dir.path().join("scans.txt");
    let scan_config = ScanConfig {
        count: 1_000_000,
        banned_share: 0.01,
        noise_share: 0.2,
    };
    cisgate::synth::write_scans(&scans, &dir.path().join("expected"), &config, &scan_config)
        .unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&scans)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let catalogue = Catalogue::new(&config);
    let kis_path = dir.path().join("kis.txt");
    let kis: Vec<Vec<u8>> = (0..1_000_000u64)
        .map(|i| {
            catalogue
                .code(if i % 1000 == 0 {
                    i
                } else {
                    codes + 1_000_000 + i
                })
                .ki
        })
        .collect();
    let mut text = Vec::new();
    for k in &kis {
        text.extend_from_slice(k);
        text.push(b'\n');
    }
    std::fs::write(&kis_path, &text).unwrap();
    // The banned КИ, for the C hash set a C integrator would write instead.
    let banned_path = dir.path().join("banned.txt");
    let mut banned = Vec::new();
    for i in 0..codes {
        banned.extend_from_slice(&catalogue.code(i).ki);
        banned.push(b'\n');
    }
    std::fs::write(&banned_path, &banned).unwrap();

    // Rust.
    let live = LiveIndex::open(
        &idx,
        LiveOptions {
            max_age_ms: None,
            ..Default::default()
        },
    )
    .unwrap();
    let options = cisgate::CheckOptions::default();
    let generation = live.generation();
    let mut found = Vec::new();
    // The Rust batch path the C ABI stands on: decisions into a reused buffer, across
    // the cores, as `cisgate_check_batch` does.
    let mut decisions = vec![cisgate::check::Decision::default(); BATCH];
    let mut measure_rust = || {
        let (check, blocked) = best_of_three(|| {
            lines
                .chunks(BATCH)
                .map(|c| {
                    let out = &mut decisions[..c.len()];
                    live.par_check_batch_into(c, &options, out).unwrap();
                    out.iter()
                        .filter(|d| d.status() == cisgate::check::Status::Blocked)
                        .count()
                })
                .sum()
        });
        let (contains, hits) = best_of_three(|| {
            kis.chunks(BATCH)
                .map(|c| {
                    generation.index().contains_ki_batch(c, &mut found);
                    found.iter().filter(|&&f| f).count()
                })
                .sum()
        });
        (
            lines.len() as f64 / check,
            blocked,
            kis.len() as f64 / contains,
            hits,
        )
    };

    // C, through the ABI.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let exe = std::env::current_exe().unwrap();
    // `cargo bench` leaves the shared library beside the bench binary (deps/); a release
    // build puts it one level up.
    let deps = exe.parent().unwrap();
    let lib: PathBuf = [deps, deps.parent().unwrap()]
        .into_iter()
        .find(|d| d.join("libcisgate_ffi.so").exists())
        .expect("libcisgate_ffi.so was not built")
        .to_path_buf();
    let bench = dir.path().join("bench");
    let cc = Command::new("cc")
        .args(["-O2", "-I"])
        .arg(repo.join("ffi/include"))
        .arg(repo.join("examples/c/bench.c"))
        .arg("-L")
        .arg(&lib)
        .arg("-lcisgate_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&bench)
        .status()
        .unwrap();
    assert!(cc.success(), "compiling examples/c/bench.c");
    // `one_thread`: the library's pool of one thread, and the C hash set (which runs on the
    // calling thread alone) beside it, for a per-thread comparison.
    let measure_c = |one_thread: bool| {
        let mut command = Command::new(&bench);
        command
            .arg(&idx)
            .arg(&scans)
            .arg(&kis_path)
            .arg(BATCH.to_string());
        if one_thread {
            command.env("RAYON_NUM_THREADS", "1").arg(&banned_path);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |name: &str| -> (f64, usize) {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            let mut words = line.split_whitespace();
            let rate = words.nth(1).unwrap().parse().unwrap();
            let count = words
                .next()
                .unwrap()
                .trim_start_matches('(')
                .parse()
                .unwrap();
            (rate, count)
        };
        let (check, blocked) = field("check_batch ");
        let (contains, hits) = field("contains_ki_batch ");
        let against_hash_set = one_thread.then(|| {
            let (hash_set, set_hits) = field("hash_set ");
            let (check_ki, ki_blocked) = field("check_batch_ki ");
            // The hash set holds the banned КИ only; cisgate's check also blocks on the
            // other lists, so it blocks at least what the set finds.
            assert_eq!(
                set_hits, hits,
                "the C hash set and cisgate find the same banned КИ"
            );
            assert!(ki_blocked >= hits);
            (hash_set, check_ki)
        });
        (check, blocked, contains, hits, against_hash_set)
    };
    // Alternated, best of each side: drift of this shared machine during the run hits
    // both sides alike.
    let (mut rust_check, mut rust_contains, mut c_check, mut c_contains) = (0f64, 0f64, 0f64, 0f64);
    let (mut c_hash_set, mut c_check_ki, mut c_contains_1) = (0f64, 0f64, 0f64);
    let (mut rust_blocked, mut rust_found, mut c_blocked, mut c_found) = (0, 0, 0, 0);
    for _ in 0..2 {
        let (check, blocked, contains, hits) = measure_rust();
        rust_check = rust_check.max(check);
        rust_contains = rust_contains.max(contains);
        (rust_blocked, rust_found) = (blocked, hits);
        let (check, blocked, contains, hits, _) = measure_c(false);
        c_check = c_check.max(check);
        c_contains = c_contains.max(contains);
        let (_, _, contains_1, _, against) = measure_c(true);
        let (hash_set, check_ki) = against.expect("the one-thread run measures the hash set");
        c_hash_set = c_hash_set.max(hash_set);
        c_check_ki = c_check_ki.max(check_ki);
        c_contains_1 = c_contains_1.max(contains_1);
        (c_blocked, c_found) = (blocked, hits);
    }
    assert_eq!(c_blocked, rust_blocked, "the same answers through both");
    assert_eq!(c_found, rust_found, "the same answers through both");
    println!(
        "{} banned КИ, {} scans, batches of {BATCH}, {} threads",
        codes,
        lines.len(),
        rayon::current_num_threads()
    );
    for (name, rust, c) in [
        ("check_batch (scans, full codes)", rust_check, c_check),
        (
            "contains_ki_batch (canonical КИ)",
            rust_contains,
            c_contains,
        ),
    ] {
        println!(
            "{name:<34} Rust {:>6.2} M/s   C ABI from C {:>6.2} M/s   overhead {:+.1} %",
            rust / 1e6,
            c / 1e6,
            (rust / c - 1.0) * 100.0
        );
    }
    println!(
        "From C, one thread (RAYON_NUM_THREADS=1), bare КИ, 1 in 1000 banned: a linear-probing \
         C hash set {:.2} M/s; cisgate_check_batch {:.2} M/s ({:.2}×, goal ≥ 1.5×); \
         cisgate_contains_ki_batch {:.2} M/s ({:.2}×, goal ≥ 3×)",
        c_hash_set / 1e6,
        c_check_ki / 1e6,
        c_check_ki / c_hash_set,
        c_contains_1 / 1e6,
        c_contains_1 / c_hash_set
    );
}
