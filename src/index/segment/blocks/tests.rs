use super::build::*;
use super::key::*;
use super::read::*;
use super::shape::*;
use crate::code::alphabet::is_gs1_char;
use crate::index::format::MappedBytes;
use crate::index::segment::seam::{Query, TableSegment};

fn segment(kis: &[&[u8]]) -> KiBlocks {
    let mut b = BlocksBuilder::default();
    for k in kis {
        b.add(k);
    }
    let mut out = Vec::new();
    b.finish(&mut out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    std::fs::write(&path, &out).unwrap();
    // SAFETY: test file, not modified while mapped.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
    KiBlocks::open(MappedBytes::whole(map)).unwrap()
}

#[test]
fn split_and_join_round_trip_in_order() {
    let mut serials: Vec<Vec<u8>> = Vec::new();
    let gs1: Vec<u8> = (0..=255u8).filter(|&b| is_gs1_char(b)).collect();
    assert_eq!(gs1.len(), 82);
    for len in [1usize, 6, 7, 13, 20] {
        for n in 0..50usize {
            serials.push((0..len).map(|i| gs1[(n * 31 + i * 7) % 82]).collect());
        }
    }
    for s in &serials {
        let ki = [b"010460043993125621".as_slice(), s].concat();
        let sp = split(&ki).unwrap();
        let mut back = Vec::new();
        join(&sp.key, sp.value, &mut back);
        assert_eq!(back, ki);
    }
    // The scrambling is a bijection: unscrambling gives the number back, and distinct
    // serials of one length stay distinct.
    let mut thirteen: Vec<u128> = serials
        .iter()
        .filter(|s| s.len() == 13)
        .map(|s| {
            split(&[b"010460043993125621".as_slice(), s].concat())
                .unwrap()
                .value
        })
        .collect();
    thirteen.sort_unstable();
    thirteen.dedup();
    assert_eq!(thirteen.len(), 50);
    for bits in [1u32, 40, 83, 127, 128] {
        for raw in [0u128, 1, 12345, u128::MAX >> (128 - bits)]
            .into_iter()
            .filter(|&r| r <= mask(bits))
        {
            assert_eq!(unscramble(scramble(raw, bits), bits), raw, "{bits}");
        }
    }
    assert_eq!(
        split(b"04647297654361!%C5UGb").unwrap().key.bytes().len(),
        PACK_KEY
    );
    assert!(split(b"0104600439931256215\x1fbc").is_none());
    assert!(split(b"0104600439931256215abcdEFGH1234abcdEFGH1").is_none());
}

#[test]
fn every_key_found_and_near_misses_not() {
    let mut kis: Vec<Vec<u8>> = Vec::new();
    let gs1: Vec<u8> = (0..=255u8).filter(|&b| is_gs1_char(b)).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Many products, every serial length, tobacco packs, and keys for the overflow.
    for i in 0..20_000u64 {
        let gtin = format!("046{:011}", next() % 300);
        let r = next();
        let len = [6usize, 7, 13, 20, 1, 3][(r % 6) as usize];
        let serial: String = (0..len)
            .map(|_| gs1[(next() % 82) as usize] as char)
            .collect();
        kis.push(format!("01{gtin}21{serial}").into_bytes());
        if i % 5 == 0 {
            let pack: String = (0..7)
                .map(|_| gs1[(next() % 82) as usize] as char)
                .collect();
            kis.push(format!("{gtin}{pack}").into_bytes());
        }
        kis.push(format!("0104600439931256215ab{i:08}").into_bytes());
        kis.push(format!("01046004399312562{:06}", i % 997).into_bytes());
    }
    kis.push(b"04647297654361!%C5UGb".to_vec());
    kis.push(b"weird-key".to_vec());
    kis.push(b"0104600439931256215abcdEFGH1234abcdEFGH12".to_vec());
    let refs: Vec<&[u8]> = kis.iter().map(|k| k.as_slice()).collect();
    let seg = segment(&refs);
    let mut distinct = kis.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(seg.len(), distinct.len() as u64);
    for k in &distinct {
        assert_eq!(seg.get(k), Some(0), "{}", String::from_utf8_lossy(k));
    }
    for miss in [
        b"0104600439931256215ab00020000".as_slice(),
        b"0104600439931256215ab0002000",
        b"01046004399312562000998",
        b"04647297654361!%C5UGc",
        b"weird-kez",
        b"",
    ] {
        assert_eq!(seg.get(miss), None, "{}", String::from_utf8_lossy(miss));
    }
    // The batch path agrees with the single one.
    let mut probe: Vec<Vec<u8>> = distinct.clone();
    probe.push(b"0104600439931256215zz00000000".to_vec());
    let mut queries: Vec<Query<'_>> = probe.iter().map(|k| Query::new(k)).collect();
    seg.get_batch(&mut queries);
    for (q, k) in queries.iter().zip(&probe) {
        assert_eq!(q.found, seg.get(k));
    }
    // The cursor gives every key once, in byte order.
    let mut cursor = seg.cursor();
    let mut streamed = Vec::new();
    while cursor.advance() {
        streamed.push(cursor.key().to_vec());
    }
    assert_eq!(streamed, distinct);
    seg.verify().unwrap();
}

/// A sample touches a few blocks and the overflow, never the whole segment, and every key
/// it gives is one the segment holds.
#[test]
fn a_sample_gives_held_keys_from_many_blocks() {
    let mut kis: Vec<Vec<u8>> = Vec::new();
    for product in 0..300u32 {
        let gtin = format!("046004399{product:04}");
        let gtin = format!(
            "{gtin}{}",
            crate::code::alphabet::gtin_check_digit(gtin.as_bytes()) as char
        );
        let codes = if product % 10 == 0 { 3 } else { 40 };
        for n in 0..codes {
            kis.push(
                format!("01{gtin}21{}{n:07}", (b'a' + (product % 26) as u8) as char).into_bytes(),
            );
        }
    }
    let refs: Vec<&[u8]> = kis.iter().map(|k| k.as_slice()).collect();
    let seg = segment(&refs);
    let mut sampled: Vec<Vec<u8>> = Vec::new();
    seg.sample_keys(64, &mut |k| sampled.push(k.to_vec()));
    assert!(sampled.len() >= 48, "{} keys", sampled.len());
    for k in &sampled {
        assert!(seg.get(k).is_some(), "{}", String::from_utf8_lossy(k));
    }
    let products: std::collections::BTreeSet<&[u8]> = sampled.iter().map(|k| &k[2..16]).collect();
    assert!(
        products.len() >= 30,
        "{} products: {:?}",
        products.len(),
        sampled
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    );
}
