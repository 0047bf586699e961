//! The check path: the fast reading agrees with the full parser on every input it answers,
//! the batch path agrees with the single check on every verdict, the JSON written from the
//! compact decisions is the rich verdict's JSON to the byte, and a batch of the forms
//! scanners send allocates nothing.
#![cfg(feature = "synth")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use base64::Engine as _;
use cisgate::answer::VerdictContext;
use cisgate::check::{CheckOptions, Decision, Reason, Verdict};
use cisgate::code;
use cisgate::journal::SaleOp;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::synth::{self, Catalogue, GenConfig};
use proptest::prelude::*;

/// Counts the allocations of the thread that asks (the test harness's other threads
/// allocate as they please).
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the counting touches
// only thread-locals of plain `Cell`s, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made by `f` on this thread.
fn allocations_of(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(|n| n.get())
}

fn config() -> GenConfig {
    GenConfig {
        seed: 11,
        codes: 20_000,
        gtins: 400,
        zstd: false,
        version: "t".into(),
        as_of_ms: cisgate::time::now_ms(),
    }
}

/// The handmade codes of `data/codes` and the test fixtures' inputs.
fn fixture_inputs() -> Vec<String> {
    let text = std::fs::read_to_string(common::root().join("data/codes/handmade.jsonl")).unwrap();
    let mut inputs: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["input"].as_str().unwrap().to_string()
        })
        .collect();
    inputs.extend(
        [
            "0104600439931256215abcdEFGH1234\u{1d}93dGVz",
            "]d20104600439931256215abcdEFGH1234\u{1d}93dGVz",
            "0104600439931256215abcdEFGH1234<GS>93dGVz",
            "0104600439931256215abcdEFGH1234[GS]93dGVz",
            "(01)04600439931256(21)5abcdEFGH1234(93)dGVz",
            "0104600439931256215abcdEF93dGVz",
            "04647297654361!%C5UGbACW.abcd",
            "04647297654361!%C5UGb",
            "104600439931256215abcdEFGH1234\u{1d}93dGVz",
            "]d1whatever",
            "",
            "  \t",
        ]
        .map(str::to_string),
    );
    inputs
}

/// Every scanner form of a full code that the generators and the domain know.
fn forms(km: &[u8], k: u32) -> Vec<u8> {
    let text = String::from_utf8_lossy(km).into_owned();
    let replace_gs = |with: &str| text.replace('\u{1d}', with).into_bytes();
    match k % 19 {
        0 => km.to_vec(),
        1 => [b"]d2".as_slice(), km].concat(),
        2 => [b"]C1".as_slice(), km].concat(),
        3 => [b"\x1d".as_slice(), km].concat(),
        4 => [km, b"\x1d"].concat(),
        5 => replace_gs("<GS>"),
        6 => replace_gs("x1d"),
        7 => replace_gs("[GS]"),
        8 => replace_gs("{GS}"),
        9 => replace_gs("\\x1d"),
        10 => replace_gs(""),
        11 => base64::engine::general_purpose::STANDARD
            .encode(km)
            .into_bytes(),
        12 => text
            .chars()
            .map(|c| code::layout::us_to_ru(c).unwrap_or(c))
            .collect::<String>()
            .into_bytes(),
        13 => km.get(1..).unwrap_or_default().to_vec(),
        14 => format!("  {text}\r\n").into_bytes(),
        15 => [b"]d2\x1d".as_slice(), km].concat(),
        16 => synth::bracketed(km, b""),
        17 => synth::bracketed(km, b"\x1d"),
        _ => replace_gs("<gs>"),
    }
}

/// The fast reading, when it answers, is the full parser's single reading with the same
/// repairs.
fn assert_fast_agrees(input: &[u8]) {
    let Some(fast) = code::scan(input) else {
        return;
    };
    let text = std::str::from_utf8(input).expect("the fast reading takes ASCII only");
    let full = code::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: fast read {fast:?}, the full parser says {e}"));
    assert_eq!(full.candidates, [fast.reading.to_code()], "{text:?}");
    assert_eq!(
        full.repairs,
        fast.repairs.iter().collect::<Vec<_>>(),
        "{text:?}"
    );
}

