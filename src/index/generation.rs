//! The one way a generation is written: build, apply, compaction and pull all go through a
//! [`GenerationWriter`].
//!
//! It holds the index's writer lock for as long as it lives, knows the generation it
//! replaces, hands out the id of the segment being written, removes that segment's files
//! if it is dropped before publishing (an error or an interrupt), carries the node's sold
//! state and journal over, and publishes: directory synced, manifest written durably,
//! `CURRENT` pointed at it, files no live generation uses removed. The same writer can
//! publish several generations in a row under one lock (an apply that compacts first).

use std::collections::BTreeMap;
use std::path::Path;

use super::digest::ContentDigest;
use super::error::IndexError;
use super::format::FileMeta;
use super::gc;
use super::lock::WriterLock;
use super::manifest::{
    self, ListSource, MANIFEST_FORMAT, MANIFEST_VERSION, MAX_DELTA_HISTORY, Manifest, SegmentMeta,
};
use super::reader::{Index, OpenOptions};
use super::table::Table;
use crate::durable::{self, RemoveOnDrop};
use crate::journal::Journal;

/// Writes the next generation of an index directory; see the module documentation.
pub(crate) struct GenerationWriter<'d> {
    dir: &'d Path,
    _lock: WriterLock,
    previous: Option<Manifest>,
    /// Files of the segment being written carry this prefix until it is published.
    unpublished: Option<String>,
}

impl<'d> GenerationWriter<'d> {
    /// A writer of the existing index at `dir`.
    pub(crate) fn open(dir: &'d Path) -> Result<GenerationWriter<'d>, IndexError> {
        let lock = WriterLock::acquire(dir)?;
        let previous = manifest::read_current(dir)?;
        GenerationWriter::start(dir, lock, Some(previous))
    }

    /// A writer of the index at `dir`, made (directory and all) if there is none.
    pub(crate) fn create(dir: &'d Path) -> Result<GenerationWriter<'d>, IndexError> {
        std::fs::create_dir_all(dir).map_err(IndexError::io(dir))?;
        GenerationWriter::create_locked(dir, WriterLock::acquire(dir)?)
    }

    /// [`create`](Self::create) with a lock the caller took (waiting as it chose).
    pub(crate) fn create_locked(
        dir: &'d Path,
        lock: WriterLock,
    ) -> Result<GenerationWriter<'d>, IndexError> {
        let previous = match manifest::read_current(dir) {
            Ok(m) => Some(m),
            Err(IndexError::NotAnIndex { .. }) => None,
            Err(e) => return Err(e),
        };
        GenerationWriter::start(dir, lock, previous)
    }

    fn start(
        dir: &'d Path,
        lock: WriterLock,
        previous: Option<Manifest>,
    ) -> Result<GenerationWriter<'d>, IndexError> {
        // A writer that died may have left files behind: this one starts clean.
        if let Some(previous) = &previous {
            gc::remove_unreferenced(dir, previous);
        }
        let mut writer = GenerationWriter {
            dir,
            _lock: lock,
            previous,
            unpublished: None,
        };
        writer.arm();
        Ok(writer)
    }

    fn arm(&mut self) {
        self.unpublished = Some(format!("seg-{:06}-", self.segment_id()));
    }

