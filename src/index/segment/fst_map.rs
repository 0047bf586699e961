//! The FST layout: one `fst` map from key to value (sets map every key to 0; delta layers
//! map removed keys to the tombstone).

use fst::Streamer;

use super::super::format::MappedBytes;
use super::{EntryCursor, TableSegment};

type Fst = fst::raw::Fst<MappedBytes>;

/// A table's data as one FST.
pub(crate) struct FstSegment {
    fst: Fst,
}

impl FstSegment {
    /// Reads the FST's header and checks its own checksum, whatever the container's check
    /// was: a damaged FST can make the fst crate panic on lookup (found by fuzzing; see
    /// tests/regressions.rs), and a payload that passed the container's checksum only
    /// because it was written with a matching one is still no FST.
    pub(crate) fn open(bytes: MappedBytes) -> Result<FstSegment, String> {
        let fst = Fst::new(bytes).map_err(|e| format!("not a valid FST: {e}"))?;
        fst.verify().map_err(|e| format!("FST checksum: {e}"))?;
        Ok(FstSegment { fst })
    }
}

impl TableSegment for FstSegment {
    fn bytes(&self) -> u64 {
        self.fst.as_bytes().len() as u64
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn len(&self) -> u64 {
        self.fst.len() as u64
    }

    fn get(&self, key: &[u8]) -> Option<u64> {
        self.fst.get(key).map(|o| o.value())
    }

    fn cursor(&self) -> Box<dyn EntryCursor + '_> {
        Box::new(FstCursor {
            stream: self.fst.stream(),
            key: Vec::new(),
            value: 0,
        })
    }

    fn verify(&self) -> Result<(), String> {
        self.fst
            .verify()
            .map_err(|e| format!("FST checksum: {e}"))?;
        // Walking visits every node; a structurally broken FST that passed both checksums
        // would panic inside the fst crate, so the walk turns a panic into damage.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut stream = self.fst.stream();
            let mut n = 0u64;
            while stream.next().is_some() {
                n += 1;
            }
            n
        }))
        .map_err(|_| "the FST structure is broken (walking it failed)".to_string())
        .and_then(|n| {
            if n == self.len() {
                Ok(())
            } else {
                Err(format!("the FST says {} keys but holds {n}", self.len()))
            }
        })
    }
}

struct FstCursor<'a> {
    stream: fst::raw::Stream<'a>,
    key: Vec<u8>,
    value: u64,
}

impl EntryCursor for FstCursor<'_> {
    fn advance(&mut self) -> bool {
        match self.stream.next() {
            Some((k, v)) => {
                self.key.clear();
                self.key.extend_from_slice(k);
                self.value = v.value();
                true
            }
            None => false,
        }
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> u64 {
        self.value
    }
}
