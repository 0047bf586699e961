//! What embedded nodes and the store's `serve` (the sold authority) say to each other,
//! as JSON over HTTP: a node registers sales and returns, and follows the store's sold
//! feed.
//!
//! ```text
//! POST /api/cisgate/v1/sold/register   {"op":"sell","items":[{"ki":"01…","time":1796…}],"queued":false}
//!   → {"results":[{"ki":"01…","outcome":"applied"}]}        applied | already | conflict | refused
//! GET  /api/cisgate/v1/sold/feed?journal=sold-000001.journal&after=4711&wait_ms=20000
//!   → {"journal":"sold-000001.journal","next":4790,"events":[{"op":"sell","ki":"01…","time":1796…}]}
//!   → {"journal":"…","next":…,"events":[],"reset":[{"ki":"01…","time":…}]}   (every sold КИ)
//! ```
//!
//! Both need `Authorization: Token <the node's token>` (serve.json `nodes`); a token is
//! never in a URL.

use serde::{Deserialize, Serialize};

use crate::journal::SaleOp;

/// The path of a node's sales and returns.
pub const REGISTER_PATH: &str = "/api/cisgate/v1/sold/register";
/// The path of the sold feed.
pub const FEED_PATH: &str = "/api/cisgate/v1/sold/feed";

/// Sale or return, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireOp {
    /// A sale.
    Sell,
    /// A return.
    Return,
}

impl From<SaleOp> for WireOp {
    fn from(op: SaleOp) -> Self {
        match op {
            SaleOp::Sell => WireOp::Sell,
            SaleOp::Return => WireOp::Return,
        }
    }
}

impl From<WireOp> for SaleOp {
    fn from(op: WireOp) -> Self {
        match op {
            WireOp::Sell => SaleOp::Sell,
            WireOp::Return => SaleOp::Return,
        }
    }
}

/// One КИ and when it was sold or returned (Unix ms). The time is the identity of a sale:
/// a retry carries the same time, so the authority can tell it from a second sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleItem {
    /// The КИ (canonical).
    pub ki: String,
    /// When, Unix ms.
    pub time: i64,
}

/// A node's sales or returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Sale or return.
    pub op: WireOp,
    /// The codes.
    pub items: Vec<SaleItem>,
    /// Made while the authority was unreachable and forwarded now: a code sold meanwhile
    /// elsewhere is a conflict to report, not a refusal.
    #[serde(default)]
    pub queued: bool,
}

/// What became of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Written to the store's journal.
    Applied,
    /// The store already had exactly this (a retry after a lost answer).
    Already,
    /// A queued sale of a code the store had sold meanwhile at another till: both sales
    /// are kept and the conflict is reported.
    Conflict,
    /// Not written: already sold, not sold, or not a КИ (`reason` says).
    Refused,
}

/// One item's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The КИ.
    pub ki: String,
    /// What became of it.
    pub outcome: ItemOutcome,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The authority's answer to a [`RegisterRequest`], item by item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// In request order.
    pub results: Vec<ItemResult>,
}

/// A sale or return in the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Sale or return.
    pub op: WireOp,
    /// The КИ.
    pub ki: String,
    /// When, Unix ms.
    pub time: i64,
}

/// A page of the store's sold feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// The store's journal the positions are in (a new one after a compaction).
    pub journal: String,
    /// Where the next page starts.
    pub next: u64,
    /// Sales and returns in journal order.
    pub events: Vec<FeedEvent>,
    /// Every code sold at the store now, when the node must start over (its first page,
    /// or a new journal): what it holds that is not here (and not queued) was returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Vec<SaleItem>>,
}
