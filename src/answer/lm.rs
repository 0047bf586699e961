//! The Local Module's outCheck results (v2 and the v1 single object), written straight from
//! outcomes of the check path.

use super::json::{write_bytes, write_str, write_u64};
use crate::check::{Outcome, Reason, Reasons, Status};

/// Writes outCheck results: the fields and order real clients read (`reqId`,
/// `reqTimestamp`, `inst`, `version` for fiscal tag 1265; `code`, `description`; one
/// `codes[]` entry with `cis`, `gtin`, `isBlocked`, `sold`, and `mrp` and `smp` where known,
/// as 32-bit integers).
pub(crate) struct OutCheckWriter {
    /// `"reqTimestamp":…,"inst":…,"version":…,` escaped once.
    common: Vec<u8>,
}

impl OutCheckWriter {
    pub(crate) fn new(inst: &str, version: &str, now: i64) -> OutCheckWriter {
        let mut common = Vec::with_capacity(96 + version.len());
        common.extend_from_slice(b",\"reqTimestamp\":");
        if now < 0 {
            common.push(b'-');
        }
        write_u64(&mut common, now.unsigned_abs());
        common.extend_from_slice(b",\"inst\":");
        write_str(&mut common, inst);
        common.extend_from_slice(b",\"version\":");
        write_str(&mut common, version);
        common.push(b',');
        OutCheckWriter { common }
    }

    /// A comma between results.
    pub(crate) fn separator(&self, out: &mut Vec<u8>, written: &mut usize) {
        if *written > 0 {
            out.push(b',');
        }
        *written += 1;
    }

    pub(crate) fn head(&self, out: &mut Vec<u8>, code: u32, description: &str) {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
        out.extend_from_slice(b"{\"reqId\":\"");
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
        out.extend_from_slice(&self.common);
        out.extend_from_slice(b"\"code\":");
        write_u64(out, u64::from(code));
        out.extend_from_slice(b",\"description\":");
        write_str(out, description);
        out.extend_from_slice(b",\"codes\":[{\"cis\":");
    }

    /// A result for an input that is not a code: `code: 400`, and blocked as well, so that
    /// a client reading only `isBlocked` does not sell it.
    pub(crate) fn invalid(&self, out: &mut Vec<u8>, reason: &str, cis: &str) {
        self.head(out, 400, reason);
        write_str(out, cis);
        out.extend_from_slice(b",\"gtin\":\"\",\"isBlocked\":true,\"sold\":false}]}");
    }

    pub(crate) fn outcome(&self, out: &mut Vec<u8>, outcome: &Outcome<'_>) {
        let d = outcome.decision;
        if d.status() == Status::Invalid {
            let reason = outcome
                .error
                .map_or_else(|| "not a marking code".to_string(), |e| e.to_string());
            self.invalid(out, &reason, &String::from_utf8_lossy(outcome.input));
            return;
        }
        self.head(out, 0, "ok");
        write_bytes(out, d.ki_bytes().unwrap_or(outcome.input));
        out.extend_from_slice(b",\"gtin\":");
        write_bytes(out, d.gtin_bytes().unwrap_or_default());
        // `sold` apart from the bans: one middleware acts on `sold`, another on
        // `isBlocked` alone, so each must be right by itself.
        let sold = d.reasons().contains(Reason::Sold);
        let blocked = !Reasons::from_bits(d.reasons().bits() & !Reason::Sold.bit()).is_empty();
        out.extend_from_slice(if blocked {
            b",\"isBlocked\":true"
        } else {
            b",\"isBlocked\":false"
        });
        out.extend_from_slice(if sold {
            b",\"sold\":true"
        } else {
            b",\"sold\":false"
        });
        let int = |n: u64| u32::try_from(n).ok().filter(|&n| n <= i32::MAX as u32);
        if let Some(mrp) = d.max_retail_price_kopecks().and_then(|m| int(u64::from(m))) {
            out.extend_from_slice(b",\"mrp\":");
            write_u64(out, u64::from(mrp));
        }
        if let Some(smp) = d.min_price_kopecks().and_then(int) {
            out.extend_from_slice(b",\"smp\":");
            write_u64(out, u64::from(smp));
        }
        out.extend_from_slice(b"}]}");
    }
}
