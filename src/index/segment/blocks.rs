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

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::Write;

use rayon::prelude::*;

use std::path::Path;

use super::super::digest::ContentDigest;
use super::super::error::IndexError;
use super::super::format::{self, FileMeta, MappedBytes, Role};
use super::super::table::{Layout, Table};
use super::{EntryCursor, Query, TableSegment};
use crate::code::alphabet::is_gs1_char;
use crate::list::ListKind;

const MAGIC: &[u8; 8] = b"KIBLOCKS";
/// Version of the block layout inside its container.
const VERSION: u32 = 1;
const HEADER_LEN: usize = 128;
const SLOT_LEN: usize = 32;
const DATA_PAD: usize = 32;
/// Longest serial the packed form holds: 82^20 < 2^128.
pub(crate) const MAX_SERIAL: usize = 20;
/// Records per bucket the directory aims at: 4 to 8 (one cache line to scan).
const BUCKET_TARGET_SHIFT: u32 = 2;
/// Most directory bits a block may have (16 M buckets).
const MAX_DIRECTORY_BITS: u32 = 24;
/// A product with fewer codes than this keeps them in the overflow part: a block's slot
/// and dictionary entry would cost more than the codes themselves.
const MIN_BLOCK: usize = 8;
/// The slot table is filled to at most 7/10.
const SLOT_LOAD_TENTHS: usize = 7;
/// Key length of a GS1-form block key: `01` + GTIN + `21` + serial length.
const GS1_KEY: usize = 19;
/// Key length of a tobacco-pack block key: GTIN + serial length.
const PACK_KEY: usize = 15;

/// GS1 character → base-82 digit (0xFF: not a GS1 character).
static DIGITS: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut next = 0u8;
    let mut b = 0usize;
    while b < 256 {
        if is_gs1_char(b as u8) {
            table[b] = next;
            next += 1;
        }
        b += 1;
    }
    table
};

/// Base-82 digit → GS1 character.
static CHARS: [u8; 82] = {
    let mut chars = [0u8; 82];
    let mut b = 0usize;
    while b < 256 {
        let d = DIGITS[b];
        if d != 0xFF {
            chars[d as usize] = b as u8;
        }
        b += 1;
    }
    chars
};

/// 82^n for n in 0..=20.
static POW82: [u128; MAX_SERIAL + 1] = {
    let mut p = [1u128; MAX_SERIAL + 1];
    let mut i = 1;
    while i <= MAX_SERIAL {
        p[i] = p[i - 1] * 82;
        i += 1;
    }
    p
};

/// Bits needed for a serial of n characters, n in 0..=20.
static UNIVERSE_BITS: [u32; MAX_SERIAL + 1] = {
    let mut bits = [0u32; MAX_SERIAL + 1];
    let mut i = 0;
    while i <= MAX_SERIAL {
        bits[i] = 128 - (POW82[i] - 1).leading_zeros();
        i += 1;
    }
    bits
};

/// Bits needed for a serial of `len` characters (at most [`MAX_SERIAL`]).
#[inline]
fn universe_bits(len: usize) -> u32 {
    UNIVERSE_BITS[len]
}

/// The odd multiplier of the scrambling bijection, and its inverse modulo 2^128 (which is
/// its inverse modulo every 2^b).
const SCRAMBLE: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;
const UNSCRAMBLE: u128 = {
    // Newton's iteration doubles the correct low bits each step: 7 steps reach 128.
    let mut inv = SCRAMBLE;
    let mut i = 0;
    while i < 7 {
        inv = inv.wrapping_mul(2u128.wrapping_sub(SCRAMBLE.wrapping_mul(inv)));
        i += 1;
    }
    inv
};

#[inline]
fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// A serial's number → its stored coordinate, a bijection of [0, 2^bits).
#[inline]
fn scramble(raw: u128, bits: u32) -> u128 {
    raw.wrapping_mul(SCRAMBLE) & mask(bits)
}

/// The stored coordinate → the serial's number.
#[inline]
fn unscramble(stored: u128, bits: u32) -> u128 {
    stored.wrapping_mul(UNSCRAMBLE) & mask(bits)
}

/// A block key: the bytes before the serial, then the serial length. Stored as a slot
/// stores it (length byte, then the key zero-padded to 19 bytes), so that a slot is
/// compared with one 20-byte comparison and the key is a map key without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BlockKey([u8; 20]);

impl BlockKey {
    fn new(prefix: &[u8], serial_len: usize) -> BlockKey {
        let mut k = [0u8; 20];
        k[0] = (prefix.len() + 1) as u8;
        k[1..1 + prefix.len()].copy_from_slice(prefix);
        k[1 + prefix.len()] = serial_len as u8;
        BlockKey(k)
    }

    fn bytes(&self) -> &[u8] {
        &self.0[1..1 + usize::from(self.0[0])]
    }

    fn prefix(&self) -> &[u8] {
        let b = self.bytes();
        &b[..b.len() - 1]
    }

    fn serial_len(&self) -> usize {
        let b = self.bytes();
        usize::from(b[b.len() - 1])
    }
}

/// A КИ as block key and packed serial (the stored, scrambled coordinate).
#[derive(Clone, Copy)]
pub(crate) struct Split {
    pub(crate) key: BlockKey,
    pub(crate) value: u128,
}

/// Splits a КИ into its block key and serial number; `None` when it does not fit the
/// packed form (then it belongs in the overflow part). A 21-byte КИ is a tobacco pack
/// (GTIN + 7), as the code parser reads it; otherwise `01` + 14 + `21` + 1–20 characters.
pub(crate) fn split(ki: &[u8]) -> Option<Split> {
    let prefix_len = if ki.len() == 21 {
        14
    } else if ki.len() > 18
        && ki.len() <= 18 + MAX_SERIAL
        && ki.starts_with(b"01")
        && &ki[16..18] == b"21"
    {
        18
    } else {
        return None;
    };
    let (prefix, serial) = ki.split_at(prefix_len);
    // Nine digits at a time in 64-bit arithmetic (82^9 < 2^64), then one wide step each.
    let mut value = 0u128;
    for chunk in serial.chunks(9) {
        let mut part = 0u64;
        for &c in chunk {
            let d = DIGITS[usize::from(c)];
            if d == 0xFF {
                return None;
            }
            part = part * 82 + u64::from(d);
        }
        value = value * POW82[chunk.len()] + u128::from(part);
    }
    Some(Split {
        key: BlockKey::new(prefix, serial.len()),
        value: scramble(value, universe_bits(serial.len())),
    })
}

