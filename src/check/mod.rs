//! The offline check: parse a scanned code, look every reading up, and decide.
//!
//! A code is blocked when its КИ is banned, its GTIN is banned or grey (grey GTINs must be
//! decided online, so offline they are refused), its series is banned, or — when the caller
//! passes the sale price — the price is below the listed minimum or above the max retail
//! price printed in a tobacco code. An ambiguous input is blocked if any reading is.

mod decision;
mod engine;
pub(crate) mod parallel;
mod reason;
mod verdict;

use crate::index::Index;

pub use decision::{Decision, Outcome, Reasons};
pub(crate) use engine::SoldSource;
pub use reason::{CheckOptions, Reason, Status};
pub use verdict::{CandidateVerdict, Verdict};

impl Index {
    /// Checks one scanned or typed code: a [`Decision`] (status, reasons, the КИ and GTIN
    /// inline), no heap allocation for the forms scanners send. [`explain`](Self::explain)
    /// gives every reading and the parser's message.
    pub fn check(&self, input: &str) -> Decision {
        self.check_with(input, &CheckOptions::default())
    }

    /// Checks one code with options (the sale price).
    pub fn check_with(&self, input: &str, options: &CheckOptions) -> Decision {
        let mut out = [Decision::default()];
        self.check_batch_into(&[input], options, &mut out);
        out[0]
    }

    /// Checks many codes across all cores; decisions in input order (one allocation for
    /// the batch, none per code).
    pub fn check_batch<S: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Vec<Decision> {
        let mut out = vec![Decision::default(); inputs.len()];
        parallel::spread_into(inputs, &mut out, |chunk, slots| {
            self.check_batch_into(chunk, options, slots)
        });
        out
    }

    /// Decides each input into `out[i]` on the calling thread, without allocating for
    /// the forms scanners send (see [`Decision`]). The sold list is not consulted (that is
    /// [`crate::live::LiveIndex`]'s). `out` must be as long as `inputs`; extra entries are
    /// left alone.
    pub fn check_batch_into<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        out: &mut [Decision],
    ) {
        self.decide_each(inputs, options, &SoldSource::Ignored, |i, outcome| {
            if let Some(slot) = out.get_mut(i) {
                *slot = *outcome.decision;
            }
        });
    }

    /// The rich form of [`check_with`](Self::check_with), on request: the input, every
    /// reading of an ambiguous code with its own reasons, the repairs and the parser's
    /// message, the index's version and `as_of` (a [`Verdict`], built on the heap).
    pub fn explain(&self, input: &str, options: &CheckOptions) -> Verdict {
        self.explain_sold(input, options, &SoldSource::Ignored)
    }

    /// [`explain`](Self::explain) for many codes across all cores, in input order.
    pub fn explain_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Vec<Verdict> {
        self.explain_batch_sold(inputs, options, &SoldSource::Ignored)
    }

    /// [`explain`](Self::explain) with the sold state of `sold` (a live index's journal).
    pub(crate) fn explain_sold(
        &self,
        input: &str,
        options: &CheckOptions,
        sold: &SoldSource<'_>,
    ) -> Verdict {
        self.verdicts(&[input], options, sold)
            .pop()
            .expect("the check path answers every input")
    }

    /// [`explain_batch`](Self::explain_batch) with the sold state of `sold`.
    pub(crate) fn explain_batch_sold<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        sold: &SoldSource<'_>,
    ) -> Vec<Verdict> {
        parallel::spread(inputs, |chunk| {
            let bytes: Vec<&[u8]> = chunk.iter().map(|s| s.as_ref().as_bytes()).collect();
            self.verdicts(&bytes, options, sold)
        })
        .concat()
    }

    /// Rich verdicts of `inputs` on the calling thread.
    pub(crate) fn verdicts<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        sold: &SoldSource<'_>,
    ) -> Vec<Verdict> {
        let version = &self.manifest().version;
        let as_of = self.as_of_text();
        let mut out = Vec::with_capacity(inputs.len());
        self.decide_each(inputs, options, sold, |_, outcome| {
            out.push(Verdict::of_outcome(outcome, options, version, as_of));
        });
        out
    }
}
