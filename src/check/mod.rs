//! The offline check: parse a scanned code, look every reading up, and decide.
//!
//! A code is blocked when its КИ is banned, its GTIN is banned or grey (grey GTINs must be
//! decided online, so offline they are refused), its series is banned, or — when the caller
//! passes the sale price — the price is below the listed minimum or above the max retail
//! price printed in a tobacco code. An ambiguous input is blocked if any reading is.

mod decision;
mod engine;
pub mod json;

use rayon::prelude::*;
use serde::Serialize;

use crate::code::{Repair, Structure};
use crate::index::Index;

pub use decision::{Decision, Outcome, Reasons};
pub(crate) use engine::SoldSource;

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing in the offline lists forbids the sale.
    Allowed,
    /// At least one reason forbids the sale.
    Blocked,
    /// The input is not a usable marking code.
    Invalid,
}

/// Why a code is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The КИ is on the banned list.
    Cis,
    /// The GTIN is banned.
    Gtin,
    /// The GTIN is grey: only an online check may allow it.
    GreyGtin,
    /// The batch (AI 10) is a banned medicine series.
    Series,
    /// The sale price is below the listed minimum for the GTIN.
    BelowMinPrice,
    /// The sale price is above the max retail price carried in the code.
    AboveMaxPrice,
    /// The КИ is already sold at this point of sale and not returned.
    Sold,
}

impl Reason {
    /// Every reason, in the order verdicts list them.
    pub const ALL: [Reason; 7] = [
        Reason::Cis,
        Reason::Gtin,
        Reason::GreyGtin,
        Reason::Series,
        Reason::BelowMinPrice,
        Reason::AboveMaxPrice,
        Reason::Sold,
    ];

    /// This reason's bit in [`Reasons`] (the same bits as the C ABI's
    /// `CISGATE_REASON_*`). Explicit, so that reordering the enum changes nothing.
    pub const fn bit(self) -> u8 {
        match self {
            Reason::Cis => 1,
            Reason::Gtin => 1 << 1,
            Reason::GreyGtin => 1 << 2,
            Reason::Series => 1 << 3,
            Reason::BelowMinPrice => 1 << 4,
            Reason::AboveMaxPrice => 1 << 5,
            Reason::Sold => 1 << 6,
        }
    }

    /// Stable name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Cis => "cis",
            Reason::Gtin => "gtin",
            Reason::GreyGtin => "grey_gtin",
            Reason::Series => "series",
            Reason::BelowMinPrice => "below_min_price",
            Reason::AboveMaxPrice => "above_max_price",
            Reason::Sold => "sold",
        }
    }
}

/// Options of one check.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    /// The sale price in kopecks, to compare with the minimum and max retail prices.
    pub price_kopecks: Option<u64>,
}

/// One reading of an ambiguous input and what the lists say of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CandidateVerdict {
    /// The КИ of this reading.
    pub ki: String,
    /// Its structure.
    pub structure: Structure,
    /// Reasons that apply to it.
    pub reasons: Vec<Reason>,
}

/// The answer for one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The input as given.
    pub input: String,
    /// The decision.
    pub status: Status,
    /// Every reason that applies (over all readings), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// The КИ, when the input has exactly one reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ki: Option<String>,
    /// The GTIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    /// All readings, when there is more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateVerdict>,
    /// Listed minimum retail price for the GTIN, kopecks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price_kopecks: Option<u64>,
    /// Max retail price carried in a tobacco pack code, kopecks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retail_price_kopecks: Option<u32>,
    /// The sale price the caller passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_kopecks: Option<u64>,
    /// Repairs the parser applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<Repair>,
    /// Why the input is invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Database version of the index that answered.
    pub index_version: String,
    /// When that index's data was current (RFC 3339).
    pub as_of: String,
}

impl Verdict {
    /// Whether the sale must not go ahead (blocked or invalid).
    pub fn is_blocked(&self) -> bool {
        self.status != Status::Allowed
    }
}

impl Verdict {
    /// The rich verdict of one outcome of the check path: `version` and `as_of` are the
    /// answering generation's.
    pub fn of_outcome(
        outcome: &Outcome<'_>,
        options: &CheckOptions,
        version: &str,
        as_of: &str,
    ) -> Verdict {
        let decision = outcome.decision;
        let mut verdict = Verdict {
            input: String::from_utf8_lossy(outcome.input).into_owned(),
            status: decision.status(),
            reasons: decision.reasons().iter().collect(),
            ki: decision.ki().map(str::to_string),
            gtin: decision.gtin().map(str::to_string),
            candidates: Vec::new(),
            min_price_kopecks: decision.min_price_kopecks(),
            max_retail_price_kopecks: decision.max_retail_price_kopecks(),
            price_kopecks: options.price_kopecks,
            repaired: decision.repairs().iter().collect(),
            error: outcome.error.map(|e| e.to_string()),
            index_version: version.to_string(),
            as_of: as_of.to_string(),
        };
        if decision.is_ambiguous() {
            verdict.candidates = outcome
                .readings()
                .map(|(reading, reasons)| CandidateVerdict {
                    ki: String::from_utf8_lossy(reading.ki()).into_owned(),
                    structure: reading.structure(),
                    reasons: reasons.iter().collect(),
                })
                .collect();
        }
        verdict
    }
}

impl Index {
    /// Checks one scanned or typed code.
    pub fn check(&self, input: &str) -> Verdict {
        self.check_with(input, &CheckOptions::default())
    }

    /// Checks one code with options (the sale price).
    pub fn check_with(&self, input: &str, options: &CheckOptions) -> Verdict {
        self.verdicts(&[input], options, &SoldSource::Ignored)
            .pop()
            .expect("the check path answers every input")
    }

    /// Checks one code; `is_sold` says whether a canonical КИ is sold here (see
    /// [`crate::live::LiveIndex`], which keeps the sold journal).
    pub fn check_with_sold(
        &self,
        input: &str,
        options: &CheckOptions,
        is_sold: &dyn Fn(&[u8]) -> bool,
    ) -> Verdict {
        self.verdicts(&[input], options, &SoldSource::Custom(is_sold))
            .pop()
            .expect("the check path answers every input")
    }

    /// Checks many codes across all cores; results are in input order.
    pub fn check_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Vec<Verdict> {
        inputs
            .par_chunks(engine::PARALLEL_CHUNK)
            .flat_map_iter(|chunk| {
                let bytes: Vec<&[u8]> = chunk.iter().map(|s| s.as_ref().as_bytes()).collect();
                self.verdicts(&bytes, options, &SoldSource::Ignored)
            })
            .collect()
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
