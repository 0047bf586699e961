//! The hand-made codes in data/codes/handmade.jsonl against the bundled sample index:
//! every structure and scanner-noise form parses to the right КИ and gets the right verdict.

mod common;

use cisgate::Index;
use cisgate::check::Status;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    input: String,
    ki: Option<String>,
    expect: String,
    note: String,
}

#[test]
fn handmade_codes_get_the_expected_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    common::build_sample(dir.path());
    let index = Index::open(dir.path()).unwrap();
    let text = std::fs::read_to_string(common::root().join("data/codes/handmade.jsonl")).unwrap();
    let cases: Vec<Case> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 30);
    for c in &cases {
        let v = index.check(&c.input);
        let status = match v.status() {
            Status::Allowed => "allowed",
            Status::Blocked => "blocked",
            Status::Invalid => "invalid",
        };
        assert_eq!(status, c.expect, "{}: {:?} -> {v:?}", c.note, c.input);
        if let Some(ki) = &c.ki {
            assert_eq!(v.ki(), Some(ki.as_str()), "{}", c.note);
        }
    }
}

#[test]
fn verdict_details() {
    let dir = tempfile::tempdir().unwrap();
    common::build_sample(dir.path());
    let index = Index::open(dir.path()).unwrap();
    use cisgate::CheckOptions;
    use cisgate::check::Reason;

    // Tobacco pack: MRP from the code, minimum price from the list, both price rules.
    let pack = "04647297654361xyzABCDACW.efgh";
    let v = index.check(pack);
    assert_eq!(v.max_retail_price_kopecks(), Some(14630));
    assert_eq!(v.min_price_kopecks(), Some(15000));
    assert_eq!(v.status(), Status::Allowed);
    let cheap = index.check_with(
        pack,
        &CheckOptions {
            price_kopecks: Some(14000),
        },
    );
    assert_eq!(
        cheap.reasons().iter().collect::<Vec<_>>(),
        [Reason::BelowMinPrice]
    );
    let dear = index.check_with(
        pack,
        &CheckOptions {
            price_kopecks: Some(20000),
        },
    );
    assert_eq!(
        dear.reasons().iter().collect::<Vec<_>>(),
        [Reason::AboveMaxPrice]
    );
    assert_eq!(dear.status(), Status::Blocked);

    // Ambiguous input: the decision blocks it and names no КИ; `explain` checks and lists
    // every candidate.
    let ambiguous = "0104600439931256215abcdEF93GH12";
    let d = index.check(ambiguous);
    assert!(d.is_ambiguous() && d.is_blocked() && d.ki().is_none());
    let v = index.explain(ambiguous, &CheckOptions::default());
    assert_eq!(v.candidates.len(), 2);
    assert_eq!(v.ki, None);
    let banned: Vec<_> = v
        .candidates
        .iter()
        .filter(|c| !c.reasons.is_empty())
        .collect();
    assert_eq!(banned.len(), 1);
    assert_eq!(banned[0].ki, "0104600439931256215abcdEF");

    // Every verdict says which data answered.
    assert_eq!(v.index_version, "sample-2026.11.23");
    assert_eq!(v.as_of, "2026-11-23T06:00:00.000Z");

    // Batch answers equal single answers, in order.
    let inputs: Vec<String> =
        std::fs::read_to_string(common::root().join("data/codes/handmade.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["input"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
    let batch = index.check_batch(&inputs, &CheckOptions::default());
    let rich = index.explain_batch(&inputs, &CheckOptions::default());
    for ((input, d), v) in inputs.iter().zip(&batch).zip(&rich) {
        assert_eq!(&index.check(input), d);
        assert_eq!(&index.explain(input, &CheckOptions::default()), v);
        assert_eq!(d.status(), v.status, "{input:?}");
    }
}
