//! The seam between a table and how one segment stores it.
//!
//! A segment gives each table it touches one data file, of one of several layouts behind
//! [`TableSegment`]: look up one key, look up a batch (overlapping the memory latency of
//! its keys), stream every entry in key order (for compaction, `verify` and the digest),
//! verify the structure, and report its size. [`TableStack`](super::TableStack),
//! compaction and `verify` use only this interface.
//!
//! - [`Layout::Fst`]: an FST map (the `fst` crate); every table, delta layers, tombstones.
//! - [`Layout::KiBlocks`]: КИ grouped by product, serials packed (`blocks.rs`); the base of
//!   `blocked_cis`, a set.
//!
//! Adding a layout: a new code in [`Layout`] (never reuse one), a module implementing
//! [`TableSegment`], a branch in [`open`], and its writer where a segment is written.

pub(crate) mod blocks;
mod fst_map;
pub(crate) mod merge;

use serde::{Deserialize, Serialize};

pub(crate) use fst_map::FstSegment;

use super::format::MappedBytes;

/// How a data file's payload is laid out. The number is written in the file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// An FST map from key to value.
    Fst,
    /// КИ blocks (a set).
    KiBlocks,
    /// A split-block Bloom filter in front of a table's data file.
    Filter,
}

impl Layout {
    /// The code written in file headers.
    pub fn code(self) -> u32 {
        match self {
            Layout::Fst => 1,
            Layout::KiBlocks => 2,
            Layout::Filter => 3,
        }
    }

    /// The layout with this code.
    pub fn from_code(code: u32) -> Option<Layout> {
        match code {
            1 => Some(Layout::Fst),
            2 => Some(Layout::KiBlocks),
            3 => Some(Layout::Filter),
            _ => None,
        }
    }

    /// File name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Layout::Fst => "fst",
            Layout::KiBlocks => "blocks",
            Layout::Filter => "filter",
        }
    }
}

/// One key of a batch lookup and, once looked up, its value in this segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// The key.
    pub(crate) key: &'a [u8],
    /// The value this segment has for it, if any.
    pub(crate) found: Option<u64>,
}

impl<'a> Query<'a> {
    pub(crate) fn new(key: &'a [u8]) -> Query<'a> {
        Query { key, found: None }
    }
}

/// Walks a table's entries in key order. A lending iterator: the key borrows the cursor.
pub trait EntryCursor {
    /// Moves to the next entry; `false` at the end.
    fn advance(&mut self) -> bool;
    /// The current entry's key.
    fn key(&self) -> &[u8];
    /// The current entry's value.
    fn value(&self) -> u64;
}

/// One segment's data for one table.
pub(crate) trait TableSegment: Send + Sync {
    /// Bytes of its payload (memory-mapped, so this is what it may occupy in memory).
    fn bytes(&self) -> u64;
    /// The segment itself, for a writer that can reuse its layout's structure as it is.
    fn as_any(&self) -> &dyn std::any::Any;
    /// Entries held.
    fn len(&self) -> u64;
    /// The value of `key`, if the segment holds it.
    fn get(&self, key: &[u8]) -> Option<u64>;
    /// Looks up every query (setting `found`), fetching memory for several at once.
    fn get_batch(&self, queries: &mut [Query<'_>]) {
        for q in queries {
            q.found = self.get(q.key);
        }
    }
    /// Every entry in key order.
    fn cursor(&self) -> Box<dyn EntryCursor + '_>;
    /// Checks the whole structure (every byte is already known to match its checksum).
    fn verify(&self) -> Result<(), String>;
}

/// Opens a data file's payload as the layout its header names. `checked`: every byte is
/// known to match its checksum, so layouts may run their own deeper checks.
pub(crate) fn open(
    layout: Layout,
    bytes: MappedBytes,
    checked: bool,
) -> Result<Box<dyn TableSegment>, String> {
    match layout {
        Layout::Fst => Ok(Box::new(FstSegment::open(bytes, checked)?)),
        Layout::KiBlocks => Ok(Box::new(blocks::KiBlocks::open(bytes)?)),
        Layout::Filter => Err("a filter is not a table's data".into()),
    }
}

/// Hints the CPU to fetch the cache line holding `bytes[at]` (nothing if out of range).
#[inline]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `at` is inside `bytes`; a prefetch reads nothing and changes nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            bytes.as_ptr().add(at) as *const i8,
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
}
