//! Realistic synthetic data: list files and scan streams, reproducible from a seed.
//!
//! Codes follow the real structures (per-group serial lengths and crypto tails, valid GTIN
//! check digits over thousands of GTINs with a skewed popularity, tobacco packs with a
//! base-80 price). Code number `i` is a pure function of the seed and `i`, so any size up to
//! hundreds of millions is generated in parallel chunks with constant memory, and a scan
//! stream can draw banned codes without storing the list.
//!
//! Why one file of ~900 lines: every generator here (snapshot lists, deltas, scan streams,
//! the skewed population of the benchmarks) draws from the same seeded catalogue through
//! the same private helpers, and none of it is in the core the C ABI links (feature
//! `synth`); split it when a second, independent data source arrives.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rayon::prelude::*;

use crate::code::{GS, alphabet, layout};
use crate::list::MAGIC_LINE;

/// What to generate. `write_lists` records it beside the lists (`.synthetic.json`), so that
/// deltas and scan streams can follow the same snapshot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenConfig {
    /// Seed: the same seed gives the same files.
    pub seed: u64,
    /// Banned КИ to write (over all product groups).
    pub codes: u64,
    /// Distinct GTINs.
    pub gtins: u32,
    /// Write lists zstd-compressed (`.list.zst`).
    pub zstd: bool,
    /// Version written into list headers.
    pub version: String,
    /// `as_of` written into list headers (Unix ms).
    pub as_of_ms: i64,
}

/// What a scan stream should contain.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Number of scans.
    pub count: u64,
    /// Share of scans that are banned codes, 0..=1.
    pub banned_share: f64,
    /// Share of scans that carry scanner noise, 0..=1.
    pub noise_share: f64,
}

