//! The model machine shared by `tests/model.rs` (proptest, in CI) and the
//! `model_updates` fuzz target (at length): random sequences of delta applies, sales,
//! returns, compactions, refreshes and reopenings, every answer compared with a plain
//! in-memory model.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cisgate::check::Reason;
use cisgate::index::ContentDigest;
use cisgate::index::{self, ApplyOptions, CompactOptions, Table};
use cisgate::list::{ListKind, gtin_flags};
use cisgate::live::{LiveError, LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;

/// Size of the key universe of each table.
pub const KEYS: usize = 24;

pub fn gtin(i: usize) -> String {
    let first13 = format!("04600000001{i:02}");
    let check = cisgate::code::alphabet::gtin_check_digit(first13.as_bytes()) as char;
    format!("{first13}{check}")
}

pub fn ki(i: usize) -> String {
    format!("0104600439931256215MODEL{i:07}")
}

/// A КИ of GTIN `i`, for checking GTIN-level entries.
pub fn ki_of_gtin(i: usize) -> String {
    format!("01{}215PROBE0000001", gtin(i))
}

pub fn key(kind: ListKind, i: usize) -> String {
    match kind {
        ListKind::BlockedCis => ki(i),
        ListKind::BlockedSeries => format!("{}\tS{i}", gtin(i % 6)),
        _ => gtin(i),
    }
}

pub fn model_key(kind: ListKind, i: usize) -> Vec<u8> {
    key(kind, i).replace('\t', "").into_bytes()
}

#[derive(Clone, Debug)]
pub struct DeltaSpec {
    pub kind: ListKind,
    pub adds: Vec<(usize, u64)>,
    pub removes: Vec<usize>,
}

#[derive(Clone, Debug)]
pub enum Step {
    Apply(Vec<DeltaSpec>),
    Sell(usize),
    Return(usize),
    Compact,
    Refresh,
    Reopen,
}

/// The value a generated add carries for `kind` (`v` from a small range).
pub fn value_for(kind: ListKind, v: u64) -> u64 {
    match kind {
        ListKind::BlockedGtin => [gtin_flags::BLOCKED, gtin_flags::GREY][(v as usize) % 2],
        ListKind::MinPrice => v * 1000,
        _ => 0,
    }
}

#[derive(Default)]
pub struct Model {
    tables: BTreeMap<ListKind, BTreeMap<Vec<u8>, u64>>,
    sold: BTreeSet<String>,
    version: u64,
}

impl Model {
    fn digest(&self) -> ContentDigest {
        let mut d = ContentDigest::default();
        for (kind, t) in &self.tables {
            for (k, v) in t {
                d.add(*kind, k, *v);
            }
        }
        d
    }
}

pub fn write_delta(
    dir: &Path,
    n: usize,
    parent: u64,
    version: u64,
    spec: &DeltaSpec,
) -> std::path::PathBuf {
    let mut body = String::new();
    for (i, v) in &spec.adds {
        let entry = match spec.kind {
            ListKind::BlockedGtin if *v == gtin_flags::GREY => format!("{}\tgrey", gtin(*i)),
            ListKind::MinPrice => format!("{}\t{v}", gtin(*i)),
            _ => key(spec.kind, *i),
        };
        body.push_str(&format!("+{entry}\n"));
    }
    for i in &spec.removes {
        let entry = key(spec.kind, *i);
        let entry = if spec.kind == ListKind::BlockedSeries {
            entry
        } else {
            entry.split('\t').next().unwrap().to_string()
        };
        body.push_str(&format!("-{entry}\n"));
    }
    let path = dir.join(format!("delta-{n}.list"));
    let now = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    std::fs::write(
        &path,
        format!("#cisgate-list 1\n#kind: {}\n#type: delta\n#parent: v{parent}\n#version: v{version}\n#as_of: {now}\n{body}", spec.kind),
    )
    .unwrap();
    path
}

pub fn assert_matches(live: &LiveIndex, model: &Model) {
    let generation = live.generation();
    let index = generation.index();
    assert_eq!(index.manifest().version, format!("v{}", model.version));
    assert_eq!(index.manifest().content_digest, model.digest().to_string());
    assert_eq!(index.compute_digest(), model.digest());
    for kind in ListKind::ALL {
        let empty = BTreeMap::new();
        let t = model.tables.get(&kind).unwrap_or(&empty);
        assert_eq!(
            index
                .manifest()
                .counts
                .get(&Table::from(kind))
                .copied()
                .unwrap_or(0),
            t.len() as u64,
            "{kind}"
        );
        for i in 0..KEYS {
            let k = model_key(kind, i);
            assert_eq!(
                index.get(kind.into(), &k),
                t.get(&k).copied(),
                "{kind} {}",
                String::from_utf8_lossy(&k)
            );
        }
    }
    let cis = model.tables.get(&ListKind::BlockedCis);
    let gtins = model.tables.get(&ListKind::BlockedGtin);
    for i in 0..KEYS {
        let v = live.check(ki(i), &Default::default()).unwrap();
        let banned = cis.is_some_and(|t| t.contains_key(ki(i).as_bytes()));
        assert_eq!(v.reasons().contains(Reason::Cis), banned, "{}", ki(i));
        assert_eq!(
            v.reasons().contains(Reason::Sold),
            model.sold.contains(&ki(i)),
            "{}",
            ki(i)
        );
        let flags = gtins
            .and_then(|t| t.get(gtin(i).as_bytes()))
            .copied()
            .unwrap_or(0);
        let v = live.check(ki_of_gtin(i), &Default::default()).unwrap();
        assert_eq!(
            v.reasons().contains(Reason::Gtin),
            flags & gtin_flags::BLOCKED != 0
        );
        assert_eq!(
            v.reasons().contains(Reason::GreyGtin),
            flags & gtin_flags::GREY != 0
        );
    }
}

pub fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let base = dir.path().join("base.list");
    let now = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    std::fs::write(
        &base,
        format!(
            "#cisgate-list 1\n#kind: blocked_cis\n#version: v0\n#as_of: {now}\n{}\n{}\n",
            ki(0),
            ki(1)
        ),
    )
    .unwrap();
    index::build(&idx, &[base], &Default::default(), &NoProgress).unwrap();
    let mut model = Model::default();
    let cis = model.tables.entry(ListKind::BlockedCis).or_default();
    cis.insert(ki(0).into_bytes(), 0);
    cis.insert(ki(1).into_bytes(), 0);
    let no_auto_compact = ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    let mut live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    let mut files = 0;
    for step in steps {
        match step {
            Step::Apply(specs) => {
                let mut paths = Vec::new();
                for spec in &specs {
                    files += 1;
                    paths.push(write_delta(
                        dir.path(),
                        files,
                        model.version,
                        model.version + 1,
                        spec,
                    ));
                    model.version += 1;
                    let t = model.tables.entry(spec.kind).or_default();
                    for i in &spec.removes {
                        t.remove(&model_key(spec.kind, *i));
                    }
                    // Lines for one key in one delta combine; the result replaces.
                    let mut added: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
                    for (i, v) in &spec.adds {
                        let e = added.entry(model_key(spec.kind, *i)).or_insert(*v);
                        *e = spec.kind.combine(*e, *v);
                    }
                    t.extend(added);
                }
                index::apply(&idx, &paths, &no_auto_compact, &NoProgress).unwrap();
                live.refresh().unwrap();
            }
            Step::Sell(i) => {
                let result = live.sell(&ki(i));
                if model.sold.insert(ki(i)) {
                    result.unwrap();
                } else {
                    assert!(
                        matches!(result, Err(LiveError::AlreadySold { .. })),
                        "{result:?}"
                    );
                }
            }
            Step::Return(i) => {
                let result = live.return_sale(&ki(i));
                if model.sold.remove(&ki(i)) {
                    result.unwrap();
                } else {
                    assert!(
                        matches!(result, Err(LiveError::NotSold { .. })),
                        "{result:?}"
                    );
                }
            }
            Step::Compact => {
                index::compact(&idx, &CompactOptions::default(), &NoProgress).unwrap();
                live.refresh().unwrap();
            }
            Step::Refresh => {
                live.refresh().unwrap();
            }
            Step::Reopen => {
                drop(live);
                live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
            }
        }
        assert_matches(&live, &model);
    }
    index::verify(&idx).unwrap();
}
