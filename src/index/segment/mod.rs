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
pub(crate) mod fst_map;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod merge;

use std::io::Write;
use std::path::Path;

pub(crate) use fst_map::FstSegment;

use super::error::IndexError;
use super::filter;
use super::format::{self, FileMeta, MappedBytes, Role};
pub use super::table::Layout;
use super::table::Table;
use blocks::BlocksBuilder;

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
    /// Whether a point lookup costs much more than a hash probe, so that a small segment
    /// is worth holding in a hash table as well (the FST walks a node per key byte).
    fn slow_point_lookups(&self) -> bool {
        false
    }
    /// Checks the whole structure (every byte is already known to match its checksum).
    fn verify(&self) -> Result<(), String>;
    /// Adds every key but those in `except` (sorted) to a КИ block builder, for a
    /// compaction that writes a new block segment. A layout that holds blocks hands them
    /// over whole instead of key by key.
    fn add_keys_to(&self, builder: &mut BlocksBuilder, except: &[Vec<u8>]) {
        let mut cursor = self.cursor();
        while cursor.advance() {
            if except
                .binary_search_by(|c| c.as_slice().cmp(cursor.key()))
                .is_err()
            {
                builder.add(cursor.key());
            }
        }
    }
}

/// File name of a data file a segment writes: its id, table and role, and its layout's
/// extension.
pub(crate) fn file_name(segment_id: u64, role: Role, layout: Layout) -> String {
    format!(
        "seg-{segment_id:06}-{}.{}",
        role.table.name(),
        layout.extension()
    )
}

/// File name of a data file pulled from a store: content-addressed, with its layout's
/// extension.
#[cfg_attr(not(feature = "distribute"), allow(dead_code))]
pub(crate) fn object_file_name(sha256: &str, layout: Layout) -> String {
    format!("obj-{sha256}.{}", layout.extension())
}

/// Whether `name` is a data file of some layout (written here or pulled), or the
/// temporary file of one: what garbage collection may remove once no generation names it.
pub(crate) fn is_data_file(name: &str) -> bool {
    let name = name.strip_suffix(".tmp").unwrap_or(name);
    (name.starts_with("seg-") || name.starts_with("obj-"))
        && Layout::ALL.iter().any(|l| {
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| ext == l.extension())
        })
}

/// Writes the filter in front of a table's data file in a segment.
pub(crate) fn write_filter(
    dir: &Path,
    segment_id: u64,
    table: Table,
    payload: &[u8],
    entries: u64,
) -> Result<FileMeta, IndexError> {
    let role = Role::filter(table);
    let name = file_name(segment_id, role, Layout::Filter);
    format::write_data_file(dir, &name, role, Layout::Filter, |w: &mut dyn Write| {
        w.write_all(payload)
            .map_err(IndexError::io(dir.join(&name)))?;
        Ok(entries)
    })
}

/// Builds the filter of `hashes` and checks it passes every one (a filter that missed a
/// key would turn a banned code into an allowed one), before it is written.
pub(crate) fn checked_filter(name: &str, hashes: &[u64]) -> Result<Vec<u8>, IndexError> {
    let payload = filter::build(hashes);
    if !filter::covers(&payload, hashes) {
        return Err(IndexError::WriteCheck {
            name: name.to_string(),
            what: "has a filter that misses keys",
        });
    }
    Ok(payload)
}

/// Opens a data file's payload as the layout its header names, validating it.
pub(crate) fn open(layout: Layout, bytes: MappedBytes) -> Result<Box<dyn TableSegment>, String> {
    match layout {
        Layout::Fst => Ok(Box::new(FstSegment::open(bytes)?)),
        Layout::KiBlocks => Ok(Box::new(blocks::KiBlocks::open(bytes)?)),
        Layout::Filter => Err("a filter is not a table's data".into()),
    }
}

/// Reads an FST and checks its own checksum, whatever the container's check was: a
/// damaged FST can make the fst crate panic on lookup (found by fuzzing; see
/// tests/regressions.rs), and a payload that passed the container's checksum only because
/// it was written with a matching one is still no FST.
pub(crate) fn open_fst(
    bytes: MappedBytes,
    what: &str,
) -> Result<fst::raw::Fst<MappedBytes>, String> {
    let fst = fst::raw::Fst::new(bytes).map_err(|e| format!("{what}: not a valid FST: {e}"))?;
    check_fst_checksum(fst.as_bytes()).map_err(|e| format!("{what} checksum: {e}"))?;
    Ok(fst)
}

/// The check of `fst::raw::Fst::verify` (CRC32C of all but the last 4 bytes, masked as
/// Snappy masks it, against those 4 bytes) with the CPU's CRC32C instruction where there
/// is one: the fst crate's table-driven CRC was most of the open time of an index whose
/// overflow FST is several MB (2.7 ms for 7.6 MB of FSTs).
pub(crate) fn check_fst_checksum(fst: &[u8]) -> Result<(), String> {
    // Format 3 (every FST the fst crate 0.4 writes) is the first with a checksum.
    let version = fst
        .get(..8)
        .and_then(|v| v.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    if version < 3 || fst.len() < 4 {
        return Err(format!("FST format {version} has no checksum"));
    }
    let (body, tail) = fst.split_at(fst.len() - 4);
    let expected = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let got = crc32c::crc32c(body)
        .rotate_right(15)
        .wrapping_add(0xA282_EAD8);
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: expected {expected:#010x}, got {got:#010x}"
        ))
    }
}

/// Hints the CPU to fetch the cache line holding `bytes[at]` (nothing if out of range).
#[inline]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    // The second `unsafe` block of the core: the prefetch intrinsic takes a raw pointer.
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `at` is inside `bytes`; a prefetch reads nothing and changes nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            bytes.as_ptr().add(at) as *const i8,
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check_fst_checksum;

    /// The hardware CRC check decides exactly as the fst crate's own `verify`, on an intact
    /// FST and with any one byte changed.
    #[test]
    fn fst_checksum_agrees_with_the_fst_crate() {
        let keys: Vec<String> = (0..500)
            .map(|i| format!("0104600439931256215{i:013}"))
            .collect();
        let bytes = fst::Set::from_iter(keys.iter())
            .expect("sorted keys")
            .into_fst()
            .into_inner();
        assert!(check_fst_checksum(&bytes).is_ok());
        let mut checked = 0;
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5A;
            let Ok(fst) = fst::raw::Fst::new(damaged.clone()) else {
                continue;
            };
            assert_eq!(
                fst.verify().is_ok(),
                check_fst_checksum(&damaged).is_ok(),
                "byte {at} of {}",
                bytes.len()
            );
            assert!(check_fst_checksum(&damaged).is_err(), "byte {at}");
            checked += 1;
        }
        assert!(checked > bytes.len() / 2);
        assert!(check_fst_checksum(&bytes[..3]).is_err());
        let mut old_format = bytes.clone();
        old_format[0] = 2;
        assert!(check_fst_checksum(&old_format).is_err());
    }
}
