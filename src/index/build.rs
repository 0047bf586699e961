//! Compiling snapshot lists into a new base generation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::digest::ContentDigest;
use super::format::{FileMeta, Role, write_data_file};
use super::manifest::{self, ListSource, MANIFEST_FORMAT, MANIFEST_VERSION, Manifest, SegmentMeta};
use super::{IndexError, Table, WriterLock, gc};
use crate::list::{Key, ListError, ListFile, ListKind, ListType, ParsedList, Reject, gtin_flags};
use crate::progress::Progress;

/// Options of [`build`].
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Fail on the first malformed line instead of setting rejects aside.
    pub strict: bool,
    /// Database version of the index; by default the version all lists share.
    pub version: Option<String>,
    /// Where rejected lines are written (TSV); by default `<out>/rejects.tsv`.
    pub rejects_path: Option<PathBuf>,
}

/// What a build did.
#[derive(Debug)]
pub struct BuildReport {
    /// The published manifest.
    pub manifest: Manifest,
    /// Rejected lines over all lists.
    pub rejected: u64,
    /// Where they were written, if any.
    pub rejects_path: Option<PathBuf>,
    /// Keys listed more than once (kept once).
    pub duplicates: u64,
    /// Min-price GTINs listed with different prices (the highest price is kept).
    pub price_conflicts: u64,
}

