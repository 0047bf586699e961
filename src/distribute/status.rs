//! What the fleet looks like from the builder: every node reports after each pull round
//! (`status/<node>.json`, written with the node's own store key, which may write only
//! there), and [`fleet`] reads the reports back.
//!
//! ```text
//! s3://bucket/prefix/status/<node>.json
//!   {"format": "cisgate-node-status", "format_version": 1, "node": "...",
//!    "reported_ms": ..., "version": "...", "content_digest": "...", "generation": ...,
//!    "as_of_ms": ..., "pointer_sequence": ..., "pointer_expires_ms": ...,
//!    "last_success_ms": ..., "last_error": null | "...", "software": "0.1.0"}
//! ```

use serde::{Deserialize, Serialize};

use super::error::DistributeError;
use super::pointer::channel_key;
use super::remote::{Remote, TransferPolicy};
use super::store::Store;
use super::transfer::with_retries;

/// The key prefix of node reports.
pub(crate) const STATUS_PREFIX: &str = "status/";
const STATUS_FORMAT: &str = "cisgate-node-status";
const STATUS_VERSION: u32 = 1;

/// What a node reports after a pull round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Always `cisgate-node-status`.
    pub format: String,
    /// Its version (1).
    pub format_version: u32,
    /// The node's name (`pull --node`, else its index's instance id).
    pub node: String,
    /// When it reported, Unix ms.
    pub reported_ms: i64,
    /// The data version it holds.
    pub version: Option<String>,
    /// The content digest of what it holds.
    pub content_digest: Option<String>,
    /// Its generation number.
    pub generation: Option<u64>,
    /// When its data was current, Unix ms.
    pub as_of_ms: Option<i64>,
    /// The sequence of the pointer it last accepted.
    pub pointer_sequence: Option<u64>,
    /// When that pointer expires, Unix ms (then the node refuses it: frozen).
    pub pointer_expires_ms: Option<i64>,
    /// The last round that succeeded, Unix ms.
    pub last_success_ms: Option<i64>,
    /// The last round's error, `None` when it succeeded.
    pub last_error: Option<String>,
    /// The software's version.
    pub software: String,
    /// When the node switched to the generation it holds, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_ms: Option<i64>,
    /// When the pointer it switched on was published, Unix ms: its lag is
    /// `switched_ms` minus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer_published_ms: Option<i64>,
    /// When the change behind that pointer reached the builder, Unix ms: its time to
    /// block is `switched_ms` minus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer_received_ms: Option<i64>,
    /// What the node is: `node` (a store or till that pulls), `builder` (the head
    /// office's ingest service).
    #[serde(default = "node_role", skip_serializing_if = "is_node_role")]
    pub role: String,
    /// A builder's own facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<BuilderStatus>,
    /// A store's checks and sales per day (a `serve` that pulls reports them), newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<DayCounts>,
}

fn node_role() -> String {
    "node".into()
}

fn is_node_role(role: &String) -> bool {
    role == "node"
}

/// What a builder reports besides what every node does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BuilderStatus {
    /// The last file taken from the inbox, and when (Unix ms).
    pub last_file: Option<String>,
    /// When it was taken.
    pub last_file_ms: Option<i64>,
    /// The last publish, Unix ms.
    pub last_publish_ms: Option<i64>,
    /// Files waiting in the inbox (a delta for its parent, or just arrived).
    pub queue: u64,
    /// Files rejected since the builder started.
    pub rejected: u64,
    /// The last rejected file and why.
    pub last_rejected: Option<String>,
}

/// One day of a store's offline answers and sales (local date of the store).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    /// The date, `YYYY-MM-DD` in the store's time zone.
    pub date: String,
    /// Codes checked offline.
    pub checks: u64,
    /// Checks refused or blocked.
    pub refusals: u64,
    /// Sales registered.
    pub sales: u64,
}

