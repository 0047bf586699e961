//! Model-based test of the update path: random sequences of delta applies, sales, returns,
//! compactions, refreshes and reopenings, each answer compared with a plain in-memory model.
//! `CISGATE_MODEL_CASES` sets the number of sequences (CI runs a small number; the
//! `model_updates` fuzz target runs the same machine at length).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cisgate::check::Reason;
use cisgate::index::digest::ContentDigest;
use cisgate::index::{self, ApplyOptions, CompactOptions, Table};
use cisgate::list::{ListKind, gtin_flags};
use cisgate::live::{LiveError, LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use proptest::prelude::*;

const KEYS: usize = 24;

fn gtin(i: usize) -> String {
    let first13 = format!("04600000001{i:02}");
    let check = cisgate::code::alphabet::gtin_check_digit(first13.as_bytes()) as char;
    format!("{first13}{check}")
}

fn ki(i: usize) -> String {
    format!("0104600439931256215MODEL{i:07}")
}

/// A КИ of GTIN `i`, for checking GTIN-level entries.
fn ki_of_gtin(i: usize) -> String {
    format!("01{}215PROBE0000001", gtin(i))
}

fn key(kind: ListKind, i: usize) -> String {
    match kind {
        ListKind::BlockedCis => ki(i),
        ListKind::BlockedSeries => format!("{}\tS{i}", gtin(i % 6)),
        _ => gtin(i),
    }
}

fn model_key(kind: ListKind, i: usize) -> Vec<u8> {
    key(kind, i).replace('\t', "").into_bytes()
}

#[derive(Clone, Debug)]
struct DeltaSpec {
    kind: ListKind,
    adds: Vec<(usize, u64)>,
    removes: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Step {
    Apply(Vec<DeltaSpec>),
    Sell(usize),
    Return(usize),
    Compact,
    Refresh,
    Reopen,
}

fn delta_spec() -> impl Strategy<Value = DeltaSpec> {
    (
        0usize..4,
        prop::collection::vec((0..KEYS, 1u64..4), 0..8),
        prop::collection::vec(0..KEYS, 0..5),
    )
        .prop_map(|(k, adds, removes)| {
            let kind = ListKind::ALL[k];
            let adds: Vec<(usize, u64)> = adds
                .into_iter()
                .map(|(i, v)| {
                    let value = match kind {
                        ListKind::BlockedGtin => {
                            [gtin_flags::BLOCKED, gtin_flags::GREY][(v as usize) % 2]
                        }
                        ListKind::MinPrice => v * 1000,
                        _ => 0,
                    };
                    (i, value)
                })
                .collect();
            let added: BTreeSet<usize> = adds.iter().map(|a| a.0).collect();
            let removes = removes.into_iter().filter(|r| !added.contains(r)).collect();
            DeltaSpec {
                kind,
                adds,
                removes,
            }
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec(delta_spec(), 1..3).prop_map(Step::Apply),
        3 => (0..KEYS).prop_map(Step::Sell),
        2 => (0..KEYS).prop_map(Step::Return),
        1 => Just(Step::Compact),
        1 => Just(Step::Refresh),
        1 => Just(Step::Reopen),
    ]
}

#[derive(Default)]
struct Model {
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

fn write_delta(
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

fn assert_matches(live: &LiveIndex, model: &Model) {
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
        let v = live.check(&ki(i), &Default::default()).unwrap();
        let banned = cis.is_some_and(|t| t.contains_key(ki(i).as_bytes()));
        assert_eq!(v.reasons.contains(&Reason::Cis), banned, "{}", ki(i));
        assert_eq!(
            v.reasons.contains(&Reason::Sold),
            model.sold.contains(&ki(i)),
            "{}",
            ki(i)
        );
        let flags = gtins
            .and_then(|t| t.get(gtin(i).as_bytes()))
            .copied()
            .unwrap_or(0);
        let v = live.check(&ki_of_gtin(i), &Default::default()).unwrap();
        assert_eq!(
            v.reasons.contains(&Reason::Gtin),
            flags & gtin_flags::BLOCKED != 0
        );
        assert_eq!(
            v.reasons.contains(&Reason::GreyGtin),
            flags & gtin_flags::GREY != 0
        );
    }
}

fn run(steps: Vec<Step>) {
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

fn cases() -> u32 {
    std::env::var("CISGATE_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn updates_match_the_model(steps in prop::collection::vec(step(), 1..20)) {
        run(steps);
    }
}

#[test]
fn a_delta_that_breaks_the_chain_or_digest_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let base = dir.path().join("base.list");
    common::write_list(&base, "blocked_cis", "v0", "", &format!("{}\n", ki(0)));
    index::build(&idx, &[base], &Default::default(), &NoProgress).unwrap();
    let before = std::fs::read_to_string(idx.join("CURRENT")).unwrap();
    let spec = DeltaSpec {
        kind: ListKind::BlockedCis,
        adds: vec![(1, 0)],
        removes: vec![0],
    };
    let wrong_parent = write_delta(dir.path(), 1, 7, 8, &spec);
    let err = index::apply(&idx, &[wrong_parent], &Default::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("applies to version \"v7\"") && err.contains("nothing applied"),
        "{err}"
    );

    let good = write_delta(dir.path(), 2, 0, 1, &spec);
    let mut text = std::fs::read_to_string(&good).unwrap();
    text = text.replace(
        "#as_of",
        "#result_digest: 0123456789abcdef0123456789abcdef\n#as_of",
    );
    let bad_digest = dir.path().join("bad-digest.list");
    std::fs::write(&bad_digest, text).unwrap();
    let err = index::apply(&idx, &[bad_digest], &Default::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("content digest after applying"), "{err}");

    // A chain whose second delta is malformed: the first is not applied either.
    let second = dir.path().join("second.list");
    std::fs::write(&second, "#cisgate-list 1\n#kind: blocked_cis\n#type: delta\n#parent: v1\n#version: v2\n#as_of: 0\n+garbage\n").unwrap();
    let err = index::apply(
        &idx,
        &[good.clone(), second],
        &Default::default(),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("second.list") && err.contains("nothing applied"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(idx.join("CURRENT")).unwrap(),
        before
    );

    // With the right digest it applies.
    let mut expected = ContentDigest::default();
    expected.add(ListKind::BlockedCis, ki(1).as_bytes(), 0);
    let text = std::fs::read_to_string(&good)
        .unwrap()
        .replace("#as_of", &format!("#result_digest: {expected}\n#as_of"));
    std::fs::write(&good, text).unwrap();
    let report = index::apply(&idx, &[good], &Default::default(), &NoProgress).unwrap();
    assert_eq!(report.manifest.content_digest, expected.to_string());
}

#[test]
fn stale_data_is_refused_and_freshness_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let base = dir.path().join("base.list");
    let four_days_ago = cisgate::time::format_rfc3339(cisgate::time::now_ms() - 4 * 86_400_000);
    std::fs::write(
        &base,
        format!(
            "#cisgate-list 1\n#kind: blocked_cis\n#version: v0\n#as_of: {four_days_ago}\n{}\n",
            ki(0)
        ),
    )
    .unwrap();
    index::build(&idx, &[base], &Default::default(), &NoProgress).unwrap();
    let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    assert!(matches!(
        live.check(&ki(0), &Default::default()),
        Err(LiveError::Stale { .. })
    ));
    assert!(matches!(live.sell(&ki(1)), Err(LiveError::Stale { .. })));
    let pharmacy = LiveOptions {
        max_age_ms: Some(10 * 86_400_000),
        ..LiveOptions::default()
    };
    let live = LiveIndex::open(&idx, pharmacy).unwrap();
    assert!(
        live.check(&ki(0), &Default::default())
            .unwrap()
            .is_blocked()
    );

    let out = common::cisgate(&["check", "--index", idx.to_str().unwrap(), &ki(0)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("offline check refused"),
        "{}",
        common::stderr(&out)
    );
    let out = common::cisgate(
        &[
            "check",
            "--max-age-hours",
            "240",
            "--index",
            idx.to_str().unwrap(),
            &ki(0),
        ],
        None,
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn one_delta_listing_a_gtin_twice() {
    run(vec![Step::Apply(vec![DeltaSpec {
        kind: ListKind::BlockedGtin,
        adds: vec![(18, 1), (18, 2)],
        removes: vec![],
    }])]);
}
