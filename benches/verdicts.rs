//! Verdicts per second as users get them: full scanner strings in, decisions out, through
//! the check path every front door uses, beside the check an integrator writes by hand.
//!
//! `cargo bench --bench verdicts -- [--keys N] [--scans N] [--population synthetic|skewed]
//! [--batch N]` (defaults: 10,000,000 banned КИ, 1,000,000 scans, synthetic, batches of
//! 1000). One process builds the lists (banned КИ, banned and grey GTINs, banned series,
//! minimum prices), compiles them, registers 100,000 sales in the sold journal, and draws
//! the scans: full codes as tills send them (КИ + GS + AI 91 + AI 92 crypto, or the 29-character
//! tobacco pack), 0.1 % of them banned КИ, 10 % in another scanner form (`]d2`, textual
//! `<GS>`, bracketed AIs), a few already sold.
//!
//! The baseline is the check written in ten lines: cut the КИ at the first GS (or take
//! the first 21 characters of a pack code), std `HashSet`s of banned КИ, banned GTINs,
//! banned series and sold КИ, a `HashMap` of minimum prices. It reads no repaired form. On
//! every scan it can read, its decision and minimum price must equal cisgate's (asserted
//! before timing). Rates: million verdicts per second, best of three passes; ratios
//! against the baseline measured in the same run. cisgate is measured where users call it:
//! the README's `check` (one code a call) and `check_batch` (one pool thread, then all),
//! beside `check_batch_into` (the caller's buffer) and the rich `explain_batch`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cisgate::check::{CheckOptions, Decision};
use cisgate::journal::SaleOp;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{Catalogue, GenConfig, Skewed};
use rayon::prelude::*;

const GS: u8 = 0x1d;

/// One scan and what the generator knows of it.
struct Scan {
    text: Vec<u8>,
    /// The form a till sends without repairs (the baseline reads only these).
    plain: bool,
}

/// A sale: the КИ and the full code the till sold.
type Sale = (Vec<u8>, Vec<u8>);

/// The lists as the baseline holds them.
#[derive(Default)]
struct Lists {
    kis: HashSet<Vec<u8>>,
    gtins: HashSet<Vec<u8>>,
    series: HashSet<Vec<u8>>,
    min_price: HashMap<Vec<u8>, u64>,
    sold: HashSet<Vec<u8>>,
}