impl NodeStatus {
    /// A report of node `node` now.
    pub(crate) fn new(node: &str, now: i64) -> NodeStatus {
        NodeStatus {
            format: STATUS_FORMAT.into(),
            format_version: STATUS_VERSION,
            node: node.to_string(),
            reported_ms: now,
            version: None,
            content_digest: None,
            generation: None,
            as_of_ms: None,
            pointer_sequence: None,
            pointer_expires_ms: None,
            last_success_ms: None,
            last_error: None,
            software: env!("CARGO_PKG_VERSION").into(),
            switched_ms: None,
            pointer_published_ms: None,
            pointer_received_ms: None,
            role: node_role(),
            builder: None,
            days: Vec::new(),
        }
    }
}

/// The key of node `node`'s report (a name that is safe as a key).
pub(crate) fn status_key(node: &str) -> String {
    let safe: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{STATUS_PREFIX}{safe}.json")
}

/// Writes a node's report, giving up after `limit` (it must not hold up the pull).
pub(crate) fn report(
    store: &Store,
    status: &NodeStatus,
    limit: std::time::Duration,
) -> Result<(), DistributeError> {
    let json = serde_json::to_vec_pretty(status)
        .map_err(|e| DistributeError::Invalid(format!("cannot encode the status: {e}")))?;
    store.put_within(&status_key(&status.node), json, limit)
}

/// How a node is doing, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Its data is older than the limit: its tills refuse offline sales.
    Stale,
    /// The pointer it holds has expired: it refuses it and cannot update (a frozen feed).
    Frozen,
    /// It has not reported for longer than the silence limit: stopped, or cut off.
    Silent,
    /// Its last round failed (it still answers from what it holds).
    Failing,
    /// Up to date or pulling fine, but not on the channel's current data.
    Behind,
    /// Holds what the channel points at.
    Current,
}

impl NodeState {
    /// Whether an operator must act.
    pub fn needs_attention(self) -> bool {
        self <= NodeState::Failing
    }

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Stale => "stale",
            NodeState::Frozen => "frozen",
            NodeState::Silent => "silent",
            NodeState::Failing => "failing",
            NodeState::Behind => "behind",
            NodeState::Current => "current",
        }
    }
}

/// One node as the fleet report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct FleetNode {
    /// Its state.
    pub state: NodeState,
    /// How old its data is, hours.
    pub data_age_hours: Option<f64>,
    /// Hours since its last report.
    pub silent_hours: f64,
    /// Its lag: for a node on the channel's current pointer, how long after the publish
    /// it switched; for one behind, how long since the channel moved past it. Ms.
    pub lag_ms: Option<i64>,
    /// For a node on the channel's current pointer: how long after the change reached the
    /// builder it switched (its time to block), ms.
    pub time_to_block_ms: Option<i64>,
    /// What it reported.
    pub status: NodeStatus,
}

/// The last publish's time to block across the nodes that report: from the change
/// reaching the builder to each node switching.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeToBlock {
    /// Nodes on the channel's current pointer.
    pub switched: usize,
    /// Nodes not on it yet.
    pub pending: usize,
    /// Median, ms.
    pub p50_ms: Option<i64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<i64>,
    /// Slowest, ms.
    pub max_ms: Option<i64>,
}

impl TimeToBlock {
    /// The summary of per-node times (`None`: not switched yet).
    pub fn of(times: impl IntoIterator<Item = Option<i64>>) -> TimeToBlock {
        let mut done: Vec<i64> = Vec::new();
        let mut pending = 0;
        for t in times {
            match t {
                Some(t) => done.push(t),
                None => pending += 1,
            }
        }
        done.sort_unstable();
        let at = |q: f64| {
            (!done.is_empty())
                .then(|| done[((done.len() as f64 * q).ceil() as usize).clamp(1, done.len()) - 1])
        };
        TimeToBlock {
            switched: done.len(),
            pending,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: done.last().copied(),
        }
    }
}

