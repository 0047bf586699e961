//! Applying delta lists: one new layer and one new generation, all or nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::compact;
use super::digest::ContentDigest;
use super::error::IndexError;
use super::generation::{DeltaHistory, GenerationEdit, GenerationWriter, SegmentEdit};
use super::manifest::{ListSource, Manifest, SegmentMeta};
use super::segment;
use super::table::{TOMBSTONE, Table};
use crate::list::{EntryOptions, HeaderFields, ListFile, ListKind, ListType, ParsedList};
use crate::progress::Progress;

/// Options of [`apply`].
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Merge the delta layers into one once there are more than this (0: never). The
    /// base stays: a node that holds it downloads only the merged layer.
    pub compact_after_layers: usize,
    /// Compact into a new base once the layers' bytes exceed this fraction of the base's
    /// (0: never): every node downloads the new base, so this is kept for when the layers
    /// have grown large.
    pub compact_after_size_ratio: f64,
    /// How entry lines are written.
    pub entries: EntryOptions,
    /// Header fields for deltas without a header.
    pub header: Option<HeaderFields>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            compact_after_layers: 8,
            compact_after_size_ratio: 0.25,
            entries: EntryOptions::default(),
            header: None,
        }
    }
}

/// What an apply did.
#[derive(Debug)]
pub struct ApplyReport {
    /// The manifest published (after compaction, if one ran).
    pub manifest: Manifest,
    /// Deltas applied.
    pub deltas: usize,
    /// Entries added or changed, over all tables.
    pub upserted: u64,
    /// Entries removed.
    pub removed: u64,
    /// Delta lines that changed nothing (already present with that value, or absent).
    pub unchanged: u64,
    /// Whether the apply compacted the index into a new base.
    pub compacted: bool,
    /// Whether the apply merged the delta layers into one.
    pub layers_merged: bool,
}

