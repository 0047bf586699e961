//! The rich verdict: a [`Decision`](super::decision::Decision)'s facts as owned strings,
//! with every reading of an ambiguous input and the parser's message, for callers that
//! keep or serialise answers (`cisgate check`, tests, tools).

use serde::Serialize;

use super::decision::Outcome;
use super::reason::{CheckOptions, Reason, Status};
use crate::code::{Repair, Structure};

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
