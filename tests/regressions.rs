//! Inputs the fuzzers once crashed on, replayed as the fuzz targets fed them, and the
//! fuzz targets' checks run on a few fixed inputs.

mod common;

use std::path::Path;

use cisgate::fuzzing::{self, container_bytes};

/// Replays an `open_index` fuzz input into an FST data file (the layout the input crashed):
/// mode byte, then a payload that (with mode bit 0) is wrapped in a valid container whose
/// checksum, length and manifest entry all match.
fn replay_open_index(input: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let list = dir.path().join("g.list");
    std::fs::write(
        &list,
        "#cisgate-list 1\n#kind: blocked_gtin\n#version: 1\n#as_of: 0\n04600439931256\n",
    )
    .unwrap();
    cisgate::index::build(
        &idx,
        &[list],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    let index = cisgate::Index::open(&idx).unwrap();
    let meta = index
        .manifest()
        .files()
        .find(|f| f.role.table == cisgate::index::Table::BlockedGtin && !f.role.filter)
        .unwrap()
        .clone();
    let manifest_name = index.manifest().file_name();
    drop(index);
    let (mode, payload) = input.split_first().unwrap();
    let bytes = if mode & 1 == 1 {
        let (b, sum) = container_bytes(meta.role, meta.layout, payload);
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(idx.join(&manifest_name)).unwrap()).unwrap();
        for file in m["segments"][0]["files"].as_array_mut().unwrap() {
            if file["name"] == meta.name.as_str() {
                file["len"] = serde_json::json!(b.len());
                file["xxh3"] = serde_json::json!(sum);
            }
        }
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
    std::fs::write(idx.join(&meta.name), &bytes).unwrap();
    let verify = mode & 2 == 0;
    let opened = cisgate::index::OpenOptions::new()
        .verify_checksums(verify)
        .open(&idx);
    if verify {
        // With verification on, a payload that passes our checksum but is no valid FST is
        // refused at open, before any lookup can walk it.
        let err = opened.err().expect("open must fail").to_string();
        assert!(err.contains(&meta.name), "{err}");
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

/// Codes of every shape the block layout meets: many products, each serial length, tobacco
/// packs, sequential serials, and keys only the overflow part holds.
fn varied_codes() -> Vec<Vec<u8>> {
    let mut kis = Vec::new();
    for p in 0..40u32 {
        let gtin = format!("0460043993{p:04}");
        for i in 0..(p * 7 % 50) {
            kis.push(format!("01{gtin}21{i:013}").into_bytes());
            kis.push(format!("01{gtin}21ab{i:04}").into_bytes());
            kis.push(format!("{gtin}X!{i:05}").into_bytes());
            kis.push(format!("01{gtin}21{i:020}").into_bytes());
        }
        kis.push(format!("weird-{p}").into_bytes());
    }
    kis
}

#[test]
fn ki_blocks_round_trip() {
    let kis = varied_codes();
    let refs: Vec<&[u8]> = kis.iter().map(|k| k.as_slice()).collect();
    let absent: Vec<Vec<u8>> = kis
        .iter()
        .map(|k| {
            let mut a = k.clone();
            *a.last_mut().unwrap() ^= 1;
            a
        })
        .collect();
    let absent: Vec<&[u8]> = absent.iter().map(|k| k.as_slice()).collect();
    fuzzing::round_trip(&refs, &absent);
    fuzzing::round_trip(&[], &absent);
    fuzzing::round_trip(&refs[..1], &absent);
}

#[test]
fn ki_blocks_loader_survives_every_single_byte_change() {
    // A real segment's payload, then each byte in turn set to 0x00 and 0xFF.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("cis.list");
    let mut text = "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n".to_string();
    for k in varied_codes() {
        text.push_str(&String::from_utf8(k).unwrap());
        text.push('\n');
    }
    std::fs::write(&list, text).unwrap();
    let idx = dir.path().join("idx");
    let options = cisgate::index::BuildOptions {
        max_reject_share: 1.0,
        ..Default::default()
    };
    cisgate::index::build(&idx, &[list], &options, &cisgate::progress::NoProgress).unwrap();
    let index = cisgate::Index::open(&idx).unwrap();
    let meta = index
        .manifest()
        .files()
        .find(|f| f.layout == cisgate::index::Layout::KiBlocks)
        .unwrap()
        .clone();
    let file = std::fs::read(idx.join(&meta.name)).unwrap();
    let payload = &file[cisgate::fuzzing::HEADER_LEN..file.len() - 24];
    let probes: [&[u8]; 3] = [b"0104600439931256215abcdEFGH1234", b"weird-3", b""];
    fuzzing::open_blocks(payload, &probes);
    let step = (payload.len() / 800).max(1);
    for at in (0..payload.len()).step_by(step) {
        for value in [0x00, 0xFF] {
            let mut bad = payload.to_vec();
            bad[at] = value;
            fuzzing::open_blocks(&bad, &probes);
        }
    }
}
