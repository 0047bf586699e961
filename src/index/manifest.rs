//! The manifest (what one generation of the index consists of) and the `CURRENT` pointer
//! that names the published generation.
//!
//! Publishing follows LevelDB: write the new manifest under a fresh name, fsync, then
//! replace `CURRENT` by writing `CURRENT.tmp`, fsync, rename, fsync the directory. A reader
//! sees the old generation or the new one, never a mix; a crash at any point leaves the old
//! one published.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::IndexError;
use super::format::FileMeta;
use super::table::Table;
use crate::durable;
use crate::list::ListHeader;

/// Name of the pointer file.
pub const CURRENT: &str = "CURRENT";
/// The file where `pull` leaves its last round's report (for `serve`'s status page).
pub const PULL_STATUS: &str = "PULL-STATUS.json";
/// Identifies a manifest.
pub const MANIFEST_FORMAT: &str = "cisgate-index";
/// Version of the manifest schema and the directory layout. Version 1 (before the КИ
/// block layout and explicit file codes) is refused with a message to rebuild.
pub const MANIFEST_VERSION: u32 = 2;

/// One generation of an index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `cisgate-index`.
    pub format: String,
    /// Schema version (2).
    pub format_version: u32,
    /// Generation number, increasing by one per publish.
    pub generation: u64,
    /// Database version: the version of the lists the generation reflects.
    pub version: String,
    /// When the data was last synchronised (oldest `as_of` of its lists), Unix ms.
    pub as_of_ms: i64,
    /// When this generation was written, Unix ms.
    pub created_ms: i64,
    /// Stable id of this index installation (reported as `inst`).
    pub instance_id: String,
    /// The snapshot lists the base was built from, with their own versions and times.
    pub lists: Vec<ListSource>,
    /// Deltas applied since the base was built (the most recent 64).
    #[serde(default)]
    pub deltas: Vec<ListSource>,
    /// Entries per table, as lookups see them (`sold`: as folded at the last compaction).
    pub counts: BTreeMap<Table, u64>,
    /// Grey GTINs among `blocked_gtin` entries.
    pub grey_gtins: u64,
    /// Segments, base first, then delta layers from oldest to newest.
    pub segments: Vec<SegmentMeta>,
    /// Next free segment id.
    pub next_segment_id: u64,
    /// The sold journal that records sales and returns since the last compaction.
    pub journal: String,
    /// Order-independent digest of the logical content (see `docs/FORMATS.md`), hex.
    pub content_digest: String,
}

/// How many applied deltas a manifest remembers.
pub const MAX_DELTA_HISTORY: usize = 64;

/// A list that contributed to the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSource {
    /// Header of the list file.
    #[serde(flatten)]
    pub header: ListHeader,
    /// File name it was read from.
    pub source: String,
    /// Valid entries it held.
    pub entries: u64,
    /// Lines it rejected.
    pub rejected: u64,
}

/// One segment: a base or a delta layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Segment id (part of its file names).
    pub id: u64,
    /// Its data files.
    pub files: Vec<FileMeta>,
}

impl Manifest {
    /// Every data file of the generation.
    pub fn files(&self) -> impl Iterator<Item = &FileMeta> {
        self.segments.iter().flat_map(|s| s.files.iter())
    }

    /// File name of this generation's manifest.
    pub fn file_name(&self) -> String {
        manifest_name(self.generation)
    }
}

/// File name of generation `generation`'s manifest.
pub fn manifest_name(generation: u64) -> String {
    format!("MANIFEST-{generation:010}.json")
}

/// Writes the manifest durably without making it current; returns its checksum for
/// [`point_current`].
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<String, IndexError> {
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| IndexError::Manifest {
        path: dir.join(manifest.file_name()),
        reason: e.to_string(),
    })?;
    durable::write(dir, &manifest.file_name(), &json)?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&json)))
}

/// Makes the written manifest `name` (with checksum `sum`) the current generation.
pub fn point_current(dir: &Path, name: &str, sum: &str) -> Result<(), IndexError> {
    Ok(durable::write(
        dir,
        CURRENT,
        format!("{name} {sum}\n").as_bytes(),
    )?)
}

