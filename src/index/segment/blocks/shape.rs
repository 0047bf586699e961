//! The block segment's layout: its format constants, the slot table's probing, a slot's
//! fields and a block's shape.

pub(super) const MAGIC: &[u8; 8] = b"KIBLOCKS";
/// Version of the block layout inside its container.
pub(super) const VERSION: u32 = 1;
pub(super) const HEADER_LEN: usize = 128;
pub(super) const SLOT_LEN: usize = 32;
pub(super) const DATA_PAD: usize = 32;
/// Longest serial the packed form holds: 82^20 < 2^128.
pub(crate) const MAX_SERIAL: usize = 20;
/// Records per bucket the directory aims at: 4 to 8 (one cache line to scan).
pub(super) const BUCKET_TARGET_SHIFT: u32 = 2;
/// Most directory bits a block may have (16 M buckets).
pub(super) const MAX_DIRECTORY_BITS: u32 = 24;
/// A product with fewer codes than this keeps them in the overflow part: a block's slot
/// and dictionary entry would cost more than the codes themselves.
pub(super) const MIN_BLOCK: usize = 8;
/// The slot table is filled to at most 7/10.
pub(super) const SLOT_LOAD_TENTHS: usize = 7;
/// Key length of a GS1-form block key: `01` + GTIN + `21` + serial length.
pub(super) const GS1_KEY: usize = 19;
/// Key length of a tobacco-pack block key: GTIN + serial length.
pub(super) const PACK_KEY: usize = 15;

/// Slots for `blocks` blocks: at most 7/10 full, at least one empty.
pub(super) fn slot_count(blocks: usize) -> usize {
    (blocks * 10).div_ceil(SLOT_LOAD_TENTHS) + 1
}

/// Where a key's probe starts: its hash scaled to the table (no power of two needed).
#[inline]
pub(super) fn home_slot(hash: u64, slots: usize) -> usize {
    ((u128::from(hash) * slots as u128) >> 64) as usize
}

#[inline]
pub(super) fn next_slot(at: usize, slots: usize) -> usize {
    if at + 1 == slots { 0 } else { at + 1 }
}

/// Reads `width` bits (≤ 128) at bit `at` of an LSB-first stream. `bytes` must extend at
/// least 17 bytes past the byte holding bit `at` (the data section's padding ensures it).
#[inline]
pub(super) fn read_bits(bytes: &[u8], at: u64, width: u32) -> Option<u128> {
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
pub(super) struct BlockMeta {
    pub(super) serial_len: usize,
    /// Directory bits.
    pub(super) k: u32,
    pub(super) wide: bool,
    pub(super) count: u64,
    pub(super) offset: u64,
}

impl BlockMeta {
    pub(super) fn low_bits(&self) -> u32 {
        universe_bits(self.serial_len) - self.k
    }

    pub(super) fn dir_bytes(&self) -> u64 {
        (1u64 << self.k) * if self.wide { 4 } else { 2 }
    }

    pub(super) fn record_bytes(&self) -> u64 {
        (self.count * u64::from(self.low_bits())).div_ceil(8)
    }

    pub(super) fn body_len(&self) -> u64 {
        self.dir_bytes() + self.record_bytes()
    }
}

/// Picks directory bits for `count` records of `bits` bits: about eight records a bucket.
pub(super) fn directory_bits(count: usize, bits: u32) -> u32 {
    let log = usize::BITS - 1 - count.max(1).leading_zeros();
    log.saturating_sub(BUCKET_TARGET_SHIFT)
        .min(bits)
        .min(MAX_DIRECTORY_BITS)
}

pub(super) fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// 82^n for n in 0..=20.
pub(super) static POW82: [u128; MAX_SERIAL + 1] = {
    let mut p = [1u128; MAX_SERIAL + 1];
    let mut i = 1;
    while i <= MAX_SERIAL {
        p[i] = p[i - 1] * 82;
        i += 1;
    }
    p
};

/// Bits needed for a serial of n characters, n in 0..=20.
pub(super) static UNIVERSE_BITS: [u32; MAX_SERIAL + 1] = {
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
pub(super) fn universe_bits(len: usize) -> u32 {
    UNIVERSE_BITS[len]
}

#[inline]
pub(super) fn high(v: u128, low: u32) -> u128 {
    if low >= 128 { 0 } else { v >> low }
}