/// Writes the КИ of `key` and a stored coordinate into `out` (cleared first).
fn join(key: &BlockKey, stored: u128, out: &mut Vec<u8>) {
    join_raw(
        key,
        unscramble(stored, universe_bits(key.serial_len())),
        out,
    );
}

/// Writes the КИ of `key` and a serial's number into `out` (cleared first).
fn join_raw(key: &BlockKey, mut value: u128, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key.prefix());
    let len = key.serial_len();
    let start = out.len();
    out.resize(start + len, 0);
    // Digits from the right, nine at a time: one wide division per nine, then 64-bit ones
    // (which compile to multiplications).
    let mut end = len;
    while end > 0 {
        let n = end.min(9);
        let mut part = if n < end {
            let p = (value % POW82[9]) as u64;
            value /= POW82[9];
            p
        } else {
            value as u64
        };
        for i in (end - n..end).rev() {
            out[start + i] = CHARS[(part % 82) as usize];
            part /= 82;
        }
        end -= n;
    }
}

#[inline]
fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Slots for `blocks` blocks: at most 7/10 full, at least one empty.
fn slot_count(blocks: usize) -> usize {
    (blocks * 10).div_ceil(SLOT_LOAD_TENTHS) + 1
}

/// Where a key's probe starts: its hash scaled to the table (no power of two needed).
#[inline]
fn home_slot(hash: u64, slots: usize) -> usize {
    ((u128::from(hash) * slots as u128) >> 64) as usize
}

#[inline]
fn next_slot(at: usize, slots: usize) -> usize {
    if at + 1 == slots { 0 } else { at + 1 }
}

/// Reads `width` bits (≤ 128) at bit `at` of an LSB-first stream. `bytes` must extend at
/// least 17 bytes past the byte holding bit `at` (the data section's padding ensures it).
#[inline]
fn read_bits(bytes: &[u8], at: u64, width: u32) -> Option<u128> {
    let byte = (at / 8) as usize;
    let shift = (at % 8) as u32;
    let word = bytes.get(byte..byte + 16)?;
    let mut v = u128::from_le_bytes(word.try_into().ok()?) >> shift;
    if shift > 0 && shift + width > 128 {
        v |= u128::from(*bytes.get(byte + 16)?) << (128 - shift);
    }
    Some(if width >= 128 {
        v
    } else {
        v & ((1u128 << width) - 1)
    })
}

/// The shape of one block, from its table entry.
#[derive(Clone, Copy, Debug)]
struct BlockMeta {
    serial_len: usize,
    /// Directory bits.
    k: u32,
    wide: bool,
    count: u64,
    offset: u64,
}

impl BlockMeta {
    fn low_bits(&self) -> u32 {
        universe_bits(self.serial_len) - self.k
    }

    fn dir_bytes(&self) -> u64 {
        (1u64 << self.k) * if self.wide { 4 } else { 2 }
    }

    fn record_bytes(&self) -> u64 {
        (self.count * u64::from(self.low_bits())).div_ceil(8)
    }

    fn body_len(&self) -> u64 {
        self.dir_bytes() + self.record_bytes()
    }
}

/// Picks directory bits for `count` records of `bits` bits: about eight records a bucket.
fn directory_bits(count: usize, bits: u32) -> u32 {
    let log = usize::BITS - 1 - count.max(1).leading_zeros();
    log.saturating_sub(BUCKET_TARGET_SHIFT)
        .min(bits)
        .min(MAX_DIRECTORY_BITS)
}

/// Hashes a block key by folding its 20 bytes: map lookups by block key happen once per
/// КИ while building, where SipHash would cost more than the rest of the work.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

type KeyMap<V> = HashMap<BlockKey, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Collects banned КИ for a block segment: by block, in any order, from any number of
/// threads (one builder each, merged).
#[derive(Default)]
pub(crate) struct BlocksBuilder {
    blocks: KeyMap<Vec<u128>>,
    overflow: Vec<Box<[u8]>>,
    added: u64,
}

impl BlocksBuilder {
    /// Adds one КИ.
    pub(crate) fn add(&mut self, ki: &[u8]) {
        self.added += 1;
        match split(ki) {
            Some(s) => self.blocks.entry(s.key).or_default().push(s.value),
            None => self.overflow.push(ki.into()),
        }
    }

    /// Takes in another builder's entries.
    pub(crate) fn merge(&mut self, other: BlocksBuilder) {
        self.added += other.added;
        if self.blocks.is_empty() {
            self.blocks = other.blocks;
        } else {
            for (key, mut values) in other.blocks {
                match self.blocks.get_mut(&key) {
                    Some(mine) => mine.append(&mut values),
                    None => {
                        self.blocks.insert(key, values);
                    }
                }
            }
        }
        self.overflow.extend(other.overflow);
    }

    /// Bytes held (for reporting peak memory).
    pub(crate) fn heap_bytes(&self) -> u64 {
        let values: usize = self.blocks.values().map(|v| v.capacity() * 16).sum();
        let overflow: usize = self.overflow.iter().map(|k| k.len() + 16).sum();
        (values + overflow + self.blocks.capacity() * 48) as u64
    }

