//! Removal of files no live generation uses.
//!
//! A generation is live while it is current or while any process has it open: `Index`
//! holds its manifest share-locked, so a manifest this writer can lock exclusively is
//! unused. Files referenced by no live manifest are deleted.
//!
//! Collection never fails a writer: it runs after a generation is durable, and a file it
//! cannot delete now is left for the next writer. On Windows that is the common case, not
//! an accident: a file another process still maps cannot be deleted there (Linux allows
//! it), and the lock on a manifest shows only who opened a generation through `Index`.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use super::error::IndexError;
use super::manifest::{self, Manifest};
use super::segment;

/// What one collection did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Collected {
    /// Files deleted.
    pub removed: u64,
    /// Unused files that could not be deleted now (mapped elsewhere on Windows, or the
    /// directory unreadable); the next writer tries again.
    pub deferred: u64,
}

/// Deletes unused manifests, the data files and journals only they referenced, and stray
/// temporaries. Must be called with the writer lock held.
pub(crate) fn remove_unreferenced(dir: &Path, current: &Manifest) -> Collected {
    let mut collected = Collected::default();
    let mut keep: HashSet<String> = HashSet::new();
    let keep_manifest = |m: &Manifest, keep: &mut HashSet<String>| {
        keep.extend(m.files().map(|f| f.name.clone()));
        keep.insert(m.file_name());
        keep.insert(m.journal.clone());
    };
    keep_manifest(current, &mut keep);
    let Ok(entries) = std::fs::read_dir(dir) else {
        collected.deferred += 1;
        return collected;
    };
    let mut names: Vec<String> = entries
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
                let parsed = std::fs::read(&path)
                    .map_err(|source| IndexError::Io {
                        path: path.clone(),
                        source,
                    })
                    .and_then(|json| manifest::parse_manifest(&path, &json, None));
                match parsed {
                    Ok(m) => keep_manifest(&m, &mut keep),
                    // Unreadable and in use: keep every data file to be safe.
                    Err(_) => {
                        collected.deferred += 1;
                        return collected;
                    }
                }
            }
        }
    }
    for path in &unused_manifests {
        collected.remove(path);
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
            collected.remove(&dir.join(name));
        }
    }
    collected
}

impl Collected {
    fn remove(&mut self, path: &Path) {
        match std::fs::remove_file(path) {
            Ok(()) => self.removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Windows refuses while another process maps the file: left for the next writer.
            Err(_) => self.deferred += 1,
        }
    }
}

fn is_manifest(name: &str) -> bool {
    name.starts_with("MANIFEST-") && name.ends_with(".json")
}
