//! The compact answer: one `status<TAB>reasons<TAB>КИ` line per code.

use super::json::status_name;
use crate::check::Outcome;

/// Appends the compact answer of `outcome`: `status<TAB>reasons<TAB>КИ`, reasons by
/// name separated by commas, the КИ empty for an invalid or ambiguous input.
pub(crate) fn write_tsv_line(out: &mut Vec<u8>, outcome: &Outcome<'_>) {
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
