//! A КИ as a block key and a packed serial: the base-82 digits of the GS1 set, the
//! scrambling bijection, splitting a КИ and joining it back.

use std::collections::HashMap;

use super::shape::*;
use crate::code::alphabet::is_gs1_char;

/// GS1 character → base-82 digit (0xFF: not a GS1 character).
pub(super) static DIGITS: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut next = 0u8;
    let mut b = 0usize;
    while b < 256 {
        if is_gs1_char(b as u8) {
            table[b] = next;
            next += 1;
        }
        b += 1;
    }
    table
};

/// Base-82 digit → GS1 character.
pub(super) static CHARS: [u8; 82] = {
    let mut chars = [0u8; 82];
    let mut b = 0usize;
    while b < 256 {
        let d = DIGITS[b];
        if d != 0xFF {
            chars[d as usize] = b as u8;
        }
        b += 1;
    }
    chars
};

/// The odd multiplier of the scrambling bijection, and its inverse modulo 2^128 (which is
/// its inverse modulo every 2^b).
pub(super) const SCRAMBLE: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;
pub(super) const UNSCRAMBLE: u128 = {
    // Newton's iteration doubles the correct low bits each step: 7 steps reach 128.
    let mut inv = SCRAMBLE;
    let mut i = 0;
    while i < 7 {
        inv = inv.wrapping_mul(2u128.wrapping_sub(SCRAMBLE.wrapping_mul(inv)));
        i += 1;
    }
    inv
};

#[inline]
pub(super) fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// A serial's number → its stored coordinate, a bijection of [0, 2^bits).
#[inline]
pub(super) fn scramble(raw: u128, bits: u32) -> u128 {
    raw.wrapping_mul(SCRAMBLE) & mask(bits)
}

/// The stored coordinate → the serial's number.
#[inline]
pub(super) fn unscramble(stored: u128, bits: u32) -> u128 {
    stored.wrapping_mul(UNSCRAMBLE) & mask(bits)
}

/// A block key: the bytes before the serial, then the serial length. Stored as a slot
/// stores it (length byte, then the key zero-padded to 19 bytes), so that a slot is
/// compared with one 20-byte comparison and the key is a map key without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BlockKey(pub(super) [u8; 20]);

impl BlockKey {
    pub(super) fn new(prefix: &[u8], serial_len: usize) -> BlockKey {
        let mut k = [0u8; 20];
        k[0] = (prefix.len() + 1) as u8;
        k[1..1 + prefix.len()].copy_from_slice(prefix);
        k[1 + prefix.len()] = serial_len as u8;
        BlockKey(k)
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0[1..1 + usize::from(self.0[0])]
    }

    pub(super) fn prefix(&self) -> &[u8] {
        let b = self.bytes();
        &b[..b.len() - 1]
    }

    pub(super) fn serial_len(&self) -> usize {
        let b = self.bytes();
        usize::from(b[b.len() - 1])
    }
}

/// A КИ as block key and packed serial (the stored, scrambled coordinate).
#[derive(Clone, Copy)]
pub(crate) struct Split {
    pub(crate) key: BlockKey,
    pub(crate) value: u128,
}

/// Splits a КИ into its block key and serial number; `None` when it does not fit the
/// packed form (then it belongs in the overflow part). A 21-byte КИ is a tobacco pack
/// (GTIN + 7), as the code parser reads it; otherwise `01` + 14 + `21` + 1–20 characters.
pub(crate) fn split(ki: &[u8]) -> Option<Split> {
    let prefix_len = if ki.len() == 21 {
        14
    } else if ki.len() > 18
        && ki.len() <= 18 + MAX_SERIAL
        && ki.starts_with(b"01")
        && &ki[16..18] == b"21"
    {
        18
    } else {
        return None;
    };
    let (prefix, serial) = ki.split_at(prefix_len);
    // Nine digits at a time in 64-bit arithmetic (82^9 < 2^64), then one wide step each.
    let mut value = 0u128;
    for chunk in serial.chunks(9) {
        let mut part = 0u64;
        for &c in chunk {
            let d = DIGITS[usize::from(c)];
            if d == 0xFF {
                return None;
            }
            part = part * 82 + u64::from(d);
        }
        value = value * POW82[chunk.len()] + u128::from(part);
    }
    Some(Split {
        key: BlockKey::new(prefix, serial.len()),
        value: scramble(value, universe_bits(serial.len())),
    })
}

/// Writes the КИ of `key` and a stored coordinate into `out` (cleared first).
pub(super) fn join(key: &BlockKey, stored: u128, out: &mut Vec<u8>) {
    join_raw(
        key,
        unscramble(stored, universe_bits(key.serial_len())),
        out,
    );
}

/// Writes the КИ of `key` and a serial's number into `out` (cleared first).
pub(super) fn join_raw(key: &BlockKey, mut value: u128, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key.prefix());
    let len = key.serial_len();
    let start = out.len();
    out.resize(start + len, 0);
    // Digits from the right, nine at a time: one wide division per nine, then 64-bit ones
    // (which compile to multiplications).
    let mut end = len;
    while end > 0 {
        let n = end.min(9);
        let mut part = if n < end {
            let p = (value % POW82[9]) as u64;
            value /= POW82[9];
            p
        } else {
            value as u64
        };
        for i in (end - n..end).rev() {
            out[start + i] = CHARS[(part % 82) as usize];
            part /= 82;
        }
        end -= n;
    }
}

/// Hashes a block key by folding its 20 bytes: map lookups by block key happen once per
/// КИ while building, where SipHash would cost more than the rest of the work.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

pub(super) type KeyMap<V> = HashMap<BlockKey, V, std::hash::BuildHasherDefault<KeyHasher>>;
