//! What the online adapter answers: which path decided, the decision, the receipt marker,
//! why online did not decide, and True API's answer.

use serde::Serialize;

use super::decide::Denial;
use crate::check::Verdict;

/// Which path decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// True API answered within the budget.
    Online,
    /// The offline index answered.
    Offline,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleDecision {
    /// The sale may go ahead.
    Allowed,
    /// The sale must not go ahead; [`OnlineVerdict::denials`] says why.
    Denied,
}

/// The marker the cash software prints on the receipt line of a marked product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReceiptMarker {
    /// `[M+]`: the online check answered and passed.
    #[serde(rename = "[M+]")]
    Confirmed,
    /// `[M]`: the sale goes ahead without an online confirmation.
    #[serde(rename = "[M]")]
    Unconfirmed,
}

impl ReceiptMarker {
    /// The printed text.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptMarker::Confirmed => "[M+]",
            ReceiptMarker::Unconfirmed => "[M]",
        }
    }
}

/// Why the online check did not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No host is known (the CDN list could not be fetched).
    NoHosts,
    /// The budget ran out.
    Timeout,
    /// A host answered 401: the token is wrong or expired. Other hosts are not asked.
    Unauthorized,
    /// A host refused the request (another 4xx, or a non-zero `code`). Not retried.
    Rejected,
    /// Every host failed (refused, reset, 429/5xx twice, malformed answers).
    AllHostsFailed,
    /// The answer for this code was not the documented JSON.
    Malformed,
    /// Online checks have been failing for longer than the outage period: not asked.
    Outage,
}

/// Why the online check did not decide, with the detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OnlineFailure {
    /// The kind.
    pub kind: FailureKind,
    /// What happened, host by host where it applies.
    pub detail: String,
}

impl OnlineFailure {
    pub(crate) fn new(kind: FailureKind, detail: impl Into<String>) -> OnlineFailure {
        OnlineFailure {
            kind,
            detail: detail.into(),
        }
    }
}

/// One request to one host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// The host's base URL.
    pub host: String,
    /// `ok`, or what went wrong.
    pub outcome: String,
    /// How long it took.
    pub elapsed_ms: f64,
}

/// What True API said of the code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnlineAnswer {
    /// The host that answered.
    pub host: String,
    /// The request id.
    pub req_id: String,
    /// The server's request time, Unix ms.
    pub req_timestamp: i64,
    /// The code's `codes[]` entry as sent, every field included.
    pub fields: serde_json::Value,
}

/// The answer for one scanned code, whichever path gave it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnlineVerdict {
    /// The input as given.
    pub input: String,
    /// Which path decided.
    pub answered_by: AnsweredBy,
    /// The decision.
    pub decision: SaleDecision,
    /// Every reason for a denial; online ones in CRPT's order, the first is the one to show.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<Denial>,
    /// The receipt marker when the sale may go ahead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<ReceiptMarker>,
    /// The value of fiscal tag 1265.
    pub tag_1265: String,
    /// Why online did not decide (offline answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_failure: Option<OnlineFailure>,
    /// Whether the outage rule skipped the online request.
    pub outage_mode: bool,
    /// True API's answer, when there was one for this code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineAnswer>,
    /// The offline verdict, when the offline index answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<Verdict>,
    /// Why the offline index could not answer either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_error: Option<String>,
    /// The online requests made for this call, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// Time spent in the call.
    pub elapsed_ms: f64,
}

impl OnlineVerdict {
    /// Whether the sale must not go ahead.
    pub fn is_denied(&self) -> bool {
        self.decision == SaleDecision::Denied
    }
}
