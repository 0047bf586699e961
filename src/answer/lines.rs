//! A batch of answer lines: checked across the cores through one view, written in input
//! order; and the lines of a batch refused because the data is too old.

use serde::Serialize;

use super::tsv::write_tsv_line;
use super::verdict::VerdictContext;
use crate::check::{CheckOptions, Status, parallel};
use crate::live::CheckView;

/// How answer lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON verdict per line.
    Json,
    /// One `status<TAB>reasons<TAB>КИ` line per code (reasons by name, comma-separated).
    Tsv,
}

/// How many answers of each kind a batch got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerCounts {
    /// Allowed.
    pub allowed: u64,
    /// Blocked.
    pub blocked: u64,
    /// Not a marking code.
    pub invalid: u64,
    /// Refused: the data is older than the allowed period.
    pub refused: u64,
}

impl AnswerCounts {
    /// Every answer.
    pub fn total(&self) -> u64 {
        self.allowed + self.blocked + self.invalid + self.refused
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: AnswerCounts) {
        self.allowed += other.allowed;
        self.blocked += other.blocked;
        self.invalid += other.invalid;
        self.refused += other.refused;
    }
}

/// Checks `inputs` through `view` across the cores and appends one answer line per input
/// to `out`, in input order.
pub fn write_lines<S: AsRef<[u8]> + Sync>(
    view: &CheckView<'_>,
    inputs: &[S],
    options: &CheckOptions,
    format: LineFormat,
    out: &mut Vec<u8>,
) -> AnswerCounts {
    let manifest = view.index().manifest();
    let context = VerdictContext::new(&manifest.version, view.index().as_of_text(), options);
    let parts = parallel::spread(inputs, |inputs| {
        let mut buf = Vec::with_capacity(inputs.len() * 200);
        let mut counts = AnswerCounts::default();
        view.check_each(inputs, options, |_, outcome| {
            match outcome.decision.status() {
                Status::Allowed => counts.allowed += 1,
                Status::Blocked => counts.blocked += 1,
                Status::Invalid => counts.invalid += 1,
            }
            match format {
                LineFormat::Json => context.write_line(&mut buf, outcome),
                LineFormat::Tsv => write_tsv_line(&mut buf, outcome),
            }
        });
        (buf, counts)
    });
    let mut counts = AnswerCounts::default();
    for (buf, part) in parts {
        out.extend_from_slice(&buf);
        counts.add(part);
    }
    counts
}

/// The line of a code that is not checked because the data is too old.
#[derive(Serialize)]
struct Refused<'a> {
    input: &'a str,
    status: &'static str,
    reasons: [&'static str; 1],
    age_hours: f64,
    max_age_hours: f64,
    index_version: &'a str,
    as_of: String,
}

/// Appends the line of every input refused because the data of `view`'s generation is
/// `age_hours` old, over the allowed `max_age_hours` ([`LiveError::Stale`]): every code
/// still gets its answer, `refused` for the reason `stale`.
///
/// [`LiveError::Stale`]: crate::live::LiveError::Stale
pub fn write_refused_lines<S: AsRef<[u8]>>(
    generation: &crate::index::Index,
    inputs: &[S],
    age_hours: f64,
    max_age_hours: f64,
    format: LineFormat,
    out: &mut Vec<u8>,
) -> AnswerCounts {
    let manifest = generation.manifest();
    for input in inputs {
        if format == LineFormat::Tsv {
            out.extend_from_slice(b"refused\tstale\t\n");
            continue;
        }
        let line = Refused {
            input: &String::from_utf8_lossy(input.as_ref()),
            status: "refused",
            reasons: ["stale"],
            age_hours,
            max_age_hours,
            index_version: &manifest.version,
            as_of: crate::time::format_rfc3339(manifest.as_of_ms),
        };
        // Serialising plain fields into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }
    AnswerCounts {
        refused: inputs.len() as u64,
        ..AnswerCounts::default()
    }
}