/// Applies delta list files in order to the index at `dir`, as one new delta layer and one
/// new generation. Every delta must be clean, continue the version chain (`parent` = the
/// index's version, then each previous delta's), and reach its `result_digest` if it states
/// one; otherwise nothing is published and the error names the delta.
pub fn apply(
    dir: &Path,
    deltas: &[PathBuf],
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport, IndexError> {
    if deltas.is_empty() {
        return Err(IndexError::NothingGiven { what: "delta" });
    }
    // The writer cleans up what a writer that died left; one killed during its compaction
    // may have left layers over the limit: compact first.
    let mut writer = GenerationWriter::open(dir)?;
    let (mut compacted, mut layers_merged) = (false, false);
    let fold = writer
        .previous()
        .map_or(Fold::None, |m| fold_needed(m, options));
    fold.run(&mut writer, progress, &mut compacted, &mut layers_merged)?;
    let index = writer.open_previous()?;
    progress.stage("reading deltas", deltas.len() as u64);
    let parsed: Vec<ParsedList> = deltas
        .iter()
        .map(|p| {
            let mut file = ListFile::open(p)?.with_entry_options(options.entries.clone());
            if let Some(fields) = &options.header {
                file = file.with_header_fields(fields.clone());
            }
            file.parse()
        })
        .collect::<Result<_, _>>()?;

    let old = index.manifest();
    let mut version = old.version.clone();
    let mut as_of_ms = old.as_of_ms;
    let mut digest =
        ContentDigest::from_hex(&old.content_digest).ok_or_else(|| IndexError::Manifest {
            path: dir.join(old.file_name()),
            reason: format!(
                "content digest {:?} is not 32 hex digits",
                old.content_digest
            ),
        })?;
    let mut counts = old.counts.clone();
    // Final state of every touched key, per list table: Some(value) present, None removed.
    let mut changes: BTreeMap<ListKind, BTreeMap<Vec<u8>, Option<u64>>> = BTreeMap::new();
    let mut history = Vec::new();

    for delta in &parsed {
        let ListType::Delta { parent } = &delta.header.list_type else {
            return Err(IndexError::SnapshotToApply {
                path: delta.path.clone(),
            });
        };
        if *parent != version {
            return Err(IndexError::BrokenChain {
                path: delta.path.clone(),
                parent: parent.clone(),
                index_version: version,
            });
        }
        delta
            .require_clean()
            .map_err(|e| IndexError::UncleanDelta {
                path: delta.path.clone(),
                reason: e.to_string(),
            })?;
        let kind = delta.header.kind;
        let table = Table::from(kind);
        let removed: HashSet<&[u8]> = delta.removed.keys.iter().map(|k| k.as_ref()).collect();
        if let Some(both) = delta
            .added
            .keys
            .iter()
            .find(|k| removed.contains(k.as_ref()))
        {
            return Err(IndexError::AddedAndRemoved {
                path: delta.path.clone(),
                key: String::from_utf8_lossy(both).into_owned(),
            });
        }
        let touched = changes.entry(kind).or_default();
        let current = |touched: &BTreeMap<Vec<u8>, Option<u64>>, key: &[u8]| match touched.get(key)
        {
            Some(state) => *state,
            None => index.get(table, key),
        };
        let count = counts.entry(table).or_insert(0);
        for key in &delta.removed.keys {
            if let Some(old_value) = current(touched, key) {
                digest.remove(kind, key, old_value);
                *count -= 1;
            }
            touched.insert(key.to_vec(), None);
        }
        // A key listed twice in one delta combines as in a snapshot; then it replaces.
        let mut added: BTreeMap<&[u8], u64> = BTreeMap::new();
        for (i, key) in delta.added.keys.iter().enumerate() {
            let value = delta.added.values.get(i).copied().unwrap_or(0);
            added
                .entry(&**key)
                .and_modify(|v| *v = kind.combine(*v, value))
                .or_insert(value);
        }
        for (key, value) in added {
            match current(touched, key) {
                Some(old_value) => digest.remove(kind, key, old_value),
                None => *count += 1,
            }
            digest.add(kind, key, value);
            touched.insert(key.to_vec(), Some(value));
        }
        if let Some(expected) = delta
            .header
            .result_digest
            .as_ref()
            .filter(|e| **e != digest.to_string())
        {
            return Err(IndexError::DigestMismatch {
                path: delta.path.clone(),
                computed: digest.to_string(),
                expected: expected.clone(),
            });
        }
        version = delta.header.version.clone();
        as_of_ms = as_of_ms.max(delta.header.as_of_ms);
        history.push(ListSource {
            header: delta.header.clone(),
            source: delta
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            entries: (delta.added.len() + delta.removed.len()) as u64,
            rejected: 0,
        });
    }

    // Only what differs from the current generation goes into the layer.
    let segment_id = writer.segment_id();
    let mut files = Vec::new();
    let (mut upserted, mut removed_count, mut unchanged) = (0, 0, 0);
    for (kind, touched) in &changes {
        let table = Table::from(*kind);
        // Sorted by key already: additions with their values, removals as tombstones.
        let mut entries: Vec<(&[u8], u64)> = Vec::new();
        for (key, state) in touched {
            match (*state, index.get(table, key)) {
                (Some(v), before) if before != Some(v) => {
                    upserted += 1;
                    entries.push((key, v));
                }
                (None, Some(_)) => {
                    removed_count += 1;
                    entries.push((key, TOMBSTONE));
                }
                _ => unchanged += 1,
            }
        }
        if entries.is_empty() {
            continue;
        }
        progress.stage(&format!("writing {kind} layer"), entries.len() as u64);
        files.extend(segment::fst_map::write(
            dir,
            segment_id,
            table,
            progress,
            |sink| entries.iter().try_for_each(|(k, v)| sink.insert(k, *v)),
        )?);
    }

    let mut edit = GenerationEdit::new(SegmentEdit::AddLayer(files));
    edit.data = Some((version, as_of_ms));
    edit.deltas = DeltaHistory::Append(history);
    edit.counts = counts;
    edit.content_digest = Some(digest.to_string());
    progress.stage("publishing", 0);
    drop(index);
    let mut manifest = writer.commit(edit)?.manifest;

    if let Some(folded) = fold_needed(&manifest, options).run(
        &mut writer,
        progress,
        &mut compacted,
        &mut layers_merged,
    )? {
        manifest = folded;
    }
    progress.finish();
    drop(writer);
    Ok(ApplyReport {
        manifest,
        deltas: parsed.len(),
        upserted,
        removed: removed_count,
        unchanged,
        compacted,
        layers_merged,
    })
}

/// What an index with too many or too large layers needs.
enum Fold {
    None,
    /// Merge the layers into one (too many).
    Layers,
    /// A new base (the layers grew large beside it).
    Base,
}

impl Fold {
    /// Runs the fold under `writer`; returns the manifest it published, if any.
    fn run(
        self,
        writer: &mut GenerationWriter<'_>,
        progress: &dyn Progress,
        compacted: &mut bool,
        layers_merged: &mut bool,
    ) -> Result<Option<Manifest>, IndexError> {
        match self {
            Fold::None => Ok(None),
            Fold::Layers => {
                *layers_merged = true;
                Ok(Some(compact::merge_layers_with(writer, progress)?.manifest))
            }
            Fold::Base => {
                *compacted = true;
                let options = compact::CompactOptions::default();
                Ok(Some(
                    compact::compact_with(writer, &options, progress)?.manifest,
                ))
            }
        }
    }
}

/// The fold an index needs: a new base once its layers' bytes pass the size ratio, a merge
/// of its layers once there are more than the limit.
fn fold_needed(m: &Manifest, options: &ApplyOptions) -> Fold {
    let layers = m.segments.len().saturating_sub(1);
    if layers == 0 {
        return Fold::None;
    }
    let bytes = |s: &SegmentMeta| s.files.iter().map(|f| f.len).sum::<u64>();
    let base = m.segments.first().map_or(0, bytes);
    let layer_bytes: u64 = m.segments.iter().skip(1).map(bytes).sum();
    if options.compact_after_size_ratio > 0.0
        && layer_bytes as f64 > base as f64 * options.compact_after_size_ratio
    {
        Fold::Base
    } else if options.compact_after_layers > 0 && layers > options.compact_after_layers {
        Fold::Layers
    } else {
        Fold::None
    }
}
