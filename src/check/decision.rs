//! The compact answer of the check path: what a till needs to decide a sale, inline.

use super::reason::{Reason, Status};
use crate::code::{MAX_KI_LEN, ParseError, Reading, Repairs};

/// A set of [`Reason`]s in one byte ([`Reason::bit`]).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u8);

impl Reasons {
    /// The status these reasons give a readable code: blocked by any, else allowed.
    #[inline]
    fn status(self) -> Status {
        if self.is_empty() {
            Status::Allowed
        } else {
            Status::Blocked
        }
    }

    /// No reason.
    pub const NONE: Reasons = Reasons(0);

    /// The set with these bits (bits no reason uses are dropped).
    pub fn from_bits(bits: u8) -> Reasons {
        let all = Reason::ALL.iter().fold(0, |a, r| a | r.bit());
        Reasons(bits & all)
    }

    /// The bits ([`Reason::bit`], the C ABI's `CISGATE_REASON_*`).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Adds a reason.
    #[inline]
    pub fn insert(&mut self, reason: Reason) {
        self.0 |= reason.bit();
    }

    /// Adds `reason` when `yes`.
    #[inline]
    pub(crate) fn insert_if(&mut self, reason: Reason, yes: bool) {
        self.0 |= reason.bit() * u8::from(yes);
    }

    /// Whether the set holds `reason`.
    #[inline]
    pub fn contains(self, reason: Reason) -> bool {
        self.0 & reason.bit() != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets.
    #[inline]
    pub fn union(self, other: Reasons) -> Reasons {
        Reasons(self.0 | other.0)
    }

    /// The reasons in the order verdicts list them ([`Reason::ALL`]).
    pub fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl std::fmt::Debug for Reasons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The answer for one input, with no heap behind it: status, reasons, prices, the КИ and
/// GTIN inline, the repairs. The check path writes one per input; the rich
/// [`super::Verdict`] (strings, every reading of an ambiguous input, the parser's message)
/// is built from an [`Outcome`] only where an answer needs it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    status: Status,
    reasons: Reasons,
    repairs: Repairs,
    ambiguous: bool,
    min_price_kopecks: Option<u64>,
    max_retail_price_kopecks: Option<u32>,
    ki: [u8; MAX_KI_LEN],
    ki_len: u8,
    gtin: [u8; 14],
    has_gtin: bool,
}

impl Default for Decision {
    /// An invalid input's decision (what a buffer holds before the check writes it).
    fn default() -> Self {
        Decision {
            status: Status::Invalid,
            reasons: Reasons::NONE,
            repairs: Repairs::default(),
            ambiguous: false,
            min_price_kopecks: None,
            max_retail_price_kopecks: None,
            ki: [0; MAX_KI_LEN],
            ki_len: 0,
            gtin: [0; 14],
            has_gtin: false,
        }
    }
}

impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decision")
            .field("status", &self.status)
            .field("reasons", &self.reasons)
            .field("ki", &self.ki())
            .field("gtin", &self.gtin())
            .field("ambiguous", &self.ambiguous)
            .field("repairs", &self.repairs)
            .field("min_price_kopecks", &self.min_price_kopecks)
            .field("max_retail_price_kopecks", &self.max_retail_price_kopecks)
            .finish()
    }
}

impl Decision {
    /// The decision over the readings of one input (none: the input is invalid) and the
    /// reasons found for each.
    pub(crate) fn of_readings(
        readings: &[Reading],
        reasons: &[Reasons],
        min_prices: &[Option<u64>],
        repairs: Repairs,
    ) -> Decision {
        let (Some(first), Some(&first_reasons), Some(&first_price)) =
            (readings.first(), reasons.first(), min_prices.first())
        else {
            return Decision::default();
        };
        let mut decision = Decision::of_reading(first, first_reasons, first_price, repairs);
        if readings.len() == 1 {
            return decision;
        }
        // Read several ways: every reading's reasons and prices count; no single КИ, and
        // a GTIN only when every reading has the same.
        for ((reading, reasons), min_price) in readings.iter().zip(reasons).zip(min_prices) {
            decision.reasons = decision.reasons.union(*reasons);
            decision.min_price_kopecks = decision.min_price_kopecks.max(*min_price);
            decision.max_retail_price_kopecks =
                decision.max_retail_price_kopecks.or(reading.mrp_kopecks());
        }
        decision.status = decision.reasons.status();
        decision.ambiguous = true;
        decision.ki = [0; MAX_KI_LEN];
        decision.ki_len = 0;
        if readings.iter().any(|r| r.gtin() != first.gtin()) {
            decision.gtin = [0; 14];
            decision.has_gtin = false;
        }
        decision
    }

