//! The verdict as one JSON line, written straight from an outcome of the check path: the
//! same bytes `serde_json` writes for a [`Verdict`](crate::check::Verdict), without
//! building one.

use super::json::{status_name, write_bytes, write_names, write_reasons, write_str, write_u64};
use crate::check::{CheckOptions, Outcome};

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
    /// for [`Verdict::of_outcome`](crate::check::Verdict::of_outcome), and a newline.
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
