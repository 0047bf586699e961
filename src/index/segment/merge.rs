//! The union of several sorted sources in which the first source that has a key decides:
//! a table as lookups see it (layers newest first, then the base).

use super::super::table::TOMBSTONE;
use super::seam::EntryCursor;

/// Merges cursors, earlier ones winning; keys whose winning value is the tombstone are
/// left out.
pub struct Union<'a> {
    sources: Vec<Box<dyn EntryCursor + 'a>>,
    /// Whether each source has a current entry.
    live: Vec<bool>,
    started: bool,
    current: Vec<u8>,
    value: u64,
    keep_tombstones: bool,
}

impl<'a> Union<'a> {
    /// Sources in priority order (the first wins a key they share).
    pub fn new(sources: Vec<Box<dyn EntryCursor + 'a>>) -> Union<'a> {
        let live = vec![false; sources.len()];
        Union {
            sources,
            live,
            started: false,
            current: Vec::new(),
            value: 0,
            keep_tombstones: false,
        }
    }

    /// Like [`Union::new`], but keys whose winning value is the tombstone are kept.
    pub fn with_tombstones(sources: Vec<Box<dyn EntryCursor + 'a>>) -> Union<'a> {
        Union {
            keep_tombstones: true,
            ..Union::new(sources)
        }
    }
}

impl EntryCursor for Union<'_> {
    fn advance(&mut self) -> bool {
        if !self.started {
            self.started = true;
            for (s, live) in self.sources.iter_mut().zip(self.live.iter_mut()) {
                *live = s.advance();
            }
        }
        loop {
            // The smallest key; on ties the earliest source.
            let mut best: Option<usize> = None;
            for i in 0..self.sources.len() {
                if self.live[i]
                    && best.is_none_or(|b| self.sources[i].key() < self.sources[b].key())
                {
                    best = Some(i);
                }
            }
            let Some(b) = best else {
                return false;
            };
            self.current.clear();
            self.current.extend_from_slice(self.sources[b].key());
            self.value = self.sources[b].value();
            for i in 0..self.sources.len() {
                if self.live[i] && self.sources[i].key() == self.current.as_slice() {
                    self.live[i] = self.sources[i].advance();
                }
            }
            if self.keep_tombstones || self.value != TOMBSTONE {
                return true;
            }
        }
    }

    fn key(&self) -> &[u8] {
        &self.current
    }

    fn value(&self) -> u64 {
        self.value
    }
}
