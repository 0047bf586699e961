//! JSON written by hand into byte buffers: strings escaped exactly as `serde_json` escapes
//! them, numbers, arrays of names. Every answer writer shares these.

use crate::check::{Reasons, Status};

/// Writes `text` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    write_escaped(out, text.as_bytes());
}

/// Writes text known to be UTF-8 (a КИ, a GTIN: ASCII by construction) as a JSON string.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    // Almost every string needs no escape: one pass the compiler can vectorise, then a copy.
    if bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    }) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes bytes that may not be UTF-8 as a JSON string (invalid sequences as U+FFFD, as
/// the rich verdict's lossy `input` holds them).
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_ascii() {
        return write_escaped(out, bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => write_str(out, text),
        Err(_) => write_str(out, &String::from_utf8_lossy(bytes)),
    }
}

/// Writes an unsigned number.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Allowed => "allowed",
        Status::Blocked => "blocked",
        Status::Invalid => "invalid",
    }
}

/// Writes a JSON array of names (reasons, repairs: plain ASCII, nothing to escape).
pub(crate) fn write_names<'n>(out: &mut Vec<u8>, names: impl Iterator<Item = &'n str>) {
    out.push(b'[');
    for (i, name) in names.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.push(b']');
}

pub(crate) fn write_reasons(out: &mut Vec<u8>, reasons: Reasons) {
    write_names(out, reasons.iter().map(|r| r.name()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let samples = [
            "plain",
            "quote \" backslash \\ slash /",
            "\u{1d}GS\u{0}\u{1f}\u{7f}\n\r\t\u{8}\u{c}",
            "кириллица №",
            "",
        ];
        for s in samples {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        let mut out = Vec::new();
        write_bytes(&mut out, b"a\xffb");
        assert_eq!(out, serde_json::to_vec("a\u{fffd}b").unwrap());
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
