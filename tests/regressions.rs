//! Inputs the fuzzers once crashed on, replayed as the fuzz targets fed them.

mod common;

use std::path::Path;

/// Replays an `open_index` fuzz input: mode byte, then a payload that (with mode bit 0)
/// is wrapped in a valid container whose checksum, length and manifest entry all match.
fn replay_open_index(input: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let list = dir.path().join("l.list");
    std::fs::write(&list, "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n0104600439931256215abcdEFGH1234\n04647297654361!%C5UGb\n").unwrap();
    cisgate::index::build(
        &idx,
        &[list],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    let index = cisgate::Index::open(&idx).unwrap();
    let name = index.manifest().files().next().unwrap().name.clone();
    let manifest_name = index.manifest().file_name();
    drop(index);
    let original = std::fs::read(idx.join(&name)).unwrap();
    let (mode, payload) = input.split_first().unwrap();
    let bytes = if mode & 1 == 1 {
        let mut b = original[..16].to_vec();
        b.extend_from_slice(payload);
        b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b.extend_from_slice(b"CISGEND\0");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(idx.join(&manifest_name)).unwrap()).unwrap();
        m["segments"][0]["files"][0]["len"] = serde_json::json!(b.len());
        m["segments"][0]["files"][0]["xxh3"] = serde_json::json!(format!("{sum:016x}"));
        let json = serde_json::to_vec_pretty(&m).unwrap();
        std::fs::write(idx.join(&manifest_name), &json).unwrap();
        std::fs::write(
            idx.join("CURRENT"),
            format!(
                "{manifest_name} {:016x}\n",
                xxhash_rust::xxh3::xxh3_64(&json)
            ),
        )
        .unwrap();
        b
    } else {
        payload.to_vec()
    };
    std::fs::write(idx.join(&name), &bytes).unwrap();
    let verify = mode & 2 == 0;
    let opened = cisgate::index::OpenOptions::new()
        .verify_checksums(verify)
        .open(&idx);
    if verify {
        // With verification on, a payload that passes our checksum but is no valid FST is
        // refused at open, before any lookup can walk it.
        let err = opened.err().expect("open must fail").to_string();
        assert!(err.contains(&name), "{err}");
    }
    let err = cisgate::index::verify(&idx)
        .expect_err("verify must fail")
        .to_string();
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn open_index_crash_9d14b83a() {
    let input = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/open_index-crash-9d14b83a"),
    )
    .unwrap();
    replay_open_index(&input);
}
