//! Removal of files no live generation uses.

use std::collections::HashSet;
use std::path::Path;

use super::IndexError;
use super::manifest::Manifest;

/// Deletes index files (segment data, manifests, stray temporaries) that neither `current`
/// nor `previous` references. The previous generation is kept so that a reader in another
/// process that read the old `CURRENT` a moment ago can still open it.
pub fn remove_unreferenced(
    dir: &Path,
    current: &Manifest,
    previous: Option<&Manifest>,
) -> Result<u64, IndexError> {
    let mut keep: HashSet<String> = current.files().map(|f| f.name.clone()).collect();
    keep.insert(current.file_name());
    if let Some(p) = previous {
        keep.extend(p.files().map(|f| f.name.clone()));
        keep.insert(p.file_name());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| IndexError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with("seg-")
            && (name.ends_with(".fst") || name.ends_with(".fst.tmp")))
            || (name.starts_with("MANIFEST-")
                && (name.ends_with(".json") || name.ends_with(".json.tmp")))
            || name == "CURRENT.tmp";
        if ours && !keep.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|source| IndexError::Io {
                path: entry.path(),
                source,
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}