    /// Sorts and deduplicates, then writes the payload to `w`, on all cores. Returns the
    /// figures, the content digest of every КИ written and their filter hashes.
    pub(crate) fn finish(self, w: &mut dyn Write) -> std::io::Result<BlocksWritten> {
        let added = self.added;
        let mut blocks: Vec<(BlockKey, Vec<u128>)> = self
            .blocks
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        blocks.par_sort_unstable_by(|a, b| a.0.bytes().cmp(b.0.bytes()));
        blocks.par_iter_mut().for_each(|(_, values)| {
            values.sort_unstable();
            values.dedup();
        });
        let mut overflow = self.overflow;
        // Products with few codes go to the overflow part, whole.
        let mut ki = Vec::with_capacity(40);
        blocks.retain(|(key, values)| {
            if values.len() >= MIN_BLOCK {
                return true;
            }
            for &v in values {
                join(key, v, &mut ki);
                overflow.push(ki.as_slice().into());
            }
            false
        });
        overflow.par_sort_unstable();
        overflow.dedup();
        let entries = blocks.iter().map(|b| b.1.len() as u64).sum::<u64>() + overflow.len() as u64;
        // Encode each block and hash its КИ for the filter and the digest, on all cores.
        let mut hashes = vec![0u64; entries as usize];
        let mut parts: Vec<&mut [u64]> = Vec::with_capacity(blocks.len() + 1);
        let mut rest = hashes.as_mut_slice();
        for (_, values) in &blocks {
            let (part, tail) = rest.split_at_mut(values.len());
            parts.push(part);
            rest = tail;
        }
        let overflow_hashes = rest;
        let encoded: Vec<(EncodedBlock, ContentDigest)> = blocks
            .par_iter()
            .zip(parts.into_par_iter())
            .map(|((key, values), out)| {
                let mut ki = Vec::with_capacity(40);
                let mut digest = ContentDigest::default();
                for (&v, h) in values.iter().zip(out.iter_mut()) {
                    join(key, v, &mut ki);
                    *h = crate::index::filter::key_hash(&ki);
                    digest.add(ListKind::BlockedCis, &ki, 0);
                }
                (encode_block(key.serial_len(), values), digest)
            })
            .collect();
        let (bodies, digests): (Vec<_>, Vec<_>) = encoded.into_iter().unzip();
        let mut digest = digests
            .into_iter()
            .fold(ContentDigest::default(), ContentDigest::merge);
        for (k, h) in overflow.iter().zip(overflow_hashes.iter_mut()) {
            *h = crate::index::filter::key_hash(k);
            digest.add(ListKind::BlockedCis, k, 0);
        }

        // Slot table: each block at its hash, at most 7/10 full.
        let slots = slot_count(blocks.len());
        let mut slot_of = Vec::with_capacity(blocks.len());
        let mut table = vec![0u8; slots * SLOT_LEN];
        let mut data_len = 0u64;
        for ((key, _), block) in blocks.iter().zip(&bodies) {
            let mut at = home_slot(key_hash(key.bytes()), slots);
            while table[at * SLOT_LEN] != 0 {
                at = next_slot(at, slots);
            }
            let m = &mut table[at * SLOT_LEN..(at + 1) * SLOT_LEN];
            m[..20].copy_from_slice(&key.0);
            m[20] = block.k as u8;
            m[21] = u8::from(block.wide);
            m[22..26].copy_from_slice(&(block.count as u32).to_le_bytes());
            m[26..32].copy_from_slice(&data_len.to_le_bytes()[..6]);
            slot_of.push(at as u64);
            data_len += block.body.len() as u64;
        }
        data_len += DATA_PAD as u64;
        // Dictionary: an FST from block key to slot.
        let mut dict = fst::MapBuilder::memory();
        for ((key, _), &slot) in blocks.iter().zip(&slot_of) {
            dict.insert(key.bytes(), slot)
                .map_err(std::io::Error::other)?;
        }
        let dict = dict.into_inner().map_err(std::io::Error::other)?;
        let mut overflow_fst = fst::SetBuilder::memory();
        for k in &overflow {
            overflow_fst.insert(k).map_err(std::io::Error::other)?;
        }
        let overflow_fst = overflow_fst.into_inner().map_err(std::io::Error::other)?;

        // Sections, 8-aligned, in this order.
        let lens = [
            dict.len() as u64,
            table.len() as u64,
            data_len,
            overflow_fst.len() as u64,
        ];
        let mut offsets = [0u64; 4];
        let mut at = HEADER_LEN as u64;
        for (o, len) in offsets.iter_mut().zip(lens) {
            *o = at;
            at = (at + len).next_multiple_of(8);
        }
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&entries.to_le_bytes());
        header.extend_from_slice(&(blocks.len() as u64).to_le_bytes());
        header.extend_from_slice(&(slots as u64).to_le_bytes());
        header.extend_from_slice(&(overflow.len() as u64).to_le_bytes());
        for (o, len) in offsets.iter().zip(lens) {
            header.extend_from_slice(&o.to_le_bytes());
            header.extend_from_slice(&len.to_le_bytes());
        }
        header.resize(HEADER_LEN, 0);
        let mut written = 0u64;
        let mut put = |w: &mut dyn Write, bytes: &[u8], at: u64| -> std::io::Result<()> {
            let pad = at - written;
            w.write_all(&vec![0u8; pad as usize])?;
            w.write_all(bytes)?;
            written = at + bytes.len() as u64;
            Ok(())
        };
        put(w, &header, 0)?;
        put(w, &dict, offsets[0])?;
        put(w, &table, offsets[1])?;
        let mut data_at = offsets[2];
        for block in &bodies {
            put(w, &block.body, data_at)?;
            data_at += block.body.len() as u64;
        }
        put(w, &[0u8; DATA_PAD], data_at)?;
        put(w, &overflow_fst, offsets[3])?;
        Ok(BlocksWritten {
            entries,
            duplicates: added - entries,
            digest,
            hashes,
        })
    }
}

/// What writing a block segment did.
pub(crate) struct BlocksWritten {
    /// Distinct КИ written.
    pub(crate) entries: u64,
    /// КИ added more than once.
    pub(crate) duplicates: u64,
    /// Their content digest.
    pub(crate) digest: ContentDigest,
    /// Their filter hashes, in no particular order.
    pub(crate) hashes: Vec<u64>,
}

/// One block, encoded.
struct EncodedBlock {
    count: u64,
    /// Directory bits.
    k: u32,
    /// u32 directory entries.
    wide: bool,
    /// Directory and records.
    body: Vec<u8>,
}

