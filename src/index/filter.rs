//! A split-block Bloom filter in front of each FST: "surely absent" in one cache line.
//!
//! The layout is Parquet's SBBF: 32-byte blocks of eight 32-bit words; a key's 64-bit xxh3
//! picks a block with its high half and sets one bit in each word with its low half times
//! eight odd salts. At 12 bits per key about 0.3–0.5 % of absent keys pass (then the FST
//! decides); a present key always passes, so the filter never changes an answer.
//!
//! ```text
//! payload  u64 LE number of blocks | blocks (32 bytes each, words u32 LE)
//! ```

use super::format::MappedBytes;

/// Bits of filter per key.
pub const BITS_PER_KEY: usize = 12;
const SALT: [u32; 8] = [
    0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
];

#[inline]
fn block_index(hash: u64, blocks: u64) -> usize {
    (((hash >> 32) * blocks) >> 32) as usize
}

#[inline]
fn masks(hash: u64) -> [u32; 8] {
    let low = hash as u32;
    std::array::from_fn(|i| 1u32 << (low.wrapping_mul(SALT[i]) >> 27))
}

/// Blocks of a filter for `keys` keys: at most 2^32, so that the block index fits the
/// multiply-shift above.
fn block_count(keys: usize) -> u64 {
    ((keys * BITS_PER_KEY).div_ceil(256)).clamp(1, u32::MAX as usize) as u64
}

/// Builds the payload of a filter over key hashes.
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let blocks = block_count(hashes.len());
    let mut words = vec![0u32; blocks as usize * 8];
    for &h in hashes {
        let b = block_index(h, blocks) * 8;
        for (w, m) in words[b..b + 8].iter_mut().zip(masks(h)) {
            *w |= m;
        }
    }
    let mut out = Vec::with_capacity(8 + words.len() * 4);
    out.extend_from_slice(&blocks.to_le_bytes());
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Whether a built payload passes every hash it was built from. A filter that missed a
/// key would turn a banned code into an allowed one, so writers check before publishing.
pub fn covers(payload: &[u8], hashes: &[u64]) -> bool {
    let Some(blocks) = payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    else {
        return false;
    };
    hashes.iter().all(|&h| passes(payload, blocks, h))
}

/// Probes the payload (`u64` block count, then blocks) for one hash.
#[inline]
fn passes(payload: &[u8], blocks: u64, hash: u64) -> bool {
    let start = 8 + block_index(hash, blocks) * 32;
    let Some(block) = payload
        .get(start..start + 32)
        .and_then(|b| <&[u8; 32]>::try_from(b).ok())
    else {
        return false;
    };
    // Branch-free over the eight words: absent keys fail at a random word, so an early exit
    // would mispredict about once per key.
    let masks = masks(hash);
    let mut missing = 0u32;
    for (i, m) in masks.iter().enumerate() {
        let w = u32::from_le_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
        missing |= !w & m;
    }
    missing == 0
}

/// A filter read from a memory-mapped data file.
pub struct Filter {
    bytes: MappedBytes,
    blocks: u64,
}

impl Filter {
    /// Validates the payload's shape.
    pub fn new(bytes: MappedBytes) -> Result<Filter, String> {
        let b = bytes.as_ref();
        if b.len() < 8 {
            return Err(format!("filter payload of {} bytes has no header", b.len()));
        }
        let blocks = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        if blocks == 0 || blocks > u64::from(u32::MAX) || (b.len() - 8) as u64 != blocks * 32 {
            return Err(format!(
                "filter says {blocks} blocks but holds {} bytes",
                b.len() - 8
            ));
        }
        Ok(Filter { bytes, blocks })
    }

    /// Whether a key with this hash may be present (`false`: surely absent).
    #[inline]
    pub fn may_contain(&self, hash: u64) -> bool {
        passes(self.bytes.as_ref(), self.blocks, hash)
    }

    /// Hints the CPU to fetch the key's block, for batch lookups.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let start = 8 + block_index(hash, self.blocks) * 32;
        crate::hashing::prefetch(self.bytes.as_ref(), start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::key_hash;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<u64> = (0..100_000u64)
            .map(|i| key_hash(format!("present-{i}").as_bytes()))
            .collect();
        let payload = build(&keys);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &payload).unwrap();
        // SAFETY: test file, not modified while mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
        let filter = Filter::new(MappedBytes::whole(map)).unwrap();
        assert!(keys.iter().all(|&h| filter.may_contain(h)));
        let false_positives = (0..100_000u64)
            .filter(|i| filter.may_contain(key_hash(format!("absent-{i}").as_bytes())))
            .count();
        assert!(
            false_positives < 1_000,
            "{false_positives} false positives in 100,000"
        );
    }
}