#[test]
fn the_fast_reading_agrees_with_the_full_parser_on_fixtures_and_generated_codes() {
    let mut answered = 0;
    for input in fixture_inputs() {
        assert_fast_agrees(input.as_bytes());
        answered += usize::from(code::scan(input.as_bytes()).is_some());
    }
    assert!(answered >= 20, "the fast reading answered only {answered}");
    let catalogue = Catalogue::new(&config());
    let mut fast = 0;
    let n = 20_000;
    for i in 0..n {
        let km = catalogue.code(i * 7 + 3).km;
        let input = forms(&km, i as u32);
        assert_fast_agrees(&input);
        fast += usize::from(code::scan(&input).is_some());
    }
    // The canonical, prefixed, FNC1, trailing-GS, textual <GS>/x1d and padded forms.
    assert!(fast > n as usize / 3, "{fast} of {n} read fast");
}

/// One of the generated codes in any form, or cut, or with a byte changed.
fn mutated_code() -> impl Strategy<Value = Vec<u8>> {
    let catalogue = std::sync::Arc::new(Catalogue::new(&config()));
    (
        0u64..1_000_000,
        0u32..19,
        0usize..4,
        any::<u8>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(i, form, change, byte, at)| {
            let mut input = forms(&catalogue.code(i).km, form);
            if !input.is_empty() {
                let at = at.index(input.len());
                match change {
                    1 => input[at] = byte,
                    2 => input.truncate(at),
                    3 => input.insert(at, byte),
                    _ => {}
                }
            }
            input
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn the_fast_reading_agrees_on_codes_in_every_form_and_mutated(input in mutated_code()) {
        assert_fast_agrees(&input);
    }

    #[test]
    fn the_fast_reading_agrees_on_random_bytes(input in prop::collection::vec(any::<u8>(), 0..120)) {
        assert_fast_agrees(&input);
    }
}

/// An index of the generated lists with some sales, and scans in every form.
fn fixture() -> (tempfile::TempDir, LiveIndex, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let config = config();
    let idx = common::synthetic_index(dir.path(), &config);
    let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    let catalogue = Catalogue::new(&config);
    let mut scans: Vec<Vec<u8>> = (0..6000u64)
        .map(|s| {
            let i = if s % 7 == 0 { s * 3 } else { 1_000_000 + s };
            forms(&catalogue.code(i).km, s as u32)
        })
        .collect();
    scans.extend(fixture_inputs().into_iter().map(String::into_bytes));
    // Sell some of the scanned codes.
    let sold: Vec<String> = (0..6000u64)
        .filter(|s| s % 11 == 1)
        .map(|s| String::from_utf8(catalogue.code(1_000_000 + s).km).unwrap())
        .collect();
    live.journal_batch(&sold, SaleOp::Sell, None).unwrap();
    (dir, live, scans)
}

#[test]
fn batch_decisions_equal_single_checks_and_the_json_equals_serde() {
    let (_dir, live, scans) = fixture();
    for price in [None, Some(15_000)] {
        let options = CheckOptions {
            price_kopecks: price,
        };
        let mut decisions = vec![Decision::default(); scans.len()];
        let generation = live
            .par_check_batch_into(&scans, &options, &mut decisions)
            .unwrap();
        // Short batches (one code a call, as `check` makes) take a small step, and an
        // input read more ways than it holds a full one: the same decisions.
        for (chunk, expected) in scans.chunks(4).zip(decisions.chunks(4)) {
            let mut short = [Decision::default(); 4];
            let short = &mut short[..chunk.len()];
            live.check_batch_into(chunk, &options, short).unwrap();
            assert_eq!(short, expected);
        }
        let index = generation.index();
        let context = VerdictContext::new(&index.manifest().version, index.as_of_text(), &options);
        let mut lines = Vec::new();
        live.with_view(|view| {
            view.check_each(&scans, &options, |_, outcome| {
                context.write_line(&mut lines, outcome)
            })
        })
        .unwrap();
        let lines: Vec<&[u8]> = lines.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), scans.len());
        let (mut blocked, mut sold, mut invalid, mut ambiguous) = (0, 0, 0, 0);
        for ((scan, decision), line) in scans.iter().zip(&decisions).zip(lines) {
            let text = String::from_utf8_lossy(scan);
            let single: Verdict = live.explain(&text, &options).unwrap();
            assert_eq!(single.status, decision.status(), "{text:?}");
            assert_eq!(
                single.reasons,
                decision.reasons().iter().collect::<Vec<_>>(),
                "{text:?}"
            );
            assert_eq!(single.ki.as_deref(), decision.ki(), "{text:?}");
            assert_eq!(single.gtin.as_deref(), decision.gtin(), "{text:?}");
            assert_eq!(single.min_price_kopecks, decision.min_price_kopecks());
            assert_eq!(
                single.max_retail_price_kopecks,
                decision.max_retail_price_kopecks()
            );
            assert_eq!(
                single.repaired,
                decision.repairs().iter().collect::<Vec<_>>()
            );
            let mut expected = serde_json::to_vec(&single).unwrap();
            expected.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(&expected),
                "{text:?}"
            );
            blocked += usize::from(decision.is_blocked());
            sold += usize::from(decision.reasons().contains(Reason::Sold));
            invalid += usize::from(single.error.is_some());
            ambiguous += usize::from(decision.is_ambiguous());
        }
        // The fixture reaches every kind of answer.
        assert!(
            blocked > 100 && sold > 100 && invalid > 10 && ambiguous > 0,
            "{blocked} blocked, {sold} sold, {invalid} invalid, {ambiguous} ambiguous"
        );
    }
}

