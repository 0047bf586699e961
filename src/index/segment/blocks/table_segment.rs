//! The block segment behind the segment seam.

use super::build::BlocksBuilder;
use super::cursor::BlocksCursor;
use super::key::*;
use super::read::*;
use crate::hashing::key_hash;
use crate::index::segment::seam::{EntryCursor, Query, TableSegment};

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

    fn sample_keys(&self, n: usize, each: &mut dyn FnMut(&[u8])) {
        self.sample(n, each);
    }

    fn cursor(&self) -> Box<dyn EntryCursor + '_> {
        Box::new(BlocksCursor::new(self))
    }

    fn verify(&self) -> Result<(), String> {
        self.verify_structure()
    }
}
