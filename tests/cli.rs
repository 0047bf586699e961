//! The real `cisgate` binary on real files.

#![cfg(feature = "cli")]

mod common;

use common::{cisgate, stderr, stdout, write_list};
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn parse_from_arguments_and_stdin() {
    let out = cisgate(
        &[
            "parse",
            "]d20104600439931256215abcdEFGH1234\u{1d}93dGVz",
            "nonsense",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines[0]["ki"], "0104600439931256215abcdEFGH1234");
    assert_eq!(lines[0]["gtin"], "04600439931256");
    assert_eq!(lines[0]["serial"], "5abcdEFGH1234");
    assert_eq!(lines[0]["structure"], "gs1_serial13");
    assert_eq!(
        lines[0]["repaired"],
        serde_json::json!(["symbology_prefix"])
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("not a marking code")
    );

    let stdin = "04647297654361!%C5UGbACW.abcd\n0104600439931256215abcdEF93GH12\r\n";
    let lines = json_lines(&stdout(&cisgate(&["parse"], Some(stdin))));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["mrp_kopecks"], 14630);
    assert_eq!(lines[0]["structure"], "tobacco_pack");
    assert_eq!(lines[1]["candidates"].as_array().unwrap().len(), 2);
    assert!(lines[1].get("ki").is_none());
}

#[test]
fn gen_build_check_verify_info() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let out = cisgate(
        &[
            "gen",
            "--out",
            &d("lists"),
            "--codes",
            "30000",
            "--gtins",
            "500",
            "--seed",
            "5",
            "--zstd",
            "--scans",
            &d("scans.txt"),
            "--scan-count",
            "3000",
            "--banned-share",
            "0.2",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut lists: Vec<String> = std::fs::read_dir(dir.path().join("lists"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    lists.sort();
    assert!(lists.iter().all(|l| l.ends_with(".list.zst")));
    let idx = d("idx");
    let mut args = vec!["build", "--out", &idx];
    args.extend(lists.iter().map(String::as_str));
    let out = cisgate(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stdout(&out);
    let cis_line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("blocked_cis"))
        .unwrap();
    assert_eq!(
        cis_line.split_whitespace().nth(1),
        Some("30000"),
        "{summary}"
    );

    let scans = std::fs::read_to_string(dir.path().join("scans.txt")).unwrap();
    let expected = std::fs::read_to_string(dir.path().join("scans.txt.expected")).unwrap();
    let out = cisgate(&["check", "--index", &d("idx"), "--summary"], Some(&scans));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("3000 codes"));
    let verdicts = json_lines(&stdout(&out));
    assert_eq!(verdicts.len(), 3000);
    let mut blocked = 0;
    for (v, e) in verdicts.iter().zip(expected.lines()) {
        assert_eq!(v["status"], e, "{v}");
        blocked += usize::from(e == "blocked");
    }
    assert!(blocked > 400, "{blocked}");

    let out = cisgate(&["verify", "--index", &d("idx")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: 8 files"), "{}", stdout(&out));
    let info: Value =
        serde_json::from_str(&stdout(&cisgate(&["info", "--index", &d("idx")], None))).unwrap();
    assert_eq!(info["counts"]["blocked_cis"], 30000);
    assert_eq!(info["version"], "synthetic-1");
    assert_eq!(info["generation"], 1);

    // Rebuilding into the same directory publishes a new generation.
    let out = cisgate(&args, None);
    assert!(out.status.success());
    let info: Value =
        serde_json::from_str(&stdout(&cisgate(&["info", "--index", &d("idx")], None))).unwrap();
    assert_eq!(info["generation"], 2);
}

#[test]
fn malformed_lines_go_to_a_side_file_or_fail_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("cis.list");
    write_list(
        &list,
        "blocked_cis",
        "1",
        "",
        "0104600439931256215abcdEFGH1234\nnot a code\n0104600439931257215abcdEFGH1234\n",
    );
    // Two of three lines rejected: over the 1 % limit, nothing is published.
    let idx = dir.path().join("idx");
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "--out", idx.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(list.to_str().unwrap());
        cisgate(&args, None)
    };
    let out = build(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 3 entry lines rejected")
            && stderr(&out).contains("nothing published"),
        "{}",
        stderr(&out)
    );
    assert!(!idx.join("CURRENT").exists());
    // With the limit raised it publishes, loudly, with its own exit code.
    let out = build(&["--max-rejects", "100"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 malformed line(s) rejected and NOT in the index"),
        "{}",
        stderr(&out)
    );
    let rejects = std::fs::read_to_string(idx.join("rejects.tsv")).unwrap();
    let rows: Vec<&str> = rejects.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1].contains("cis.list\t6\t") && rows[1].ends_with("not a code"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("\t7\t") && rows[2].contains("check digit"),
        "{}",
        rows[2]
    );

    let strict_idx = dir.path().join("strict");
    let out = cisgate(
        &[
            "build",
            "--strict",
            "--out",
            strict_idx.to_str().unwrap(),
            list.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("2 malformed line(s)") && err.contains("cis.list:6"),
        "{err}"
    );
    assert!(!strict_idx.join("CURRENT").exists());
}

#[test]
fn build_refuses_inconsistent_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.list");
    let b = dir.path().join("b.list");
    write_list(&a, "blocked_cis", "1", "", "");
    write_list(&b, "blocked_gtin", "2", "", "");
    let idx = dir.path().join("idx");
    let out = cisgate(
        &[
            "build",
            "--out",
            idx.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        stderr(&out).contains("different versions"),
        "{}",
        stderr(&out)
    );
    let out = cisgate(
        &[
            "build",
            "--version",
            "9",
            "--out",
            idx.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let delta = dir.path().join("d.list");
    write_list(
        &delta,
        "blocked_cis",
        "2",
        "#type: delta\n#parent: 1\n",
        "+0104600439931256215abcdEFGH1234\n",
    );
    let out = cisgate(
        &[
            "build",
            "--out",
            idx.to_str().unwrap(),
            delta.to_str().unwrap(),
        ],
        None,
    );
    assert!(stderr(&out).contains("is a delta"), "{}", stderr(&out));

    let out = cisgate(
        &[
            "build",
            "--out",
            idx.to_str().unwrap(),
            a.to_str().unwrap(),
            a.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        stderr(&out).contains("are both blocked_cis snapshots"),
        "{}",
        stderr(&out)
    );

    let missing = dir.path().join("missing.list");
    let out = cisgate(
        &[
            "build",
            "--out",
            idx.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
        None,
    );
    assert!(stderr(&out).contains("missing.list"), "{}", stderr(&out));
}

#[test]
fn check_reports_invalid_input_and_missing_index() {
    let dir = tempfile::tempdir().unwrap();
    let out = cisgate(
        &["check", "--index", dir.path().to_str().unwrap(), "x"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a cisgate index"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn demo_runs_on_the_bundled_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = cisgate(
        &["demo", "--out", dir.path().join("demo").to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("BAD"), "{text}");
    assert!(text.contains("codes as expected"));
}
