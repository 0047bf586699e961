//! The native bulk endpoint's answers: one JSON object per input line,
//! `{"line":N,"input","status","reasons"?,"ki"?,"error"?}`.

use super::json::{write_bytes, write_names, write_str, write_u64};
use crate::check::{Outcome, Status};

/// The start of a line's answer: `{"line":N`.
pub(crate) fn write_line_head(out: &mut Vec<u8>, line: u64) {
    out.extend_from_slice(b"{\"line\":");
    write_u64(out, line);
}

/// The whole answer of a line over `max` bytes, which is never checked: invalid.
pub(crate) fn write_too_long(out: &mut Vec<u8>, line: u64, start: &str, len: usize, max: usize) {
    write_line_head(out, line);
    out.extend_from_slice(b",\"input\":");
    write_str(out, start);
    out.extend_from_slice(b",\"status\":\"invalid\",\"error\":");
    write_str(
        out,
        &format!("line of {len} bytes is over the {max}-byte limit: not a marking code"),
    );
    out.extend_from_slice(b"}\n");
}

/// One line's answer after its `{"line":N`: `,"input","status","reasons"?,"ki"?,"error"?}`
/// and the newline.
pub(crate) fn write_line_body(out: &mut Vec<u8>, outcome: &Outcome<'_>) {
    let d = outcome.decision;
    out.extend_from_slice(b",\"input\":");
    write_bytes(out, outcome.input);
    out.extend_from_slice(match d.status() {
        Status::Allowed => b",\"status\":\"allowed\"",
        Status::Blocked => b",\"status\":\"blocked\"",
        Status::Invalid => b",\"status\":\"invalid\"",
    });
    if !d.reasons().is_empty() {
        out.extend_from_slice(b",\"reasons\":");
        write_names(out, d.reasons().iter().map(|r| r.name()));
    }
    if let Some(ki) = d.ki_bytes() {
        out.extend_from_slice(b",\"ki\":");
        write_bytes(out, ki);
    }
    if let Some(error) = outcome.error {
        out.extend_from_slice(b",\"error\":");
        write_str(out, &error.to_string());
    }
    out.extend_from_slice(b"}\n");
}