    /// The decision over an input's one reading (what almost every input has): the
    /// general case's answer without its loops.
    #[inline]
    fn of_reading(
        reading: &Reading,
        reasons: Reasons,
        min_price: Option<u64>,
        repairs: Repairs,
    ) -> Decision {
        let (ki, ki_len) = reading.ki_buffer();
        let (gtin, has_gtin) = match <[u8; 14]>::try_from(reading.gtin()) {
            Ok(gtin) => (gtin, true),
            Err(_) => ([0; 14], false),
        };
        Decision {
            status: reasons.status(),
            reasons,
            repairs,
            ambiguous: false,
            min_price_kopecks: min_price,
            max_retail_price_kopecks: reading.mrp_kopecks(),
            ki: *ki,
            ki_len,
            gtin,
            has_gtin,
        }
    }

    /// The decision.
    #[inline]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether the sale must not go ahead (blocked or invalid).
    #[inline]
    pub fn is_blocked(&self) -> bool {
        self.status != Status::Allowed
    }

    /// Every reason that applies, over all readings.
    #[inline]
    pub fn reasons(&self) -> Reasons {
        self.reasons
    }

    /// The КИ, when the input has exactly one reading.
    #[inline]
    pub fn ki(&self) -> Option<&str> {
        self.ki_bytes()
            .map(|ki| std::str::from_utf8(ki).unwrap_or_default())
    }

    /// The КИ's bytes (GS1 characters, all ASCII), when the input has exactly one reading.
    #[inline]
    pub fn ki_bytes(&self) -> Option<&[u8]> {
        let ki = &self.ki[..usize::from(self.ki_len)];
        (!ki.is_empty()).then_some(ki)
    }

    /// The GTIN, when every reading has the same.
    #[inline]
    pub fn gtin(&self) -> Option<&str> {
        self.gtin_bytes()
            .map(|g| std::str::from_utf8(g).unwrap_or_default())
    }

    /// The GTIN's 14 digits, when every reading has the same.
    #[inline]
    pub fn gtin_bytes(&self) -> Option<&[u8]> {
        self.has_gtin.then_some(&self.gtin[..])
    }

    /// The КИ followed by zeros to [`MAX_KI_LEN`] bytes; all zeros when
    /// [`ki`](Self::ki) is `None`. A copy of a fixed size, for buffers such as C's.
    #[inline]
    pub fn ki_zero_padded(&self) -> &[u8; MAX_KI_LEN] {
        &self.ki
    }

    /// The GTIN's 14 digits, or 14 zeros when [`gtin`](Self::gtin) is `None`.
    #[inline]
    pub fn gtin_or_zeros(&self) -> &[u8; 14] {
        &self.gtin
    }

    /// Whether the input reads as more than one КИ (then [`ki`](Self::ki) is `None`).
    #[inline]
    pub fn is_ambiguous(&self) -> bool {
        self.ambiguous
    }

    /// The repairs the parser applied, in order.
    #[inline]
    pub fn repairs(&self) -> Repairs {
        self.repairs
    }

    /// The listed minimum retail price for the GTIN, kopecks.
    #[inline]
    pub fn min_price_kopecks(&self) -> Option<u64> {
        self.min_price_kopecks
    }

    /// The max retail price carried in a tobacco pack code, kopecks.
    #[inline]
    pub fn max_retail_price_kopecks(&self) -> Option<u32> {
        self.max_retail_price_kopecks
    }
}

/// What the check path hands each front door for one input: the input, its [`Decision`],
/// every reading with its own reasons (more than one only for an ambiguous input), and the
/// parser's error for an invalid one. Borrowed from the check's scratch for the duration of
/// one callback.
pub struct Outcome<'a> {
    /// The input as given.
    pub input: &'a [u8],
    /// The decision.
    pub decision: &'a Decision,
    /// Why the input is invalid.
    pub error: Option<&'a ParseError>,
    pub(crate) readings: &'a [Reading],
    pub(crate) reasons: &'a [Reasons],
}

impl Outcome<'_> {
    /// Every reading with the reasons that apply to it.
    pub fn readings(&self) -> impl Iterator<Item = (&Reading, Reasons)> {
        self.readings.iter().zip(self.reasons.iter().copied())
    }
}