    /// The index directory.
    pub(crate) fn dir(&self) -> &'d Path {
        self.dir
    }

    /// The current generation, which the next one replaces (`None` for a new index).
    pub(crate) fn previous(&self) -> Option<&Manifest> {
        self.previous.as_ref()
    }

    /// The id of the segment this writer's files belong to.
    pub(crate) fn segment_id(&self) -> u64 {
        self.previous.as_ref().map_or(1, |m| m.next_segment_id)
    }

    /// Opens the current generation (to read what a new one is made from).
    pub(crate) fn open_previous(&self) -> Result<Index, IndexError> {
        Index::open(self.dir)
    }

    /// Writes the next generation from `edit` and makes it current: the manifest computed
    /// by [`next_manifest`], a new sold journal created when the edit folded the old one,
    /// every file synced, the manifest written durably, the generation checked as the edit
    /// asks, `CURRENT` pointed at it, files no live generation uses removed. Nothing is
    /// made current when the check fails. The writer then writes the generation after it.
    pub(crate) fn commit(&mut self, edit: GenerationEdit) -> Result<Committed, IndexError> {
        let check = edit.check.clone();
        let manifest = next_manifest(
            self.previous.as_ref(),
            edit,
            self.segment_id(),
            crate::time::now_ms(),
        );
        if self
            .previous
            .as_ref()
            .is_none_or(|m| m.journal != manifest.journal)
        {
            Journal::create(&self.dir.join(&manifest.journal))?;
        }
        durable::sync_dir(self.dir)?;
        let sum = manifest::write_manifest(self.dir, &manifest)?;
        let written = RemoveOnDrop(Some(self.dir.join(manifest.file_name())));
        let opened = match &check {
            GenerationCheck::AsWritten => None,
            GenerationCheck::ContentDigest(expected) => {
                // The one verification of a generation that arrived from elsewhere. On the
                // base this node holds (a delta): its new files hashed, the digest carried
                // from the current generation over the keys the layers touch. On a new
                // base: every file hashed, the digest recomputed from every entry.
                let (opened, computed) = match self.incremental_check(&manifest, &sum)? {
                    Some(checked) => checked,
                    None => {
                        let opened = OpenOptions::new().open_generation(
                            self.dir,
                            &manifest.file_name(),
                            &sum,
                        )?;
                        let computed = opened.compute_digest();
                        (opened, computed)
                    }
                };
                let computed = computed.to_string();
                if computed != *expected {
                    return Err(IndexError::DigestMismatch {
                        path: self.dir.join(manifest.file_name()),
                        computed,
                        expected: expected.clone(),
                    });
                }
                Some(opened)
            }
        };
        manifest::point_current(self.dir, &manifest.file_name(), &sum)?;
        written.disarm();
        self.unpublished = None;
        gc::remove_unreferenced(self.dir, &manifest);
        self.previous = Some(manifest.clone());
        self.arm();
        Ok(Committed { manifest, opened })
    }
}

impl GenerationWriter<'_> {
    /// `manifest` (written, hashing to `sum`) opened with only the files the current
    /// generation lacks hashed, and its digest carried from the current one: `None` when
    /// there is no current generation, its base differs, or its digest is unreadable.
    fn incremental_check(
        &self,
        manifest: &Manifest,
        sum: &str,
    ) -> Result<Option<(Index, ContentDigest)>, IndexError> {
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let Some(before_digest) = ContentDigest::from_hex(&previous.content_digest) else {
            return Ok(None);
        };
        let held: Vec<String> = previous.files().map(|f| f.name.clone()).collect();
        let (name, previous_sum) = manifest::read_pointer(self.dir)?;
        if name != previous.file_name() {
            return Ok(None);
        }
        let before = OpenOptions::new().trusting(held.clone()).open_generation(
            self.dir,
            &name,
            &previous_sum,
        )?;
        let opened = OpenOptions::new().trusting(held).open_generation(
            self.dir,
            &manifest.file_name(),
            sum,
        )?;
        Ok(opened
            .digest_since(&before, before_digest)
            .map(|digest| (opened, digest)))
    }
}