/// The hand-written check: is the code blocked, and the GTIN's minimum price.
fn baseline(lists: &Lists, scan: &[u8]) -> (bool, Option<u64>) {
    let mut parts = scan.split(|&b| b == GS);
    let first = parts.next().unwrap_or_default();
    let (ki, gtin) = if first.starts_with(b"01") && first.len() > 18 {
        (first, &first[2..16])
    } else if first.len() >= 21 {
        (&first[..21], &first[..14])
    } else {
        return (true, None);
    };
    let mut blocked =
        lists.kis.contains(ki) || lists.gtins.contains(gtin) || lists.sold.contains(ki);
    if let Some(batch) = parts.find_map(|p| p.strip_prefix(b"10")) {
        blocked |= lists.series.contains(&[gtin, batch].concat());
    }
    (blocked, lists.min_price.get(gtin).copied())
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

/// A list file: header, then one key (and value) per line.
fn write_list(path: &Path, kind: &str, lines: impl Iterator<Item = Vec<u8>>) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let as_of = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    writeln!(
        w,
        "#cisgate-list 1\n#kind: {kind}\n#version: bench\n#as_of: {as_of}"
    )
    .unwrap();
    for line in lines {
        w.write_all(&line).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
}

/// Another scanner form of a full code, as 10 % of scans arrive.
fn noisy(km: &[u8], n: u64) -> Vec<u8> {
    match n % 3 {
        0 => [b"]d2".as_slice(), km].concat(),
        1 => {
            let mut out = Vec::with_capacity(km.len() + 12);
            for &b in km {
                if b == GS {
                    out.extend_from_slice(b"<GS>");
                } else {
                    out.push(b);
                }
            }
            out
        }
        _ if km.starts_with(b"01") => cisgate::synth::bracketed(km, b""),
        _ => [b"]d2".as_slice(), km].concat(),
    }
}

/// Million per second of `f` over `scans`, best of three.
fn best_of_three(scans: usize, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            scans as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .fold(0.0, f64::max)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` only checks that this compiles.
    }
    let keys: u64 = arg(&args, "--keys").unwrap_or(10_000_000);
    let scans_n: u64 = arg(&args, "--scans").unwrap_or(1_000_000);
    let batch: usize = arg(&args, "--batch").unwrap_or(1000);
    let population: String = arg(&args, "--population").unwrap_or_else(|| "synthetic".into());
    let threads = rayon::current_num_threads();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let started = Instant::now();

    // The lists, written as list files and held by the baseline.
    let mut lists = Lists::default();
    // Sales: (КИ, full code); the full code is what a till sells (a bare КИ can read two
    // ways without its GS).
    let (scans, sold_codes): (Vec<Scan>, Vec<Sale>) = match population.as_str() {
        "synthetic" => {
            let config = GenConfig {
                seed: 5,
                codes: keys,
                gtins: 20_000,
                zstd: false,
                version: "bench".into(),
                as_of_ms: cisgate::time::now_ms(),
            };
            let report = cisgate::synth::write_lists(&dir.join("lists"), &config).unwrap();
            assert_eq!(report.codes, keys);
            let catalogue = Catalogue::new(&config);
            lists.kis = (0..keys)
                .into_par_iter()
                .map(|i| catalogue.code(i).ki)
                .collect();
            for p in catalogue.products() {
                if p.blocked || p.grey {
                    lists.gtins.insert(p.gtin.to_vec());
                }
                if let Some(price) = p.min_price {
                    lists.min_price.insert(p.gtin.to_vec(), price);
                }
            }
            for p in catalogue.products() {
                for k in 0..8 {
                    let b = cisgate::synth::series_number(&p.gtin, k);
                    if cisgate::synth::is_banned_series(&p.gtin, &b) {
                        lists.series.insert([p.gtin.as_slice(), &b].concat());
                    }
                }
            }
            let scans = (0..scans_n)
                .into_par_iter()
                .map(|s| {
                    let i = if s % 1000 == 0 {
                        s * 7919 % keys
                    } else {
                        keys + 1_000_000_000 + s
                    };
                    let km = catalogue.code(i).km;
                    if s % 10 == 5 {
                        Scan {
                            text: noisy(&km, s / 10),
                            plain: false,
                        }
                    } else {
                        Scan {
                            text: km,
                            plain: true,
                        }
                    }
                })
                .collect();
            let sold = (0..100_000u64)
                .map(|j| {
                    // One sale in 50 is a scanned code (a return re-scanned); the rest
                    // are other codes sold here.
                    let i = if j % 50 == 0 {
                        keys + 1_000_000_000 + (j * 20 + 1) % scans_n
                    } else {
                        keys + 5_000_000_000 + j
                    };
                    let c = catalogue.code(i);
                    (c.ki, c.km)
                })
                .collect();
            (scans, sold)
        }
        "skewed" => {
            let skewed = Skewed::new();
            std::fs::create_dir_all(dir.join("lists")).unwrap();
            lists.kis = (0..keys).into_par_iter().map(|i| skewed.ki(0, i)).collect();
            let kis: Vec<&Vec<u8>> = lists.kis.iter().collect();
            write_list(
                &dir.join("lists/cis.list"),
                "blocked_cis",
                kis.into_iter().cloned(),
            );
            // 200 banned GTINs and 300 minimum prices among the products, banned series
            // of the products that carry batches.
            // Not the most popular products (product 0 alone is a tenth of all codes).
            for p in (500..Skewed::PRODUCTS).step_by(997).take(200) {
                lists.gtins.insert(skewed.gtin(p).to_vec());
            }
            for p in (0..Skewed::PRODUCTS)
                .filter(|&p| Skewed::is_pack(p))
                .step_by(13)
                .take(300)
            {
                lists
                    .min_price
                    .insert(skewed.gtin(p).to_vec(), 10_000 + p as u64 % 20_000);
            }
            for p in (0..Skewed::PRODUCTS).filter(|p| p % 20 < 10 && p % 7 == 0) {
                for k in 0..8 {
                    let g = skewed.gtin(p);
                    let b = cisgate::synth::series_number(g, k);
                    if cisgate::synth::is_banned_series(g, &b) {
                        lists.series.insert([g.as_slice(), &b].concat());
                    }
                }
            }
            write_list(
                &dir.join("lists/gtin.list"),
                "blocked_gtin",
                lists.gtins.iter().cloned(),
            );
            write_list(
                &dir.join("lists/series.list"),
                "blocked_series",
                lists
                    .series
                    .iter()
                    .map(|k| [&k[..14], b"\t", &k[14..]].concat()),
            );
            write_list(
                &dir.join("lists/price.list"),
                "min_price",
                lists
                    .min_price
                    .iter()
                    .map(|(g, p)| format!("{}\t{p}", String::from_utf8_lossy(g)).into_bytes()),
            );
            let scans = (0..scans_n)
                .into_par_iter()
                .map(|s| {
                    let code = if s % 1000 == 0 {
                        skewed.code(0, s * 7919 % keys)
                    } else {
                        skewed.code(1, s)
                    };
                    if s % 10 == 5 {
                        Scan {
                            text: noisy(&code.km, s / 10),
                            plain: false,
                        }
                    } else {
                        Scan {
                            text: code.km,
                            plain: true,
                        }
                    }
                })
                .collect();
            let sold = (0..100_000u64)
                .map(|j| {
                    let c = if j % 50 == 0 {
                        skewed.code(1, (j * 20 + 1) % scans_n)
                    } else {
                        skewed.code(3, j)
                    };
                    (c.ki, c.km)
                })
                .collect();
            (scans, sold)
        }
        other => panic!("--population {other:?}: synthetic or skewed"),
    };
    let lists_dir = dir.join("lists");
    let files: Vec<_> = std::fs::read_dir(&lists_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    let index_dir = dir.join("idx");
    cisgate::index::build(&index_dir, &files, &Default::default(), &NoProgress).unwrap();
    let live = LiveIndex::open(&index_dir, LiveOptions::default()).unwrap();
    let sold_codes: Vec<(Vec<u8>, Vec<u8>)> = sold_codes
        .into_iter()
        .filter(|(k, _)| !lists.kis.contains(k))
        .collect::<HashMap<_, _>>()
        .into_iter()
        .collect();
    for chunk in sold_codes.chunks(4000) {
        let texts: Vec<&str> = chunk
            .iter()
            .map(|(_, km)| std::str::from_utf8(km).unwrap())
            .collect();
        live.journal_batch(&texts, SaleOp::Sell, None).unwrap();
    }
    lists.sold = sold_codes.into_iter().map(|(ki, _)| ki).collect();
    let texts: Vec<&[u8]> = scans.iter().map(|s| s.text.as_slice()).collect();
    println!(
        "{} banned КИ, {} banned or grey GTINs, {} banned series, {} minimum prices, {} sales; {} scans ({population} population); ready in {:.1}s; {threads} threads",
        lists.kis.len(),
        lists.gtins.len(),
        lists.series.len(),
        lists.min_price.len(),
        lists.sold.len(),
        scans.len(),
        started.elapsed().as_secs_f64()
    );

    // The same decisions, on every scan the baseline can read.
    let options = CheckOptions::default();
    let mut decisions = vec![Decision::default(); texts.len()];
    live.check_batch_into(&texts, &options, &mut decisions)
        .unwrap();
    let (mut compared, mut blocked) = (0usize, 0usize);
    for (scan, d) in scans.iter().zip(&decisions) {
        blocked += usize::from(d.is_blocked());
        if !scan.plain {
            continue;
        }
        let (b, min) = baseline(&lists, &scan.text);
        assert_eq!(
            (b, min),
            (d.is_blocked(), d.min_price_kopecks()),
            "{:?}: baseline and cisgate differ ({d:?})",
            String::from_utf8_lossy(&scan.text)
        );
        compared += 1;
    }
    println!(
        "decisions equal on all {compared} scans the baseline reads; {blocked} of {} blocked ({:.2} %)",
        texts.len(),
        100.0 * blocked as f64 / texts.len() as f64
    );

    let n = texts.len();
    let mut out = vec![Decision::default(); batch];
    if args.iter().any(|a| a == "--stages") {
        // How the time splits: reading alone, КИ lookups alone, the whole check.
        let read = best_of_three(n, || {
            let mut found = 0usize;
            for t in &texts {
                found += usize::from(cisgate::code::scan(t).is_some());
            }
            std::hint::black_box(found);
        });
        let kis: Vec<Vec<u8>> = texts
            .iter()
            .filter_map(|t| cisgate::code::scan(t).map(|s| s.reading.ki().to_vec()))
            .collect();
        let index = live.generation();
        let mut flags = Vec::new();
        let lookups = best_of_three(kis.len(), || {
            for c in kis.chunks(batch) {
                index.index().contains_ki_batch(c, &mut flags);
            }
            std::hint::black_box(&flags);
        });
        let whole = best_of_three(n, || {
            for chunk in texts.chunks(batch) {
                live.check_batch_into(chunk, &options, &mut out[..chunk.len()])
                    .unwrap();
            }
        });
        let plain: Vec<&[u8]> = scans
            .iter()
            .filter(|s| s.plain)
            .map(|s| s.text.as_slice())
            .collect();
        let whole_plain = best_of_three(plain.len(), || {
            for chunk in plain.chunks(batch) {
                live.check_batch_into(chunk, &options, &mut out[..chunk.len()])
                    .unwrap();
            }
        });
        let noisy: Vec<&[u8]> = scans
            .iter()
            .filter(|s| !s.plain)
            .map(|s| s.text.as_slice())
            .collect();
        let whole_noisy = best_of_three(noisy.len(), || {
            for chunk in noisy.chunks(batch) {
                live.check_batch_into(chunk, &options, &mut out[..chunk.len()])
                    .unwrap();
            }
        });
        println!(
            "M/s: scan {read:.2}, contains_ki_batch {lookups:.2}, whole check {whole:.2} (plain forms {whole_plain:.2}, other forms {whole_noisy:.2})"
        );
        return;
    }
    if args.iter().any(|a| a == "--profile") {
        // Only the compact path on one thread, for a profiler.
        for _ in 0..arg(&args, "--passes").unwrap_or(200) {
            for chunk in texts.chunks(batch) {
                live.check_batch_into(chunk, &options, &mut out[..chunk.len()])
                    .unwrap();
            }
        }
        return;
    }
    let base_1 = best_of_three(n, || {
        let mut blocked = 0usize;
        for s in &texts {
            blocked += usize::from(baseline(&lists, s).0);
        }
        std::hint::black_box(blocked);
    });
    let base_all = best_of_three(n, || {
        let blocked: usize = texts
            .par_chunks(batch)
            .map(|c| c.iter().filter(|s| baseline(&lists, s).0).count())
            .sum();
        std::hint::black_box(blocked);
    });
    let ours_1 = best_of_three(n, || {
        for chunk in texts.chunks(batch) {
            live.check_batch_into(chunk, &options, &mut out[..chunk.len()])
                .unwrap();
        }
        std::hint::black_box(&out);
    });
    let ours_all = best_of_three(n, || {
        live.with_view(|view| {
            texts
                .par_chunks(batch)
                .zip(decisions.par_chunks_mut(batch))
                .for_each(|(c, o)| view.check_into(c, &options, o));
        })
        .unwrap();
        std::hint::black_box(&decisions);
    });
    let rich_1 = best_of_three(n, || {
        live.with_view(|view| {
            for chunk in texts.chunks(batch) {
                std::hint::black_box(view.verdicts(chunk, &options));
            }
        })
        .unwrap();
    });
    let text_strings: Vec<String> = texts
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    let rich_all = best_of_three(n, || {
        for chunk in text_strings.chunks(16_384) {
            std::hint::black_box(live.explain_batch(chunk, &options).unwrap());
        }
    });
    // The front door, as the README shows it: `check` one code a call, and `check_batch`
    // (a vector of decisions a batch, across the cores; on one thread in a pool of one).
    let single = best_of_three(n, || {
        for s in &texts {
            std::hint::black_box(live.check(s, &options).unwrap());
        }
    });
    let front_batch = || {
        for chunk in texts.chunks(16_384) {
            std::hint::black_box(live.check_batch(chunk, &options).unwrap());
        }
    };
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let front_1 = one_thread.install(|| best_of_three(n, front_batch));
    let front_all = best_of_three(n, front_batch);
    println!();
    println!(
        "{:<62} {:>10} {:>10}",
        "million verdicts per second",
        "1 thread",
        format!("{threads} threads")
    );
    println!(
        "{:<62} {:>10.2} {:>10.2}",
        "hand-written check (std HashSet/HashMap)", base_1, base_all
    );
    println!(
        "{:<62} {:>10.2} {:>10}",
        "cisgate check, one code a call (README)", single, "-"
    );
    println!(
        "{:<62} {:>10.2} {:>10.2}",
        "cisgate check_batch, batches of 16,384 (README)", front_1, front_all
    );
    println!(
        "{:<62} {:>10.2} {:>10.2}",
        "cisgate check_batch_into, the caller's buffer", ours_1, ours_all
    );
    println!(
        "{:<62} {:>10.2} {:>10.2}",
        "cisgate explain_batch, rich verdicts (on request)", rich_1, rich_all
    );
    println!();
    println!(
        "README paths vs hand-written, 1 thread: check {:.2}×, check_batch {:.2}×  (goal ≥ 3×)",
        single / base_1,
        front_1 / base_1
    );
    println!(
        "check_batch vs hand-written, {threads} threads: {:.2}×",
        front_all / base_all
    );
    println!(
        "check_batch, {threads} threads vs 1: {:.2}×  (goal ≥ 1.8×)",
        front_all / front_1
    );
    println!(
        "check_batch_into vs hand-written, 1 thread: {:.2}×",
        ours_1 / base_1
    );
    println!("rich vs compact, 1 thread: {:.2}×", rich_1 / ours_1);
}
