//! Model-based test of the update path: random sequences of delta applies, sales, returns,
//! compactions, refreshes and reopenings, each answer compared with a plain in-memory model.
//! `CISGATE_MODEL_CASES` sets the number of sequences (CI runs a small number; the
//! `model_updates` fuzz target runs the same machine at length).

mod common;

mod model_machine;

use std::collections::BTreeSet;

use cisgate::index::ContentDigest;
use cisgate::index::{self};
use cisgate::list::ListKind;
use cisgate::live::{LiveError, LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use model_machine::*;
use proptest::prelude::*;

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
                .map(|(i, v)| (i, value_for(kind, v)))
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
        live.check(ki(0), &Default::default()),
        Err(LiveError::Stale { .. })
    ));
    assert!(matches!(live.sell(&ki(1)), Err(LiveError::Stale { .. })));
    let pharmacy = LiveOptions {
        max_age_ms: Some(10 * 86_400_000),
        ..LiveOptions::default()
    };
    let live = LiveIndex::open(&idx, pharmacy).unwrap();
    assert!(live.check(ki(0), &Default::default()).unwrap().is_blocked());

    #[cfg(feature = "cli")]
    {
        let out = common::cisgate(&["check", "--index", idx.to_str().unwrap(), &ki(0)], None);
        // Refused per code (a JSON line each), exit status 4, the reason on stderr.
        assert_eq!(out.status.code(), Some(4));
        assert!(common::stdout(&out).contains(r#""status":"refused""#));
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
}

#[test]
fn one_delta_listing_a_gtin_twice() {
    run(vec![Step::Apply(vec![DeltaSpec {
        kind: ListKind::BlockedGtin,
        adds: vec![(18, 1), (18, 2)],
        removes: vec![],
    }])]);
}
