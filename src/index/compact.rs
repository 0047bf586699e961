//! Compaction: fold the delta layers and the sold journal into a new base.
//!
//! `blocked_cis` becomes a new КИ block segment: the old base's blocks are taken over whole
//! (decoded, never re-read КИ by КИ), minus every key a layer changed, plus the keys the
//! layers add. The other tables are one streaming merge each (a union over base and layers,
//! newest source wins) written straight into a new FST. The source lists are never
//! re-read. The content digest is recomputed on the way and must equal the manifest's, so
//! a compaction can never silently change what the index answers.

use std::path::Path;

use super::digest::ContentDigest;
use super::error::IndexError;
use super::generation::{GenerationEdit, GenerationWriter, SegmentEdit};
use super::manifest::Manifest;
use super::reader::Index;
use super::segment::blocks::build::BlocksBuilder;
use super::segment::{self, EntryCursor, Layout};
use super::table::{TOMBSTONE, Table};
use crate::journal::{Journal, JournalWriter, SoldState, fold_sold};
use crate::progress::Progress;

/// How long a sale stays on the sold list by default (the Local Module's 30 days).
pub const DEFAULT_SOLD_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

/// Options of [`compact`].
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Sales older than this are dropped from the sold list.
    pub sold_retention_ms: i64,
    /// "Now", for the retention (Unix ms); tests inject it.
    pub now_ms: Option<i64>,
    /// Layout of the new `blocked_cis` base (КИ blocks; FST for comparisons).
    pub cis_layout: Layout,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            sold_retention_ms: DEFAULT_SOLD_RETENTION_MS,
            now_ms: None,
            cis_layout: Layout::KiBlocks,
        }
    }
}

/// What a compaction did.
#[derive(Debug)]
pub struct CompactReport {
    /// The published manifest.
    pub manifest: Manifest,
    /// Layers folded.
    pub layers_folded: usize,
    /// Journal records folded into the sold table.
    pub journal_entries: usize,
}

/// Folds every layer and the journal into a new base and publishes it.
pub fn compact(
    dir: &Path,
    options: &CompactOptions,
    progress: &dyn Progress,
) -> Result<CompactReport, IndexError> {
    compact_with(&mut GenerationWriter::open(dir)?, options, progress)
}

/// [`compact`] through a writer the caller holds (an apply that compacts first or after).
pub(super) fn compact_with(
    writer: &mut GenerationWriter<'_>,
    options: &CompactOptions,
    progress: &dyn Progress,
) -> Result<CompactReport, IndexError> {
    let dir = writer.dir();
    let now = options.now_ms.unwrap_or_else(crate::time::now_ms);
    let index = writer.open_previous()?;
    let old = index.manifest().clone();
    let segment_id = writer.segment_id();
    let mut files = Vec::new();
    let mut counts = old.counts.clone();
    let mut digest = ContentDigest::default();
    for table in Table::ALL.into_iter().filter(|t| *t != Table::Sold) {
        let kind = table.list_kind().expect("list table");
        progress.stage(
            &format!("compacting {kind}"),
            counts.get(&table).copied().unwrap_or(0),
        );
        if Layout::for_base(table, options.cis_layout) == Layout::KiBlocks {
            let builder = cis_union(&index);
            let (written, meta) = segment::blocks::write(dir, segment_id, builder)?;
            digest = digest.merge(written.digest);
            counts.insert(table, written.entries);
            files.extend(meta);
            continue;
        }
        let written = segment::fst_map::write(dir, segment_id, table, progress, |sink| {
            let mut result = Ok(());
            index.for_each_entry(table, |k, v| {
                if result.is_ok() {
                    digest.add(kind, k, v);
                    result = sink.insert(k, v);
                }
            });
            result
        })?;
        counts.insert(table, written[0].entries);
        files.extend(written);
    }
    if digest.to_string() != old.content_digest {
        return Err(IndexError::Damaged {
            path: dir.join(old.file_name()),
            reason: format!(
                "merged content digests to {digest}, the manifest says {}; compaction abandoned",
                old.content_digest
            ),
        });
    }

    // The sold journal: hold its lock from reading it until the new generation (with a new,
    // empty journal) is published, so that no sale lands in a journal already folded.
    let journal_path = dir.join(&old.journal);
    let writer_of_journal = JournalWriter::open(&journal_path)?;
    let guard = writer_of_journal.lock()?;
    let mut journal = Journal::open(&journal_path)?;
    journal.catch_up()?;
    let mut overlay: Vec<(&[u8], SoldState)> = journal.entries().collect();
    overlay.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let journal_entries = overlay.len();
    let mut base_sold: Vec<(Vec<u8>, u64)> = Vec::new();
    index.for_each_entry(Table::Sold, |k, v| base_sold.push((k.to_vec(), v)));
    let merged = fold_sold(&base_sold, &overlay, now - options.sold_retention_ms);
    progress.stage("compacting sold", merged.len() as u64);
    let sold = segment::fst_map::write(dir, segment_id, Table::Sold, progress, |sink| {
        merged.iter().try_for_each(|(k, v)| sink.insert(k, *v))
    })?;
    counts.insert(Table::Sold, sold[0].entries);
    files.extend(sold);
    // The base holds the folded sold table: the writer starts a new journal with it.
    let mut edit = GenerationEdit::new(SegmentEdit::NewBase(files));
    edit.counts = counts;
    let layers_folded = old.segments.len().saturating_sub(1);
    progress.stage("publishing", 0);
    drop(index);
    // Published while the journal is still locked: no sale lands in the folded journal.
    let manifest = writer.commit(edit)?.manifest;
    drop(overlay);
    drop(guard);
    progress.finish();
    Ok(CompactReport {
        manifest,
        layers_folded,
        journal_entries,
    })
}