/// What a new generation changes; [`GenerationWriter::commit`] derives the rest (the
/// generation number, segment ids, the instance id, the journal, the node's sold state).
#[derive(Clone, Debug)]
pub(crate) struct GenerationEdit {
    /// What happens to the segments.
    pub(crate) segments: SegmentEdit,
    /// The data version and its `as_of` (Unix ms); `None` keeps the current ones.
    pub(crate) data: Option<(String, i64)>,
    /// The snapshot lists behind the base; `None` keeps them.
    pub(crate) lists: Option<Vec<ListSource>>,
    /// The applied-delta history.
    pub(crate) deltas: DeltaHistory,
    /// Entries of the list tables that changed (and of `sold` when the base holds a newly
    /// folded sold table); the others keep their counts.
    pub(crate) counts: BTreeMap<Table, u64>,
    /// Grey GTINs among `blocked_gtin`; `None` keeps the count.
    pub(crate) grey_gtins: Option<u64>,
    /// The content digest after the change; `None` keeps it.
    pub(crate) content_digest: Option<String>,
    /// How the generation is checked before it is made current.
    pub(crate) check: GenerationCheck,
}

impl GenerationEdit {
    /// An edit of `segments` that changes nothing else (yet).
    pub(crate) fn new(segments: SegmentEdit) -> GenerationEdit {
        GenerationEdit {
            segments,
            data: None,
            lists: None,
            deltas: DeltaHistory::Keep,
            counts: BTreeMap::new(),
            grey_gtins: None,
            content_digest: None,
            check: GenerationCheck::AsWritten,
        }
    }
}

/// What happens to the segments of a generation.
#[derive(Clone, Debug)]
pub(crate) enum SegmentEdit {
    /// A delta layer of this writer's files on top (`apply`); no files, no layer.
    AddLayer(Vec<FileMeta>),
    /// One layer of this writer's files replaces every delta layer, the base kept (a
    /// merge of the layers: what they say, tombstones included); no files, no layer.
    MergeLayers(Vec<FileMeta>),
    /// A base of this writer's files replaces every segment (`build`, `compact`). When the
    /// files hold a sold table (a compaction folded the journal into it), the generation
    /// starts a new, empty journal; otherwise the node's sold files carry over.
    NewBase(Vec<FileMeta>),
    /// Segments written elsewhere (`pull`), their ids kept; the node's sold files carry
    /// over into the first.
    #[cfg_attr(not(feature = "distribute"), allow(dead_code))]
    Adopt {
        /// The segments, files named as they are in this directory.
        segments: Vec<SegmentMeta>,
        /// The next free segment id where they were written.
        next_segment_id: u64,
    },
}

/// The applied-delta history of a generation.
#[derive(Clone, Debug)]
pub(crate) enum DeltaHistory {
    /// As it was.
    Keep,
    /// These deltas were applied (the most recent [`MAX_DELTA_HISTORY`] are kept).
    Append(Vec<ListSource>),
    /// Replaced: a new base (empty) or a pulled generation's.
    Replace(Vec<ListSource>),
}

/// How a generation is checked before it is made current.
#[derive(Clone, Debug)]
pub(crate) enum GenerationCheck {
    /// Written here: every file was checked as it was written (read back, its digest
    /// compared), so it is published as it is.
    AsWritten,
    /// Arrived from elsewhere: opened with every checksum verified and its content digest
    /// recomputed, which must be this one.
    #[cfg_attr(not(feature = "distribute"), allow(dead_code))]
    ContentDigest(String),
}

/// A committed generation.
pub(crate) struct Committed {
    /// Its manifest.
    pub(crate) manifest: Manifest,
    /// The generation as its check opened it (every checksum verified), for a caller that
    /// serves it next without opening it again.
    #[allow(dead_code)] // Taken by serve's own pull loop, next.
    pub(crate) opened: Option<Index>,
}

