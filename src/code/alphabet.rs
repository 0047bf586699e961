//! Character sets of Честный ЗНАК codes and the GTIN check digit.

/// The GS1 82-character set (ISO/IEC 646 subset) allowed in serials and crypto tails.
pub const fn is_gs1_char(b: u8) -> bool {
    matches!(b,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
        | b'!' | b'"' | b'%' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b','
        | b'-' | b'.' | b'/' | b':' | b';' | b'<' | b'=' | b'>' | b'?' | b'_')
}

/// Position of the first byte outside the GS1 82-character set, if any.
pub fn first_non_gs1(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| !is_gs1_char(b))
}

/// The base-80 alphabet of the tobacco-pack max retail price, index 0..79.
const BASE80: &[u8; 80] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'*+-./_,:;=<>?";

/// Value of one base-80 digit, or `None` for a byte outside the alphabet.
pub fn base80_digit(b: u8) -> Option<u32> {
    BASE80.iter().position(|&c| c == b).map(|p| p as u32)
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
    gtin.len() == 14
        && gtin.iter().all(u8::is_ascii_digit)
        && gtin_check_digit(&gtin[..13]) == gtin[13]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_set_has_82_chars() {
        assert_eq!((0u8..=255).filter(|&b| is_gs1_char(b)).count(), 82);
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
