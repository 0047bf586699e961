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
pub(crate) mod files;
pub(crate) mod fst_check;
pub(crate) mod fst_map;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod merge;
pub(crate) mod seam;

pub(crate) use files::is_data_file;
#[cfg(feature = "distribute")]
pub(crate) use files::object_file_name;
pub use seam::EntryCursor;
pub(crate) use seam::{Query, TableSegment};

use super::format::MappedBytes;
pub use super::table::Layout;

/// Opens a data file's payload as the layout its header names, validating it.
pub(crate) fn open(layout: Layout, bytes: MappedBytes) -> Result<Box<dyn TableSegment>, String> {
    match layout {
        Layout::Fst => Ok(Box::new(fst_map::FstSegment::open(bytes)?)),
        Layout::KiBlocks => Ok(Box::new(blocks::read::KiBlocks::open(bytes)?)),
        Layout::Filter => Err("a filter is not a table's data".into()),
    }
}
