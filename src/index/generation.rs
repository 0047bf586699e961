//! The one way a generation is written: build, apply, compaction and pull all go through a
//! [`GenerationWriter`].
//!
//! It holds the index's writer lock for as long as it lives, knows the generation it
//! replaces, hands out the id of the segment being written, removes that segment's files
//! if it is dropped before publishing (an error or an interrupt), carries the node's sold
//! state and journal over, and publishes: directory synced, manifest written durably,
//! `CURRENT` pointed at it, files no live generation uses removed. The same writer can
//! publish several generations in a row under one lock (an apply that compacts first).

use std::path::Path;

use super::error::IndexError;
use super::format::FileMeta;
use super::gc;
use super::lock::WriterLock;
use super::manifest::{self, Manifest};
use super::reader::{Index, OpenOptions};
use super::table::Table;
use crate::durable::{self, RemoveOnDrop};

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

    /// The number of the next generation.
    pub(crate) fn next_generation(&self) -> u64 {
        self.previous.as_ref().map_or(1, |m| m.generation + 1)
    }

    /// The index's instance id: kept from the previous generation, or a new one.
    pub(crate) fn instance_id(&self) -> String {
        self.previous.as_ref().map_or_else(
            || uuid::Uuid::new_v4().to_string(),
            |m| m.instance_id.clone(),
        )
    }

    /// The name of a new, empty sold journal for the segment being written.
    pub(crate) fn new_journal_name(&self) -> String {
        journal_name(self.segment_id())
    }

    /// The journal the next generation keeps: the current one, or a new one.
    pub(crate) fn journal(&self) -> String {
        self.previous
            .as_ref()
            .map_or_else(|| self.new_journal_name(), |m| m.journal.clone())
    }

    /// The node's sold state in the current base (sales are local state, not list
    /// content: a rebuild or a pull keeps them): its files, and its count.
    pub(crate) fn sold_state(&self) -> (Vec<FileMeta>, Option<u64>) {
        let base = self
            .previous
            .as_ref()
            .and_then(|m| m.segments.first())
            .map(|s| s.files.as_slice())
            .unwrap_or_default();
        let files: Vec<FileMeta> = base
            .iter()
            .filter(|f| f.role.table == Table::Sold)
            .cloned()
            .collect();
        let count = files.iter().find(|f| !f.role.filter).map(|f| f.entries);
        (files, count)
    }

    /// Opens the current generation (to read what a new one is made from).
    pub(crate) fn open_previous(&self) -> Result<Index, IndexError> {
        Index::open(self.dir)
    }

    /// Publishes `manifest` as the current generation: every file of it synced, the
    /// manifest written durably, `CURRENT` pointed at it, unused files removed. The writer
    /// then writes the generation after it.
    pub(crate) fn publish(&mut self, manifest: Manifest) -> Result<(), IndexError> {
        durable::sync_dir(self.dir)?;
        manifest::publish(self.dir, &manifest)?;
        self.published(manifest)
    }

    /// Publishes `manifest` only if `check` accepts the generation opened from it with
    /// every checksum verified (a pull's whole-state check); nothing is made current
    /// otherwise.
    #[cfg_attr(not(feature = "distribute"), allow(dead_code))]
    pub(crate) fn publish_checked(
        &mut self,
        manifest: Manifest,
        check: impl FnOnce(&Index) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        durable::sync_dir(self.dir)?;
        let sum = manifest::write_manifest(self.dir, &manifest)?;
        let written = RemoveOnDrop(Some(self.dir.join(manifest.file_name())));
        let opened = OpenOptions::new().open_generation(self.dir, &manifest.file_name(), &sum)?;
        check(&opened)?;
        drop(opened);
        manifest::point_current(self.dir, &manifest.file_name(), &sum)?;
        written.disarm();
        self.published(manifest)
    }

    fn published(&mut self, manifest: Manifest) -> Result<(), IndexError> {
        self.unpublished = None;
        gc::remove_unreferenced(self.dir, &manifest);
        self.previous = Some(manifest);
        self.arm();
        Ok(())
    }
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