/// The fleet: every node that reported, most urgent first, the builders, and what the
/// channel points at.
#[derive(Clone, Debug, Serialize)]
pub struct FleetReport {
    /// The channel's version and content digest, when its pointer is readable (not
    /// verified: this is a report, not a pull).
    pub channel_version: Option<String>,
    /// The channel's content digest.
    pub channel_digest: Option<String>,
    /// The channel's pointer sequence.
    pub channel_sequence: Option<u64>,
    /// When the channel's pointer was published, Unix ms.
    pub channel_published_ms: Option<i64>,
    /// When its change reached the builder, Unix ms.
    pub channel_received_ms: Option<i64>,
    /// The last publish's time to block across the nodes.
    pub time_to_block: TimeToBlock,
    /// The nodes (stores and tills).
    pub nodes: Vec<FleetNode>,
    /// The builders' own reports.
    pub builders: Vec<NodeStatus>,
    /// Reports that could not be read, with why.
    pub unreadable: Vec<(String, String)>,
}

/// Reads every node's report under `remote` and judges it at time `now`: stale when its
/// data is older than `max_age_ms`, silent when it has not reported for `silent_after_ms`.
pub fn fleet(
    remote: &Remote,
    channel: &str,
    policy: &TransferPolicy,
    now: i64,
    max_age_ms: i64,
    silent_after_ms: i64,
) -> Result<FleetReport, DistributeError> {
    let store = Store::open(remote, policy)?;
    let pointer: Option<serde_json::Value> =
        with_retries(policy, || store.get(&channel_key(channel)))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let number = |k: &str| {
        pointer
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(|x| x.as_i64())
    };
    let mut report = FleetReport {
        channel_version: pointer.as_ref().and_then(|p| text(p, "version")),
        channel_digest: pointer.as_ref().and_then(|p| text(p, "content_digest")),
        channel_sequence: number("sequence").map(|n| n as u64),
        channel_published_ms: number("created_ms"),
        channel_received_ms: number("received_ms"),
        time_to_block: TimeToBlock::default(),
        nodes: Vec::new(),
        builders: Vec::new(),
        unreadable: Vec::new(),
    };
    for (key, _) in with_retries(policy, || store.list(STATUS_PREFIX))? {
        let bytes = match with_retries(policy, || store.get(&key))? {
            Some(bytes) => bytes,
            None => continue,
        };
        let status: NodeStatus = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                report.unreadable.push((key, e.to_string()));
                continue;
            }
        };
        if status.role == "builder" {
            report.builders.push(status);
            continue;
        }
        let node = judge(status, &report, now, max_age_ms, silent_after_ms);
        report.nodes.push(node);
    }
    report.time_to_block = TimeToBlock::of(report.nodes.iter().map(|n| n.time_to_block_ms));
    report
        .nodes
        .sort_by(|a, b| (a.state, &a.status.node).cmp(&(b.state, &b.status.node)));
    Ok(report)
}

/// One node's state, lag and time to block against the channel.
fn judge(
    status: NodeStatus,
    channel: &FleetReport,
    now: i64,
    max_age_ms: i64,
    silent_after_ms: i64,
) -> FleetNode {
    let hours = |ms: i64| (ms as f64 / 360_000.0).round() / 10.0;
    let data_age = status.as_of_ms.map(|t| now - t);
    let on_current =
        channel.channel_digest.is_some() && status.content_digest == channel.channel_digest;
    let state = if data_age.is_none_or(|age| age > max_age_ms) {
        NodeState::Stale
    } else if status.pointer_expires_ms.is_some_and(|t| now > t) {
        NodeState::Frozen
    } else if now - status.reported_ms > silent_after_ms {
        NodeState::Silent
    } else if status.last_error.is_some() {
        NodeState::Failing
    } else if channel.channel_digest.is_some() && !on_current {
        NodeState::Behind
    } else {
        NodeState::Current
    };
    // The switch that counts is to the channel's current content (a renewal of the same
    // content does not move the node, and its switch time is the one that counts).
    let switched = status.switched_ms.filter(|_| on_current);
    let lag_ms = match switched {
        Some(t) => status.pointer_published_ms.map(|p| (t - p).max(0)),
        None => channel.channel_published_ms.map(|p| (now - p).max(0)),
    };
    let time_to_block_ms = switched.and_then(|t| {
        let from = status.pointer_received_ms.or(status.pointer_published_ms)?;
        Some((t - from).max(0))
    });
    FleetNode {
        state,
        data_age_hours: data_age.map(hours),
        silent_hours: hours(now - status.reported_ms),
        lag_ms,
        time_to_block_ms,
        status,
    }
}
