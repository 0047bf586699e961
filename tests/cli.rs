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
        .map(|e| e.unwrap().path())
        // As a shell's `lists/*` would: `gen` records its settings in a hidden file.
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| p.display().to_string())
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
    // A path that does not exist is named as such, not as "not an index".
    let missing = dir.path().join("no-such-dir");
    let out = cisgate(&["check", "--index", missing.to_str().unwrap(), "x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no such directory"),
        "{}",
        stderr(&out)
    );
}

/// A fresh one-code index (data as of now) under `dir/idx`.
fn fresh_index(dir: &std::path::Path) -> String {
    let idx = common::blocked_cis_index(dir, "v1", cisgate::time::now_ms(), &[LISTED]);
    idx.to_str().unwrap().to_string()
}

const LISTED: &str = "0104600439931256215abcdEFGH1234";

#[test]
fn a_line_written_to_a_running_check_is_answered_while_stdin_stays_open() {
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let idx = fresh_index(dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["check", "--index", &idx])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let answers = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(answers).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // Cash software: one scan, then silence until the cashier scans again.
    for code in [LISTED, "0104600439931256215zzzzZZZZ9999"] {
        writeln!(stdin, "{code}").unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("no answer while stdin stays open");
        let verdict: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(verdict["input"], code);
    }
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    // A UTF-8 BOM at the start of the stream is not part of the first code.
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let out = cisgate(
        &["check", "--index", &idx],
        Some(&format!("\u{feff}{LISTED}\n")),
    );
    let verdicts = json_lines(&stdout(&out));
    assert_eq!(verdicts[0]["status"], "blocked", "{}", stdout(&out));
    // A piped file still goes through in large batches, every line answered in order.
    let many: String = (0..50_000).map(|i| format!("{LISTED}{i}\n")).collect();
    let out = cisgate(&["check", "--index", &idx], Some(&many));
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 50_000);
    assert!(lines[49_999].contains(&format!("{LISTED}49999")));
}

