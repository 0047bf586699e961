//! Every answer cisgate writes, in one place, straight from the check path's outcomes into
//! byte buffers (no `Verdict` built, no allocation per code): the verdict as a JSON line
//! ([`VerdictContext`]), the compact TSV line, the line of a code refused because the data
//! is too old, the Local Module's outCheck results, and the native endpoint's lines.
//! [`write_lines`] checks a batch across the cores and writes its lines in order; it is
//! what `cisgate check` prints. The JSON helpers are crate-private.

mod json;
mod lines;
#[cfg(feature = "serve")]
pub(crate) mod lm;
#[cfg(feature = "serve")]
pub(crate) mod native;
mod tsv;
mod verdict;

pub use lines::{AnswerCounts, LineFormat, write_lines, write_refused_lines};
pub use verdict::VerdictContext;
