//! The native bulk endpoint: codes streamed in, one per line, verdicts streamed out as
//! JSON lines, with no per-request limit (shipment acceptance, audits).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;

use super::{AppState, LmError};
use crate::check::{CheckOptions, Reason, Status};

/// Codes checked per step; big enough to keep every core busy, small enough to stream.
const BATCH: usize = 8192;
/// A line longer than this is not a code; refused rather than buffered without end.
const MAX_LINE: usize = 4096;

#[derive(Serialize)]
struct Line<'a> {
    line: u64,
    input: &'a str,
    status: Status,
    #[serde(skip_serializing_if = "<[Reason]>::is_empty")]
    reasons: &'a [Reason],
    #[serde(skip_serializing_if = "Option::is_none")]
    ki: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// `POST /api/cisgate/v1/check`: a body of codes, one per line; answers one JSON object
/// per line, in order: `{"line", "input", "status", "reasons"?, "ki"?, "error"?}`. The
/// response starts before the request has finished arriving.
pub async fn check_stream(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    state.live.check_fresh().map_err(LmError::from_live)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut pending: Vec<u8> = Vec::new();
        let mut lines: Vec<String> = Vec::with_capacity(BATCH);
        let mut line_no = 0u64;
        let mut finished = false;
        while !finished {
            match stream.next().await {
                Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    let _ = tx
                        .send(Err(std::io::Error::other(format!(
                            "reading the request: {e}"
                        ))))
                        .await;
                    return;
                }
                None => finished = true,
            }
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                let mut line = &pending[start..start + end];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                lines.push(String::from_utf8_lossy(line).into_owned());
                start += end + 1;
            }
            pending.drain(..start);
            if finished && !pending.is_empty() {
                lines.push(String::from_utf8_lossy(&pending).into_owned());
                pending.clear();
            }
            if pending.len() > MAX_LINE {
                let _ = tx
                    .send(Err(std::io::Error::other(format!(
                        "line {} is over {MAX_LINE} bytes",
                        line_no + lines.len() as u64 + 1
                    ))))
                    .await;
                return;
            }
            if lines.len() >= BATCH || (finished && !lines.is_empty()) {
                let batch = std::mem::replace(&mut lines, Vec::with_capacity(BATCH));
                let first = line_no + 1;
                line_no += batch.len() as u64;
                match check_batch(&state, batch, first).await {
                    Ok(out) => {
                        if tx.send(Ok(out)).await.is_err() {
                            return; // the client went away
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn check_batch(
    state: &Arc<AppState>,
    batch: Vec<String>,
    first_line: u64,
) -> Result<Bytes, std::io::Error> {
    let live = state.live.clone();
    let n = batch.len() as u64;
    let out = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, std::io::Error> {
        let verdicts = live
            .check_batch(&batch, &CheckOptions::default())
            .map_err(std::io::Error::other)?;
        let mut out = Vec::with_capacity(batch.len() * 96);
        for (i, v) in verdicts.iter().enumerate() {
            let line = Line {
                line: first_line + i as u64,
                input: &v.input,
                status: v.status,
                reasons: &v.reasons,
                ki: v.ki.as_deref(),
                error: v.error.as_deref(),
            };
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
            out.push(b'\n');
        }
        Ok(out)
    })
    .await
    .map_err(std::io::Error::other)??;
    state.metrics.add_codes_checked(n);
    Ok(Bytes::from(out))
}
