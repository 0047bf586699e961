//! Character sets of Честный ЗНАК codes and the GTIN check digit.

/// The GS1 82-character set (ISO/IEC 646 subset), as a table: a lookup instead of a
/// chain of comparisons, for the check path that tests every character of a code.
const GS1: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
            | b'!' | b'"' | b'%' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b','
            | b'-' | b'.' | b'/' | b':' | b';' | b'<' | b'=' | b'>' | b'?' | b'_');
        b += 1;
    }
    table
};

/// Whether `b` is in the GS1 82-character set allowed in serials and crypto tails.
#[inline]
pub const fn is_gs1_char(b: u8) -> bool {
    GS1[b as usize]
}

/// Whether every byte is in the GS1 set (no early exit: codes are valid almost always,
/// and a branch per character costs more than the few characters it would save).
#[inline]
pub fn all_gs1(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & GS1[usize::from(b)])
}

/// Whether every byte is an ASCII digit.
#[inline]
pub fn all_digits(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & b.is_ascii_digit())
}

/// Position of the first byte outside the GS1 82-character set, if any.
#[inline]
pub fn first_non_gs1(bytes: &[u8]) -> Option<usize> {
    if all_gs1(bytes) {
        return None;
    }
    bytes.iter().position(|&b| !is_gs1_char(b))
}

/// The base-80 alphabet of the tobacco-pack max retail price, index 0..79.
const BASE80: &[u8; 80] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'*+-./_,:;=<>?";

/// Each byte's base-80 value plus one (0: not a digit).
const BASE80_VALUE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 80 {
        table[BASE80[i] as usize] = i as u8 + 1;
        i += 1;
    }
    table
};

/// Value of one base-80 digit, or `None` for a byte outside the alphabet.
#[inline]
pub fn base80_digit(b: u8) -> Option<u32> {
    BASE80_VALUE[usize::from(b)].checked_sub(1).map(u32::from)
}

/// Encodes `value` (< 80⁴) as four base-80 digits, most significant first.
pub fn base80_encode4(value: u32) -> [u8; 4] {
    let mut out = [0u8; 4];
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = BASE80[(v % 80) as usize];
        v /= 80;
    }
    out
}

/// GS1 mod-10 check digit over the first 13 digits of a GTIN-14 (ASCII digits).
pub fn gtin_check_digit(first13: &[u8]) -> u8 {
    let sum: u32 = first13
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// Whether `gtin` is 14 ASCII digits with a correct check digit.
///
/// Every scanned code is checked this way, so the digits are tested and summed eight at a
/// time in two overlapping words (bytes 0..8 and 6..14) rather than one by one; the test
/// below holds it to [`gtin_check_digit`].
#[inline]
pub fn is_valid_gtin(gtin: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let Ok(gtin) = <&[u8; 14]>::try_from(gtin) else {
        return false;
    };
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&gtin[at..at + 8]);
        // b ^ '0' is below 10 exactly for the digits '0'..='9'.
        u64::from_le_bytes(bytes) ^ (0x30 * ONES)
    };
    let (lo, hi) = (word(0), word(6));
    // A byte is 10 or more when its low seven bits plus 0x76 reach 0x80, or it has the top
    // bit already; the low seven bits plus 0x76 never carry into the next byte.
    let not_digit = |w: u64| (((w & (0x7f * ONES)) + 0x76 * ONES) | w) & (0x80 * ONES) != 0;
    if not_digit(lo) || not_digit(hi) {
        return false;
    }
    // Sums of the 16-bit lanes of `w` (each lane below 256, four lanes).
    let lanes = |w: u64| (w.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32;
    const EVEN: u64 = 0x00ff_00ff_00ff_00ff;
    // Digits 0..8 come from `lo`; `hi` holds digits 6..14, so its bytes 2, 4, 6 are
    // digits 8, 10, 12, its bytes 3, 5 digits 9, 11, and its byte 7 the check digit.
    let even = lanes(lo & EVEN) + lanes((hi >> 16) & 0x0000_00ff_00ff_00ff);
    let odd = lanes((lo >> 8) & EVEN) + lanes((hi >> 24) & 0x0000_0000_00ff_00ff);
    let sum = 3 * even + odd;
    (10 - sum % 10) % 10 == (hi >> 56) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_set_has_82_chars() {
        assert_eq!((0u8..=255).filter(|&b| is_gs1_char(b)).count(), 82);
    }

    #[test]
    fn tables_agree_with_the_sets() {
        for b in 0..=255u8 {
            assert_eq!(base80_digit(b).is_some(), BASE80.contains(&b), "{b}");
            assert_eq!(all_gs1(&[b]), is_gs1_char(b));
        }
        for (i, &c) in BASE80.iter().enumerate() {
            assert_eq!(base80_digit(c), Some(i as u32));
        }
        assert_eq!(first_non_gs1(b"abc\x1ddef"), Some(3));
        assert_eq!(first_non_gs1(b"abc"), None);
    }

    #[test]
    fn base80_example_from_domain() {
        let v: u32 = b"ACW."
            .iter()
            .fold(0, |acc, &b| acc * 80 + base80_digit(b).unwrap());
        assert_eq!(v, 14630);
        assert_eq!(&base80_encode4(14630), b"ACW.");
    }

    #[test]
    fn the_word_check_of_a_gtin_agrees_with_the_definition() {
        let plain =
            |g: &[u8]| g.len() == 14 && all_digits(g) && gtin_check_digit(&g[..13]) == g[13];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let mut g = [0u8; 14];
            for b in g.iter_mut() {
                *b = b'0' + (next() % 10) as u8;
            }
            // Half of them with the right check digit, the rest with any digit.
            if next() % 2 == 0 {
                g[13] = gtin_check_digit(&g[..13]);
            }
            assert_eq!(is_valid_gtin(&g), plain(&g), "{g:?}");
            // Any one byte changed to any value.
            let at = (next() % 14) as usize;
            g[at] = next() as u8;
            assert_eq!(is_valid_gtin(&g), plain(&g), "{g:?}");
        }
        for len in 0..20 {
            assert!(!is_valid_gtin(&vec![b'0'; len][..]) || len == 14);
        }
        for b in 0..=255u8 {
            let mut g = *b"04600439931256";
            for at in 0..14 {
                let keep = g[at];
                g[at] = b;
                assert_eq!(is_valid_gtin(&g), plain(&g), "{b} at {at}");
                g[at] = keep;
            }
        }
    }

    #[test]
    fn gtin_check_digits() {
        // Known-good GTINs.
        assert!(is_valid_gtin(b"04600439931256"));
        assert!(is_valid_gtin(b"04607034170059"));
        assert!(!is_valid_gtin(b"04600439931257"));
        assert!(!is_valid_gtin(b"0460043993125"));
    }
}
