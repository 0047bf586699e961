//! Walking a block segment's КИ in byte order (compaction, the digest, `verify`).

use std::cmp::Ordering;

use super::key::*;
use super::read::KiBlocks;
use super::shape::*;
use crate::index::segment::seam::EntryCursor;

/// Every КИ of a block segment in byte order: blocks of one prefix with different serial
/// lengths (and tobacco packs between GS1 codes) interleave, so the blocks are merged,
/// starting each when the merge reaches its first КИ; overflow keys are merged in last.
pub(super) struct BlocksCursor<'a> {
    pub(super) seg: &'a KiBlocks,
    /// Blocks by first КИ.
    pub(super) order: Vec<(Vec<u8>, usize)>,
    pub(super) next_block: usize,
    /// Blocks being merged: their current КИ, key, values and position.
    pub(super) active: Vec<ActiveBlock>,
    pub(super) overflow: fst::raw::Stream<'a>,
    pub(super) overflow_key: Option<Vec<u8>>,
    pub(super) current: Vec<u8>,
}

pub(super) struct ActiveBlock {
    pub(super) ki: Vec<u8>,
    pub(super) key: BlockKey,
    pub(super) values: Vec<u128>,
    pub(super) at: usize,
}

impl<'a> BlocksCursor<'a> {
    pub(super) fn new(seg: &'a KiBlocks) -> BlocksCursor<'a> {
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
    pub(super) fn raw_values(&self, meta: &BlockMeta) -> Vec<u128> {
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