#[test]
fn a_batch_of_the_forms_scanners_send_allocates_nothing() {
    let (_dir, live, _) = fixture();
    let catalogue = Catalogue::new(&config());
    // Canonical codes, `]d2`, a leading FNC1, textual <GS>, bracketed AIs: the fast
    // reading's forms. (A textual <GS> can leave a code readable two ways; the full parser
    // answers those, and allocates.)
    let scans: Vec<Vec<u8>> = (0..10_000u64)
        .map(|s| {
            let km = catalogue
                .code(if s % 50 == 0 { s } else { 2_000_000 + s })
                .km;
            forms(&km, [0, 1, 3, 5, 16, 17][s as usize % 6])
        })
        .filter(|input| code::scan(input).is_some())
        .collect();
    assert!(scans.len() > 9_500, "{} of 10,000 read fast", scans.len());
    let mut out = vec![Decision::default(); scans.len()];
    let options = CheckOptions::default();
    // The first batch builds the small tables' hash tables.
    live.check_batch_into(&scans, &options, &mut out).unwrap();
    let allocations = allocations_of(|| {
        live.check_batch_into(&scans, &options, &mut out).unwrap();
    });
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {} verdicts",
        scans.len()
    );
    assert!(out.iter().any(|d| d.is_blocked()));
    assert!(out.iter().filter(|d| d.ki().is_some()).count() == scans.len());
    // The front door, as the README shows it: one code, then the batch across the cores
    // (its one vector of decisions; nothing per verdict).
    let single = allocations_of(|| {
        std::hint::black_box(live.check(&scans[0], &options).unwrap());
    });
    assert_eq!(single, 0, "{single} allocations for one check");
    live.check_batch(&scans, &options).unwrap();
    let batch = allocations_of(|| {
        let checked = live.check_batch(&scans, &options).unwrap();
        assert_eq!(checked.decisions(), &out[..]);
    });
    assert!(
        batch <= 4,
        "{batch} allocations for a batch of {} verdicts",
        scans.len()
    );
    // The rich verdicts allocate (their strings): the count shows the test can fail.
    let rich = allocations_of(|| {
        std::hint::black_box(live.explain_batch(&["0104600439931256215abcdEFGH1234"], &options))
            .unwrap();
    });
    assert!(rich > 0);
}
