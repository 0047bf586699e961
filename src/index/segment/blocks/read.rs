//! Reading a block segment: the validating open, point and batch lookups, and the
//! decoding a compaction and the digest use.

use super::build::BlocksBuilder;
use rayon::prelude::*;

use super::key::*;
use super::shape::*;
use crate::hashing::{key_hash, prefetch};
use crate::index::digest::ContentDigest;
use crate::index::format::MappedBytes;
use crate::index::segment::fst_check::open_fst;
use crate::list::ListKind;

/// The section layout read from the header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sections {
    pub(super) entries: u64,
    pub(super) blocks: u64,
    pub(super) slots: u64,
    pub(super) overflow_entries: u64,
    pub(super) dict: (usize, usize),
    pub(super) slots_at: (usize, usize),
    pub(super) data: (usize, usize),
    pub(super) overflow: (usize, usize),
}

/// A block segment read from a memory-mapped file.
pub(crate) struct KiBlocks {
    pub(super) bytes: MappedBytes,
    pub(super) s: Sections,
    pub(super) dict: fst::raw::Fst<MappedBytes>,
    pub(super) overflow: fst::raw::Fst<MappedBytes>,
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
        let fst_part = |range, what: &str| open_fst(part(range)?, what);
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

    pub(super) fn payload(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    pub(super) fn data(&self) -> &[u8] {
        let (off, len) = self.s.data;
        &self.payload()[off..off + len]
    }

    pub(super) fn slot_bytes(&self, i: usize) -> Option<&[u8]> {
        let (off, _) = self.s.slots_at;
        self.payload()
            .get(off + i * SLOT_LEN..off + (i + 1) * SLOT_LEN)
    }

    pub(super) fn slot_is_empty(&self, i: usize) -> bool {
        self.slot_bytes(i).is_none_or(|m| m[0] == 0)
    }

    /// The key and shape of the block in slot `i`, checked for sanity.
    pub(super) fn block(&self, i: usize) -> Option<(BlockKey, BlockMeta)> {
        parse_slot(self.slot_bytes(i)?)
    }

    /// Finds a block by key: its slot and shape.
    #[inline]
    pub(super) fn find_block(&self, key: &BlockKey, hash: u64) -> Option<(usize, BlockMeta)> {
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
    pub(super) fn prefetch_slot(&self, hash: u64) {
        let at = home_slot(hash, self.s.slots as usize);
        prefetch(self.payload(), self.s.slots_at.0 + at * SLOT_LEN);
    }

    /// The first and end record of the bucket holding `value`.
    #[inline]
    pub(super) fn bucket(&self, meta: &BlockMeta, value: u128) -> Option<(u64, u64)> {
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
    pub(super) fn prefetch_bucket(&self, meta: &BlockMeta, value: u128) {
        let j = high(value, meta.low_bits()) as usize;
        let width = if meta.wide { 4 } else { 2 };
        prefetch(self.data(), meta.offset as usize + j * width);
    }

    /// Fetches the first and last cache line of a bucket's records.
    #[inline]
    pub(super) fn prefetch_records(&self, meta: &BlockMeta, (first, end): (u64, u64)) {
        let records = meta.offset + meta.dir_bytes();
        let bits = u64::from(meta.low_bits());
        prefetch(self.data(), (records + first * bits / 8) as usize);
        prefetch(self.data(), (records + (end * bits).div_ceil(8)) as usize);
    }

    #[inline]
    /// Whether the block holds `value`: a binary search of its bucket, so that serials that
    /// crowd into a few buckets (sequential numbers, say) cost a logarithm, not a scan.
    pub(super) fn bucket_holds(
        &self,
        meta: &BlockMeta,
        value: u128,
        (start, end): (u64, u64),
    ) -> bool {
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
    pub(super) fn contains(&self, ki: &[u8]) -> bool {
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
    pub(super) fn values(&self, meta: &BlockMeta) -> Vec<u128> {
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

    /// Up to `n` keys touching a bounded part of the segment: the first record of blocks
    /// spread over the slot table (so over the filter, whose blocks the key hashes pick),
    /// and the overflow's first keys. Nothing is sorted or decoded whole.
    pub(super) fn sample(&self, n: usize, each: &mut dyn FnMut(&[u8])) {
        let slots = self.s.slots as usize;
        let from_blocks = if self.s.blocks == 0 { 0 } else { n - n / 4 };
        let mut ki = Vec::new();
        let mut taken = 0;
        let mut seen_slot = usize::MAX;
        for s in 0..from_blocks {
            // The next occupied slot at or after an even step through the table.
            let start = s * slots / from_blocks.max(1);
            let Some(slot) = (start..slots).find(|&i| !self.slot_is_empty(i)) else {
                continue;
            };
            if slot == seen_slot {
                continue;
            }
            seen_slot = slot;
            let Some((key, meta)) = self.block(slot) else {
                continue;
            };
            let Some(first) = self.first_value(&meta) else {
                continue;
            };
            join(&key, first, &mut ki);
            each(&ki);
            taken += 1;
        }
        let mut overflow = self.overflow.stream();
        while taken < n {
            let Some((k, _)) = fst::Streamer::next(&mut overflow) else {
                break;
            };
            each(k);
            taken += 1;
        }
    }

    /// A block's first stored value, as [`values`](Self::values) would give it first;
    /// `None` when it is not within the first 64 buckets (then the block is skipped: a
    /// sample need not take every block).
    fn first_value(&self, meta: &BlockMeta) -> Option<u128> {
        let low = meta.low_bits();
        let records = (meta.offset + meta.dir_bytes()) as usize;
        let r = read_bits(self.data().get(records..)?, 0, low)?;
        let mut bucket = 0u64;
        while self.bucket_start(meta, bucket + 1).is_some_and(|s| s == 0) {
            bucket += 1;
            if bucket >= 64 {
                return None;
            }
        }
        let high = if low >= 128 {
            0
        } else {
            u128::from(bucket) << low
        };
        Some(high | r)
    }

    /// The first record of bucket `j`; `None` past the last bucket.
    pub(super) fn bucket_start(&self, meta: &BlockMeta, j: u64) -> Option<u64> {
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
pub(super) enum Stage {
    Done,
    Overflow,
    Split(Split, u64),
    Block(Split, BlockMeta),
    Bucket(Split, BlockMeta, (u64, u64)),
}

/// Keys between the stages of the batch pipeline.
pub(super) const DISTANCE: usize = 16;
/// Stages in flight: four stages `DISTANCE` apart fit without overlap.
pub(super) const RING: usize = 4 * DISTANCE;

/// The key and shape of the block a 32-byte slot describes, checked for sanity (`None`
/// for a malformed slot).
pub(super) fn parse_slot(m: &[u8]) -> Option<(BlockKey, BlockMeta)> {
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
