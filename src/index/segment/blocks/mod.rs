//! The КИ block segment: banned КИ grouped by `prefix + serial length`, serials packed.
//!
//! A КИ is `01` + GTIN + `21` + serial (or, for a tobacco pack, GTIN + 7-character serial).
//! Everything before the serial is shared by every code of one product, so a block holds
//! one product's serials of one length, each turned into a number in base 82 (the GS1
//! character set in byte order) and then scrambled by a fixed bijection of the b-bit
//! numbers (multiplication by an odd constant modulo 2^b), so that serials with a structure
//! (a country letter first, sequential numbers) spread evenly; stored sorted by that number:
//!
//! - a **directory** splits the block's number range into 2^k buckets of about eight codes
//!   (k from the block's size) and gives each bucket's first record;
//! - **records** hold only the low bits a bucket leaves open, bit-packed.
//!
//! A lookup goes: hash table slot (which holds the block's key, compared in full, and its
//! shape) → one directory entry → a few records on one cache line. Every "present"
//! compares the whole stored key: the block key byte for byte, the serial number in full.
//!
//! An FST over the block keys is the canonical dictionary (it maps each key to its slot,
//! and `verify` walks it against the slot table); the hash table of slots is the hot path.
//! The overflow FST holds the КИ that do not fit the packed form and those of products with
//! fewer than 8 codes (a block would cost more than they do): a КИ whose product has a
//! block is in that block or nowhere, any other is in the overflow FST or nowhere.
//!
//! ```text
//! header   128 bytes: magic "KIBLOCKS" | version u32 | 0 u32 | entries u64 | blocks u64
//!                     | slots u64 | overflow entries u64 | then (offset u64, length u64)
//!                     for: dictionary FST, slot table, block data, overflow FST
//!                     (offsets from the payload start, 8-aligned)
//! slots    32 bytes each, open addressing by xxh3-64 of the key (the probe starts at slot
//!          (hash × slots) >> 64), linear probing, at most 7/10 full (at least one slot
//!          empty): key length u8 (0: empty; else 15 or 19) | key (19 bytes, zero
//!          padded; its last byte is the serial length) | k u8 | flags u8 (bit 0: u32
//!          directory) | records u32 | data offset u48
//! data     per block, in key order: 2^k directory entries (u16 or u32 LE), then the
//!          records, LSB-first bit stream of (bits(82^len) - k) bits each; 32 zero bytes
//!          end the section
//! ```

pub(crate) mod build;
mod cursor;
pub(crate) mod key;
pub(crate) mod read;
mod shape;
mod table_segment;
#[cfg(test)]
mod tests;
mod verify;

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

pub(crate) use build::{BlocksBuilder, BlocksWritten};
pub(crate) use read::KiBlocks;

use crate::index::error::IndexError;
use crate::index::format::{self, FileMeta, Role};
use crate::index::segment::files::{checked_filter, file_name, write_filter};
use crate::index::table::{Layout, Table};

/// Writes the КИ block segment of `blocked_cis` and its filter; returns the figures and
/// both files' metadata, data first.
pub(crate) fn write(
    dir: &Path,
    segment_id: u64,
    builder: BlocksBuilder,
) -> Result<(BlocksWritten, Vec<FileMeta>), IndexError> {
    let role = Role::fst(Table::BlockedCis);
    let name = file_name(segment_id, role, Layout::KiBlocks);
    let path = dir.join(&name);
    let mut written = None;
    let data = format::write_data_file(dir, &name, role, Layout::KiBlocks, |w: &mut dyn Write| {
        let result = builder.finish(w).map_err(|source| IndexError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = result.entries;
        written = Some(result);
        Ok(entries)
    })?;
    let mut written = written.expect("set by the writer");
    // Hashes in filter-block order make filling and checking the filter a sequential pass
    // instead of a cache miss per key.
    let mut hashes = std::mem::take(&mut written.hashes);
    hashes.par_sort_unstable();
    let payload = checked_filter(&name, &hashes)?;
    let filter_meta = write_filter(
        dir,
        segment_id,
        Table::BlockedCis,
        &payload,
        written.entries,
    )?;
    // Writers check before publishing that the file reads back as written (the content
    // digest of every key decoded from it).
    let opened = format::open_data_file(dir, &data, false)?;
    let segment = KiBlocks::open(opened).map_err(|reason| IndexError::Damaged {
        path: path.clone(),
        reason,
    })?;
    if segment.digest_par() != written.digest {
        return Err(IndexError::WriteCheck {
            name,
            what: "does not read back as written",
        });
    }
    Ok((written, vec![data, filter_meta]))
}
