//! The seam itself: what every segment layout answers ([`TableSegment`]), batch queries,
//! and the ordered walk of a table's entries.

use super::blocks::build::BlocksBuilder;

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
    /// Hands `each` up to `n` keys the segment holds, touching a bounded part of it
    /// whatever its size (an unverified open checks a sample of keys against the
    /// filter). The default takes the first keys in order; a layout whose ordered walk
    /// must first read the whole segment samples otherwise.
    fn sample_keys(&self, n: usize, each: &mut dyn FnMut(&[u8])) {
        let mut cursor = self.cursor();
        for _ in 0..n {
            if !cursor.advance() {
                break;
            }
            each(cursor.key());
        }
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