/// The one computation of the next manifest: `previous` (none for a new index) changed by
/// `edit`, with `segment_id` the id of the segment this writer's files belong to.
pub(crate) fn next_manifest(
    previous: Option<&Manifest>,
    edit: GenerationEdit,
    segment_id: u64,
    now_ms: i64,
) -> Manifest {
    let mut next = previous.cloned().unwrap_or_else(|| Manifest {
        format: MANIFEST_FORMAT.into(),
        format_version: MANIFEST_VERSION,
        generation: 0,
        version: String::new(),
        as_of_ms: 0,
        created_ms: now_ms,
        instance_id: uuid::Uuid::new_v4().to_string(),
        lists: Vec::new(),
        deltas: Vec::new(),
        counts: BTreeMap::new(),
        grey_gtins: 0,
        segments: Vec::new(),
        next_segment_id: 1,
        journal: journal_name(segment_id),
        content_digest: ContentDigest::default().to_string(),
    });
    next.format = MANIFEST_FORMAT.into();
    next.format_version = MANIFEST_VERSION;
    next.generation += 1;
    next.created_ms = now_ms;
    if let Some((version, as_of_ms)) = edit.data {
        next.version = version;
        next.as_of_ms = as_of_ms;
    }
    if let Some(lists) = edit.lists {
        next.lists = lists;
    }
    match edit.deltas {
        DeltaHistory::Keep => {}
        DeltaHistory::Append(applied) => next.deltas.extend(applied),
        DeltaHistory::Replace(deltas) => next.deltas = deltas,
    }
    let excess = next.deltas.len().saturating_sub(MAX_DELTA_HISTORY);
    next.deltas.drain(..excess);
    if let Some(grey) = edit.grey_gtins {
        next.grey_gtins = grey;
    }
    if let Some(digest) = edit.content_digest {
        next.content_digest = digest;
    }
    next.counts.extend(edit.counts);
    // Sales are the node's own state, not list content: a new base or a pulled generation
    // keeps the node's sold files and count; only a compaction that folded the journal
    // into the base replaces them, and then a new journal starts.
    let sold_files: Vec<FileMeta> = previous
        .and_then(|m| m.segments.first())
        .map(|base| {
            base.files
                .iter()
                .filter(|f| f.role.table == Table::Sold)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    match edit.segments {
        SegmentEdit::AddLayer(files) => {
            if !files.is_empty() {
                next.segments.push(SegmentMeta {
                    id: segment_id,
                    files,
                });
                next.next_segment_id = segment_id + 1;
            }
        }
        SegmentEdit::MergeLayers(files) => {
            next.segments.truncate(1);
            if !files.is_empty() {
                next.segments.push(SegmentMeta {
                    id: segment_id,
                    files,
                });
                next.next_segment_id = segment_id + 1;
            }
        }
        SegmentEdit::NewBase(mut files) => {
            if files.iter().any(|f| f.role.table == Table::Sold) {
                next.journal = journal_name(segment_id);
            } else {
                files.extend(sold_files);
            }
            next.segments = vec![SegmentMeta {
                id: segment_id,
                files,
            }];
            next.next_segment_id = segment_id + 1;
        }
        SegmentEdit::Adopt {
            mut segments,
            next_segment_id,
        } => {
            if let Some(base) = segments.first_mut() {
                base.files.extend(sold_files);
            }
            next.segments = segments;
            next.next_segment_id = segment_id.max(next_segment_id);
        }
    }
    if !next
        .files()
        .any(|f| f.role.table == Table::Sold && !f.role.filter)
    {
        next.counts.remove(&Table::Sold);
    }
    next
}

impl Drop for GenerationWriter<'_> {
    /// A writer dropped before publishing removes the files of its segment.
    fn drop(&mut self) {
        let Some(prefix) = &self.unpublished else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(prefix.as_str())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The name of segment `segment_id`'s sold journal.
pub(crate) fn journal_name(segment_id: u64) -> String {
    format!("sold-{segment_id:06}.journal")
}

#[cfg(test)]
mod tests {
    use super::super::format::Role;
    use super::super::table::Layout;
    use super::*;

    fn file(segment: u64, table: Table, entries: u64) -> FileMeta {
        FileMeta {
            name: format!("seg-{segment:06}-{}.fst", table.name()),
            role: Role::fst(table),
            layout: Layout::Fst,
            len: 100,
            xxh3: "0".repeat(16),
            entries,
        }
    }

    fn next(previous: Option<&Manifest>, edit: GenerationEdit) -> Manifest {
        let id = previous.map_or(1, |m| m.next_segment_id);
        next_manifest(previous, edit, id, 1_000)
    }

    /// Build, a sale's compaction, apply, rebuild and pull, each only saying what changes:
    /// the numbers, the journal and the node's sold state follow from the previous
    /// generation.
    #[test]
    fn the_next_manifest_follows_from_the_edit() {
        let mut build =
            GenerationEdit::new(SegmentEdit::NewBase(vec![file(1, Table::BlockedCis, 5)]));
        build.data = Some(("v1".into(), 10));
        build.counts = BTreeMap::from([(Table::BlockedCis, 5)]);
        let first = next(None, build.clone());
        assert_eq!(
            (
                first.generation,
                first.next_segment_id,
                first.version.as_str()
            ),
            (1, 2, "v1")
        );
        assert_eq!(first.journal, "sold-000001.journal");

        // A compaction that folded sales: a new base with a sold table, a new journal.
        let mut compact = GenerationEdit::new(SegmentEdit::NewBase(vec![
            file(2, Table::BlockedCis, 5),
            file(2, Table::Sold, 3),
        ]));
        compact.counts = BTreeMap::from([(Table::BlockedCis, 5), (Table::Sold, 3)]);
        let folded = next(Some(&first), compact);
        assert_eq!((folded.generation, folded.version.as_str()), (2, "v1"));
        assert_eq!(folded.journal, "sold-000002.journal");
        assert_eq!(folded.instance_id, first.instance_id);

        // An apply: a layer on top, the history appended, the journal kept.
        let mut apply =
            GenerationEdit::new(SegmentEdit::AddLayer(vec![file(3, Table::BlockedCis, 1)]));
        apply.data = Some(("v2".into(), 20));
        apply.counts = BTreeMap::from([(Table::BlockedCis, 6)]);
        let applied = next(Some(&folded), apply);
        assert_eq!(applied.segments.len(), 2);
        assert_eq!(applied.next_segment_id, 4);
        assert_eq!(applied.journal, folded.journal);
        assert_eq!(applied.counts[&Table::Sold], 3);

        // An apply that changed nothing adds no layer and uses no segment id.
        let empty = next(
            Some(&applied),
            GenerationEdit::new(SegmentEdit::AddLayer(vec![])),
        );
        assert_eq!((empty.segments.len(), empty.next_segment_id), (2, 4));

        // A rebuild replaces every segment and keeps the node's sold table and count.
        build.segments = SegmentEdit::NewBase(vec![file(4, Table::BlockedCis, 7)]);
        let rebuilt = next(Some(&empty), build);
        assert_eq!(rebuilt.segments.len(), 1);
        assert!(rebuilt.files().any(|f| f.role.table == Table::Sold));
        assert_eq!(rebuilt.counts[&Table::Sold], 3);
        assert_eq!(rebuilt.journal, folded.journal);
        assert!(rebuilt.deltas.is_empty());

        // A pull adopts segments numbered elsewhere, the sold table carried into its base.
        let pull = GenerationEdit::new(SegmentEdit::Adopt {
            segments: vec![SegmentMeta {
                id: 40,
                files: vec![file(40, Table::BlockedCis, 9)],
            }],
            next_segment_id: 41,
        });
        let pulled = next(Some(&rebuilt), pull);
        assert_eq!(pulled.next_segment_id, 41);
        assert!(
            pulled.segments[0]
                .files
                .iter()
                .any(|f| f.role.table == Table::Sold)
        );
        assert_eq!(pulled.generation, rebuilt.generation + 1);
    }

    #[test]
    fn the_delta_history_is_bounded() {
        let mut m = next(None, GenerationEdit::new(SegmentEdit::NewBase(vec![])));
        for i in 0..(MAX_DELTA_HISTORY + 5) {
            let mut edit = GenerationEdit::new(SegmentEdit::AddLayer(vec![]));
            edit.deltas = DeltaHistory::Append(vec![ListSource {
                header: crate::list::ListHeader {
                    kind: crate::list::ListKind::BlockedCis,
                    list_type: crate::list::ListType::Delta {
                        parent: format!("v{i}"),
                    },
                    version: format!("v{}", i + 1),
                    as_of_ms: 0,
                    pg: None,
                    result_digest: None,
                },
                source: format!("d{i}"),
                entries: 1,
                rejected: 0,
            }]);
            m = next(Some(&m), edit);
        }
        assert_eq!(m.deltas.len(), MAX_DELTA_HISTORY);
        assert_eq!(m.deltas.last().map(|d| d.source.as_str()), Some("d68"));
    }
}

#[cfg(test)]
mod digest_tests {
    use super::super::reader::OpenOptions;
    use super::*;
    use crate::index::{ApplyOptions, BuildOptions, apply, build};
    use crate::progress::NoProgress;

    fn list(dir: &Path, name: &str, header: &str, body: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let now = crate::time::format_rfc3339(crate::time::now_ms());
        std::fs::write(
            &path,
            format!("#cisgate-list 1\n#kind: blocked_cis\n{header}#as_of: {now}\n{body}"),
        )
        .unwrap();
        path
    }

    /// The digest carried over the layers equals the one recomputed from every entry,
    /// after additions, removals and a merge of the layers; across a new base there is
    /// nothing to carry.
    #[test]
    fn the_carried_digest_equals_the_recomputed_one() {
        let dir = tempfile::tempdir().unwrap();
        let idx = dir.path().join("idx");
        let kis: Vec<String> = (0..40)
            .map(|i| format!("0104600439931256215abc{i:09}"))
            .collect();
        let base = list(
            dir.path(),
            "base.list",
            "#version: v1\n",
            &(kis[..30].join("\n") + "\n"),
        );
        build(&idx, &[base], &BuildOptions::default(), &NoProgress).unwrap();
        let keep = ApplyOptions {
            compact_after_layers: 0,
            compact_after_size_ratio: 0.0,
            ..ApplyOptions::default()
        };
        let open = || OpenOptions::new().open(&idx).unwrap();
        let mut before = open();
        for (k, body) in [
            format!("+{}\n+{}\n-{}\n", kis[30], kis[31], kis[0]),
            format!("-{}\n-{}\n+{}\n", kis[30], kis[1], kis[0]),
            format!("+{}\n", kis[35]),
        ]
        .iter()
        .enumerate()
        {
            let delta = list(
                dir.path(),
                &format!("d{k}.list"),
                &format!("#type: delta\n#parent: v{}\n#version: v{}\n", k + 1, k + 2),
                body,
            );
            apply(&idx, &[delta], &keep, &NoProgress).unwrap();
            let after = open();
            let carried = ContentDigest::from_hex(&before.manifest().content_digest).unwrap();
            let carried = after.digest_since(&before, carried).unwrap();
            assert_eq!(carried, after.compute_digest());
            assert_eq!(carried.to_string(), after.manifest().content_digest);
            before = after;
        }
        crate::index::merge_layers(&idx, &NoProgress).unwrap();
        let merged = open();
        let carried = ContentDigest::from_hex(&before.manifest().content_digest).unwrap();
        assert_eq!(
            merged.digest_since(&before, carried).unwrap(),
            merged.compute_digest()
        );
        crate::index::compact(&idx, &Default::default(), &NoProgress).unwrap();
        let compacted = open();
        let carried = ContentDigest::from_hex(&merged.manifest().content_digest).unwrap();
        assert!(compacted.digest_since(&merged, carried).is_none());
    }
}
