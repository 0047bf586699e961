//! The store's `serve` as the sold authority of its embedded nodes ([`crate::sold`]): a
//! node registers its sales and returns, and follows the store's sold feed, read straight
//! from the store's journal (every sale is there: the LM API's, the nodes', other
//! processes'). Only nodes configured in serve.json (`nodes`, a token each) are let in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{LmError, codes};
use super::gate::read_body;
use super::nodes::{CONFLICTS_FILE, RECENT_CONFLICTS};
use super::state::{AppState, RequestDeadline, log};
use crate::journal::read_records;
use crate::live::WriteDeadline;
use crate::sold::wire::{FeedEvent, FeedPage, RegisterRequest, RegisterResponse, SaleItem};
use crate::sold::{Conflict, register as register_items};

/// The longest a feed request is held open.
const MAX_WAIT: Duration = Duration::from_secs(25);
/// How often a held feed request looks for records other processes appended.
const POLL: Duration = Duration::from_millis(50);
/// Bytes of journal records per feed page.
const PAGE_BYTES: u64 = 4 << 20;
/// Most items of one register request (the LM's per-request limit).
const MAX_ITEMS: usize = 1000;
/// The configured node whose token the request carries.
fn node_of(state: &AppState, headers: &HeaderMap) -> Result<String, LmError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .map(str::trim);
    let refused = || {
        LmError::new(
            StatusCode::UNAUTHORIZED,
            codes::BAD_CREDENTIALS,
            "the store's sold list is for configured nodes only (serve.json nodes, Authorization: Token)",
        )
    };
    let token = token.ok_or_else(refused)?;
    let mut found = None;
    for node in &state.config.nodes {
        // Every token compared, in constant time.
        if super::auth::constant_time_eq(token.as_bytes(), node.token.as_bytes()) {
            found = Some(node.name.clone());
        }
    }
    found.ok_or_else(refused)
}

/// `POST /api/cisgate/v1/sold/register`.
pub async fn register(
    State(state): State<Arc<AppState>>,
    axum::extract::Extension(RequestDeadline(deadline)): axum::extract::Extension<RequestDeadline>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, LmError> {
    let node = node_of(&state, &headers)?;
    let body = read_body(body, state.config.body_limit_bytes).await?;
    let request: RegisterRequest = serde_json::from_slice(&body).map_err(|e| {
        LmError::bad_request(codes::BAD_BODY, format!("not a register request: {e}"))
    })?;
    if request.items.is_empty() || request.items.len() > MAX_ITEMS {
        return Err(LmError::bad_request(
            codes::BAD_VALUE,
            format!("{} items; 1 to {MAX_ITEMS} a request", request.items.len()),
        ));
    }
    let live = state.live.clone();
    let who = node.clone();
    let write_deadline = WriteDeadline::new(deadline + Duration::from_secs(5));
    let (results, conflicts) = tokio::task::spawn_blocking(move || {
        register_items(&live, &request, &who, Some(&write_deadline))
    })
    .await
    .map_err(|e| LmError::internal(format!("register task failed: {e}")))?
    .map_err(LmError::from_live)?;
    let applied = results
        .iter()
        .filter(|r| r.outcome == crate::sold::wire::ItemOutcome::Applied)
        .count() as u64;
    state.sold.seen(&node, |s| s.registered += applied);
    if applied > 0 {
        state.sold.wrote();
    }
    if !conflicts.is_empty() {
        record_conflicts(&state, conflicts);
    }
    Ok(axum::Json(RegisterResponse { results }).into_response())
}

fn record_conflicts(state: &AppState, conflicts: Vec<Conflict>) {
    let mut lines = Vec::new();
    {
        let mut recent = state
            .sold
            .conflicts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for conflict in conflicts {
            log(
                "sold_conflict",
                serde_json::json!({"ki": conflict.ki, "node": conflict.node,
                    "kept_time": conflict.kept_time, "other_time": conflict.other_time}),
            );
            lines.extend_from_slice(&serde_json::to_vec(&conflict).unwrap_or_default());
            lines.push(b'\n');
            state
                .sold
                .conflicts_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if recent.len() == RECENT_CONFLICTS {
                recent.pop_front();
            }
            recent.push_back(conflict);
        }
    }
    let path = state.live.dir().join(CONFLICTS_FILE);
    let appended = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &lines));
    if let Err(e) = appended {
        log(
            "conflict_not_kept",
            serde_json::json!({"error": e.to_string()}),
        );
    }
}

/// The feed request's parameters.
#[derive(Deserialize)]
pub struct FeedQuery {
    journal: Option<String>,
    after: Option<u64>,
    wait_ms: Option<u64>,
}

/// `GET /api/cisgate/v1/sold/feed`: the store's sales and returns after a position, held
/// open up to `wait_ms` (25 s at most) until there are some.
pub async fn feed(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
) -> Result<Response, LmError> {
    let node = node_of(&state, &headers)?;
    let until = Instant::now() + Duration::from_millis(query.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    loop {
        // Registered before looking, so that a write between the look and the wait wakes it.
        let written = state.sold.written.notified();
        let live = state.live.clone();
        let (journal, len) = tokio::task::spawn_blocking(move || live.journal_position())
            .await
            .map_err(|e| LmError::internal(format!("feed task failed: {e}")))?
            .map_err(LmError::from_live)?;
        let path = state.live.dir().join(&journal);
        let after = query.after.unwrap_or(0);
        let mut restart = query.journal.as_deref() != Some(journal.as_str()) || after > len;
        if !restart && (after < len || Instant::now() >= until) {
            let read = tokio::task::spawn_blocking(move || read_records(&path, after, PAGE_BYTES))
                .await
                .map_err(|e| LmError::internal(format!("feed task failed: {e}")))?;
            match read {
                Ok((records, next)) if !records.is_empty() || Instant::now() >= until => {
                    state.sold.seen(&node, |s| {
                        s.last_ms = crate::time::now_ms();
                        s.behind_bytes = len.saturating_sub(after);
                    });
                    let events = records
                        .into_iter()
                        .map(|e| FeedEvent {
                            op: e.op.into(),
                            ki: String::from_utf8_lossy(&e.ki).into_owned(),
                            time: e.time,
                        })
                        .collect();
                    return Ok(page(FeedPage {
                        journal,
                        next,
                        events,
                        reset: None,
                    }));
                }
                Ok(_) => {}
                // A position inside a record (not one this store handed out): start over.
                Err(_) => restart = true,
            }
        }
        if restart {
            // A new node, or a new journal: start over from the whole sold list. The
            // position (a record boundary) is taken first: what is written after it comes
            // as events again.
            let live = state.live.clone();
            let sold = tokio::task::spawn_blocking(move || live.sold_entries())
                .await
                .map_err(|e| LmError::internal(format!("sold list task failed: {e}")))?;
            let reset = sold
                .into_iter()
                .map(|(ki, time)| SaleItem {
                    ki: String::from_utf8_lossy(&ki).into_owned(),
                    time,
                })
                .collect();
            state.sold.seen(&node, |s| {
                s.last_ms = crate::time::now_ms();
                s.behind_bytes = 0;
            });
            return Ok(page(FeedPage {
                journal,
                next: len,
                events: Vec::new(),
                reset: Some(reset),
            }));
        }
        // Woken by this service's own writes at once, by other processes' within a poll.
        let _ = tokio::time::timeout(POLL, written).await;
    }
}

fn page(page: FeedPage) -> Response {
    axum::Json(page).into_response()
}
