//! Entry points for the fuzz targets and their regression tests; not a stable API.

use super::super::format::MappedBytes;
use super::blocks::build::BlocksBuilder;
use super::blocks::read::KiBlocks;
use super::seam::{Query, TableSegment};

fn mapped(bytes: &[u8]) -> MappedBytes {
    let mut map = memmap2::MmapMut::map_anon(bytes.len().max(1)).expect("anonymous map");
    map[..bytes.len()].copy_from_slice(bytes);
    let whole = MappedBytes::whole(map.make_read_only().expect("read-only map"));
    whole.slice(0, bytes.len()).expect("in bounds")
}

/// Opens arbitrary bytes as a КИ block payload and, when they open, runs every reader
/// over them. Must never panic.
pub fn open_blocks(payload: &[u8], probes: &[&[u8]]) {
    let Ok(segment) = KiBlocks::open(mapped(payload)) else {
        return;
    };
    for key in probes {
        let _ = segment.get(key);
    }
    let mut queries: Vec<Query<'_>> = probes.iter().map(|k| Query::new(k)).collect();
    segment.get_batch(&mut queries);
    let mut cursor = segment.cursor();
    let mut walked = 0;
    while walked < 100_000 && cursor.advance() {
        let _ = segment.get(cursor.key());
        walked += 1;
    }
    let _ = segment.verify();
    let _ = segment.digest_par();
    let mut builder = BlocksBuilder::default();
    segment.decode_into(&mut builder, &[]);
}

/// Builds a block segment of `kis`, opens it and checks every answer against the set:
/// each key found, singly and in a batch, `absent` keys not found, the cursor giving
/// the distinct keys in order, `verify` passing. Panics on any difference.
pub fn round_trip(kis: &[&[u8]], absent: &[&[u8]]) {
    let mut builder = BlocksBuilder::default();
    for k in kis {
        builder.add(k);
    }
    let mut payload = Vec::new();
    let written = builder.finish(&mut payload).expect("writing to memory");
    let segment = KiBlocks::open(mapped(&payload)).expect("a written segment opens");
    let mut distinct: Vec<&[u8]> = kis.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(segment.len(), distinct.len() as u64);
    assert_eq!(written.entries, distinct.len() as u64);
    for k in &distinct {
        assert_eq!(
            segment.get(k),
            Some(0),
            "{:?} not found",
            String::from_utf8_lossy(k)
        );
    }
    let others: Vec<&[u8]> = absent
        .iter()
        .copied()
        .filter(|a| distinct.binary_search(a).is_err())
        .collect();
    for k in &others {
        assert_eq!(
            segment.get(k),
            None,
            "{:?} found",
            String::from_utf8_lossy(k)
        );
    }
    let probes: Vec<&[u8]> = distinct.iter().chain(&others).copied().collect();
    let mut queries: Vec<Query<'_>> = probes.iter().map(|k| Query::new(k)).collect();
    segment.get_batch(&mut queries);
    for (q, k) in queries.iter().zip(&probes) {
        assert_eq!(q.found, segment.get(k), "batch and single differ");
    }
    let mut cursor = segment.cursor();
    let mut streamed = Vec::new();
    while cursor.advance() {
        streamed.push(cursor.key().to_vec());
    }
    assert_eq!(streamed, distinct);
    segment.verify().expect("a written segment verifies");
    assert_eq!(segment.digest_par(), written.digest);
}
