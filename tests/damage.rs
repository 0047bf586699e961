//! Damaged indexes — truncated, bit-flipped, foreign, wrong version, missing files — give
//! errors that name the file, never panics or wrong answers.

mod common;

use std::path::{Path, PathBuf};

use cisgate::Index;
use cisgate::index::{self, IndexError, OpenOptions};

fn fresh_index() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    common::build_sample(&idx);
    (dir, idx)
}

fn data_files(idx: &Path) -> Vec<PathBuf> {
    let index = Index::open(idx).unwrap();
    index
        .manifest()
        .files()
        .map(|f| idx.join(&f.name))
        .collect()
}

/// Asserts that opening (with checksums) and verifying both fail and name `file`.
fn assert_detected(idx: &Path, file: &Path, what: &str) {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let open = Index::open(idx)
        .err()
        .unwrap_or_else(|| panic!("{what}: open succeeded"));
    assert!(open.to_string().contains(&name), "{what}: {open}");
    let verify = index::verify(idx)
        .err()
        .unwrap_or_else(|| panic!("{what}: verify succeeded"));
    assert!(verify.to_string().contains(&name), "{what}: {verify}");
    #[cfg(feature = "cli")]
    {
        let out = common::cisgate(&["verify", "--index", idx.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(
            common::stderr(&out).contains(&name),
            "{what}: {}",
            common::stderr(&out)
        );
    }
}

#[test]
fn truncated_files() {
    for n in 0..4 {
        let (_d, idx) = fresh_index();
        let file = &data_files(&idx)[n];
        let len = std::fs::metadata(file).unwrap().len();
        for cut in [0, 10, len / 2, len - 1] {
            let bytes = std::fs::read(file).unwrap();
            std::fs::write(file, &bytes[..cut as usize]).unwrap();
            assert_detected(&idx, file, &format!("truncated to {cut}"));
            // Without hashing, the length check still catches truncation.
            assert!(
                OpenOptions::new()
                    .verify_checksums(false)
                    .open(&idx)
                    .is_err()
            );
            std::fs::write(file, &bytes).unwrap();
        }
        Index::open(&idx).unwrap();
    }
}

#[test]
fn flipped_bytes_in_every_file() {
    let (_d, idx) = fresh_index();
    for file in data_files(&idx) {
        let original = std::fs::read(&file).unwrap();
        let len = original.len();
        for pos in [
            0,
            9,
            13,
            16,
            17,
            len / 3,
            len / 2,
            len - 30,
            len - 24,
            len - 20,
            len - 12,
            len - 1,
        ] {
            for bit in [0x01, 0x80] {
                let mut bytes = original.clone();
                bytes[pos] ^= bit;
                std::fs::write(&file, &bytes).unwrap();
                assert_detected(
                    &idx,
                    &file,
                    &format!("{} byte {pos} ^ {bit:#x}", file.display()),
                );
            }
        }
        std::fs::write(&file, &original).unwrap();
    }
    index::verify(&idx).unwrap();
}

#[test]
fn every_single_byte_flip_is_caught() {
    // Exhaustive on the smallest file: no flipped byte anywhere goes unnoticed.
    let (_d, idx) = fresh_index();
    let file = data_files(&idx)
        .into_iter()
        .min_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let original = std::fs::read(&file).unwrap();
    for pos in 0..original.len() {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x10;
        std::fs::write(&file, &bytes).unwrap();
        assert!(Index::open(&idx).is_err(), "byte {pos}");
    }
}

#[test]
fn wrong_version_foreign_swapped_and_missing_files() {
    let (_d, idx) = fresh_index();
    let files = data_files(&idx);
    let file = &files[0];
    let original = std::fs::read(file).unwrap();

    let mut bytes = original.clone();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(file, &bytes).unwrap();
    let err = Index::open(&idx).err().unwrap().to_string();
    assert!(err.contains("format version 99"), "{err}");

    std::fs::write(
        file,
        b"PNG\x89 this is some other file entirely, long enough to have a footer",
    )
    .unwrap();
    assert_detected(&idx, file, "foreign file");

    // Another index file of a different role put in this one's place.
    std::fs::copy(&files[1], file).unwrap();
    assert_detected(&idx, file, "swapped file");

    std::fs::remove_file(file).unwrap();
    assert_detected(&idx, file, "missing file");
    std::fs::write(file, &original).unwrap();
    index::verify(&idx).unwrap();
}

#[test]
fn damaged_current_and_manifest() {
    let (_d, idx) = fresh_index();
    let current = idx.join("CURRENT");
    let pointer = std::fs::read_to_string(&current).unwrap();
    let manifest_name = pointer.split(' ').next().unwrap().to_string();
    let manifest_path = idx.join(&manifest_name);
    let manifest = std::fs::read(&manifest_path).unwrap();

    std::fs::remove_file(&current).unwrap();
    assert!(matches!(
        Index::open(&idx),
        Err(IndexError::NotAnIndex { .. })
    ));
    for garbage in [
        "",
        "MANIFEST-x.json 0\n",
        "\u{0}\u{1}",
        "MANIFEST-0000000001.json zzzzzzzzzzzzzzzz\n",
    ] {
        std::fs::write(&current, garbage).unwrap();
        let err = Index::open(&idx).err().unwrap().to_string();
        assert!(err.contains("CURRENT"), "{garbage:?}: {err}");
    }
    std::fs::write(&current, &pointer).unwrap();

    let mut flipped = manifest.clone();
    flipped[manifest.len() / 2] ^= 0x04;
    std::fs::write(&manifest_path, &flipped).unwrap();
    let err = Index::open(&idx).err().unwrap().to_string();
    assert!(
        err.contains(&manifest_name) && err.contains("CURRENT expects"),
        "{err}"
    );

    // A well-formed manifest of an unknown version (with a matching pointer) is refused.
    let text = String::from_utf8(manifest.clone())
        .unwrap()
        .replace("\"format_version\": 2", "\"format_version\": 7");
    std::fs::write(&manifest_path, &text).unwrap();
    std::fs::write(
        &current,
        format!(
            "{manifest_name} {:016x}\n",
            xxhash_rust::xxh3::xxh3_64(text.as_bytes())
        ),
    )
    .unwrap();
    let err = Index::open(&idx).err().unwrap().to_string();
    assert!(err.contains("version 7"), "{err}");

    std::fs::remove_file(&manifest_path).unwrap();
    let err = Index::open(&idx).err().unwrap().to_string();
    assert!(err.contains(&manifest_name), "{err}");
}

#[test]
fn an_index_of_the_previous_format_is_refused_with_advice() {
    // tests/data/index-v1 was written by the last build of format 1 (FST-only, file codes
    // from the order of an enum). It is copied so that opening cannot touch the original.
    let dir = tempfile::tempdir().unwrap();
    let old = common::root().join("tests/data/index-v1");
    for entry in std::fs::read_dir(&old).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for err in [
        Index::open(dir.path()).err().unwrap().to_string(),
        index::verify(dir.path()).err().unwrap().to_string(),
    ] {
        assert!(
            err.contains("format version 1")
                && err.contains("rebuild")
                && err.contains("cisgate build"),
            "{err}"
        );
    }
}

#[test]
fn open_without_hashing_is_cheap_but_verify_catches_payload_flips() {
    let (_d, idx) = fresh_index();
    let file = data_files(&idx)
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    // Structure, lengths and footer still match the manifest: the fast open accepts it...
    assert!(
        OpenOptions::new()
            .verify_checksums(false)
            .open(&idx)
            .is_ok()
    );
    // ...the default open and verify do not.
    assert!(Index::open(&idx).is_err());
    assert!(index::verify(&idx).is_err());
}