/// Encodes one block's sorted, distinct serial numbers.
fn encode_block(serial_len: usize, values: &[u128]) -> EncodedBlock {
    let bits = universe_bits(serial_len);
    let k = directory_bits(values.len(), bits);
    let low = bits - k;
    let wide = values.len() > usize::from(u16::MAX);
    let buckets = 1usize << k;
    let mut body = Vec::with_capacity(buckets * 4 + (values.len() * low as usize).div_ceil(8) + 1);
    // Directory: the first record of each bucket.
    let mut next = 0usize;
    for bucket in 0..buckets {
        while next < values.len() && high(values[next], low) < bucket as u128 {
            next += 1;
        }
        if wide {
            body.extend_from_slice(&(next as u32).to_le_bytes());
        } else {
            body.extend_from_slice(&(next as u16).to_le_bytes());
        }
    }
    // Records: the low bits, LSB first.
    let mask = if low >= 128 {
        u128::MAX
    } else {
        (1u128 << low) - 1
    };
    let start = body.len();
    body.resize(start + (values.len() * low as usize).div_ceil(8), 0);
    let records = &mut body[start..];
    let mut at = 0u64;
    for &v in values {
        let mut bits_left = low;
        let mut x = v & mask;
        let mut pos = at;
        while bits_left > 0 {
            let byte = (pos / 8) as usize;
            let shift = (pos % 8) as u32;
            let take = (8 - shift).min(bits_left);
            records[byte] |= ((x & ((1u128 << take) - 1)) as u8) << shift;
            x >>= take;
            pos += u64::from(take);
            bits_left -= take;
        }
        at += u64::from(low);
    }
    EncodedBlock {
        count: values.len() as u64,
        k,
        wide,
        body,
    }
}

#[inline]
fn high(v: u128, low: u32) -> u128 {
    if low >= 128 { 0 } else { v >> low }
}

/// The section layout read from the header.
#[derive(Clone, Copy, Debug)]
struct Sections {
    entries: u64,
    blocks: u64,
    slots: u64,
    overflow_entries: u64,
    dict: (usize, usize),
    slots_at: (usize, usize),
    data: (usize, usize),
    overflow: (usize, usize),
}

