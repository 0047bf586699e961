//! Answers written straight from the check path's outcomes into a byte buffer: the
//! verdict as a JSON line (the same bytes `serde_json` writes for a [`super::Verdict`],
//! without building one), a compact tab-separated line, and the JSON string escaping the
//! service's answers share.

use super::decision::{Outcome, Reasons};
use super::reason::{CheckOptions, Status};

/// Writes `text` as a JSON string, escaped as `serde_json` escapes it.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
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
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_ascii() {
        return write_escaped(out, bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => write_str(out, text),
        Err(_) => write_str(out, &String::from_utf8_lossy(bytes)),
    }
}

/// Writes an unsigned number.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
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

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Allowed => "allowed",
        Status::Blocked => "blocked",
        Status::Invalid => "invalid",
    }
}

/// Writes a JSON array of names (reasons, repairs: plain ASCII, nothing to escape).
pub fn write_names<'n>(out: &mut Vec<u8>, names: impl Iterator<Item = &'n str>) {
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

fn write_reasons(out: &mut Vec<u8>, reasons: Reasons) {
    write_names(out, reasons.iter().map(|r| r.name()));
}

/// The generation facts every verdict carries, escaped once per batch.
pub struct VerdictContext {
    /// `"index_version":…,"as_of":…}` and the newline, ready to append.
    tail: Vec<u8>,
    price_kopecks: Option<u64>,
}

impl VerdictContext {
    /// The context of verdicts answered by a generation of `version`, current as of
    /// `as_of`, checked with `options`.
    pub fn new(version: &str, as_of: &str, options: &CheckOptions) -> VerdictContext {
        let mut tail = Vec::with_capacity(64 + version.len());
        tail.extend_from_slice(b"\"index_version\":");
        write_str(&mut tail, version);
        tail.extend_from_slice(b",\"as_of\":");
        write_str(&mut tail, as_of);
        tail.extend_from_slice(b"}\n");
        VerdictContext {
            tail,
            price_kopecks: options.price_kopecks,
        }
    }

    /// Appends the verdict of `outcome` as one JSON line: the bytes `serde_json` writes
    /// for [`super::Verdict::of_outcome`], and a newline.
    pub fn write_line(&self, out: &mut Vec<u8>, outcome: &Outcome<'_>) {
        let d = outcome.decision;
        out.extend_from_slice(b"{\"input\":");
        write_bytes(out, outcome.input);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(status_name(d.status()).as_bytes());
        out.push(b'"');
        if !d.reasons().is_empty() {
            out.extend_from_slice(b",\"reasons\":");
            write_reasons(out, d.reasons());
        }
        if let Some(ki) = d.ki_bytes() {
            out.extend_from_slice(b",\"ki\":");
            write_bytes(out, ki);
        }
        if let Some(gtin) = d.gtin_bytes() {
            out.extend_from_slice(b",\"gtin\":");
            write_bytes(out, gtin);
        }
        if d.is_ambiguous() {
            out.extend_from_slice(b",\"candidates\":[");
            for (i, (reading, reasons)) in outcome.readings().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"ki\":");
                write_bytes(out, reading.ki());
                out.extend_from_slice(b",\"structure\":\"");
                out.extend_from_slice(reading.structure().name().as_bytes());
                out.extend_from_slice(b"\",\"reasons\":");
                write_reasons(out, reasons);
                out.push(b'}');
            }
            out.push(b']');
        }
        let numbers = [
            ("min_price_kopecks", d.min_price_kopecks()),
            (
                "max_retail_price_kopecks",
                d.max_retail_price_kopecks().map(u64::from),
            ),
            ("price_kopecks", self.price_kopecks),
        ];
        for (name, value) in numbers {
            if let Some(value) = value {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                write_u64(out, value);
            }
        }
        if !d.repairs().is_empty() {
            out.extend_from_slice(b",\"repaired\":");
            write_names(out, d.repairs().iter().map(|r| r.name()));
        }
        if let Some(error) = outcome.error {
            out.extend_from_slice(b",\"error\":");
            write_str(out, &error.to_string());
        }
        out.push(b',');
        out.extend_from_slice(&self.tail);
    }
}

/// Appends the compact answer of `outcome`: `status<TAB>reasons<TAB>КИ`, reasons by
/// name separated by commas, the КИ empty for an invalid or ambiguous input.
pub fn write_compact_line(out: &mut Vec<u8>, outcome: &Outcome<'_>) {
    let d = outcome.decision;
    out.extend_from_slice(status_name(d.status()).as_bytes());
    out.push(b'\t');
    for (i, r) in d.reasons().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r.name().as_bytes());
    }
    out.push(b'\t');
    out.extend_from_slice(d.ki_bytes().unwrap_or_default());
    out.push(b'\n');
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
