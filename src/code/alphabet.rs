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
pub fn is_valid_gtin(gtin: &[u8]) -> bool {
    gtin.len() == 14 && all_digits(gtin) && gtin_check_digit(&gtin[..13]) == gtin[13]
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
    fn gtin_check_digits() {
        // Known-good GTINs.
        assert!(is_valid_gtin(b"04600439931256"));
        assert!(is_valid_gtin(b"04607034170059"));
        assert!(!is_valid_gtin(b"04600439931257"));
        assert!(!is_valid_gtin(b"0460043993125"));
    }
}
