//! Removal of files no live generation uses.
//!
//! A generation is live while it is current or while any process has it open: `Index`
//! holds its manifest share-locked, so a manifest this writer can lock exclusively is
//! unused. Files referenced by no live manifest are deleted.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use super::error::IndexError;
use super::manifest::{self, Manifest};
use super::segment;

/// Deletes unused manifests, the data files and journals only they referenced, and stray
/// temporaries. Must be called with the writer lock held. Returns the number of files
/// removed.
pub fn remove_unreferenced(dir: &Path, current: &Manifest) -> Result<u64, IndexError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    let mut keep: HashSet<String> = HashSet::new();
    let keep_manifest = |m: &Manifest, keep: &mut HashSet<String>| {
        keep.extend(m.files().map(|f| f.name.clone()));
        keep.insert(m.file_name());
        keep.insert(m.journal.clone());
    };
    keep_manifest(current, &mut keep);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();

    // Old manifests: in use (lock refused) → keep with their files; unused → delete.
    let mut unused_manifests = Vec::new();
    // Held until the end so that no reader can take up a manifest being deleted.
    let mut held: Vec<File> = Vec::new();
    for name in names
        .iter()
        .filter(|n| is_manifest(n) && **n != current.file_name())
    {
        let path = dir.join(name);
        let Ok(file) = File::open(&path) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => {
                unused_manifests.push(path);
                held.push(file);
            }
            Err(_) => {
                // Someone reads this generation: keep everything it references.
                match std::fs::read(&path)
                    .map_err(io(&path))
                    .and_then(|json| manifest::parse_manifest(&path, &json, None))
                {
                    Ok(m) => keep_manifest(&m, &mut keep),
                    // Unreadable and in use: keep every data file to be safe.
                    Err(_) => return Ok(0),
                }
            }
        }
    }
    let mut removed = 0;
    for path in &unused_manifests {
        std::fs::remove_file(path).map_err(io(path))?;
        removed += 1;
    }
    drop(held);
    for name in &names {
        // Data files of every layout (the segment seam names them), journals, temporaries.
        let ours = segment::is_data_file(name)
            || (name.starts_with("sold-") && name.ends_with(".journal"))
            || name.ends_with(".json.tmp")
            || name == "CURRENT.tmp"
            || name == "rejects.tsv.tmp";
        if ours && !keep.contains(name) {
            let path = dir.join(name);
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn is_manifest(name: &str) -> bool {
    name.starts_with("MANIFEST-") && name.ends_with(".json")
}
