//! The on-disk index: building it, opening it with validation, and raw lookups.
//!
//! An index is a directory:
//!
//! ```text
//! CURRENT                        names the published manifest and its xxh3
//! MANIFEST-0000000003.json       one generation: lists, counts, segments, digest
//! seg-000001-blocked_cis.fst     data files (FST sets/maps in a checksummed container)
//! LOCK                           held by the one writer
//! ```
//! See `docs/FORMATS.md` for the byte layouts.

mod build;
pub mod digest;
pub mod format;
mod gc;
pub mod manifest;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use build::{BuildOptions, BuildReport, build};
use digest::ContentDigest;
use format::{FileMeta, MappedBytes};
pub use manifest::Manifest;

use crate::list::{ListError, ListKind};

/// Errors of building, opening and verifying an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The directory holds no `CURRENT` file.
    #[error("{dir} is not a cisgate index (no CURRENT file)")]
    NotAnIndex {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest or `CURRENT` is malformed or of an unknown version.
    #[error("{path}: bad manifest: {reason}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file's bytes are damaged: truncated, bit-flipped, foreign or swapped.
    #[error("{path}: damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A list file could not be read.
    #[error(transparent)]
    List(ListError),
    /// The build cannot proceed.
    #[error("build: {0}")]
    Build(String),
    /// Another process is writing to the index.
    #[error("{dir}: another writer holds the index lock ({dir}/LOCK); try again when it is done")]
    Locked {
        /// The index directory.
        dir: PathBuf,
    },
}

/// Exclusive right to write to an index directory, released on drop.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `dir/LOCK` without waiting.
    pub fn acquire(dir: &Path) -> Result<WriterLock, IndexError> {
        let path = dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| IndexError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(IndexError::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(IndexError::Io { path, source }),
        }
    }
}

type Fst = fst::raw::Fst<MappedBytes>;

/// A delta layer of one kind: what it adds (with values) and what it removes.
struct Layer {
    added: Option<Fst>,
    removed: Option<Fst>,
}

/// All segments' data for one list kind; layers newest first.
#[derive(Default)]
struct KindStack {
    base: Option<Fst>,
    layers: Vec<Layer>,
}

impl KindStack {
    fn get(&self, key: &[u8]) -> Option<u64> {
        for layer in &self.layers {
            if let Some(v) = layer.added.as_ref().and_then(|f| f.get(key)) {
                return Some(v.value());
            }
            if layer.removed.as_ref().is_some_and(|f| f.contains_key(key)) {
                return None;
            }
        }
        self.base
            .as_ref()
            .and_then(|f| f.get(key))
            .map(|o| o.value())
    }
}

/// How to open an index.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    verify_checksums: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            verify_checksums: true,
        }
    }
}

impl OpenOptions {
    /// Default options: checksums verified.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to hash every data file on open (default: yes). Without it, opening costs
    /// almost nothing, and structure, lengths and footer checksums are still checked against
    /// the manifest, but a bit flip inside a file goes unnoticed until `verify`.
    pub fn verify_checksums(mut self, yes: bool) -> Self {
        self.verify_checksums = yes;
        self
    }

    /// Opens the current generation of the index at `dir`.
    pub fn open(&self, dir: &Path) -> Result<Index, IndexError> {
        let manifest = manifest::read_current(dir)?;
        Index::from_manifest(dir, manifest, self.verify_checksums)
    }
}

/// An opened index generation: memory-mapped, validated, ready for lookups.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let list = dir.path().join("cis.list");
/// # std::fs::write(&list, "#cisgate-list 1\n#kind: blocked_cis\n#version: 7\n#as_of: 2026-11-23T10:00:00Z\n0104600439931256215abcdEFGH1234\n")?;
/// # let out = dir.path().join("index");
/// use cisgate::index::{build, BuildOptions, Index};
/// use cisgate::progress::NoProgress;
///
/// build(&out, &[list], &BuildOptions::default(), &NoProgress)?;
/// let index = Index::open(&out)?;
/// let verdict = index.check("]d20104600439931256215abcdEFGH1234\u{1d}93dGVz");
/// assert!(verdict.is_blocked());
/// assert!(!index.check("0104600439931256215abcdEFGH1235").is_blocked());
/// # Ok(()) }
/// ```
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    stacks: [KindStack; 4],
}

fn kind_slot(kind: ListKind) -> usize {
    ListKind::ALL.iter().position(|&k| k == kind).unwrap_or(0)
}