/// What a merge of the delta layers did.
#[derive(Debug)]
pub struct MergeReport {
    /// The published manifest.
    pub manifest: Manifest,
    /// Layers merged into one.
    pub layers_merged: usize,
}

/// Merges every delta layer into one, the base untouched, and publishes it: what the
/// layers say (the newest deciding each key, removals kept as tombstones), so that lookups
/// walk one layer and a node that holds the base downloads only that layer. Cheap beside a
/// compaction: it reads and writes the layers only.
pub fn merge_layers(dir: &Path, progress: &dyn Progress) -> Result<MergeReport, IndexError> {
    merge_layers_with(&mut GenerationWriter::open(dir)?, progress)
}

/// [`merge_layers`] through a writer the caller holds.
pub(super) fn merge_layers_with(
    writer: &mut GenerationWriter<'_>,
    progress: &dyn Progress,
) -> Result<MergeReport, IndexError> {
    let dir = writer.dir();
    let index = writer.open_previous()?;
    let layers_merged = index.layer_count();
    let segment_id = writer.segment_id();
    let mut files = Vec::new();
    for table in Table::ALL {
        let mut union = index.layer_union(table);
        if !union.advance() {
            continue;
        }
        progress.stage(&format!("merging {} layers", table.name()), 0);
        files.extend(segment::fst_map::write(
            dir,
            segment_id,
            table,
            progress,
            |sink| {
                loop {
                    sink.insert(union.key(), union.value())?;
                    if !union.advance() {
                        return Ok(());
                    }
                }
            },
        )?);
    }
    drop(index);
    let manifest = writer
        .commit(GenerationEdit::new(SegmentEdit::MergeLayers(files)))?
        .manifest;
    Ok(MergeReport {
        manifest,
        layers_merged,
    })
}

/// `blocked_cis` as lookups see it, collected for a new block segment: the base's blocks
/// whole, minus the keys the layers change, plus the keys they add.
fn cis_union(index: &Index) -> BlocksBuilder {
    let mut builder = BlocksBuilder::default();
    // What the layers say, newest first: each key's final word, removals included.
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut layers = index.layer_union(Table::BlockedCis);
    while layers.advance() {
        changed.push(layers.key().to_vec());
        if layers.value() != TOMBSTONE {
            added.push(layers.key().to_vec());
        }
    }
    // The base hands over its keys (a block segment its blocks whole) but the changed ones.
    if let Some(base) = index.base_segment(Table::BlockedCis) {
        base.add_keys_to(&mut builder, &changed);
    }
    for key in &added {
        builder.add(key);
    }
    builder
}