/// Reads `CURRENT` and the manifest it names, checking the manifest's checksum.
pub fn read_current(dir: &Path) -> Result<Manifest, IndexError> {
    read_current_locked(dir).map(|(m, _)| m)
}

/// The manifest name `CURRENT` points to and its expected checksum.
pub fn read_pointer(dir: &Path) -> Result<(String, String), IndexError> {
    let current = dir.join(CURRENT);
    let pointer = match std::fs::read(&current) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !dir.is_dir() {
                return Err(IndexError::NoSuchDirectory {
                    dir: dir.to_path_buf(),
                });
            }
            return Err(IndexError::NotAnIndex {
                dir: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(IndexError::Io {
                path: current,
                source,
            });
        }
    };
    let bad_pointer = || IndexError::Manifest {
        path: current.clone(),
        reason: "expected \"MANIFEST-NNNNNNNNNN.json <xxh3>\"".into(),
    };
    let text = std::str::from_utf8(&pointer).map_err(|_| bad_pointer())?;
    let (name, sum) = text
        .trim_end_matches('\n')
        .split_once(' ')
        .ok_or_else(bad_pointer)?;
    let valid_name = name.starts_with("MANIFEST-")
        && name.ends_with(".json")
        && name.len() == "MANIFEST-".len() + 10 + ".json".len()
        && name[9..19].bytes().all(|b| b.is_ascii_digit());
    if !valid_name || sum.len() != 16 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_pointer());
    }
    Ok((name.to_string(), sum.to_string()))
}

/// Like [`read_current`], and also returns the manifest file, share-locked: a writer does
/// not delete a generation whose manifest someone holds locked.
pub fn read_current_locked(dir: &Path) -> Result<(Manifest, File), IndexError> {
    let (name, sum) = read_pointer(dir)?;
    read_manifest_locked(dir, &name, &sum)
}

/// Reads the manifest `name` (which must hash to `sum`), share-locked.
pub fn read_manifest_locked(
    dir: &Path,
    name: &str,
    sum: &str,
) -> Result<(Manifest, File), IndexError> {
    let path = dir.join(name);
    let io = |source| IndexError::Io {
        path: path.clone(),
        source,
    };
    let mut file = File::open(&path).map_err(io)?;
    file.lock_shared().map_err(io)?;
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut json).map_err(io)?;
    let manifest = parse_manifest(&path, &json, Some(sum))?;
    if manifest.file_name() != name {
        return Err(IndexError::Manifest {
            path,
            reason: format!(
                "holds generation {}, but is named {name}",
                manifest.generation
            ),
        });
    }
    Ok((manifest, file))
}

/// Parses and checks a manifest's bytes (and its checksum, when known).
pub fn parse_manifest(
    path: &Path,
    json: &[u8],
    expected_xxh3: Option<&str>,
) -> Result<Manifest, IndexError> {
    let path = path.to_path_buf();
    if let Some(sum) = expected_xxh3 {
        let actual = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(json));
        if actual != sum {
            return Err(IndexError::Damaged {
                path,
                reason: format!("manifest hashes to {actual}, CURRENT expects {sum}"),
            });
        }
    }
    // The version first: an older manifest may not parse as today's.
    #[derive(Deserialize)]
    struct Version {
        format: String,
        format_version: u32,
    }
    let version: Version = serde_json::from_slice(json).map_err(|e| IndexError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if version.format != MANIFEST_FORMAT {
        return Err(IndexError::Manifest {
            path,
            reason: format!(
                "format {:?}, this build reads {MANIFEST_FORMAT:?}",
                version.format
            ),
        });
    }
    if version.format_version != MANIFEST_VERSION {
        let advice = if version.format_version < MANIFEST_VERSION {
            "an earlier cisgate wrote it; rebuild the index from its lists with `cisgate build` (the manifest names them)"
        } else {
            "a newer cisgate wrote it; use that version"
        };
        return Err(IndexError::Manifest {
            path,
            reason: format!(
                "index format version {}, this build reads version {MANIFEST_VERSION}: {advice}",
                version.format_version
            ),
        });
    }
    serde_json::from_slice(json).map_err(|e| IndexError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })
}
