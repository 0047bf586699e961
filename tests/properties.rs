//! Properties also exercised by the fuzz targets in `fuzz/`, run here on generated inputs
//! so that CI checks them: no input panics the parser, the list reader or the index loader,
//! and an index answers exactly what a plain in-memory set would.

mod common;

use std::collections::{BTreeSet, HashSet};

use cisgate::Index;
use cisgate::code;
use cisgate::index::{self, BuildOptions};
use cisgate::list::ListFile;
use cisgate::progress::NoProgress;
use proptest::prelude::*;

/// Strings near the shape of real codes, to reach deep parser paths.
fn code_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("01".to_string()),
        Just("21".to_string()),
        Just("\u{1d}".to_string()),
        Just("<GS>".to_string()),
        Just("x1d".to_string()),
        Just("]d2".to_string()),
        Just("(01)".to_string()),
        Just("(21)".to_string()),
        Just("91".to_string()),
        Just("92".to_string()),
        Just("93".to_string()),
        Just("10".to_string()),
        Just("04600439931256".to_string()),
        "[0-9]{1,14}",
        "[A-Za-z0-9!%&'*+,./:;<=>?_-]{1,13}",
        "[а-яА-ЯёЁ№]{1,5}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parser_never_panics(s in code_like()) {
        if let Ok(parsed) = code::parse(&s) {
            prop_assert!(!parsed.candidates.is_empty());
            for c in &parsed.candidates {
                // Every КИ the parser hands out is a canonical one.
                prop_assert!(code::validate_ki(c.ki.as_bytes()).is_ok(), "{:?} -> {:?}", s, c.ki);
            }
        }
    }

    #[test]
    fn parser_never_panics_on_any_string(s in any::<String>()) {
        let _ = code::parse(&s);
    }

    #[test]
    fn list_reader_never_panics(body in prop::collection::vec(any::<u8>(), 0..400), header in 0usize..3) {
        let prefix: &[u8] = match header {
            0 => b"",
            1 => b"#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n",
            _ => b"#cisgate-list 1\n#kind: min_price\n#type: delta\n#parent: 0\n#version: 1\n#as_of: 0\n",
        };
        let bytes = [prefix, &body].concat();
        if let Ok(file) = ListFile::from_bytes("p", bytes) {
            let _ = file.parse();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn index_loader_never_panics_on_arbitrary_file_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300), which in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let idx = dir.path().join("idx");
        common::build_sample(&idx);
        let name = Index::open(&idx).unwrap().manifest().files().nth(which).unwrap().name.clone();
        std::fs::write(idx.join(&name), &bytes).unwrap();
        prop_assert!(Index::open(&idx).is_err());
        prop_assert!(cisgate::index::OpenOptions::new().verify_checksums(false).open(&idx).is_err());
    }

    #[test]
    fn index_answers_like_a_set(
        banned in prop::collection::btree_set("[A-Za-z0-9%'+;<=>?/]{13}", 0..200),
        probes in prop::collection::vec("[A-Za-z0-9%'+;<=>?/]{13}", 0..50),
    ) {
        let ki = |serial: &str| format!("0104600439931256215{}", &serial[1..]);
        let set: BTreeSet<String> = banned.iter().map(|s| ki(s)).collect();
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.list");
        common::write_list(&list, "blocked_cis", "1", "", &set.iter().map(|k| format!("{k}\n")).collect::<String>());
        let idx = dir.path().join("idx");
        index::build(&idx, &[list], &BuildOptions::default(), &NoProgress).unwrap();
        let index = Index::open(&idx).unwrap();
        let model: HashSet<&String> = set.iter().collect();
        for k in set.iter().chain(probes.iter().map(|p| ki(p)).collect::<Vec<_>>().iter()) {
            prop_assert_eq!(index.contains_ki(k.as_bytes()), model.contains(k));
            prop_assert_eq!(index.check(k).is_blocked(), model.contains(k));
        }
        prop_assert_eq!(index.manifest().counts[&cisgate::index::Table::BlockedCis], set.len() as u64);
        cisgate::index::verify(&idx).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20))]

    #[test]
    fn batch_lookups_equal_single_lookups(
        banned in prop::collection::btree_set("[A-Za-z0-9%'+;<=>?/]{13}", 1..300),
        probes in prop::collection::vec("[A-Za-z0-9%'+;<=>?/]{13}", 0..100),
    ) {
        let ki = |serial: &str| format!("0104600439931256215{}", &serial[1..]);
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.list");
        common::write_list(&list, "blocked_cis", "1", "", &banned.iter().map(|k| format!("{}\n", ki(k))).collect::<String>());
        let idx = dir.path().join("idx");
        index::build(&idx, &[list], &BuildOptions::default(), &NoProgress).unwrap();
        let index = Index::open(&idx).unwrap();
        let keys: Vec<String> = banned.iter().chain(probes.iter()).map(|s| ki(s)).collect();
        let mut out = Vec::new();
        index.contains_ki_batch(&keys, &mut out);
        prop_assert_eq!(out.len(), keys.len());
        for (k, hit) in keys.iter().zip(&out) {
            prop_assert_eq!(*hit, index.contains_ki(k.as_bytes()));
        }
    }
}