/// A block segment read from a memory-mapped file.
pub(crate) struct KiBlocks {
    bytes: MappedBytes,
    s: Sections,
    dict: fst::raw::Fst<MappedBytes>,
    overflow: fst::raw::Fst<MappedBytes>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The key and shape of the block a 32-byte slot describes, checked for sanity (`None`
/// for a malformed slot).
fn parse_slot(m: &[u8]) -> Option<(BlockKey, BlockMeta)> {
    if m.len() < SLOT_LEN {
        return None;
    }
    let key_len = usize::from(m[0]);
    if key_len != GS1_KEY && key_len != PACK_KEY {
        return None;
    }
    let serial_len = usize::from(m[key_len]);
    if serial_len == 0 || serial_len > MAX_SERIAL {
        return None;
    }
    let mut key = BlockKey([0u8; 20]);
    key.0.copy_from_slice(&m[..20]);
    let k = u32::from(m[20]);
    let wide = m[21] & 1 == 1;
    let count = u64::from(u32::from_le_bytes([m[22], m[23], m[24], m[25]]));
    let mut off = [0u8; 8];
    off[..6].copy_from_slice(&m[26..32]);
    let meta = BlockMeta {
        serial_len,
        k,
        wide,
        count,
        offset: u64::from_le_bytes(off),
    };
    if k > universe_bits(serial_len)
        || k > MAX_DIRECTORY_BITS
        || count == 0
        || (!wide && count > 65_535)
    {
        return None;
    }
    Some((key, meta))
}

impl KiBlocks {
    /// Validates the header, every section's place and every block entry's shape and
    /// bounds (not the records themselves: that is `verify`). Never panics.
    pub(crate) fn open(bytes: MappedBytes) -> Result<KiBlocks, String> {
        let b = bytes.as_ref();
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err("not a КИ block segment (bad magic or too short)".into());
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if version != VERSION {
            return Err(format!(
                "КИ block layout version {version}; this build reads {VERSION}"
            ));
        }
        let section = |i: usize| -> Result<(usize, usize), String> {
            let off = u64_at(b, 48 + i * 16);
            let len = u64_at(b, 56 + i * 16);
            let end = off.checked_add(len).ok_or("section offset overflows")?;
            if off < HEADER_LEN as u64 || end > b.len() as u64 || !off.is_multiple_of(8) {
                return Err(format!(
                    "section {i} at {off}..{end} lies outside the payload of {} bytes",
                    b.len()
                ));
            }
            Ok((off as usize, len as usize))
        };
        let s = Sections {
            entries: u64_at(b, 16),
            blocks: u64_at(b, 24),
            slots: u64_at(b, 32),
            overflow_entries: u64_at(b, 40),
            dict: section(0)?,
            slots_at: section(1)?,
            data: section(2)?,
            overflow: section(3)?,
        };
        let ranges = [s.dict, s.slots_at, s.data, s.overflow];
        for pair in ranges.windows(2) {
            if pair[0].0 + pair[0].1 > pair[1].0 {
                return Err("sections overlap".into());
            }
        }
        if s.slots <= s.blocks || s.slots_at.1 as u64 != s.slots.saturating_mul(SLOT_LEN as u64) {
            return Err(format!(
                "slot table of {} bytes for {} slots and {} blocks",
                s.slots_at.1, s.slots, s.blocks
            ));
        }
        if s.data.1 < DATA_PAD {
            return Err("block data section shorter than its padding".into());
        }
        let part = |(off, len): (usize, usize)| {
            bytes
                .slice(off, off + len)
                .ok_or_else(|| "section outside the payload".to_string())
        };
        // The FSTs' own checksums, always: the fst crate may panic on a damaged FST, and
        // a loader must not (found by fuzzing the loader on raw payloads).
        let fst_part = |range, what: &str| super::open_fst(part(range)?, what);
        let dict = fst_part(s.dict, "block dictionary")?;
        let overflow = fst_part(s.overflow, "overflow FST")?;
        if dict.len() as u64 != s.blocks {
            return Err(format!(
                "dictionary holds {} keys for {} blocks",
                dict.len(),
                s.blocks
            ));
        }
        if overflow.len() as u64 != s.overflow_entries {
            return Err(format!(
                "overflow holds {} keys, the header says {}",
                overflow.len(),
                s.overflow_entries
            ));
        }
        let segment = KiBlocks {
            bytes,
            s,
            dict,
            overflow,
        };
        // Every occupied slot well-formed with its body inside the data section; the counts
        // add up. (The order of the bodies and the gaps between them are `verify`'s.)
        let data_end = (s.data.1 - DATA_PAD) as u64;
        let mut total = s.overflow_entries;
        let mut occupied = 0u64;
        let (slots_off, slots_len) = s.slots_at;
        let table = &segment.payload()[slots_off..slots_off + slots_len];
        for (i, m) in table.chunks_exact(SLOT_LEN).enumerate() {
            if m[0] == 0 {
                continue;
            }
            occupied += 1;
            let (_, meta) =
                parse_slot(m).ok_or_else(|| format!("slot {i}: malformed block entry"))?;
            if meta.offset.saturating_add(meta.body_len()) > data_end {
                return Err(format!(
                    "slot {i}: block at {}..{} runs past the data ({data_end} bytes)",
                    meta.offset,
                    meta.offset.saturating_add(meta.body_len())
                ));
            }
            total = total.saturating_add(meta.count);
        }
        if occupied != s.blocks {
            return Err(format!("{occupied} occupied slots for {} blocks", s.blocks));
        }
        if total != s.entries {
            return Err(format!(
                "blocks and overflow hold {total} entries, the header says {}",
                s.entries
            ));
        }
        Ok(segment)
    }

    fn payload(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    fn data(&self) -> &[u8] {
        let (off, len) = self.s.data;
        &self.payload()[off..off + len]
    }

    fn slot_bytes(&self, i: usize) -> Option<&[u8]> {
        let (off, _) = self.s.slots_at;
        self.payload()
            .get(off + i * SLOT_LEN..off + (i + 1) * SLOT_LEN)
    }

    fn slot_is_empty(&self, i: usize) -> bool {
        self.slot_bytes(i).is_none_or(|m| m[0] == 0)
    }

    /// The key and shape of the block in slot `i`, checked for sanity.
    fn block(&self, i: usize) -> Option<(BlockKey, BlockMeta)> {
        parse_slot(self.slot_bytes(i)?)
    }

    /// Finds a block by key: its slot and shape.
    #[inline]
    fn find_block(&self, key: &BlockKey, hash: u64) -> Option<(usize, BlockMeta)> {
        let slots = self.s.slots as usize;
        let mut at = home_slot(hash, slots);
        for _ in 0..slots {
            let m = self.slot_bytes(at)?;
            if m[0] == 0 {
                return None;
            }
            if m[..20] == key.0 {
                return self.block(at).map(|(_, meta)| (at, meta));
            }
            at = next_slot(at, slots);
        }
        None
    }

    #[inline]
    fn prefetch_slot(&self, hash: u64) {
        let at = home_slot(hash, self.s.slots as usize);
        super::prefetch(self.payload(), self.s.slots_at.0 + at * SLOT_LEN);
    }

    /// The first and end record of the bucket holding `value`.
    #[inline]
    fn bucket(&self, meta: &BlockMeta, value: u128) -> Option<(u64, u64)> {
        let low = meta.low_bits();
        let j = high(value, low) as u64;
        if j >= 1u64 << meta.k {
            return None;
        }
        let data = self.data();
        let dir = meta.offset as usize;
        let entry = |i: u64| -> Option<u64> {
            if meta.wide {
                let at = dir + i as usize * 4;
                let b = data.get(at..at + 4)?;
                Some(u64::from(u32::from_le_bytes(b.try_into().ok()?)))
            } else {
                let at = dir + i as usize * 2;
                let b = data.get(at..at + 2)?;
                Some(u64::from(u16::from_le_bytes(b.try_into().ok()?)))
            }
        };
        let start = entry(j)?;
        let end = if j + 1 < 1u64 << meta.k {
            entry(j + 1)?
        } else {
            meta.count
        };
        Some((start, end.min(meta.count)))
    }

    #[inline]
    fn prefetch_bucket(&self, meta: &BlockMeta, value: u128) {
        let j = high(value, meta.low_bits()) as usize;
        let width = if meta.wide { 4 } else { 2 };
        super::prefetch(self.data(), meta.offset as usize + j * width);
    }

    /// Fetches the first and last cache line of a bucket's records.
    #[inline]
    fn prefetch_records(&self, meta: &BlockMeta, (first, end): (u64, u64)) {
        let records = meta.offset + meta.dir_bytes();
        let bits = u64::from(meta.low_bits());
        super::prefetch(self.data(), (records + first * bits / 8) as usize);
        super::prefetch(self.data(), (records + (end * bits).div_ceil(8)) as usize);
    }

    #[inline]
    /// Whether the block holds `value`: a binary search of its bucket, so that serials that
    /// crowd into a few buckets (sequential numbers, say) cost a logarithm, not a scan.
    fn bucket_holds(&self, meta: &BlockMeta, value: u128, (start, end): (u64, u64)) -> bool {
        let low = meta.low_bits();
        let want = if low >= 128 {
            value
        } else {
            value & ((1u128 << low) - 1)
        };
        let data = self.data();
        let records = meta.offset + meta.dir_bytes();
        let Some(records) = data.get(records as usize..) else {
            return false;
        };
        let (mut lo, mut hi) = (start, end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match read_bits(records, mid * u64::from(low), low) {
                Some(r) if r == want => return true,
                Some(r) if r < want => lo = mid + 1,
                Some(_) => hi = mid,
                None => return false,
            }
        }
        false
    }

    /// A КИ whose product has a block is there or nowhere; any other is in the overflow
    /// part or nowhere.
    fn contains(&self, ki: &[u8]) -> bool {
        match split(ki).and_then(|s| {
            self.find_block(&s.key, key_hash(s.key.bytes()))
                .map(|(_, meta)| (s, meta))
        }) {
            None => self.overflow.contains_key(ki),
            Some((s, meta)) => self
                .bucket(&meta, s.value)
                .is_some_and(|range| self.bucket_holds(&meta, s.value, range)),
        }
    }

    /// Every serial number of block `i`, in order.
    fn values(&self, meta: &BlockMeta) -> Vec<u128> {
        let low = meta.low_bits();
        let data = self.data();
        let records = (meta.offset + meta.dir_bytes()) as usize;
        let mut out = Vec::with_capacity(meta.count as usize);
        let Some(records) = data.get(records..) else {
            return out;
        };
        let mut bucket = 0u64;
        let mut next_bucket_start = self.bucket_start(meta, 1);
        for i in 0..meta.count {
            while next_bucket_start.is_some_and(|s| s <= i) {
                bucket += 1;
                next_bucket_start = self.bucket_start(meta, bucket + 1);
            }
            let Some(r) = read_bits(records, i * u64::from(low), low) else {
                break;
            };
            let high = if low >= 128 {
                0
            } else {
                u128::from(bucket) << low
            };
            out.push(high | r);
        }
        out
    }

    /// The first record of bucket `j`; `None` past the last bucket.
    fn bucket_start(&self, meta: &BlockMeta, j: u64) -> Option<u64> {
        if j >= 1u64 << meta.k {
            return None;
        }
        let data = self.data();
        let dir = meta.offset as usize;
        if meta.wide {
            let at = dir + j as usize * 4;
            data.get(at..at + 4)
                .map(|b| u64::from(u32::from_le_bytes(b.try_into().unwrap_or_default())))
        } else {
            let at = dir + j as usize * 2;
            data.get(at..at + 2)
                .map(|b| u64::from(u16::from_le_bytes(b.try_into().unwrap_or_default())))
        }
    }

    /// Feeds every КИ to a builder except those in `except` (compaction starts from the
    /// base this way, without re-reading each КИ: blocks go over whole).
    pub(crate) fn decode_into(&self, builder: &mut BlocksBuilder, except: &[Vec<u8>]) {
        let mut skip: KeyMap<Vec<u128>> = KeyMap::default();
        for s in except.iter().filter_map(|ki| split(ki)) {
            skip.entry(s.key).or_default().push(s.value);
        }
        for values in skip.values_mut() {
            values.sort_unstable();
        }
        for i in 0..self.s.slots as usize {
            if self.slot_is_empty(i) {
                continue;
            }
            let Some((key, meta)) = self.block(i) else {
                continue;
            };
            let mut values = self.values(&meta);
            if let Some(gone) = skip.get(&key) {
                values.retain(|v| gone.binary_search(v).is_err());
            }
            builder.added += values.len() as u64;
            builder.blocks.entry(key).or_default().extend(values);
        }
        // Overflow keys go through `add`: a product that has grown gets its block.
        let mut stream = self.overflow.stream();
        while let Some((k, _)) = fst::Streamer::next(&mut stream) {
            if except.binary_search_by(|e| e.as_slice().cmp(k)).is_err() {
                builder.add(k);
            }
        }
    }

    /// The content digest of every КИ as decoded from the file, on all cores.
    pub(crate) fn digest_par(&self) -> ContentDigest {
        let blocks = (0..self.s.slots as usize)
            .into_par_iter()
            .filter_map(|i| self.block(i))
            .map(|(key, meta)| {
                let mut ki = Vec::with_capacity(40);
                let mut digest = ContentDigest::default();
                for v in self.values(&meta) {
                    join(&key, v, &mut ki);
                    digest.add(ListKind::BlockedCis, &ki, 0);
                }
                digest
            })
            .reduce(ContentDigest::default, ContentDigest::merge);
        let mut overflow = ContentDigest::default();
        let mut stream = self.overflow.stream();
        while let Some((k, _)) = fst::Streamer::next(&mut stream) {
            overflow.add(ListKind::BlockedCis, k, 0);
        }
        blocks.merge(overflow)
    }
}

/// Stage of one key in a batch lookup.
#[derive(Clone, Copy)]
enum Stage {
    Done,
    Overflow,
    Split(Split, u64),
    Block(Split, BlockMeta),
    Bucket(Split, BlockMeta, (u64, u64)),
}

/// Keys between the stages of the batch pipeline.
const DISTANCE: usize = 16;
/// Stages in flight: four stages `DISTANCE` apart fit without overlap.
const RING: usize = 4 * DISTANCE;

impl TableSegment for KiBlocks {
    fn add_keys_to(&self, builder: &mut BlocksBuilder, except: &[Vec<u8>]) {
        self.decode_into(builder, except);
    }

    fn bytes(&self) -> u64 {
        self.payload().len() as u64
    }

    fn len(&self) -> u64 {
        self.s.entries
    }

    fn get(&self, key: &[u8]) -> Option<u64> {
        self.contains(key).then_some(0)
    }

    /// A software pipeline: key `t` is split and its slot fetched while key `t - D` finds
    /// its block (fetching its directory entry), key `t - 2D` reads that entry (fetching its
    /// records) and key `t - 3D` is searched. Every fetch has `D` keys' worth of work to
    /// land before it is used.
    fn get_batch(&self, queries: &mut [Query<'_>]) {
        let n = queries.len();
        let mut ring = [Stage::Done; RING];
        for t in 0..n + 3 * DISTANCE {
            if t < n {
                ring[t % RING] = match split(queries[t].key) {
                    Some(s) => {
                        let h = key_hash(s.key.bytes());
                        self.prefetch_slot(h);
                        Stage::Split(s, h)
                    }
                    None => Stage::Overflow,
                };
            }
            if let Some(i) = t.checked_sub(DISTANCE).filter(|&i| i < n)
                && let Stage::Split(s, h) = ring[i % RING]
            {
                ring[i % RING] = match self.find_block(&s.key, h) {
                    Some((_, meta)) => {
                        self.prefetch_bucket(&meta, s.value);
                        Stage::Block(s, meta)
                    }
                    None => Stage::Overflow,
                };
            }
            if let Some(i) = t.checked_sub(2 * DISTANCE).filter(|&i| i < n)
                && let Stage::Block(s, meta) = ring[i % RING]
            {
                ring[i % RING] = match self.bucket(&meta, s.value) {
                    Some(range) => {
                        self.prefetch_records(&meta, range);
                        Stage::Bucket(s, meta, range)
                    }
                    None => Stage::Done,
                };
            }
            if let Some(i) = t.checked_sub(3 * DISTANCE).filter(|&i| i < n) {
                queries[i].found = match ring[i % RING] {
                    Stage::Bucket(s, meta, range) => {
                        self.bucket_holds(&meta, s.value, range).then_some(0)
                    }
                    Stage::Overflow => self.overflow.contains_key(queries[i].key).then_some(0),
                    _ => None,
                };
            }
        }
    }

    fn cursor(&self) -> Box<dyn EntryCursor + '_> {
        Box::new(BlocksCursor::new(self))
    }

    fn verify(&self) -> Result<(), String> {
        // The dictionary names every block once, in key order, with its slot, and the
        // bodies follow one another in that order without gaps.
        let mut stream = self.dict.stream();
        let mut order = Vec::with_capacity(self.s.blocks as usize);
        let mut next_offset = 0u64;
        while let Some((key, slot)) = fst::Streamer::next(&mut stream) {
            let slot = slot.value() as usize;
            let shown = String::from_utf8_lossy(key);
            let (block, meta) = self.block(slot).ok_or_else(|| {
                format!("dictionary entry {shown:?} names slot {slot}, which holds no block")
            })?;
            if block.bytes() != key {
                return Err(format!(
                    "dictionary entry {shown:?} names slot {slot}, which holds {:?}",
                    String::from_utf8_lossy(block.bytes())
                ));
            }
            if meta.offset != next_offset {
                return Err(format!(
                    "block {shown:?} starts at {}, expected {next_offset}",
                    meta.offset
                ));
            }
            next_offset += meta.body_len();
            order.push(slot);
        }
        if order.len() as u64 != self.s.blocks {
            return Err(format!(
                "the dictionary names {} blocks, the segment has {}",
                order.len(),
                self.s.blocks
            ));
        }
        let checked: Result<(), String> = order.par_iter().try_for_each(|&i| {
            let (key, meta) = self
                .block(i)
                .ok_or_else(|| format!("block {i}: malformed"))?;
            match self.find_block(&key, key_hash(key.bytes())) {
                Some((found, _)) if found == i => {}
                _ => {
                    return Err(format!(
                        "block in slot {i} cannot be found through the slot table"
                    ));
                }
            }
            // Directory: starts at 0, never decreases, stays within the records.
            let mut previous = 0;
            for j in 0..1u64 << meta.k {
                let start = self
                    .bucket_start(&meta, j)
                    .ok_or_else(|| format!("block {i}: directory outside the data"))?;
                if (j == 0 && start != 0) || start < previous || start > meta.count {
                    return Err(format!("block {i}: directory entry {j} is {start}"));
                }
                previous = start;
            }
            // Records: strictly increasing serials, each a real serial that splits back
            // into this block, and found by a lookup.
            let values = self.values(&meta);
            if values.len() as u64 != meta.count {
                return Err(format!("block {i}: records outside the data"));
            }
            for (n, pair) in values.windows(2).enumerate() {
                if pair[0] >= pair[1] {
                    return Err(format!("block {i}: record {} out of order", n + 1));
                }
            }
            let mut ki = Vec::with_capacity(40);
            for &v in &values {
                if unscramble(v, universe_bits(meta.serial_len)) >= POW82[meta.serial_len] {
                    return Err(format!("block {i}: record beyond its serial length"));
                }
                join(&key, v, &mut ki);
                match split(&ki) {
                    Some(s) if s.key == key && s.value == v => {}
                    _ => {
                        return Err(format!(
                            "block {i}: {:?} does not belong in it",
                            String::from_utf8_lossy(&ki)
                        ));
                    }
                }
                if !self.contains(&ki) {
                    return Err(format!(
                        "block {i}: lookup misses {:?}",
                        String::from_utf8_lossy(&ki)
                    ));
                }
            }
            Ok(())
        });
        checked?;
        super::check_fst_checksum(self.overflow.as_bytes())
            .map_err(|e| format!("overflow FST checksum: {e}"))?;
        let mut stream = self.overflow.stream();
        while let Some((k, _)) = fst::Streamer::next(&mut stream) {
            if let Some(s) = split(k)
                && self.find_block(&s.key, key_hash(s.key.bytes())).is_some()
            {
                return Err(format!(
                    "overflow holds {:?}, whose product has a block",
                    String::from_utf8_lossy(k)
                ));
            }
        }
        Ok(())
    }
}

/// Every КИ of a block segment in byte order: blocks of one prefix with different serial
/// lengths (and tobacco packs between GS1 codes) interleave, so the blocks are merged,
/// starting each when the merge reaches its first КИ; overflow keys are merged in last.
struct BlocksCursor<'a> {
    seg: &'a KiBlocks,
    /// Blocks by first КИ.
    order: Vec<(Vec<u8>, usize)>,
    next_block: usize,
    /// Blocks being merged: their current КИ, key, values and position.
    active: Vec<ActiveBlock>,
    overflow: fst::raw::Stream<'a>,
    overflow_key: Option<Vec<u8>>,
    current: Vec<u8>,
}

struct ActiveBlock {
    ki: Vec<u8>,
    key: BlockKey,
    values: Vec<u128>,
    at: usize,
}

impl<'a> BlocksCursor<'a> {
    fn new(seg: &'a KiBlocks) -> BlocksCursor<'a> {
        let mut order: Vec<(Vec<u8>, usize)> = (0..seg.s.slots as usize)
            .filter_map(|i| {
                let (key, meta) = seg.block(i)?;
                let first = seg.raw_values(&meta).into_iter().min()?;
                let mut ki = Vec::new();
                join_raw(&key, first, &mut ki);
                Some((ki, i))
            })
            .collect();
        order.sort_unstable();
        let mut overflow = seg.overflow.stream();
        let overflow_key = fst::Streamer::next(&mut overflow).map(|(k, _)| k.to_vec());
        BlocksCursor {
            seg,
            order,
            next_block: 0,
            active: Vec::new(),
            overflow,
            overflow_key,
            current: Vec::new(),
        }
    }
}

impl KiBlocks {
    /// A block's serial numbers (unscrambled), in key order.
    fn raw_values(&self, meta: &BlockMeta) -> Vec<u128> {
        let bits = universe_bits(meta.serial_len);
        let mut raw: Vec<u128> = self
            .values(meta)
            .into_iter()
            .map(|v| unscramble(v, bits))
            .collect();
        raw.sort_unstable();
        raw
    }
}

impl EntryCursor for BlocksCursor<'_> {
    fn advance(&mut self) -> bool {
        // Start every block whose first КИ is not after the smallest active one.
        loop {
            let smallest = self.active.iter().map(|a| &a.ki).min();
            match self.order.get(self.next_block) {
                Some((first, i)) if smallest.is_none_or(|s| first <= s) => {
                    let i = *i;
                    self.next_block += 1;
                    if let Some((key, meta)) = self.seg.block(i) {
                        let values = self.seg.raw_values(&meta);
                        if let Some(&v) = values.first() {
                            let mut ki = Vec::with_capacity(40);
                            join_raw(&key, v, &mut ki);
                            self.active.push(ActiveBlock {
                                ki,
                                key,
                                values,
                                at: 0,
                            });
                        }
                    }
                }
                _ => break,
            }
        }
        let best = self
            .active
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.ki.cmp(&b.1.ki))
            .map(|(i, _)| i);
        let take_overflow = match (&self.overflow_key, best) {
            (Some(o), Some(b)) => o.as_slice().cmp(&self.active[b].ki) == Ordering::Less,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_overflow {
            self.current = self.overflow_key.take().unwrap_or_default();
            self.overflow_key = fst::Streamer::next(&mut self.overflow).map(|(k, _)| k.to_vec());
            return true;
        }
        let Some(b) = best else {
            return false;
        };
        let block = &mut self.active[b];
        std::mem::swap(&mut self.current, &mut block.ki);
        block.at += 1;
        if let Some(&v) = block.values.get(block.at) {
            join_raw(&block.key, v, &mut block.ki);
        } else {
            self.active.swap_remove(b);
        }
        true
    }

    fn key(&self) -> &[u8] {
        &self.current
    }

    fn value(&self) -> u64 {
        0
    }
}

/// Writes the КИ block segment of `blocked_cis` and its filter; returns the figures and
/// both files' metadata, data first.
pub(crate) fn write(
    dir: &Path,
    segment_id: u64,
    builder: BlocksBuilder,
) -> Result<(BlocksWritten, Vec<FileMeta>), IndexError> {
    let role = Role::fst(Table::BlockedCis);
    let name = super::file_name(segment_id, role, Layout::KiBlocks);
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
    let payload = super::checked_filter(&name, &hashes)?;
    let filter_meta = super::write_filter(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(kis: &[&[u8]]) -> KiBlocks {
        let mut b = BlocksBuilder::default();
        for k in kis {
            b.add(k);
        }
        let mut out = Vec::new();
        b.finish(&mut out).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        std::fs::write(&path, &out).unwrap();
        // SAFETY: test file, not modified while mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
        KiBlocks::open(MappedBytes::whole(map)).unwrap()
    }

    #[test]
    fn split_and_join_round_trip_in_order() {
        let mut serials: Vec<Vec<u8>> = Vec::new();
        let gs1: Vec<u8> = (0..=255u8).filter(|&b| is_gs1_char(b)).collect();
        assert_eq!(gs1.len(), 82);
        for len in [1usize, 6, 7, 13, 20] {
            for n in 0..50usize {
                serials.push((0..len).map(|i| gs1[(n * 31 + i * 7) % 82]).collect());
            }
        }
        for s in &serials {
            let ki = [b"010460043993125621".as_slice(), s].concat();
            let sp = split(&ki).unwrap();
            let mut back = Vec::new();
            join(&sp.key, sp.value, &mut back);
            assert_eq!(back, ki);
        }
        // The scrambling is a bijection: unscrambling gives the number back, and distinct
        // serials of one length stay distinct.
        let mut thirteen: Vec<u128> = serials
            .iter()
            .filter(|s| s.len() == 13)
            .map(|s| {
                split(&[b"010460043993125621".as_slice(), s].concat())
                    .unwrap()
                    .value
            })
            .collect();
        thirteen.sort_unstable();
        thirteen.dedup();
        assert_eq!(thirteen.len(), 50);
        for bits in [1u32, 40, 83, 127, 128] {
            for raw in [0u128, 1, 12345, u128::MAX >> (128 - bits)]
                .into_iter()
                .filter(|&r| r <= mask(bits))
            {
                assert_eq!(unscramble(scramble(raw, bits), bits), raw, "{bits}");
            }
        }
        assert_eq!(
            split(b"04647297654361!%C5UGb").unwrap().key.bytes().len(),
            PACK_KEY
        );
        assert!(split(b"0104600439931256215\x1fbc").is_none());
        assert!(split(b"0104600439931256215abcdEFGH1234abcdEFGH1").is_none());
    }

    #[test]
    fn every_key_found_and_near_misses_not() {
        let mut kis: Vec<Vec<u8>> = Vec::new();
        let gs1: Vec<u8> = (0..=255u8).filter(|&b| is_gs1_char(b)).collect();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Many products, every serial length, tobacco packs, and keys for the overflow.
        for i in 0..20_000u64 {
            let gtin = format!("046{:011}", next() % 300);
            let r = next();
            let len = [6usize, 7, 13, 20, 1, 3][(r % 6) as usize];
            let serial: String = (0..len)
                .map(|_| gs1[(next() % 82) as usize] as char)
                .collect();
            kis.push(format!("01{gtin}21{serial}").into_bytes());
            if i % 5 == 0 {
                let pack: String = (0..7)
                    .map(|_| gs1[(next() % 82) as usize] as char)
                    .collect();
                kis.push(format!("{gtin}{pack}").into_bytes());
            }
            kis.push(format!("0104600439931256215ab{i:08}").into_bytes());
            kis.push(format!("01046004399312562{:06}", i % 997).into_bytes());
        }
        kis.push(b"04647297654361!%C5UGb".to_vec());
        kis.push(b"weird-key".to_vec());
        kis.push(b"0104600439931256215abcdEFGH1234abcdEFGH12".to_vec());
        let refs: Vec<&[u8]> = kis.iter().map(|k| k.as_slice()).collect();
        let seg = segment(&refs);
        let mut distinct = kis.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(seg.len(), distinct.len() as u64);
        for k in &distinct {
            assert_eq!(seg.get(k), Some(0), "{}", String::from_utf8_lossy(k));
        }
        for miss in [
            b"0104600439931256215ab00020000".as_slice(),
            b"0104600439931256215ab0002000",
            b"01046004399312562000998",
            b"04647297654361!%C5UGc",
            b"weird-kez",
            b"",
        ] {
            assert_eq!(seg.get(miss), None, "{}", String::from_utf8_lossy(miss));
        }
        // The batch path agrees with the single one.
        let mut probe: Vec<Vec<u8>> = distinct.clone();
        probe.push(b"0104600439931256215zz00000000".to_vec());
        let mut queries: Vec<Query<'_>> = probe.iter().map(|k| Query::new(k)).collect();
        seg.get_batch(&mut queries);
        for (q, k) in queries.iter().zip(&probe) {
            assert_eq!(q.found, seg.get(k));
        }
        // The cursor gives every key once, in byte order.
        let mut cursor = seg.cursor();
        let mut streamed = Vec::new();
        while cursor.advance() {
            streamed.push(cursor.key().to_vec());
        }
        assert_eq!(streamed, distinct);
        seg.verify().unwrap();
    }
}
