//! The routes: the Local Module's endpoints, the native endpoint, metrics, the status page.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::{self};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::error::{LmError, codes};
use super::gate::gate;
use super::state::AppState;
use super::{lm, native, page, sold};
use crate::sold::wire::{FEED_PATH, REGISTER_PATH};

/// The routes and the gate every request passes.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v2/status", get(lm::status))
        .route("/api/v2/config", get(lm::config))
        .route("/api/v2/cis/outCheck", post(lm::out_check))
        .route("/api/v2/cis/sell", post(lm::sell))
        .route("/api/v2/cis/return", post(lm::return_sale))
        .route("/api/v2/cis/sold/check", post(lm::sold_check))
        .route("/api/v2/cis/sold", get(lm::sold_list))
        .route("/api/v1/cis/outCheck", get(lm::out_check_v1))
        .route("/api/v1/cis/check", get(lm::out_check_v1))
        .route("/api/cisgate/v1/check", post(native::check_stream))
        .route(REGISTER_PATH, post(sold::register))
        .route(FEED_PATH, get(sold::feed))
        .route("/metrics", get(metrics_text))
        .route("/", get(page::page))
        .route("/status.json", get(page::status_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render(&state.live);
    // The store's sold list, as its nodes use it.
    let conflicts = state
        .sold
        .conflicts_total
        .load(std::sync::atomic::Ordering::Relaxed);
    let now = crate::time::now_ms();
    let connected = state
        .sold
        .nodes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|n| now - n.last_ms < 60_000)
        .count();
    text.push_str(&format!(
        "# HELP cisgate_sold_conflicts_total Codes sold at two tills during a partition (both sales kept).\n# TYPE cisgate_sold_conflicts_total counter\ncisgate_sold_conflicts_total {conflicts}\n\
         # HELP cisgate_sold_nodes_connected Embedded nodes that asked for the sold feed in the last minute.\n# TYPE cisgate_sold_nodes_connected gauge\ncisgate_sold_nodes_connected {connected}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn not_found() -> LmError {
    LmError::new(StatusCode::NOT_FOUND, codes::BAD_VALUE, "no such endpoint")
}

async fn method_not_allowed() -> LmError {
    LmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::BAD_VALUE,
        "this endpoint does not take that method",
    )
}
