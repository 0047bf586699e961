//! The store's book of its embedded nodes ([`crate::sold`]): which nodes it has seen and
//! how far behind they are, the conflicts it found, and the wake-up for held feed
//! requests. Kept apart from the handlers (`sold`) because the service's shared state
//! holds it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sold::Conflict;

/// Conflicts the status page shows.
pub(crate) const RECENT_CONFLICTS: usize = 50;
/// Where conflicts are kept, beside the index (advisory, one JSON line each).
pub(crate) const CONFLICTS_FILE: &str = "SOLD-CONFLICTS.jsonl";

/// A node as the store last saw it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct NodeSeen {
    /// When it last asked for the feed, Unix ms.
    pub(crate) last_ms: i64,
    /// Bytes of the store's journal it had not read when it last asked.
    pub(crate) behind_bytes: u64,
    /// Sales and returns it registered.
    pub(crate) registered: u64,
}

/// The authority's own state: the nodes seen, the conflicts found, and a wake-up for
/// held feed requests.
#[derive(Default)]
pub(crate) struct SoldAuthorityState {
    pub(crate) nodes: std::sync::Mutex<BTreeMap<String, NodeSeen>>,
    pub(crate) conflicts: std::sync::Mutex<std::collections::VecDeque<Conflict>>,
    pub(crate) conflicts_total: std::sync::atomic::AtomicU64,
    pub(crate) written: tokio::sync::Notify,
}

impl SoldAuthorityState {
    /// Wakes held feed requests: the store's journal grew.
    pub(crate) fn wrote(&self) {
        self.written.notify_waiters();
    }

    /// Takes the conflicts a previous run kept (the status page shows them after a
    /// restart too).
    pub(crate) fn load_conflicts(&self, path: &std::path::Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let all: Vec<Conflict> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        self.conflicts_total
            .store(all.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let mut recent = self.conflicts.lock().unwrap_or_else(|e| e.into_inner());
        recent.extend(all.into_iter().rev().take(RECENT_CONFLICTS).rev());
    }

    pub(crate) fn seen(&self, node: &str, update: impl FnOnce(&mut NodeSeen)) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let seen = nodes.entry(node.to_string()).or_insert(NodeSeen {
            last_ms: 0,
            behind_bytes: 0,
            registered: 0,
        });
        update(seen);
    }
}
