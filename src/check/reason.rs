//! What a check says: the status, the reasons, and the options of a check. A leaf of the
//! check path: the decision, the engine and the verdict are built from these.

use serde::Serialize;

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

    /// This reason's bit in [`Reasons`](super::Reasons) (the same bits as the C ABI's
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
