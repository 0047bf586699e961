//! Lists from any source through the real binary: header-less files with the header's
//! fields as options, CSV/TSV columns, JSON Lines, full marking codes, gzip, header-less
//! deltas.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use common::{cisgate, stderr, stdout};
use serde_json::Value;

const KI1: &str = "0104600439931256215abcdEFGH1234";
const KI2: &str = "0104600439931256215zzzzYYYY0000";
const GTIN: &str = "04600439931256";

fn now() -> String {
    cisgate::time::format_rfc3339(cisgate::time::now_ms())
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn status(index: &Path, extra: &[&str], code: &str) -> Value {
    let mut args = vec!["check", "--index", p(index)];
    args.extend(extra);
    args.push(code);
    let out = cisgate(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let verdict: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    verdict
}

fn build(out: &Path, args: &[&str]) -> String {
    let mut all = vec!["build", "--out", p(out)];
    all.extend(args);
    let done = cisgate(&all, None);
    assert!(done.status.success(), "{}", stderr(&done));
    stdout(&done)
}

/// Builds header-less blocked_cis files (as of now, version 1) with `extra` options.
fn build_cis(out: &Path, extra: &[&str]) -> String {
    let as_of = now();
    let mut args = vec!["--kind", "blocked_cis", "--as-of", &as_of, "--version", "1"];
    args.extend(extra);
    build(out, &args)
}

fn assert_both_blocked(index: &Path) {
    for ki in [KI1, KI2] {
        assert_eq!(status(index, &[], ki)["status"], "blocked", "{ki}");
    }
}

#[test]
fn a_header_less_file_of_codes_with_the_header_given_as_options() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("codes.txt");
    std::fs::write(&list, format!("\u{feff}{KI1}\r\n{KI2}\n")).unwrap();
    let idx = dir.path().join("idx");
    let as_of = now();
    let summary = build(
        &idx,
        &[
            "--kind",
            "blocked_cis",
            "--as-of",
            &as_of,
            "--version",
            "2026-11-30.1",
            p(&list),
        ],
    );
    assert!(summary.contains("version 2026-11-30.1"), "{summary}");
    assert_eq!(status(&idx, &[], KI1)["status"], "blocked");
    assert_eq!(status(&idx, &[], KI2)["status"], "blocked");
    // Without --as-of the file is refused, saying what is missing.
    let out = cisgate(
        &[
            "build",
            "--out",
            p(&dir.path().join("x")),
            "--kind",
            "blocked_cis",
            "--version",
            "1",
            p(&list),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--as-of"), "{}", stderr(&out));

    // A header-less delta, with its parent given.
    let delta = dir.path().join("delta.txt");
    std::fs::write(&delta, format!("-{KI1}\n")).unwrap();
    let out = cisgate(
        &[
            "apply",
            "--index",
            p(&idx),
            "--kind",
            "blocked_cis",
            "--as-of",
            &as_of,
            "--parent",
            "2026-11-30.1",
            "--version",
            "2026-11-30.2",
            p(&delta),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 removed"), "{}", stdout(&out));
    assert_eq!(status(&idx, &[], KI1)["status"], "allowed");
    assert_eq!(status(&idx, &[], KI2)["index_version"], "2026-11-30.2");
}

#[test]
fn csv_and_tsv_with_chosen_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        format!("\"id\";\"cis\";\"note\"\n1;\"{KI1}\";\"a \"\"quoted\"\" note; with a separator\"\n2;{KI2};\n"),
    )
    .unwrap();
    let idx = dir.path().join("idx");
    build_cis(
        &idx,
        &[
            "--format",
            "csv",
            "--delimiter",
            ";",
            "--column",
            "2",
            "--header-row",
            p(&csv),
        ],
    );
    assert_both_blocked(&idx);

    // Minimum prices from a TSV: GTIN in column 1, price (kopecks) in column 3.
    let tsv = dir.path().join("prices.tsv");
    std::fs::write(&tsv, format!("{GTIN}\tcigarettes\t15000\n")).unwrap();
    let prices = dir.path().join("prices");
    build(
        &prices,
        &[
            "--kind",
            "min_price",
            "--as-of",
            &now(),
            "--version",
            "1",
            "--format",
            "tsv",
            "--column",
            "1",
            "--value-column",
            "3",
            p(&tsv),
        ],
    );
    let cheap = status(&prices, &["--price", "100.00"], KI1);
    assert_eq!(cheap["status"], "blocked", "{cheap}");
    assert_eq!(cheap["min_price_kopecks"], 15000);
    assert_eq!(
        status(&prices, &["--price", "150.00"], KI1)["status"],
        "allowed"
    );
}

#[test]
fn json_lines_with_a_chosen_member() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("codes.jsonl");
    std::fs::write(
        &jsonl,
        format!("{{\"code\": \"{KI1}\", \"reason\": \"recall\"}}\n{{\"code\": \"{KI2}\"}}\n"),
    )
    .unwrap();
    let idx = dir.path().join("idx");
    build_cis(&idx, &["--format", "jsonl", "--field", "code", p(&jsonl)]);
    assert_both_blocked(&idx);
}

#[test]
fn full_marking_codes_are_listed_by_their_ki_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("scanned.txt");
    // As scanned at goods receipt: GS as the byte, as text, and a canonical КИ among them.
    std::fs::write(
        &list,
        format!(
            "{KI1}\u{1d}91EE06\u{1d}92dGVzdA==\n{KI2}<GS>93dGVz\n0104600439931256215onlyKI123456\n"
        ),
    )
    .unwrap();
    let idx = dir.path().join("idx");
    let summary = build_cis(&idx, &["--full-codes", p(&list)]);
    assert!(
        summary.contains("2 full marking codes listed by their КИ"),
        "{summary}"
    );
    assert_both_blocked(&idx);
    let info: Value =
        serde_json::from_slice(&cisgate(&["info", "--index", p(&idx)], None).stdout).unwrap();
    assert_eq!(info["counts"]["blocked_cis"], 3);
    // Without --full-codes such lines are rejects, and the message says what to pass.
    let strict = cisgate(
        &[
            "build",
            "--out",
            p(&dir.path().join("strict")),
            "--strict",
            "--kind",
            "blocked_cis",
            "--as-of",
            &now(),
            "--version",
            "1",
            p(&list),
        ],
        None,
    );
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains("scanned.txt"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn gzip_lists_are_read_like_zstd_ones() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("blocked.list.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&list).unwrap(),
        flate2::Compression::default(),
    );
    write!(
        gz,
        "#cisgate-list 1\n#kind: blocked_cis\n#version: 7\n#as_of: {}\n{KI1}\n",
        now()
    )
    .unwrap();
    gz.finish().unwrap();
    let idx = dir.path().join("idx");
    build(&idx, &[p(&list)]);
    assert_eq!(status(&idx, &[], KI1)["status"], "blocked");
    assert_eq!(status(&idx, &[], KI2)["status"], "allowed");
}
