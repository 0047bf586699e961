//! Lists from hostile or careless sources: bombs, over-long lines, corrupt lists, older
//! snapshots, full disks, piled-up layers, and the messages each gets.

#![cfg(feature = "cli")]

mod common;

use std::io::Write;
use std::path::Path;

use common::{cisgate, stderr, stdout, write_list};

const HEADER: &str =
    "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 2026-11-23T10:00:00Z\n";
const CODE: &str = "0104600439931256215abcdEFGH1234";

fn build(out: &Path, extra: &[&str], lists: &[&Path]) -> std::process::Output {
    let mut args = vec!["build", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(lists.iter().map(|p| p.to_str().unwrap()));
    cisgate(&args, None)
}

/// Peak resident memory the build reported, in MiB.
fn reported_peak_mib(out: &std::process::Output) -> u64 {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.contains("peak resident"))
        .unwrap_or_else(|| panic!("no memory line in {text}"));
    line.split("peak resident ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn decompression_bombs_stop_early_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A valid header, then 512 MiB of newlines: about 16 KB compressed.
    let bomb = dir.path().join("newlines.list.zst");
    {
        let mut z = zstd::stream::write::Encoder::new(std::fs::File::create(&bomb).unwrap(), 3)
            .unwrap()
            .auto_finish();
        z.write_all(HEADER.as_bytes()).unwrap();
        let newlines = vec![b'\n'; 1 << 20];
        for _ in 0..512 {
            z.write_all(&newlines).unwrap();
        }
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 200_000);
    let out_dir = dir.path().join("idx");
    let started = std::time::Instant::now();
    let out = build(&out_dir, &[], &[&bomb]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("newlines.list.zst") && err.contains("expands") && err.contains("ratio"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!out_dir.join("CURRENT").exists());

    // Zeros: not a list, said after reading a few KiB, not gigabytes.
    let zeros = dir.path().join("zeros.list.zst");
    {
        let mut z = zstd::stream::write::Encoder::new(std::fs::File::create(&zeros).unwrap(), 3)
            .unwrap()
            .auto_finish();
        let block = vec![0u8; 1 << 20];
        for _ in 0..512 {
            z.write_all(&block).unwrap();
        }
    }
    let out = build(&out_dir, &[], &[&zeros]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a cisgate list"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_over_long_line_is_a_reject_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("long.list");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&list).unwrap());
        f.write_all(HEADER.as_bytes()).unwrap();
        writeln!(f, "{CODE}").unwrap();
        // One line of 256 MiB.
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..256 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\n0104600439931257215abcdEFGH1234\n").unwrap();
    }
    let out_dir = dir.path().join("idx");
    let out = build(&out_dir, &["--max-rejects", "100"], &[&list]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let peak = reported_peak_mib(&out);
    assert!(peak < 128, "peak resident {peak} MiB for a 256 MiB line");
    let rejects = std::fs::read_to_string(out_dir.join("rejects.tsv")).unwrap();
    assert!(
        rejects.contains("line of 268435456 bytes is over"),
        "{rejects}"
    );
    assert!(rejects.contains("long.list\t6\t"), "{rejects}");
}

#[test]
fn a_list_of_corrupt_lines_fails_instead_of_allowing_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("corrupt.list");
    let mut body = String::new();
    for i in 0..36_312 {
        // Every line damaged: a letter where the GTIN's digits are.
        body.push_str(&format!("01046004399X1256215abcd{i:08}\n"));
    }
    write_list(&list, "blocked_cis", "1", "", &body);
    let out_dir = dir.path().join("idx");
    let out = build(&out_dir, &[], &[&list]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("36312 of 36312 entry lines rejected") && err.contains("nothing published"),
        "{err}"
    );
    assert!(!out_dir.join("CURRENT").exists());
    // The rejects are there to be read.
    let rejects = std::fs::read_to_string(out_dir.join("rejects.tsv")).unwrap();
    assert_eq!(rejects.lines().count(), 36_313);
}

#[test]
fn an_older_snapshot_does_not_replace_newer_data() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.list");
    let old = dir.path().join("old.list");
    std::fs::write(
        &new,
        format!("#cisgate-list 1\n#kind: blocked_cis\n#version: v2\n#as_of: 2026-11-25T10:00:00Z\n{CODE}\n"),
    )
    .unwrap();
    std::fs::write(
        &old,
        "#cisgate-list 1\n#kind: blocked_cis\n#version: v1\n#as_of: 2026-11-23T10:00:00Z\n",
    )
    .unwrap();
    let out_dir = dir.path().join("idx");
    assert!(build(&out_dir, &[], &[&new]).status.success());
    let out = build(&out_dir, &[], &[&old]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("older than the index's current data")
            && stderr(&out).contains("--allow-older"),
        "{}",
        stderr(&out)
    );
    let info = stdout(&cisgate(
        &["info", "--index", out_dir.to_str().unwrap()],
        None,
    ));
    assert!(info.contains("\"version\": \"v2\""), "{info}");
    assert!(
        build(&out_dir, &["--allow-older"], &[&old])
            .status
            .success()
    );
}

#[test]
fn apply_compacts_an_index_whose_layers_piled_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::small_config();
    let idx = common::synthetic_index(dir.path(), &config);
    let keep = cisgate::index::ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    };
    for k in 0..12 {
        let delta = common::synthetic_delta(dir.path(), &config, k, 20, 5);
        cisgate::index::apply(&idx, &[delta], &keep, &cisgate::progress::NoProgress).unwrap();
    }
    let before = cisgate::Index::open(&idx).unwrap();
    assert_eq!(before.layer_count(), 12);
    let digest = before.manifest().content_digest.clone();
    drop(before);
    // The next apply with the default limits folds them, whatever it adds: past the layer
    // limit into one merged layer (the base kept, so nodes download only that layer),
    // before the new delta's layer goes on top.
    let delta = common::synthetic_delta(dir.path(), &config, 12, 20, 5);
    let report = cisgate::index::apply(
        &idx,
        &[delta],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    assert!(report.layers_merged && !report.compacted, "{report:?}");
    let after = cisgate::Index::open(&idx).unwrap();
    assert_eq!(after.layer_count(), 2, "the merged layer and the new one");
    assert_ne!(after.manifest().content_digest, digest);
    cisgate::index::verify(&idx).unwrap();
}

