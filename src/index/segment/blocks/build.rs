//! Collecting banned КИ by block and encoding the segment.

use std::io::Write;

use rayon::prelude::*;

use super::key::*;
use super::shape::*;
use crate::hashing::key_hash;
use crate::index::digest::ContentDigest;
use crate::list::ListKind;

/// Collects banned КИ for a block segment: by block, in any order, from any number of
/// threads (one builder each, merged).
#[derive(Default)]
pub(crate) struct BlocksBuilder {
    pub(super) blocks: KeyMap<Vec<u128>>,
    pub(super) overflow: Vec<Box<[u8]>>,
    pub(super) added: u64,
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
                    *h = key_hash(&ki);
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
            *h = key_hash(k);
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
pub(super) struct EncodedBlock {
    pub(super) count: u64,
    /// Directory bits.
    pub(super) k: u32,
    /// u32 directory entries.
    pub(super) wide: bool,
    /// Directory and records.
    pub(super) body: Vec<u8>,
}

/// Encodes one block's sorted, distinct serial numbers.
pub(super) fn encode_block(serial_len: usize, values: &[u128]) -> EncodedBlock {
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