impl Index {
    /// Opens the current generation at `dir`, verifying every checksum.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        OpenOptions::default().open(dir)
    }

    fn from_manifest(dir: &Path, manifest: Manifest, verify: bool) -> Result<Index, IndexError> {
        let mut stacks: [KindStack; 4] = Default::default();
        for (n, segment) in manifest.segments.iter().enumerate() {
            let mut layer_files: [Layer; 4] = std::array::from_fn(|_| Layer {
                added: None,
                removed: None,
            });
            for meta in &segment.files {
                let fst = open_fst(dir, meta, verify)?;
                let slot = &mut layer_files[kind_slot(meta.role.kind)];
                let target = if meta.role.removed {
                    &mut slot.removed
                } else {
                    &mut slot.added
                };
                if target.replace(fst).is_some() {
                    return Err(IndexError::Manifest {
                        path: dir.join(manifest.file_name()),
                        reason: format!(
                            "segment {} lists two files for {:?}",
                            segment.id, meta.role
                        ),
                    });
                }
            }
            for (kind, layer) in layer_files.into_iter().enumerate() {
                if n == 0 {
                    if layer.removed.is_some() {
                        return Err(IndexError::Manifest {
                            path: dir.join(manifest.file_name()),
                            reason: "the base segment cannot hold removals".into(),
                        });
                    }
                    stacks[kind].base = layer.added;
                } else if layer.added.is_some() || layer.removed.is_some() {
                    stacks[kind].layers.insert(0, layer);
                }
            }
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            stacks,
        })
    }

    /// The generation's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Raw lookup of a key in one list: the value for maps, 0 for sets, `None` if absent.
    pub fn get(&self, kind: ListKind, key: &[u8]) -> Option<u64> {
        self.stacks[kind_slot(kind)].get(key)
    }

    /// Whether a canonical КИ is on the banned list.
    pub fn contains_ki(&self, ki: &[u8]) -> bool {
        self.get(ListKind::BlockedCis, ki).is_some()
    }

    /// Streams every entry of one kind as the lookups see it, in key order.
    pub fn for_each_entry(&self, kind: ListKind, mut f: impl FnMut(&[u8], u64)) {
        use fst::Streamer;
        let stack = &self.stacks[kind_slot(kind)];
        let Some(base) = &stack.base else { return };
        if !stack.layers.is_empty() {
            // Layered: consult the whole stack per key (exact, if slower than a merge).
            let mut keys: Vec<(Vec<u8>, u64)> = Vec::new();
            let mut s = base.stream();
            while let Some((k, _)) = s.next() {
                keys.push((k.to_vec(), 0));
            }
            for layer in &stack.layers {
                if let Some(added) = &layer.added {
                    let mut s = added.stream();
                    while let Some((k, _)) = s.next() {
                        keys.push((k.to_vec(), 0));
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            for (k, _) in keys {
                if let Some(v) = stack.get(&k) {
                    f(&k, v);
                }
            }
            return;
        }
        let mut s = base.stream();
        while let Some((k, v)) = s.next() {
            f(k, v.value());
        }
    }

    /// Recomputes the content digest from the entries.
    pub fn compute_digest(&self) -> ContentDigest {
        let mut d = ContentDigest::default();
        for kind in ListKind::ALL {
            self.for_each_entry(kind, |k, v| d.add(kind, k, v));
        }
        d
    }
}

fn open_fst(dir: &Path, meta: &FileMeta, verify: bool) -> Result<Fst, IndexError> {
    let bytes = format::open_data_file(dir, meta, verify)?;
    let fst = Fst::new(bytes).map_err(|e| IndexError::Damaged {
        path: format::data_path(dir, meta),
        reason: format!("not a valid FST: {e}"),
    })?;
    if fst.len() as u64 != meta.entries {
        return Err(IndexError::Damaged {
            path: format::data_path(dir, meta),
            reason: format!(
                "holds {} keys, the manifest says {}",
                fst.len(),
                meta.entries
            ),
        });
    }
    Ok(fst)
}

/// What [`verify`] checked.
#[derive(Debug)]
pub struct VerifyReport {
    /// Files hashed.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Entries streamed.
    pub entries: u64,
}

/// Checks every byte of the index at `dir`: manifest checksum, every data file's checksum,
/// every FST's own structure, key counts and the content digest. The error names the first
/// damaged file.
pub fn verify(dir: &Path) -> Result<VerifyReport, IndexError> {
    let index = Index::open(dir)?;
    let mut bytes = 0;
    for meta in index.manifest.files() {
        bytes += meta.len;
        let fst = open_fst(dir, meta, true)?;
        fst.verify().map_err(|e| IndexError::Damaged {
            path: format::data_path(dir, meta),
            reason: format!("FST checksum: {e}"),
        })?;
    }
    let mut entries = 0;
    for kind in ListKind::ALL {
        let mut n = 0u64;
        index.for_each_entry(kind, |_, _| n += 1);
        let expected = index.manifest.counts.get(&kind).copied().unwrap_or(0);
        if n != expected {
            return Err(IndexError::Damaged {
                path: dir.join(index.manifest.file_name()),
                reason: format!("{kind} holds {n} entries, the manifest says {expected}"),
            });
        }
        entries += n;
    }
    let digest = index.compute_digest().to_string();
    if digest != index.manifest.content_digest {
        return Err(IndexError::Damaged {
            path: dir.join(index.manifest.file_name()),
            reason: format!(
                "content digest is {digest}, the manifest says {}",
                index.manifest.content_digest
            ),
        });
    }
    Ok(VerifyReport {
        files: index.manifest.files().count(),
        bytes,
        entries,
    })
}
