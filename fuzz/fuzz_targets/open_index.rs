//! `Index::open` on arbitrary bytes in place of a data file never panics. A sample index is
//! built once; each input replaces one data file: the КИ block file of blocked_cis, or the
//! FST of blocked_gtin (mode bit 2). When mode bit 0 is set the payload is wrapped in a
//! valid container and the manifest rewritten to match its length and checksum, so the
//! fuzzer gets past the container checks and feeds the layout's own loader.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cisgate::fuzzing::container_bytes;
use cisgate::index::FileMeta;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    idx: PathBuf,
    files: [FileMeta; 2],
    originals: [Vec<u8>; 2],
    manifest_name: String,
    manifest: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.list");
        let mut text = "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n04647297654361!%C5UGb\n".to_string();
        for i in 0..40 {
            text.push_str(&format!("0104600439931256215abcdEFG{i:05}\n"));
        }
        std::fs::write(&list, text).unwrap();
        let gtins = dir.path().join("g.list");
        std::fs::write(&gtins, "#cisgate-list 1\n#kind: blocked_gtin\n#version: 1\n#as_of: 0\n04600439931256\n04607034170059\tgrey\n").unwrap();
        let idx = dir.path().join("idx");
        cisgate::index::build(&idx, &[list, gtins], &Default::default(), &cisgate::progress::NoProgress).unwrap();
        let index = cisgate::Index::open(&idx).unwrap();
        let pick = |table: cisgate::index::Table| {
            index.manifest().files().find(|f| f.role.table == table && !f.role.filter).unwrap().clone()
        };
        let files = [pick(cisgate::index::Table::BlockedCis), pick(cisgate::index::Table::BlockedGtin)];
        let originals = files.clone().map(|f| std::fs::read(idx.join(&f.name)).unwrap());
        let manifest_name = index.manifest().file_name();
        let manifest = serde_json::from_slice(&std::fs::read(idx.join(&manifest_name)).unwrap()).unwrap();
        Fixture { _dir: dir, idx, files, originals, manifest_name, manifest }
    })
}

fn write_manifest(f: &Fixture, m: &serde_json::Value) {
    let json = serde_json::to_vec_pretty(m).unwrap();
    std::fs::write(f.idx.join(&f.manifest_name), &json).unwrap();
    let pointer = format!("{} {:016x}\n", f.manifest_name, xxhash_rust::xxh3::xxh3_64(&json));
    std::fs::write(f.idx.join("CURRENT"), pointer).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, payload)) = data.split_first() else { return };
    let which = usize::from(mode & 4 != 0);
    let meta = &f.files[which];
    let bytes = if mode & 1 == 1 {
        let (b, sum) = container_bytes(meta.role, meta.layout, payload);
        let mut m = f.manifest.clone();
        for file in m["segments"][0]["files"].as_array_mut().unwrap() {
            if file["name"] == meta.name.as_str() {
                file["len"] = serde_json::json!(b.len());
                file["xxh3"] = serde_json::json!(sum);
            }
        }
        write_manifest(f, &m);
        b
    } else {
        payload.to_vec()
    };
    std::fs::write(f.idx.join(&meta.name), &bytes).unwrap();
    let verify = mode & 2 == 0;
    if let Ok(index) = cisgate::index::OpenOptions::new().verify_checksums(verify).open(&f.idx) {
        let keys = ["0104600439931256215abcdEFG00007", "04647297654361!%C5UGb", "0", ""];
        for key in keys {
            let _ = index.contains_ki(key.as_bytes());
            let _ = index.check(key);
        }
        let mut out = Vec::new();
        index.contains_ki_batch(&keys, &mut out);
        let _ = cisgate::index::verify(&f.idx);
    }
    std::fs::write(f.idx.join(&meta.name), &f.originals[which]).unwrap();
    if mode & 1 == 1 {
        write_manifest(f, &f.manifest);
    }
});