#[test]
fn stale_data_is_refused_per_code_with_age_limit_and_override() {
    let dir = tempfile::tempdir().unwrap();
    let five_days_ago = cisgate::time::now_ms() - 5 * 86_400_000;
    let lists = dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    let idx = common::blocked_cis_index(&lists, "v1", five_days_ago, &[LISTED]);
    let idx = idx.to_str().unwrap();
    let out = cisgate(&["check", "--index", idx, LISTED, "garbage"], None);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let verdicts = json_lines(&stdout(&out));
    assert_eq!(verdicts.len(), 2);
    for (v, input) in verdicts.iter().zip([LISTED, "garbage"]) {
        assert_eq!(v["input"], input);
        assert_eq!(v["status"], "refused");
        assert_eq!(v["reasons"], serde_json::json!(["stale"]));
        assert_eq!(v["max_age_hours"], 72.0);
        let age = v["age_hours"].as_f64().unwrap();
        assert!((119.9..=120.1).contains(&age), "{v}");
        assert_eq!(v["index_version"], "v1");
    }
    let message = stderr(&out);
    for part in [
        "120.0 h old",
        "72 h",
        "--max-age-hours",
        "--ignore-freshness",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // The override named in the message works.
    let out = cisgate(
        &["check", "--index", idx, "--max-age-hours", "240", LISTED],
        None,
    );
    assert_eq!(json_lines(&stdout(&out))[0]["status"], "blocked");
    let out = cisgate(
        &["check", "--index", idx, "--ignore-freshness", LISTED],
        None,
    );
    assert_eq!(json_lines(&stdout(&out))[0]["status"], "blocked");
    // info says how old the data is and when it went stale.
    let out = cisgate(&["info", "--index", idx], None);
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["stale"], true);
    assert!(info["age_hours"].as_f64().unwrap() > 119.0);
    assert_eq!(
        info["stale_at"],
        cisgate::time::format_rfc3339(five_days_ago + 72 * 3_600_000)
    );
    // build warns at once.
    let list = lists.join("cis.list");
    let rebuilt = dir.path().join("rebuilt");
    let out = cisgate(
        &[
            "build",
            "--out",
            rebuilt.to_str().unwrap(),
            list.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    assert!(stderr(&out).contains("h old"), "{}", stderr(&out));
}

#[test]
fn prices_are_taken_in_rubles_with_kopecks_or_in_kopecks() {
    let dir = tempfile::tempdir().unwrap();
    let idx = fresh_index(dir.path());
    for (price, kopecks) in [
        ("100.50", 10050),
        ("100,5", 10050),
        ("10050", 10050),
        ("0.07", 7),
    ] {
        let out = cisgate(&["check", "--index", &idx, "--price", price, LISTED], None);
        assert!(out.status.success(), "{price}: {}", stderr(&out));
        assert_eq!(
            json_lines(&stdout(&out))[0]["price_kopecks"],
            kopecks,
            "{price}"
        );
    }
    for wrong in ["100.505", "1.2.3", "сто", "5-", ".50"] {
        let out = cisgate(&["check", "--index", &idx, "--price", wrong, LISTED], None);
        assert!(!out.status.success(), "{wrong}");
        assert!(
            stderr(&out).contains("rubles with kopecks (100.50) or whole kopecks"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn gen_delta_follows_the_lists_gen_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let out = cisgate(
        &[
            "gen",
            "--out",
            &d("lists"),
            "--codes",
            "3000",
            "--gtins",
            "40",
            "--seed",
            "7",
            "--version",
            "v1",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cisgate(&["build", "--out", &d("idx"), &d("lists")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    // No options repeated: the delta removes codes the snapshot has.
    let out = cisgate(
        &[
            "gen-delta",
            "--lists",
            &d("lists"),
            "--out",
            &d("d.list"),
            "--version",
            "v2",
            "--adds",
            "30",
            "--removes",
            "20",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cisgate(&["apply", "--index", &d("idx"), &d("d.list")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("30 added or changed, 20 removed, 0 unchanged"),
        "{}",
        stdout(&out)
    );
    // The next delta of a chain follows the same lists with the previous delta's version
    // as its parent (as `--parent`'s help says).
    let out = cisgate(
        &[
            "gen-delta",
            "--lists",
            &d("lists"),
            "--out",
            &d("e.list"),
            "--parent",
            "v7",
            "--version",
            "v8",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let header = std::fs::read_to_string(dir.path().join("e.list")).unwrap();
    assert!(header.contains("#parent: v7\n#version: v8\n"), "{header}");
    // Without --lists the options must match, and it says so.
    let out = cisgate(
        &[
            "gen-delta",
            "--out",
            &d("f.list"),
            "--parent",
            "v2",
            "--version",
            "v3",
        ],
        None,
    );
    assert!(out.status.success());
    assert!(stderr(&out).contains("--lists DIR"), "{}", stderr(&out));
}

#[test]
fn compact_takes_the_same_retention_flag_as_check() {
    let dir = tempfile::tempdir().unwrap();
    let idx = fresh_index(dir.path());
    for flag in ["--sold-retention-days", "--retention-days"] {
        let out = cisgate(&["compact", "--index", &idx, flag, "10"], None);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
    }
}

#[test]
fn a_build_not_on_a_terminal_prints_plain_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let out = cisgate(
        &["gen", "--out", &d("lists"), "--codes", "300000", "--zstd"],
        None,
    );
    assert!(out.status.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["build", "--out", &d("idx"), &d("lists")])
        .env("CISGATE_PROGRESS_MS", "20")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let progress: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cisgate: "))
        .collect();
    assert!(!progress.is_empty(), "{}", stderr(&out));
    for line in &progress {
        // No bar characters, no "0/0", rates rounded ("260 K/s", not "260494.0016/s").
        assert!(!line.contains("0/0") && !line.contains('['), "{line}");
        if let Some(rate) = line.split(", ").find(|p| p.ends_with("/s")) {
            assert!(!rate.contains('.') || rate.ends_with(" M/s"), "{line}");
        }
    }
}

#[test]
fn ctrl_c_during_a_build_publishes_nothing_and_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let out = cisgate(
        &[
            "gen",
            "--out",
            d("lists").to_str().unwrap(),
            "--codes",
            "2000000",
            "--zstd",
        ],
        None,
    );
    assert!(out.status.success());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["build", "--out"])
        .arg(d("idx"))
        .arg(d("lists"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the build holds the index (it has begun reading).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !d("idx").join("LOCK").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted, nothing published"),
        "{}",
        stderr(&out)
    );
    let left: Vec<String> = std::fs::read_dir(d("idx"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "LOCK")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn serve_listens_on_a_host_name() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let idx = fresh_index(dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["serve", "--index", &idx, "--listen", "localhost:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let start: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(start["event"], "start", "{first}");
    assert!(
        start["listen"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{first}"
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

/// Every command whose reader went away (`cisgate info | head -1`) ends quietly: status
/// 0, nothing on stderr, no panic. The reading end of stdout is closed before the command
/// writes, so every write meets a closed pipe.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let idx = fresh_index(dir.path());
    let lists = dir.path().join("lists").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["info", "--index", &idx],
        vec!["check", "--index", &idx, LISTED, LISTED],
        vec!["check", "--index", &idx, "--output", "tsv", LISTED],
        vec!["parse", LISTED],
        vec!["verify", "--index", &idx],
        vec!["demo"],
        vec!["gen", "--out", &lists, "--codes", "1000"],
        vec!["completions", "bash"],
        vec!["--help"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "cisgate {args:?}"
        );
    }
}