#[test]
fn a_full_disk_is_named_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("cis.list");
    write_list(&list, "blocked_cis", "1", "", &format!("{CODE}\n"));
    let out_dir = dir.path().join("idx");
    std::fs::create_dir(&out_dir).unwrap();
    // The data file's temporary name leads to /dev/full: every write fails with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", out_dir.join("seg-000001-blocked_gtin.fst.tmp"))
        .unwrap();
    let out = build(&out_dir, &[], &[&list]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("No space left on device") && err.contains("seg-000001-blocked_gtin.fst"),
        "{err}"
    );
    assert!(!err.contains("damaged"), "{err}");
    assert!(!out_dir.join("CURRENT").exists());
    let left: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The next writer succeeds.
    assert!(build(&out_dir, &[], &[&list]).status.success());
}

#[test]
fn messages_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.list");
    std::fs::write(&empty, "").unwrap();
    let out = build(&dir.path().join("a"), &[], &[&empty]);
    assert!(
        stderr(&out).contains("empty.list:1: the file is empty"),
        "{}",
        stderr(&out)
    );
    // A Cyrillic letter typed into a serial is named as itself, not as mojibake.
    let cyrillic = dir.path().join("ru.list");
    write_list(
        &cyrillic,
        "blocked_cis",
        "1",
        "",
        &format!("{CODE}\n0104600439931256215abЖdEFGH1234\n"),
    );
    let out_dir = dir.path().join("b");
    let out = build(&out_dir, &["--max-rejects", "100"], &[&cyrillic]);
    assert_eq!(out.status.code(), Some(3));
    let rejects = std::fs::read_to_string(out_dir.join("rejects.tsv")).unwrap();
    assert!(rejects.contains("'Ж' at byte 21"), "{rejects}");
    assert!(!rejects.contains('Ð'), "{rejects}");
}
