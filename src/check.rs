//! The offline check: parse a scanned code, look every reading up, and decide.
//!
//! A code is blocked when its КИ is banned, its GTIN is banned or grey (grey GTINs must be
//! decided online, so offline they are refused), its series is banned, or — when the caller
//! passes the sale price — the price is below the listed minimum or above the max retail
//! price printed in a tobacco code. An ambiguous input is blocked if any reading is.

use rayon::prelude::*;
use serde::Serialize;

use crate::code::{self, Code, Repair, Structure};
use crate::index::{Index, Table};
use crate::list::gtin_flags;

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

impl Index {
    /// Checks one scanned or typed code.
    pub fn check(&self, input: &str) -> Verdict {
        self.check_with(input, &CheckOptions::default())
    }

    /// Checks one code with options (the sale price).
    pub fn check_with(&self, input: &str, options: &CheckOptions) -> Verdict {
        self.check_with_sold(input, options, &|_| false)
    }

    /// Checks one code; `is_sold` says whether a canonical КИ is sold here (see
    /// [`crate::live::LiveIndex`], which keeps the sold journal).
    pub fn check_with_sold(
        &self,
        input: &str,
        options: &CheckOptions,
        is_sold: &dyn Fn(&[u8]) -> bool,
    ) -> Verdict {
        let manifest = self.manifest();
        let mut verdict = Verdict {
            input: input.to_string(),
            status: Status::Invalid,
            reasons: Vec::new(),
            ki: None,
            gtin: None,
            candidates: Vec::new(),
            min_price_kopecks: None,
            max_retail_price_kopecks: None,
            price_kopecks: options.price_kopecks,
            repaired: Vec::new(),
            error: None,
            index_version: manifest.version.clone(),
            as_of: self.as_of_text().to_string(),
        };
        let parsed = match code::parse(input) {
            Ok(p) => p,
            Err(e) => {
                verdict.error = Some(e.to_string());
                return verdict;
            }
        };
        for candidate in &parsed.candidates {
            let (mut reasons, min_price) = self.reasons_for(candidate, options);
            if is_sold(candidate.ki.as_bytes()) {
                reasons.push(Reason::Sold);
            }
            verdict.reasons.extend(&reasons);
            verdict.min_price_kopecks = verdict.min_price_kopecks.max(min_price);
            verdict.max_retail_price_kopecks =
                verdict.max_retail_price_kopecks.or(candidate.mrp_kopecks);
            if parsed.is_ambiguous() {
                verdict.candidates.push(CandidateVerdict {
                    ki: candidate.ki.clone(),
                    structure: candidate.structure,
                    reasons,
                });
            }
        }
        verdict.reasons.sort_unstable();
        verdict.reasons.dedup();
        let same_gtin = parsed
            .candidates
            .iter()
            .all(|c| c.gtin == parsed.candidates[0].gtin);
        let single = !parsed.is_ambiguous();
        verdict.repaired = parsed.repairs;
        // Owned from here on: the strings move into the verdict instead of being copied.
        let mut candidates = parsed.candidates;
        if let Some(first) = candidates.first_mut() {
            if same_gtin {
                verdict.gtin = Some(std::mem::take(&mut first.gtin));
            }
            if single {
                verdict.ki = Some(std::mem::take(&mut first.ki));
            }
        }
        verdict.status = if verdict.reasons.is_empty() {
            Status::Allowed
        } else {
            Status::Blocked
        };
        verdict
    }

    /// Checks many codes across all cores; results are in input order.
    pub fn check_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Vec<Verdict> {
        inputs
            .par_iter()
            .map(|s| self.check_with(s.as_ref(), options))
            .collect()
    }

    fn reasons_for(&self, code: &Code, options: &CheckOptions) -> (Vec<Reason>, Option<u64>) {
        let mut reasons = Vec::new();
        if self.contains_ki(code.ki.as_bytes()) {
            reasons.push(Reason::Cis);
        }
        let gtin = code.gtin.as_bytes();
        if let Some(flags) = self.get(Table::BlockedGtin, gtin) {
            if flags & gtin_flags::BLOCKED != 0 {
                reasons.push(Reason::Gtin);
            }
            if flags & gtin_flags::GREY != 0 {
                reasons.push(Reason::GreyGtin);
            }
        }
        if let Some(batch) = &code.batch {
            let mut key = Vec::with_capacity(14 + batch.len());
            key.extend_from_slice(gtin);
            key.extend_from_slice(batch.as_bytes());
            if self.get(Table::BlockedSeries, &key).is_some() {
                reasons.push(Reason::Series);
            }
        }
        let min_price = self.get(Table::MinPrice, gtin);
        if let Some(price) = options.price_kopecks {
            if min_price.is_some_and(|min| price < min) {
                reasons.push(Reason::BelowMinPrice);
            }
            if code.mrp_kopecks.is_some_and(|mrp| price > u64::from(mrp)) {
                reasons.push(Reason::AboveMaxPrice);
            }
        }
        (reasons, min_price)
    }
}
