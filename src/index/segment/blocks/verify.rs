//! The whole-structure check of a block segment (`cisgate verify`): every byte is
//! already known to match its checksum; this checks that the bytes make sense.

use rayon::prelude::*;

use super::key::*;
use super::read::KiBlocks;
use super::shape::*;
use crate::hashing::key_hash;
use crate::index::segment::fst_check::check_fst_checksum;

impl KiBlocks {
    /// Checks the whole structure: what [`TableSegment::verify`] asks of a layout.
    pub(super) fn verify_structure(&self) -> Result<(), String> {
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
        check_fst_checksum(self.overflow.as_bytes())
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