/// Compiles snapshot list files into the index at `out` (created if needed) and publishes
/// the result as a new generation. An existing index there is replaced atomically.
pub fn build(
    out: &Path,
    lists: &[PathBuf],
    options: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport, IndexError> {
    if lists.is_empty() {
        return Err(IndexError::Refused("no list files given".into()));
    }
    progress.stage("reading lists", lists.len() as u64);
    let files: Vec<ListFile> = lists
        .iter()
        .map(|p| {
            let f = ListFile::open(p);
            progress.advance(1);
            f
        })
        .collect::<Result<_, _>>()?;
    progress.stage("parsing lists", files.len() as u64);
    let parsed: Vec<ParsedList<'_>> = files
        .iter()
        .map(|f| {
            let p = f.parse();
            progress.advance(1);
            p
        })
        .collect::<Result<_, _>>()?;
    check_snapshot_set(&parsed)?;
    if options.strict {
        for p in &parsed {
            p.require_clean()?;
        }
    }
    let version = index_version(&parsed, options.version.as_deref())?;
    let as_of_ms = parsed.iter().map(|p| p.header.as_of_ms).min().unwrap_or(0);

    std::fs::create_dir_all(out).map_err(|source| IndexError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let lock = WriterLock::acquire(out)?;
    let previous = match manifest::read_current(out) {
        Ok(m) => Some(m),
        Err(IndexError::NotAnIndex { .. }) => None,
        Err(e) => return Err(e),
    };

    let rejects: Vec<&Reject> = parsed.iter().flat_map(|p| p.rejects.iter()).collect();
    let rejects_path = if rejects.is_empty() {
        None
    } else {
        let path = options
            .rejects_path
            .clone()
            .unwrap_or_else(|| out.join("rejects.tsv"));
        write_rejects(&path, &rejects)?;
        Some(path)
    };

    let segment_id = previous.as_ref().map_or(1, |m| m.next_segment_id);
    let mut files = Vec::new();
    let mut counts = BTreeMap::new();
    let mut digest = ContentDigest::default();
    let mut duplicates = 0;
    let mut price_conflicts = 0;
    let mut grey_gtins = 0;
    for kind in ListKind::ALL {
        progress.stage(&format!("sorting {kind}"), 0);
        let merged = merge_kind(&parsed, kind);
        duplicates += merged.duplicates;
        price_conflicts += merged.conflicts;
        if kind == ListKind::BlockedGtin {
            grey_gtins = merged
                .values
                .iter()
                .filter(|&&v| v & gtin_flags::GREY != 0)
                .count() as u64;
        }
        digest = digest.merge(kind_digest(kind, &merged.keys, &merged.values));
        counts.insert(Table::from(kind), merged.keys.len() as u64);
        progress.stage(&format!("writing {kind}"), merged.keys.len() as u64);
        files.extend(write_fst(
            out,
            segment_id,
            kind.into(),
            &merged.keys,
            &merged.values,
            progress,
        )?);
    }
    // Sales are local state, not list content: a rebuild keeps them.
    if let Some(prev) = &previous {
        let base = prev
            .segments
            .first()
            .map(|s| s.files.as_slice())
            .unwrap_or_default();
        for sold in base.iter().filter(|f| f.role.table == Table::Sold) {
            files.push(sold.clone());
            if !sold.role.filter {
                counts.insert(Table::Sold, sold.entries);
            }
        }
    }
    if options.strict && price_conflicts > 0 {
        return Err(IndexError::Refused(format!(
            "{price_conflicts} GTIN(s) listed with conflicting minimum prices"
        )));
    }

    let lists_meta = parsed
        .iter()
        .map(|p| ListSource {
            header: p.header.clone(),
            source: p
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            entries: p.added.len() as u64,
            rejected: p.rejects.len() as u64,
        })
        .collect();
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        format_version: MANIFEST_VERSION,
        generation: previous.as_ref().map_or(1, |m| m.generation + 1),
        version,
        as_of_ms,
        created_ms: crate::time::now_ms(),
        instance_id: previous
            .as_ref()
            .map_or_else(new_instance_id, |m| m.instance_id.clone()),
        lists: lists_meta,
        deltas: Vec::new(),
        counts,
        grey_gtins,
        segments: vec![SegmentMeta {
            id: segment_id,
            files,
        }],
        next_segment_id: segment_id + 1,
        journal: previous.as_ref().map_or_else(
            || format!("sold-{segment_id:06}.journal"),
            |m| m.journal.clone(),
        ),
        content_digest: digest.to_string(),
    };
    progress.stage("publishing", 0);
    manifest::sync_dir(out)?;
    manifest::publish(out, &manifest)?;
    gc::remove_unreferenced(out, &manifest)?;
    drop(lock);
    progress.finish();
    Ok(BuildReport {
        manifest,
        rejected: rejects.len() as u64,
        rejects_path,
        duplicates,
        price_conflicts,
    })
}

fn check_snapshot_set(parsed: &[ParsedList<'_>]) -> Result<(), IndexError> {
    let mut seen = BTreeMap::new();
    for p in parsed {
        if let ListType::Delta { .. } = p.header.list_type {
            return Err(IndexError::Refused(format!(
                "{} is a delta; build takes snapshots (apply deltas with `cisgate apply`)",
                p.path.display()
            )));
        }
        if let Some(other) = seen.insert((p.header.kind, p.header.pg), p.path) {
            return Err(IndexError::Refused(format!(
                "{} and {} are both {} snapshots{}",
                other.display(),
                p.path.display(),
                p.header.kind,
                p.header
                    .pg
                    .map(|pg| format!(" for product group {pg}"))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn index_version(parsed: &[ParsedList<'_>], explicit: Option<&str>) -> Result<String, IndexError> {
    if let Some(v) = explicit {
        return Ok(v.to_string());
    }
    let first = &parsed[0].header.version;
    match parsed.iter().find(|p| &p.header.version != first) {
        None => Ok(first.clone()),
        Some(other) => Err(IndexError::Refused(format!(
            "lists carry different versions ({}: {first}, {}: {}); pass --version",
            parsed[0].path.display(),
            other.path.display(),
            other.header.version
        ))),
    }
}

/// One kind's entries from all lists: sorted, unique keys.
pub(super) struct Merged<'a> {
    pub keys: Vec<Key<'a>>,
    pub values: Vec<u64>,
    pub duplicates: u64,
    pub conflicts: u64,
}

fn merge_kind<'a>(parsed: &[ParsedList<'a>], kind: ListKind) -> Merged<'a> {
    let sources: Vec<&ParsedList<'a>> = parsed.iter().filter(|p| p.header.kind == kind).collect();
    let total: usize = sources.iter().map(|p| p.added.len()).sum();
    if !kind.has_values() {
        let mut keys: Vec<Key<'a>> = Vec::with_capacity(total);
        for p in &sources {
            keys.extend(p.added.keys.iter().cloned());
        }
        keys.par_sort_unstable();
        let before = keys.len();
        keys.dedup();
        return Merged {
            duplicates: (before - keys.len()) as u64,
            keys,
            values: Vec::new(),
            conflicts: 0,
        };
    }
    let mut pairs: Vec<(Key<'a>, u64)> = Vec::with_capacity(total);
    for p in &sources {
        pairs.extend(
            p.added
                .keys
                .iter()
                .cloned()
                .zip(p.added.values.iter().copied()),
        );
    }
    pairs.par_sort_unstable();
    let mut merged = Merged {
        keys: Vec::with_capacity(pairs.len()),
        values: Vec::with_capacity(pairs.len()),
        duplicates: 0,
        conflicts: 0,
    };
    for (key, value) in pairs {
        if merged.keys.last() == Some(&key) {
            merged.duplicates += 1;
            let last = merged.values.last_mut().expect("values parallel to keys");
            if kind == ListKind::MinPrice && *last != value {
                merged.conflicts += 1;
            }
            *last = kind.combine(*last, value);
        } else {
            merged.keys.push(key);
            merged.values.push(value);
        }
    }
    merged
}

pub(super) fn kind_digest(kind: ListKind, keys: &[Key<'_>], values: &[u64]) -> ContentDigest {
    keys.par_iter()
        .enumerate()
        .map(|(i, k)| {
            let mut d = ContentDigest::default();
            d.add(kind, k, values.get(i).copied().unwrap_or(0));
            d
        })
        .reduce(ContentDigest::default, ContentDigest::merge)
}

/// File name of a segment's data file for a role.
pub(super) fn data_file_name(segment_id: u64, role: Role) -> String {
    let ext = if role.filter { "filter" } else { "fst" };
    format!("seg-{segment_id:06}-{}.{ext}", role.table.name())
}

/// Receives sorted unique keys for one FST data file.
pub(super) struct FstSink<'w, 'a> {
    builder: fst::raw::Builder<&'w mut dyn Write>,
    path: &'a Path,
    progress: &'a dyn Progress,
    count: u64,
    hashes: Vec<u64>,
}

impl FstSink<'_, '_> {
    /// Adds the next key; keys must come in strictly increasing order.
    pub fn insert(&mut self, key: &[u8], value: u64) -> Result<(), IndexError> {
        self.builder
            .insert(key, value)
            .map_err(|e| fst_error(self.path, e))?;
        self.hashes.push(super::filter::key_hash(key));
        self.count += 1;
        if self.count.is_multiple_of(65_536) {
            self.progress.advance(65_536);
        }
        Ok(())
    }
}

/// Writes one FST data file from whatever `produce` inserts into the sink, and the Bloom
/// filter over its keys beside it. Returns both files' metadata, FST first.
pub(super) fn write_fst_with(
    dir: &Path,
    segment_id: u64,
    table: Table,
    progress: &dyn Progress,
    produce: impl FnOnce(&mut FstSink<'_, '_>) -> Result<(), IndexError>,
) -> Result<Vec<FileMeta>, IndexError> {
    let role = Role::fst(table);
    let name = data_file_name(segment_id, role);
    let path = dir.join(&name);
    let mut hashes = Vec::new();
    let fst = write_data_file(dir, &name, role, |w: &mut dyn Write| {
        let builder = fst::raw::Builder::new_type(w, 0).map_err(|e| fst_error(&path, e))?;
        let mut sink = FstSink {
            builder,
            path: &path,
            progress,
            count: 0,
            hashes: Vec::new(),
        };
        produce(&mut sink)?;
        progress.advance(sink.count % 65_536);
        let count = sink.count;
        hashes = std::mem::take(&mut sink.hashes);
        sink.builder.finish().map_err(|e| fst_error(&path, e))?;
        Ok(count)
    })?;
    let role = Role::filter(table);
    let name = data_file_name(segment_id, role);
    let payload = super::filter::build(&hashes);
    if !super::filter::covers(&payload, &hashes) {
        return Err(IndexError::Refused(format!(
            "internal error: the filter for {name} misses keys; nothing published"
        )));
    }
    let filter = write_data_file(dir, &name, role, |w: &mut dyn Write| {
        w.write_all(&payload).map_err(|source| IndexError::Io {
            path: dir.join(&name),
            source,
        })?;
        Ok(hashes.len() as u64)
    })?;
    Ok(vec![fst, filter])
}

/// Streams sorted unique keys (and values) into an FST data file.
pub(super) fn write_fst(
    dir: &Path,
    segment_id: u64,
    table: Table,
    keys: &[Key<'_>],
    values: &[u64],
    progress: &dyn Progress,
) -> Result<Vec<FileMeta>, IndexError> {
    write_fst_with(dir, segment_id, table, progress, |sink| {
        for (i, key) in keys.iter().enumerate() {
            sink.insert(key, values.get(i).copied().unwrap_or(0))?;
        }
        Ok(())
    })
}

fn fst_error(path: &Path, e: fst::Error) -> IndexError {
    IndexError::Damaged {
        path: path.to_path_buf(),
        reason: format!("fst: {e}"),
    }
}

fn write_rejects(path: &Path, rejects: &[&Reject]) -> Result<(), IndexError> {
    let io = |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    writeln!(w, "file\tline\tbyte_offset\treason\ttext").map_err(io)?;
    for r in rejects {
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}",
            r.file.display(),
            r.line,
            r.byte_offset,
            clean(&r.reason),
            clean(&r.text)
        )
        .map_err(io)?;
    }
    w.flush().map_err(io)
}

/// A fresh instance id (a random UUID), made once per index and kept by every generation.
fn new_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl From<ListError> for IndexError {
    fn from(e: ListError) -> Self {
        IndexError::List(e)
    }
}
