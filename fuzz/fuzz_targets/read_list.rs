//! The list reader never panics. The first byte picks a valid header to prepend, so the
//! fuzzer reaches the entry parsers instead of stopping at the magic line.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HEADERS: [&str; 5] = [
    "",
    "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n",
    "#cisgate-list 1\n#kind: blocked_gtin\n#version: 1\n#as_of: 2026-11-23T10:00:00Z\n",
    "#cisgate-list 1\n#kind: blocked_series\n#type: delta\n#parent: 0\n#version: 1\n#as_of: 0\n",
    "#cisgate-list 1\n#kind: min_price\n#type: delta\n#parent: 0\n#version: 1\n#as_of: 0\n",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let bytes = [HEADERS[pick as usize % HEADERS.len()].as_bytes(), rest].concat();
    if let Ok(file) = cisgate::list::ListFile::from_bytes("fuzz", bytes) {
        if let Ok(parsed) = file.parse() {
            assert_eq!(parsed.added.keys.len() + parsed.removed.keys.len() + parsed.rejects.len(), parsed.lines as usize);
        }
    }
});
