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
    /// Reads the FST and checks its own checksum (see [`super::open_fst`]).
    pub(crate) fn open(bytes: MappedBytes) -> Result<FstSegment, String> {
        Ok(FstSegment {
            fst: super::open_fst(bytes, "the FST")?,
        })
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

    fn slow_point_lookups(&self) -> bool {
        true
    }

    fn cursor(&self) -> Box<dyn EntryCursor + '_> {
        Box::new(FstCursor {
            stream: self.fst.stream(),
            key: Vec::new(),
            value: 0,
        })
    }

    fn verify(&self) -> Result<(), String> {
        super::check_fst_checksum(self.fst.as_bytes()).map_err(|e| format!("FST checksum: {e}"))?;
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
