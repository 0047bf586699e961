//! `Index::open` on arbitrary bytes in place of a data file never panics. A sample index is
//! built once; each input replaces its blocked_cis file. When `fix_checksum` is set the
//! manifest is rewritten to match the input's length and footer checksum, so the fuzzer gets
//! past the container checks and feeds the FST loader itself.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    idx: PathBuf,
    original: Vec<u8>,
    name: String,
    manifest_name: String,
    manifest: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.list");
        std::fs::write(&list, "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n0104600439931256215abcdEFGH1234\n04647297654361!%C5UGb\n").unwrap();
        let idx = dir.path().join("idx");
        cisgate::index::build(&idx, &[list], &Default::default(), &cisgate::progress::NoProgress).unwrap();
        let index = cisgate::Index::open(&idx).unwrap();
        let name = index.manifest().files().next().unwrap().name.clone();
        let original = std::fs::read(idx.join(&name)).unwrap();
        let manifest_name = index.manifest().file_name();
        let manifest = serde_json::from_slice(&std::fs::read(idx.join(&manifest_name)).unwrap()).unwrap();
        Fixture { _dir: dir, idx, original, name, manifest_name, manifest }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, payload)) = data.split_first() else { return };
    let bytes = if mode & 1 == 1 {
        // Keep the container valid around a fuzzed FST payload.
        let mut b = f.original[..16].to_vec();
        b.extend_from_slice(payload);
        b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b.extend_from_slice(b"CISGEND\0");
        // Make the manifest agree with the new file, and CURRENT with the manifest.
        let mut m = f.manifest.clone();
        let file = &mut m["segments"][0]["files"][0];
        file["len"] = serde_json::json!(b.len());
        file["xxh3"] = serde_json::json!(format!("{sum:016x}"));
        let json = serde_json::to_vec_pretty(&m).unwrap();
        std::fs::write(f.idx.join(&f.manifest_name), &json).unwrap();
        let pointer = format!("{} {:016x}\n", f.manifest_name, xxhash_rust::xxh3::xxh3_64(&json));
        std::fs::write(f.idx.join("CURRENT"), pointer).unwrap();
        b
    } else {
        payload.to_vec()
    };
    std::fs::write(f.idx.join(&f.name), &bytes).unwrap();
    let verify = mode & 2 == 0;
    if let Ok(index) = cisgate::index::OpenOptions::new().verify_checksums(verify).open(&f.idx) {
        for key in ["0104600439931256215abcdEFGH1234", "04647297654361!%C5UGb", "0", ""] {
            let _ = index.contains_ki(key.as_bytes());
        }
        let _ = cisgate::index::verify(&f.idx);
    }
    std::fs::write(f.idx.join(&f.name), &f.original).unwrap();
    if mode & 1 == 1 {
        let json = serde_json::to_vec_pretty(&f.manifest).unwrap();
        std::fs::write(f.idx.join(&f.manifest_name), &json).unwrap();
        let pointer = format!("{} {:016x}\n", f.manifest_name, xxhash_rust::xxh3::xxh3_64(&json));
        std::fs::write(f.idx.join("CURRENT"), pointer).unwrap();
    }
});