/// Product groups: True API id, serial length (0 = tobacco pack), crypto tail, weight.
#[derive(Clone, Copy)]
struct Group {
    pg: u32,
    serial_len: usize,
    tail: Tail,
    weight: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Tail {
    /// `91` key id + `92` crypto (44).
    Long,
    /// `93` + 4.
    Short,
    /// `93` + 4, then a weight (`3103`) in some codes.
    ShortWeight,
    /// Medicines: `91`/`92`, and a batch (`10`) for the series list.
    Medicine,
    /// 29-character pack code, no AIs.
    Pack,
}

const GROUPS: [Group; 13] = [
    Group {
        pg: 1,
        serial_len: 13,
        tail: Tail::Long,
        weight: 20,
    },
    Group {
        pg: 2,
        serial_len: 13,
        tail: Tail::Long,
        weight: 10,
    },
    Group {
        pg: 3,
        serial_len: 0,
        tail: Tail::Pack,
        weight: 15,
    },
    Group {
        pg: 4,
        serial_len: 13,
        tail: Tail::Long,
        weight: 3,
    },
    Group {
        pg: 5,
        serial_len: 13,
        tail: Tail::Long,
        weight: 2,
    },
    Group {
        pg: 6,
        serial_len: 20,
        tail: Tail::Short,
        weight: 2,
    },
    Group {
        pg: 7,
        serial_len: 13,
        tail: Tail::Medicine,
        weight: 8,
    },
    Group {
        pg: 8,
        serial_len: 6,
        tail: Tail::ShortWeight,
        weight: 15,
    },
    Group {
        pg: 13,
        serial_len: 13,
        tail: Tail::Short,
        weight: 10,
    },
    Group {
        pg: 15,
        serial_len: 7,
        tail: Tail::Short,
        weight: 8,
    },
    Group {
        pg: 16,
        serial_len: 0,
        tail: Tail::Pack,
        weight: 2,
    },
    Group {
        pg: 17,
        serial_len: 13,
        tail: Tail::Short,
        weight: 3,
    },
    Group {
        pg: 19,
        serial_len: 13,
        tail: Tail::Short,
        weight: 2,
    },
];

/// SplitMix64: tiny, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64, i: u64) -> Rng {
        let mut r = Rng(seed
            ^ stream.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Seeded as the skewed population always was (no mixing of the seed).
    fn raw(seed: u64) -> Rng {
        Rng(seed)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A character of `set` by remainder (the skewed population's draw).
    fn pick_mod(&mut self, set: &[u8]) -> u8 {
        set[(self.next() % set.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick(&mut self, set: &[u8]) -> u8 {
        set[self.below(set.len() as u64) as usize]
    }
}

const GS1_SET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'()*+,-./:;<=>?_";
const CRYPTO_SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
const STREAM_GTIN: u64 = 1;
const STREAM_CODE: u64 = 2;
const STREAM_SCAN: u64 = 3;

/// One GTIN of the synthetic catalogue.
#[derive(Clone, Debug)]
pub struct Product {
    /// GTIN-14 with a valid check digit.
    pub gtin: [u8; 14],
    /// Index into the product-group table.
    group: usize,
    /// Banned by an authority.
    pub blocked: bool,
    /// Grey: online decision only.
    pub grey: bool,
    /// Minimum price (nicotine products), kopecks.
    pub min_price: Option<u64>,
}

/// The synthetic world: the catalogue of GTINs from which codes are drawn.
pub struct Catalogue {
    config: GenConfig,
    products: Vec<Product>,
}

impl Catalogue {
    /// Builds the catalogue for a configuration.
    pub fn new(config: &GenConfig) -> Catalogue {
        let weight_total: u32 = GROUPS.iter().map(|g| g.weight).sum();
        let products = (0..config.gtins.max(1))
            .map(|j| {
                let mut r = Rng::new(config.seed, STREAM_GTIN, u64::from(j));
                let mut gtin = [b'0'; 14];
                gtin[1] = b'4';
                gtin[2] = b'6';
                gtin[3] = b'0' + r.below(10) as u8;
                for d in &mut gtin[4..13] {
                    *d = b'0' + r.below(10) as u8;
                }
                gtin[13] = alphabet::gtin_check_digit(&gtin[..13]);
                let mut w = r.below(u64::from(weight_total)) as u32;
                let group = GROUPS
                    .iter()
                    .position(|g| {
                        if w < g.weight {
                            true
                        } else {
                            w -= g.weight;
                            false
                        }
                    })
                    .unwrap_or(0);
                let nicotine = GROUPS[group].tail == Tail::Pack;
                Product {
                    gtin,
                    group,
                    blocked: r.chance(0.004),
                    grey: r.chance(0.002),
                    min_price: nicotine.then(|| 10_000 + r.below(20_000)),
                }
            })
            .collect();
        Catalogue {
            config: config.clone(),
            products,
        }
    }

    /// The GTINs.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// Code number `i`: its product, КИ and full marking code.
    pub fn code(&self, i: u64) -> GeneratedCode {
        let mut r = Rng::new(self.config.seed, STREAM_CODE, i);
        // Popularity is skewed: a few GTINs carry most codes.
        let u = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
        let product = ((u * u) * self.products.len() as f64) as usize;
        let product = product.min(self.products.len() - 1);
        let p = &self.products[product];
        let group = GROUPS[p.group];
        let mut ki = Vec::with_capacity(40);
        let mut km = Vec::with_capacity(120);
        let mut batch = None;
        if group.tail == Tail::Pack {
            ki.extend_from_slice(&p.gtin);
            for _ in 0..7 {
                ki.push(r.pick(GS1_SET));
            }
            km.extend_from_slice(&ki);
            let mrp = p.min_price.unwrap_or(15_000) + r.below(5_000);
            km.extend_from_slice(&alphabet::base80_encode4(mrp as u32));
            for _ in 0..4 {
                km.push(r.pick(GS1_SET));
            }
        } else {
            ki.extend_from_slice(b"01");
            ki.extend_from_slice(&p.gtin);
            ki.extend_from_slice(b"21");
            for n in 0..group.serial_len {
                // The first serial character names the issuing country in many groups.
                let c = if n == 0 && group.serial_len == 13 && r.chance(0.9) {
                    r.pick(b"5555Ee1234")
                } else {
                    r.pick(GS1_SET)
                };
                ki.push(c);
            }
            km.extend_from_slice(&ki);
            let push_ai = |km: &mut Vec<u8>, ai: &[u8], len: usize, set: &[u8], r: &mut Rng| {
                km.push(GS);
                km.extend_from_slice(ai);
                for _ in 0..len {
                    km.push(r.pick(set));
                }
            };
            match group.tail {
                Tail::Long | Tail::Medicine => {
                    push_ai(&mut km, b"91", 4, GS1_SET, &mut r);
                    push_ai(&mut km, b"92", 44, CRYPTO_SET, &mut r);
                    if group.tail == Tail::Medicine {
                        let b = series_of(&p.gtin, r.below(8));
                        km.push(GS);
                        km.extend_from_slice(b"10");
                        km.extend_from_slice(&b);
                        batch = Some(b);
                    }
                }
                Tail::Short => push_ai(&mut km, b"93", 4, GS1_SET, &mut r),
                Tail::ShortWeight => {
                    push_ai(&mut km, b"93", 4, GS1_SET, &mut r);
                    if r.chance(0.5) {
                        push_ai(&mut km, b"3103", 6, b"0123456789", &mut r);
                    }
                }
                Tail::Pack => {}
            }
        }
        GeneratedCode {
            ki,
            km,
            product,
            pg: group.pg,
            batch,
        }
    }

    /// Whether the lists ban code `c` when code numbers below `banned` are on the КИ list.
    pub fn is_blocked(&self, c: &GeneratedCode, i: u64, banned: u64) -> bool {
        let p = &self.products[c.product];
        i < banned
            || p.blocked
            || p.grey
            || c.batch
                .as_ref()
                .is_some_and(|b| series_is_banned(&p.gtin, b))
    }
}

/// A generated code.
#[derive(Clone, Debug)]
pub struct GeneratedCode {
    /// Its КИ.
    pub ki: Vec<u8>,
    /// The full marking code as printed (with GS and crypto tail).
    pub km: Vec<u8>,
    /// Index of its GTIN in the catalogue.
    pub product: usize,
    /// Product group.
    pub pg: u32,
    /// Batch (medicines).
    pub batch: Option<Vec<u8>>,
}

/// The `k`-th batch number of a medicine GTIN.
fn series_of(gtin: &[u8], k: u64) -> Vec<u8> {
    let h = xxhash_rust::xxh3::xxh3_64(gtin);
    format!("S{:05}", (h.wrapping_add(k * 7919)) % 100_000).into_bytes()
}

/// One batch in eight of every medicine GTIN is banned, decided by hashing.
fn series_is_banned(gtin: &[u8], batch: &[u8]) -> bool {
    let mut key = gtin.to_vec();
    key.extend_from_slice(batch);
    xxhash_rust::xxh3::xxh3_64(&key).is_multiple_of(8)
}

/// A second population, skewed as real catalogues are: 200,000 products with Zipf
/// (s = 1.2) popularity, so a few products hold most codes and many hold one or two; per
/// product one structure (13-character serials with a country letter, 6, 7 or 20
/// characters, tobacco packs, or sequential 13-digit serials); one product in seven of the
/// 13-character kind carries a batch (AI 10). Code `i` of stream `stream` is deterministic.
pub struct Skewed {
    gtins: Vec<[u8; 14]>,
    cdf: Vec<f64>,
}

/// One code of the skewed population.
pub struct SkewedCode {
    /// Its КИ.
    pub ki: Vec<u8>,
    /// The full marking code a scanner reads: КИ + GS + 91/92 crypto (and a batch), or
    /// the 29-character pack code.
    pub km: Vec<u8>,
    /// Index of its product.
    pub product: usize,
    /// The batch, when it carries one.
    pub batch: Option<Vec<u8>>,
}

impl Default for Skewed {
    fn default() -> Self {
        Skewed::new()
    }
}

impl Skewed {
    /// Products in the population.
    pub const PRODUCTS: usize = 200_000;

    /// The population (the same every time).
    pub fn new() -> Skewed {
        let mut rng = Rng::raw(42);
        let gtins = (0..Self::PRODUCTS)
            .map(|_| {
                let mut g = [b'0'; 14];
                g[1] = b'4';
                g[2] = b'6';
                for d in g.iter_mut().take(13).skip(3) {
                    *d = b'0' + (rng.next() % 10) as u8;
                }
                g[13] = alphabet::gtin_check_digit(&g[..13]);
                g
            })
            .collect();
        let mut cdf = Vec::with_capacity(Self::PRODUCTS);
        let mut total = 0.0;
        for r in 0..Self::PRODUCTS {
            total += 1.0 / ((r + 1) as f64).powf(1.2);
            cdf.push(total);
        }
        for c in cdf.iter_mut() {
            *c /= total;
        }
        Skewed { gtins, cdf }
    }

    /// The GTIN of product `p`.
    pub fn gtin(&self, p: usize) -> &[u8; 14] {
        &self.gtins[p % Self::PRODUCTS]
    }

    /// Whether product `p` is a tobacco pack (КИ of 21 characters, price in the code).
    pub fn is_pack(p: usize) -> bool {
        matches!(p % 20, 17 | 18)
    }

    /// The КИ of code `i` of `stream`.
    pub fn ki(&self, stream: u64, i: u64) -> Vec<u8> {
        self.code(stream, i).ki
    }

    /// Code `i` of `stream`, with the full marking code.
    pub fn code(&self, stream: u64, i: u64) -> SkewedCode {
        let mut rng = Rng::raw(stream.wrapping_mul(0xA076_1D64_78BD_642F) ^ i);
        let u = rng.unit();
        let p = self.cdf.partition_point(|&c| c < u).min(Self::PRODUCTS - 1);
        let gtin = &self.gtins[p];
        let gs1 = |serial: &[u8]| [b"01".as_slice(), gtin, b"21", serial].concat();
        let ki = match p % 20 {
            0..=9 => {
                let mut serial: Vec<u8> = (0..13).map(|_| rng.pick_mod(GS1_SET)).collect();
                if rng.unit() < 0.9 {
                    serial[0] = rng.pick_mod(b"5555Ee1234");
                }
                gs1(&serial)
            }
            10..=12 => gs1(&(0..6).map(|_| rng.pick_mod(GS1_SET)).collect::<Vec<_>>()),
            13..=15 => gs1(&(0..7).map(|_| rng.pick_mod(GS1_SET)).collect::<Vec<_>>()),
            16 => gs1(&(0..20).map(|_| rng.pick_mod(GS1_SET)).collect::<Vec<_>>()),
            17 | 18 => [
                gtin.as_slice(),
                &(0..7).map(|_| rng.pick_mod(GS1_SET)).collect::<Vec<_>>(),
            ]
            .concat(),
            // Sequential serials: the code's own number, so streams never collide.
            _ => gs1(format!("{:013}", stream * 1_000_000_000_000 + i).as_bytes()),
        };
        let mut km = ki.clone();
        let mut batch = None;
        if Self::is_pack(p) {
            km.extend_from_slice(&alphabet::base80_encode4(10_000 + rng.below(30_000) as u32));
            for _ in 0..4 {
                km.push(rng.pick(GS1_SET));
            }
        } else {
            km.push(GS);
            km.extend_from_slice(b"91");
            for _ in 0..4 {
                km.push(rng.pick(GS1_SET));
            }
            km.push(GS);
            km.extend_from_slice(b"92");
            for _ in 0..44 {
                km.push(rng.pick(CRYPTO_SET));
            }
            if p % 20 < 10 && p % 7 == 0 {
                let b = series_of(gtin, rng.below(8));
                km.push(GS);
                km.extend_from_slice(b"10");
                km.extend_from_slice(&b);
                batch = Some(b);
            }
        }
        SkewedCode {
            ki,
            km,
            product: p,
            batch,
        }
    }
}

/// Whether a medicine batch of `gtin` is on the banned-series list [`write_lists`] writes.
pub fn is_banned_series(gtin: &[u8], batch: &[u8]) -> bool {
    series_is_banned(gtin, batch)
}

/// The `k`-th batch number of `gtin`, as the generators write them.
pub fn series_number(gtin: &[u8], k: u64) -> Vec<u8> {
    series_of(gtin, k)
}

/// Files written by [`write_lists`].
#[derive(Debug)]
pub struct GenReport {
    /// The list files.
    pub files: Vec<PathBuf>,
    /// Banned КИ written.
    pub codes: u64,
}

fn create(path: &Path, zstd: bool) -> std::io::Result<Box<dyn Write + Send>> {
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    Ok(if zstd {
        let enc = zstd::stream::write::Encoder::new(file, 3)?;
        Box::new(enc.auto_finish())
    } else {
        Box::new(file)
    })
}

fn header(
    w: &mut dyn Write,
    kind: &str,
    config: &GenConfig,
    pg: Option<u32>,
) -> std::io::Result<()> {
    writeln!(w, "{MAGIC_LINE}")?;
    writeln!(w, "#kind: {kind}")?;
    writeln!(w, "#version: {}", config.version)?;
    writeln!(
        w,
        "#as_of: {}",
        crate::time::format_rfc3339(config.as_of_ms)
    )?;
    if let Some(pg) = pg {
        writeln!(w, "#pg: {pg}")?;
    }
    writeln!(w, "# generated by cisgate gen, seed {}", config.seed)
}

fn list_ext(config: &GenConfig) -> &'static str {
    if config.zstd { "list.zst" } else { "list" }
}

/// Writes one small list file `dir/<kind>.list[.zst]`: header, then whatever `body` writes.
fn write_list(
    dir: &Path,
    kind: &str,
    config: &GenConfig,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{kind}.{}", list_ext(config)));
    let mut w = create(&path, config.zstd)?;
    header(&mut w, kind, config, None)?;
    body(&mut w)?;
    w.flush()?;
    Ok(path)
}

/// The checkout mix the benchmarks measure: as many queries as `absent` holds, one in a
/// thousand a present key (taken from `present` in turn), the others absent keys.
pub fn checkout_mix(present: &[Vec<u8>], absent: &[Vec<u8>]) -> Vec<Vec<u8>> {
    (0..absent.len())
        .map(|i| {
            if i % 1000 == 0 {
                present[i % present.len()].clone()
            } else {
                absent[i].clone()
            }
        })
        .collect()
}

/// Writes the four lists into `dir`: banned КИ partitioned by product group (codes number
/// `0..codes`), banned and grey GTINs, banned medicine series and nicotine minimum prices.
pub fn write_lists(dir: &Path, config: &GenConfig) -> std::io::Result<GenReport> {
    std::fs::create_dir_all(dir)?;
    let catalogue = Catalogue::new(config);
    let ext = list_ext(config);
    let mut files = Vec::new();

    let mut writers: Vec<(u32, Box<dyn Write + Send>)> = Vec::new();
    for g in GROUPS {
        let path = dir.join(format!("blocked_cis-pg{}.{ext}", g.pg));
        let mut w = create(&path, config.zstd)?;
        header(&mut w, "blocked_cis", config, Some(g.pg))?;
        writers.push((g.pg, w));
        files.push(path);
    }
    const CHUNK: u64 = 1 << 18;
    let chunks = config.codes.div_ceil(CHUNK);
    // Generate a few chunks at a time in parallel, write them in order.
    let per_round = (rayon::current_num_threads() as u64 * 2).max(1);
    let mut next = 0;
    while next < chunks {
        let round: Vec<Vec<Vec<u8>>> = (next..(next + per_round).min(chunks))
            .into_par_iter()
            .map(|c| {
                let mut bufs = vec![Vec::new(); GROUPS.len()];
                for i in c * CHUNK..((c + 1) * CHUNK).min(config.codes) {
                    let code = catalogue.code(i);
                    let slot = GROUPS.iter().position(|g| g.pg == code.pg).unwrap_or(0);
                    bufs[slot].extend_from_slice(&code.ki);
                    bufs[slot].push(b'\n');
                }
                bufs
            })
            .collect();
        for bufs in round {
            for (slot, buf) in bufs.into_iter().enumerate() {
                writers[slot].1.write_all(&buf)?;
            }
        }
        next += per_round;
    }
    for (_, mut w) in writers {
        w.flush()?;
    }

    let products = catalogue.products();
    files.push(write_list(dir, "blocked_gtin", config, |w| {
        for p in products {
            if p.blocked {
                writeln!(w, "{}", String::from_utf8_lossy(&p.gtin))?;
            }
            if p.grey {
                writeln!(w, "{}\tgrey", String::from_utf8_lossy(&p.gtin))?;
            }
        }
        Ok(())
    })?);
    files.push(write_list(dir, "blocked_series", config, |w| {
        for p in products
            .iter()
            .filter(|p| GROUPS[p.group].tail == Tail::Medicine)
        {
            for k in 0..8 {
                let b = series_of(&p.gtin, k);
                if series_is_banned(&p.gtin, &b) {
                    writeln!(
                        w,
                        "{}\t{}",
                        String::from_utf8_lossy(&p.gtin),
                        String::from_utf8_lossy(&b)
                    )?;
                }
            }
        }
        Ok(())
    })?);
    files.push(write_list(dir, "min_price", config, |w| {
        for p in products {
            if let Some(price) = p.min_price {
                writeln!(w, "{}\t{price}", String::from_utf8_lossy(&p.gtin))?;
            }
        }
        Ok(())
    })?);
    let recorded = serde_json::to_vec_pretty(config).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(CONFIG_FILE), recorded)?;
    Ok(GenReport {
        files,
        codes: config.codes,
    })
}

/// Where [`write_lists`] records its configuration: hidden, so that a directory of lists
/// given to `build` does not take it for a list.
pub const CONFIG_FILE: &str = ".synthetic.json";

/// The configuration [`write_lists`] recorded in `dir`.
pub fn read_config(dir: &Path) -> std::io::Result<GenConfig> {
    let path = dir.join(CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "{}: {e} (lists written by `cisgate gen` have it)",
                path.display()
            ),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// What a synthetic delta holds.
#[derive(Clone, Debug)]
pub struct DeltaConfig {
    /// Version the delta applies to.
    pub parent: String,
    /// Version it produces.
    pub version: String,
    /// Sequence number: delta `k` adds codes `codes + k·adds ..` and removes a different
    /// spread of the original codes than delta `k - 1`.
    pub sequence: u64,
    /// Banned КИ added.
    pub adds: u64,
    /// Banned КИ removed (from the snapshot's `0..codes`).
    pub removes: u64,
}

/// Writes a `blocked_cis` delta against the lists of `config`.
pub fn write_delta(path: &Path, config: &GenConfig, delta: &DeltaConfig) -> std::io::Result<()> {
    let catalogue = Catalogue::new(config);
    let mut w = create(path, config.zstd)?;
    writeln!(w, "{MAGIC_LINE}")?;
    writeln!(w, "#kind: blocked_cis")?;
    writeln!(w, "#type: delta")?;
    writeln!(w, "#parent: {}", delta.parent)?;
    writeln!(w, "#version: {}", delta.version)?;
    writeln!(
        w,
        "#as_of: {}",
        crate::time::format_rfc3339(config.as_of_ms)
    )?;
    let first_new = config.codes + delta.sequence * delta.adds;
    for i in first_new..first_new + delta.adds {
        w.write_all(b"+")?;
        w.write_all(&catalogue.code(i).ki)?;
        w.write_all(b"\n")?;
    }
    let stride = (config.codes / delta.removes.max(1)).max(1);
    for n in 0..delta.removes.min(config.codes) {
        let i = (n * stride + delta.sequence) % config.codes.max(1);
        w.write_all(b"-")?;
        w.write_all(&catalogue.code(i).ki)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Writes a scan stream to `scans` (one input per line, as a scanner or cash program would
/// send it) and the expected decision per line to `expected` (`blocked` / `allowed`).
/// Banned scans are drawn from code numbers `0..config.codes`, the others from beyond.
pub fn write_scans(
    scans: &Path,
    expected: &Path,
    config: &GenConfig,
    scan: &ScanConfig,
) -> std::io::Result<()> {
    let catalogue = Catalogue::new(config);
    let mut out = BufWriter::new(File::create(scans)?);
    let mut exp = BufWriter::new(File::create(expected)?);
    for s in 0..scan.count {
        let mut r = Rng::new(config.seed, STREAM_SCAN, s);
        let i = if config.codes > 0 && r.chance(scan.banned_share) {
            r.below(config.codes)
        } else {
            config.codes + r.below(1 << 40)
        };
        let code = catalogue.code(i);
        let noisy = if r.chance(scan.noise_share) {
            add_noise(&code, &mut r)
        } else {
            code.km.clone()
        };
        let text = String::from_utf8_lossy(&noisy).into_owned();
        writeln!(out, "{text}")?;
        let blocked = catalogue.is_blocked(&code, i, config.codes);
        writeln!(exp, "{}", if blocked { "blocked" } else { "allowed" })?;
    }
    out.flush()?;
    exp.flush()
}

/// One scanner-noise form, applied to a full code. Every form keeps the КИ recoverable.
fn add_noise(code: &GeneratedCode, r: &mut Rng) -> Vec<u8> {
    let km = &code.km;
    let pack = !km.starts_with(b"01");
    let replace_gs = |with: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(km.len() + 16);
        for &b in km {
            if b == GS {
                out.extend_from_slice(with);
            } else {
                out.push(b);
            }
        }
        out
    };
    let form = if pack { r.below(3) } else { r.below(12) };
    match form {
        0 => [b"]d2".as_slice(), km].concat(),
        1 => base64::engine::general_purpose::STANDARD
            .encode(km)
            .into_bytes(),
        2 => {
            let text = String::from_utf8_lossy(km);
            if text.bytes().any(|b| b.is_ascii_alphabetic()) {
                text.chars()
                    .map(|c| layout::us_to_ru(c).unwrap_or(c))
                    .collect::<String>()
                    .into_bytes()
            } else {
                km.clone()
            }
        }
        3 => [&[GS][..], km].concat(),
        4 => replace_gs(b""),
        5 => replace_gs(b"<GS>"),
        6 => replace_gs(b"[GS]"),
        7 => replace_gs(b"\\x1d"),
        8 => replace_gs(b"\\u001d"),
        9 => replace_gs(b"\\035"),
        10 => km[1..].to_vec(),
        _ => bracketed(km, b""),
    }
}

/// A GS1 full code with its AIs in brackets, `(01)GTIN(21)serial(93)…`, as some scanners
/// and hand-typed inputs send it; `between` goes before each element after the serial (a
/// GS some scanners keep). A tobacco pack (no `01`) is returned as it is.
pub fn bracketed(km: &[u8], between: &[u8]) -> Vec<u8> {
    if !km.starts_with(b"01") || km.len() < 18 {
        return km.to_vec();
    }
    let mut out = b"(01)".to_vec();
    out.extend_from_slice(&km[2..16]);
    out.extend_from_slice(b"(21)");
    let mut parts = km[18..].split(|&b| b == GS);
    out.extend_from_slice(parts.next().unwrap_or_default());
    for part in parts {
        let ai_len = if part.starts_with(b"3103") { 4 } else { 2 };
        if part.len() >= ai_len {
            out.extend_from_slice(between);
            out.push(b'(');
            out.extend_from_slice(&part[..ai_len]);
            out.push(b')');
            out.extend_from_slice(&part[ai_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;

    fn config() -> GenConfig {
        GenConfig {
            seed: 7,
            codes: 1000,
            gtins: 300,
            zstd: false,
            version: "t".into(),
            as_of_ms: 0,
        }
    }

    #[test]
    fn codes_are_valid_and_deterministic() {
        let cat = Catalogue::new(&config());
        for i in 0..3000 {
            let c = cat.code(i);
            assert_eq!(c.km, Catalogue::new(&config()).code(i).km);
            code::validate_ki(&c.ki)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&c.ki)));
            let parsed = code::parse(std::str::from_utf8(&c.km).unwrap()).unwrap();
            assert!(
                parsed
                    .candidates
                    .iter()
                    .any(|k| k.ki.as_bytes() == c.ki.as_slice())
            );
        }
    }

    #[test]
    fn every_noise_form_keeps_the_ki() {
        let cat = Catalogue::new(&config());
        let mut r = Rng::new(1, 2, 3);
        for i in 0..5000 {
            let c = cat.code(i);
            let noisy = add_noise(&c, &mut r);
            let text = String::from_utf8(noisy).unwrap();
            let parsed = code::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(
                parsed
                    .candidates
                    .iter()
                    .any(|k| k.ki.as_bytes() == c.ki.as_slice()),
                "{text:?} -> {:?}",
                parsed.candidates
            );
        }
    }
}
