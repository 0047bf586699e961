//! The content digest: an order-independent hash of an index's logical content.
//!
//! Each entry hashes to `xxh3_128(kind_tag ‖ key ‖ 0xFF ‖ value as u64 LE)`; the digest is
//! the wrapping sum of those hashes mod 2¹²⁸. Because a sum can be updated by adding and
//! subtracting entries, a delta can state the digest its result must have, and applying it
//! needs no pass over the base. Two indexes with the same entries have the same digest
//! however they were built (one snapshot, or a base and any number of layers).

use std::fmt;

use xxhash_rust::xxh3::xxh3_128;

use crate::list::ListKind;

/// A content digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentDigest(pub u128);

fn kind_tag(kind: ListKind) -> u8 {
    match kind {
        ListKind::BlockedCis => b'C',
        ListKind::BlockedGtin => b'G',
        ListKind::BlockedSeries => b'S',
        ListKind::MinPrice => b'P',
    }
}

/// The hash one entry contributes.
pub fn entry_hash(kind: ListKind, key: &[u8], value: u64) -> u128 {
    let mut buf = [0u8; 96];
    let n = key.len() + 10;
    if n <= buf.len() {
        buf[0] = kind_tag(kind);
        buf[1..=key.len()].copy_from_slice(key);
        buf[key.len() + 1] = 0xff;
        buf[key.len() + 2..n].copy_from_slice(&value.to_le_bytes());
        xxh3_128(&buf[..n])
    } else {
        let mut v = Vec::with_capacity(n);
        v.push(kind_tag(kind));
        v.extend_from_slice(key);
        v.push(0xff);
        v.extend_from_slice(&value.to_le_bytes());
        xxh3_128(&v)
    }
}

impl ContentDigest {
    /// Adds one entry.
    pub fn add(&mut self, kind: ListKind, key: &[u8], value: u64) {
        self.0 = self.0.wrapping_add(entry_hash(kind, key, value));
    }

    /// Removes one entry.
    pub fn remove(&mut self, kind: ListKind, key: &[u8], value: u64) {
        self.0 = self.0.wrapping_sub(entry_hash(kind, key, value));
    }

    /// Combines two digests of disjoint entry sets.
    pub fn merge(self, other: ContentDigest) -> ContentDigest {
        ContentDigest(self.0.wrapping_add(other.0))
    }

    /// Parses 32 hex digits.
    pub fn from_hex(hex: &str) -> Option<ContentDigest> {
        (hex.len() == 32).then(|| u128::from_str_radix(hex, 16).ok().map(ContentDigest))?
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_reversible() {
        let mut a = ContentDigest::default();
        a.add(ListKind::BlockedCis, b"x", 0);
        a.add(ListKind::MinPrice, b"y", 5);
        let mut b = ContentDigest::default();
        b.add(ListKind::MinPrice, b"y", 5);
        b.add(ListKind::BlockedCis, b"x", 0);
        assert_eq!(a, b);
        b.remove(ListKind::MinPrice, b"y", 5);
        assert_ne!(a, b);
        b.add(ListKind::MinPrice, b"y", 6);
        assert_ne!(a, b);
        assert_eq!(ContentDigest::from_hex(&a.to_string()), Some(a));
        assert_ne!(
            entry_hash(ListKind::BlockedCis, b"x", 0),
            entry_hash(ListKind::BlockedGtin, b"x", 0)
        );
        let long = [b'a'; 200];
        assert_ne!(
            entry_hash(ListKind::BlockedCis, &long, 0),
            entry_hash(ListKind::BlockedCis, &long[1..], 0)
        );
    }
}
