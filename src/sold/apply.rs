//! The rules of one store's shared sold list, in one place: what the authority does with a
//! node's sales and returns, and how a node applies the store's feed to its replica.

use std::collections::HashMap;

use super::wire::{FeedEvent, ItemOutcome, ItemResult, RegisterRequest, SaleItem};
use crate::journal::{SaleOp, SoldState};
use crate::live::sales::{JournalRecords, SoldView};
use crate::live::{LiveError, LiveIndex, WriteDeadline};

/// How far ahead of the authority's clock a node's sale time may be.
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60_000;

/// A queued sale of a code the store had sold at another till meanwhile: both kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// The КИ.
    pub ki: String,
    /// When the store's journal has it sold.
    pub kept_time: i64,
    /// When the node sold it while cut off.
    pub other_time: i64,
    /// The node that forwarded the second sale.
    pub node: String,
    /// When the conflict was found, Unix ms.
    pub found_ms: i64,
}

/// Appends `(time, op, ki)` to `records`, one record per run of equal times, in order.
fn push(records: &mut JournalRecords, time: i64, op: SaleOp, ki: &[u8]) {
    match records.last_mut() {
        Some((t, entries)) if *t == time => entries.push((op, ki.to_vec())),
        _ => records.push((time, vec![(op, ki.to_vec())])),
    }
}

/// The state of `ki` in this write: what this write decided already, else the view's.
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
fn state_of(view: &SoldView<'_>, decided: &HashMap<Vec<u8>, SoldState>, ki: &[u8]) -> Option<i64> {
    match decided.get(ki) {
        Some(SoldState::Sold(t)) => Some(*t),
        Some(SoldState::Returned(_)) => None,
        None => view.sold_at(ki),
    }
}

/// The authority takes `request` from `node`: each item applied, recognised as a retry,
/// reported as a conflict (queued sales only) or refused; everything applied is durable
/// in the store's journal when this returns.
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
pub(crate) fn register(
    live: &LiveIndex,
    request: &RegisterRequest,
    node: &str,
    deadline: Option<&WriteDeadline>,
) -> Result<(Vec<ItemResult>, Vec<Conflict>), LiveError> {
    let op = SaleOp::from(request.op);
    live.write_journal(deadline, true, |view| {
        let mut results = Vec::with_capacity(request.items.len());
        let mut conflicts = Vec::new();
        let mut records = JournalRecords::new();
        let mut decided: HashMap<Vec<u8>, SoldState> = HashMap::new();
        for item in &request.items {
            let ki = item.ki.as_bytes();
            let result = |outcome, reason: Option<String>| ItemResult {
                ki: item.ki.clone(),
                outcome,
                reason,
            };
            if crate::code::validate_ki(ki).is_err() {
                results.push(result(
                    ItemOutcome::Refused,
                    Some(format!("{:?} is not a КИ", item.ki)),
                ));
                continue;
            }
            if item.time > view.now + MAX_CLOCK_AHEAD_MS {
                results.push(result(
                    ItemOutcome::Refused,
                    Some(format!(
                        "the sale time {} is ahead of the store's clock; set the till's clock",
                        crate::time::format_rfc3339(item.time)
                    )),
                ));
                continue;
            }
            let journaled = decided.get(ki).copied().or_else(|| view.journaled(ki));
            let sold = state_of(view, &decided, ki);
            let outcome = match op {
                SaleOp::Sell if journaled == Some(SoldState::Sold(item.time)) => {
                    result(ItemOutcome::Already, None)
                }
                SaleOp::Sell => match sold {
                    Some(kept) if request.queued => {
                        conflicts.push(Conflict {
                            ki: item.ki.clone(),
                            kept_time: kept,
                            other_time: item.time,
                            node: node.to_string(),
                            found_ms: view.now,
                        });
                        result(ItemOutcome::Conflict, None)
                    }
                    Some(_) => result(
                        ItemOutcome::Refused,
                        Some(format!("{} is already sold", item.ki)),
                    ),
                    None => {
                        push(&mut records, item.time, op, ki);
                        decided.insert(ki.to_vec(), SoldState::Sold(item.time));
                        result(ItemOutcome::Applied, None)
                    }
                },
                SaleOp::Return if journaled == Some(SoldState::Returned(item.time)) => {
                    result(ItemOutcome::Already, None)
                }
                SaleOp::Return => match sold {
                    Some(_) => {
                        push(&mut records, item.time, op, ki);
                        decided.insert(ki.to_vec(), SoldState::Returned(item.time));
                        result(ItemOutcome::Applied, None)
                    }
                    // Returned meanwhile at another till: nothing left to do.
                    None if request.queued => result(ItemOutcome::Already, None),
                    None => result(
                        ItemOutcome::Refused,
                        Some(format!(
                            "{} is not sold here, so it cannot be returned",
                            item.ki
                        )),
                    ),
                },
            };
            results.push(outcome);
        }
        Ok((records, (results, conflicts)))
    })
}

/// A node applies feed events to its replica: each one it does not hold already (its own
/// sales come back too) is written, in order.
pub(crate) fn apply_events(live: &LiveIndex, events: &[FeedEvent]) -> Result<usize, LiveError> {
    if events.is_empty() {
        return Ok(0);
    }
    live.write_journal(None, false, |view| {
        let mut records = JournalRecords::new();
        let mut decided: HashMap<Vec<u8>, SoldState> = HashMap::new();
        for e in events {
            let ki = e.ki.as_bytes();
            let op = SaleOp::from(e.op);
            let state = match op {
                SaleOp::Sell => SoldState::Sold(e.time),
                SaleOp::Return => SoldState::Returned(e.time),
            };
            let journaled = decided.get(ki).copied().or_else(|| view.journaled(ki));
            if journaled == Some(state) || crate::code::validate_ki(ki).is_err() {
                continue;
            }
            push(&mut records, e.time, op, ki);
            decided.insert(ki.to_vec(), state);
        }
        let n = records.iter().map(|(_, e)| e.len()).sum();
        Ok((records, n))
    })
}

/// A node starts over from the store's whole sold list: what the store has sold and the
/// replica does not, at the store's times; what the replica holds sold that the store does
/// not (and that is not waiting in `queued`), returned now.
pub(crate) fn apply_reset(
    live: &LiveIndex,
    sold: &[SaleItem],
    queued: &[Vec<u8>],
) -> Result<usize, LiveError> {
    let held = live.sold_entries();
    let store: HashMap<&[u8], i64> = sold.iter().map(|s| (s.ki.as_bytes(), s.time)).collect();
    live.write_journal(None, false, |view| {
        let mut records = JournalRecords::new();
        for item in sold {
            let ki = item.ki.as_bytes();
            if view.sold_at(ki) != Some(item.time) && crate::code::validate_ki(ki).is_ok() {
                push(&mut records, item.time, SaleOp::Sell, ki);
            }
        }
        for (ki, _) in &held {
            if !store.contains_key(ki.as_slice()) && !queued.iter().any(|q| q == ki) {
                push(&mut records, view.now, SaleOp::Return, ki);
            }
        }
        let n = records.iter().map(|(_, e)| e.len()).sum();
        Ok((records, n))
    })
}
