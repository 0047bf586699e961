//! The FST layout: one `fst` map from key to value (sets map every key to 0; delta layers
//! map removed keys to the tombstone).

use std::io::Write;
use std::path::Path;

use fst::Streamer;

use super::super::error::IndexError;
use super::super::format::{self, FileMeta, MappedBytes, Role};
use super::super::table::{Layout, Table};
use super::files::{checked_filter, file_name, write_filter};
use super::fst_check::{check_fst_checksum, open_fst};
use super::seam::{EntryCursor, TableSegment};
use crate::progress::Progress;

type Fst = fst::raw::Fst<MappedBytes>;

/// A table's data as one FST.
pub(crate) struct FstSegment {
    fst: Fst,
}

impl FstSegment {
    /// Reads the FST and checks its own checksum (see [`super::open_fst`]).
    pub(crate) fn open(bytes: MappedBytes) -> Result<FstSegment, String> {
        Ok(FstSegment {
            fst: open_fst(bytes, "the FST")?,
        })
    }
}

impl TableSegment for FstSegment {
    fn bytes(&self) -> u64 {
        self.fst.as_bytes().len() as u64
    }

    fn len(&self) -> u64 {
        self.fst.len() as u64
    }

    fn get(&self, key: &[u8]) -> Option<u64> {
        self.fst.get(key).map(|o| o.value())
    }

    fn slow_point_lookups(&self) -> bool {
        true
    }

    fn cursor(&self) -> Box<dyn EntryCursor + '_> {
        Box::new(FstCursor {
            stream: self.fst.stream(),
            key: Vec::new(),
            value: 0,
        })
    }

    fn verify(&self) -> Result<(), String> {
        check_fst_checksum(self.fst.as_bytes()).map_err(|e| format!("FST checksum: {e}"))?;
        // Walking visits every node; a structurally broken FST that passed both checksums
        // would panic inside the fst crate, so the walk turns a panic into damage.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut stream = self.fst.stream();
            let mut n = 0u64;
            while stream.next().is_some() {
                n += 1;
            }
            n
        }))
        .map_err(|_| "the FST structure is broken (walking it failed)".to_string())
        .and_then(|n| {
            if n == self.len() {
                Ok(())
            } else {
                Err(format!("the FST says {} keys but holds {n}", self.len()))
            }
        })
    }
}

struct FstCursor<'a> {
    stream: fst::raw::Stream<'a>,
    key: Vec<u8>,
    value: u64,
}

impl EntryCursor for FstCursor<'_> {
    fn advance(&mut self) -> bool {
        match self.stream.next() {
            Some((k, v)) => {
                self.key.clear();
                self.key.extend_from_slice(k);
                self.value = v.value();
                true
            }
            None => false,
        }
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> u64 {
        self.value
    }
}

/// Receives sorted unique keys for one FST data file.
pub(crate) struct FstSink<'w, 'a> {
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
        self.hashes.push(crate::hashing::key_hash(key));
        self.count += 1;
        if self.count.is_multiple_of(65_536) {
            self.progress.advance(65_536);
            if self.progress.cancelled() {
                return Err(IndexError::Interrupted);
            }
        }
        Ok(())
    }
}

/// Writes one FST data file from whatever `produce` inserts into the sink, and the Bloom
/// filter over its keys beside it. Returns both files' metadata, FST first.
pub(crate) fn write(
    dir: &Path,
    segment_id: u64,
    table: Table,
    progress: &dyn Progress,
    produce: impl FnOnce(&mut FstSink<'_, '_>) -> Result<(), IndexError>,
) -> Result<Vec<FileMeta>, IndexError> {
    let role = Role::fst(table);
    let name = file_name(segment_id, role, Layout::Fst);
    let path = dir.join(&name);
    let mut hashes = Vec::new();
    let fst = format::write_data_file(dir, &name, role, Layout::Fst, |w: &mut dyn Write| {
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
    let payload = checked_filter(&name, &hashes)?;
    let filter = write_filter(dir, segment_id, table, &payload, hashes.len() as u64)?;
    Ok(vec![fst, filter])
}

/// An fst error: the OS error as such when writing failed (a full disk says so), else
/// damage.
fn fst_error(path: &Path, e: fst::Error) -> IndexError {
    match e {
        fst::Error::Io(source) => IndexError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => IndexError::Damaged {
            path: path.to_path_buf(),
            reason: format!("fst: {other}"),
        },
    }
}
