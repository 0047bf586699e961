//! The Local Module's HTTP API (v2, and the v1 forms older clients still call).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::{LmError, codes};
use super::gate::read_body;
use super::metrics::Refusal;
use super::state::{AppState, RequestDeadline};
use crate::answer::lm::OutCheckWriter;

use crate::check::CheckOptions;
use crate::journal::SaleOp;
use crate::live::{LiveError, WriteDeadline};

/// At most this many КИ per LM request, as the LM allows.
pub const MAX_CODES_PER_REQUEST: usize = 1000;

/// `GET /api/v2/status`.
pub async fn status(State(state): State<Arc<AppState>>) -> Response {
    let live = &state.live;
    let generation = live.generation();
    let manifest = generation.index().manifest();
    let status = match live.check_fresh() {
        Ok(()) => "ready",
        Err(_) => "sync_error",
    };
    let mut db_state = serde_json::Map::new();
    for (table, count) in &manifest.counts {
        db_state.insert(
            table.name().to_string(),
            serde_json::json!({ "localDocCount": count }),
        );
    }
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "status": status,
        "operationMode": "active",
        "name": state.config.name,
        "lastSync": manifest.as_of_ms,
        "lastUpdate": manifest.created_ms,
        "inst": state.instance,
        "dbVersion": manifest.version,
        "dbState": db_state,
    }))
    .into_response()
}

/// `GET /api/v2/config`: what the service runs with (no secrets).
pub async fn config(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.config;
    let max_age_hours = state
        .live
        .options()
        .max_age_ms
        .map(|ms| ms as f64 / 3_600_000.0);
    Json(serde_json::json!({
        "name": c.name,
        "version": env!("CARGO_PKG_VERSION"),
        "inst": state.instance,
        "allowedSyncPeriodHours": max_age_hours,
        "auth": if state.credentials.is_enabled() { "required" } else { "none" },
        "corsOrigins": c.cors_origins,
        "limits": {
            "bodyBytes": c.body_limit_bytes,
            "requestTimeoutMs": c.request_timeout_ms,
            "maxConcurrentRequests": c.max_concurrent_requests,
            "codesPerRequest": MAX_CODES_PER_REQUEST,
        },
    }))
    .into_response()
}

/// `POST /api/v2/cis/outCheck`.
pub async fn out_check(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    let body = read_body(body, state.config.body_limit_bytes).await?;
    // Parsed where it is checked: on the blocking pool for a long list.
    let long = body.len() >= INLINE_BODY_LIMIT;
    let task_state = Arc::clone(&state);
    let answer = move || -> Result<(Vec<u8>, usize), LmError> {
        let items = cis_list(&body)?;
        let answer = answer_items(&task_state, &items, false)?;
        Ok((answer, items.len()))
    };
    let (answer, checked) = if long {
        tokio::task::spawn_blocking(answer)
            .await
            .map_err(|e| LmError::internal(format!("check task failed: {e}")))??
    } else {
        answer()?
    };
    state.metrics.add_codes_checked(checked as u64);
    Ok(json_response(answer))
}

#[derive(Deserialize)]
pub struct CisQuery {
    cis: Option<String>,
}

/// `GET /api/v1/cis/outCheck?cis=` and `GET /api/v1/cis/check?cis=`: one result object,
/// without the `results` wrapper.
pub async fn out_check_v1(
    State(state): State<Arc<AppState>>,
    query: Result<Query<CisQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, LmError> {
    let Query(query) = query.map_err(|e| LmError::bad_request(codes::BAD_VALUE, e.body_text()))?;
    let cis = query.cis.ok_or_else(|| {
        LmError::bad_request(codes::MISSING_PARAMETER, "the cis parameter is missing")
    })?;
    // A `+` sent unencoded in a query arrives as a space; no code holds a space, so it was
    // a `+` (a GS1 character).
    let cis = cis.trim().replace(' ', "+");
    let answer = answer_items(&state, &[Some(Cow::Owned(cis))], true)?;
    state.metrics.add_codes_checked(1);
    Ok(json_response(answer))
}

/// Bodies this long or longer are parsed and checked on the blocking pool rather than on
/// the connection's task (about 32 full codes).
const INLINE_BODY_LIMIT: usize = 4096;

fn json_response(body: Vec<u8>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The outCheck answer for `items`, in order, one result each (`bare`: the single result
/// without the `results` wrapper, as v1 does), written straight from the check path: an
/// input that cannot be read gets its own `code: 400` result; every result names the
/// generation that answered.
fn answer_items(
    state: &AppState,
    items: &[Option<Cow<'_, str>>],
    bare: bool,
) -> Result<Vec<u8>, LmError> {
    // Decode first; one pass: readable codes go to the check, the others keep their reason.
    let mut inputs: Vec<Cow<'_, str>> = Vec::with_capacity(items.len());
    let mut at: Vec<usize> = Vec::with_capacity(items.len());
    let mut errors: Vec<(usize, String)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_deref().map(str::trim) {
            None | Some("") => errors.push((i, "the cis is empty".to_string())),
            Some(cis) => match decode_cis(cis) {
                Ok(text) => {
                    inputs.push(text);
                    at.push(i);
                }
                Err(reason) => errors.push((i, reason)),
            },
        }
    }
    let now = crate::time::now_ms();
    state
        .live
        .with_view(|view| {
            // About 260 bytes per result: sized once instead of grown by doubling.
            let mut out = Vec::with_capacity(64 + items.len() * 300);
            let writer =
                OutCheckWriter::new(&state.instance, &view.index().manifest().version, now);
            if !bare {
                out.extend_from_slice(b"{\"results\":[");
            }
            let mut errors = errors.iter().peekable();
            let mut written = 0usize;
            let mut write_errors_before = |out: &mut Vec<u8>, end: usize, written: &mut usize| {
                while let Some((i, reason)) = errors.next_if(|(i, _)| *i < end) {
                    writer.separator(out, written);
                    writer.invalid(out, reason, items[*i].as_deref().unwrap_or(""));
                }
            };
            let bytes: Vec<&[u8]> = inputs.iter().map(|i| i.as_bytes()).collect();
            view.check_each(&bytes, &CheckOptions::default(), |n, outcome| {
                write_errors_before(&mut out, at[n], &mut written);
                writer.separator(&mut out, &mut written);
                writer.outcome(&mut out, outcome);
                if let Some(refusal) = Refusal::of(outcome) {
                    state.metrics.add_refusal(refusal);
                }
            });
            write_errors_before(&mut out, items.len(), &mut written);
            if !bare {
                out.extend_from_slice(b"]}");
            }
            out
        })
        .map_err(LmError::from_live)
}

/// A request body with a `cis_list`; other fields (`tz`, …) are ignored.
#[derive(Deserialize)]
struct ListBody<'a> {
    #[serde(borrow, default)]
    cis_list: Option<Vec<CisItem<'a>>>,
}

/// One `cis_list` element: a string, `null`, or an object with a `cis` (and `pg`, ignored).
struct CisItem<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for CisItem<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = CisItem<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a code string, null, or an object with a \"cis\" string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CisItem(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CisItem(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CisItem(Some(Cow::Owned(v))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(CisItem(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(CisItem(None))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut cis = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "cis" {
                        cis = map.next_value::<Option<CisItem<'a>>>()?.and_then(|c| c.0);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(CisItem(cis))
            }
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

/// The `cis_list` of a request body, borrowed from it where the JSON has no escapes.
fn cis_list(body: &[u8]) -> Result<Vec<Option<Cow<'_, str>>>, LmError> {
    let parsed: ListBody<'_> = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => LmError::bad_request(codes::BAD_VALUE, format!("bad value: {e}")),
            _ => LmError::bad_request(codes::BAD_BODY, format!("the body is not valid JSON: {e}")),
        }
    })?;
    let list = parsed
        .cis_list
        .ok_or_else(|| LmError::bad_request(codes::MISSING_PARAMETER, "cis_list is missing"))?;
    if list.len() > MAX_CODES_PER_REQUEST {
        return Err(LmError::bad_request(
            codes::BAD_VALUE,
            format!(
                "cis_list holds {} codes; at most {MAX_CODES_PER_REQUEST} per request",
                list.len()
            ),
        ));
    }
    Ok(list.into_iter().map(|item| item.0).collect())
}

/// The code a client meant: as sent, or percent-decoded once (RFC 1738), whichever is a
/// readable marking code. Raw КИ can hold `%` themselves, so decoding is never assumed;
/// when both readings are codes and name different КИ, the input is refused as ambiguous.
pub fn decode_cis(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.contains('%') {
        // Nothing to decode: the checker parses it and reports what is wrong.
        return Ok(Cow::Borrowed(raw));
    }
    let raw_reading = crate::code::parse(raw);
    let decoded = percent_decode(raw).filter(|d| d != raw);
    let decoded_reading = decoded.as_deref().map(crate::code::parse);
    let single = |p: &crate::code::Parsed| {
        p.candidates
            .iter()
            .map(|c| c.ki.clone())
            .collect::<Vec<_>>()
    };
    match (raw_reading, decoded_reading) {
        (Ok(r), Some(Ok(d))) if single(&r) != single(&d) => Err(format!(
            "{raw:?} reads as {} as sent and as {} percent-decoded; send it unencoded",
            single(&r).join(" or "),
            single(&d).join(" or ")
        )),
        (Ok(_), _) => Ok(Cow::Borrowed(raw)),
        (Err(_), Some(Ok(_))) => Ok(Cow::Owned(decoded.unwrap_or_default())),
        (Err(e), _) => Err(format!("{raw:?} is not a marking code: {e}")),
    }
}

/// `%XX` sequences decoded, when there is at least one and the result is UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut any = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            any = true;
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    if !any {
        return None;
    }
    String::from_utf8(out).ok()
}

/// `POST /api/v2/cis/sell`: 201 once every sale is on disk; all or nothing.
pub async fn sell(
    State(state): State<Arc<AppState>>,
    Extension(deadline): Extension<RequestDeadline>,
    body: Body,
) -> Result<Response, LmError> {
    journal_op(state, deadline.0, body, true).await
}

/// `POST /api/v2/cis/return`: all or nothing.
pub async fn return_sale(
    State(state): State<Arc<AppState>>,
    Extension(deadline): Extension<RequestDeadline>,
    body: Body,
) -> Result<Response, LmError> {
    journal_op(state, deadline.0, body, false).await
}

async fn journal_op(
    state: Arc<AppState>,
    deadline: Instant,
    body: Body,
    sell: bool,
) -> Result<Response, LmError> {
    let timed_out = || {
        LmError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::INTERNAL,
            format!(
                "the request was not complete within {} ms; nothing was written",
                state.config.request_timeout_ms
            ),
        )
    };
    let body = tokio::time::timeout_at(
        deadline.into(),
        read_body(body, state.config.body_limit_bytes),
    )
    .await
    .map_err(|_| timed_out())??;
    let items = cis_list(&body)?;
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let cis = item.as_deref().map(str::trim).unwrap_or("");
        if cis.is_empty() {
            return Err(LmError::bad_request(
                codes::BAD_VALUE,
                format!("cis_list[{i}] is empty"),
            ));
        }
        let decoded = decode_cis(cis)
            .map_err(|e| LmError::bad_request(codes::BAD_VALUE, format!("cis_list[{i}]: {e}")))?;
        inputs.push(decoded.into_owned());
    }
    if inputs.is_empty() {
        return Err(LmError::bad_request(
            codes::MISSING_PARAMETER,
            "cis_list is empty",
        ));
    }
    // One decision under one journal lock: every code is written or none is. The deadline
    // stops the wait for the lock; a write that has begun is finished and answered as it
    // ended, never reported as a failure after the fact.
    let write_deadline = WriteDeadline::new(deadline);
    let op = if sell { SaleOp::Sell } else { SaleOp::Return };
    let live = state.live.clone();
    let task_deadline = write_deadline.clone();
    let mut task =
        tokio::task::spawn_blocking(move || live.journal_batch(&inputs, op, Some(&task_deadline)));
    let joined = match tokio::time::timeout_at(deadline.into(), &mut task).await {
        Ok(joined) => joined,
        Err(_) if write_deadline.abandon() => return Err(timed_out()),
        Err(_) => task.await,
    };
    let done = joined
        .map_err(|e| LmError::internal(format!("journal task failed: {e}")))?
        .map_err(|e| match e {
            LiveError::Busy { .. } | LiveError::Abandoned => {
                LmError::new(StatusCode::REQUEST_TIMEOUT, codes::INTERNAL, e.to_string())
            }
            e => LmError::from_live(e),
        })?;
    // The store's nodes follow its journal: wake their held feed requests.
    state.sold.wrote();
    let status = if sell {
        state.metrics.add_sales(done.len() as u64);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(serde_json::json!({ "cis_list": done }))).into_response())
}

/// `POST /api/v2/cis/sold/check`.
pub async fn sold_check(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    let body = read_body(body, state.config.body_limit_bytes).await?;
    let items = cis_list(&body)?;
    let results: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let cis = item.unwrap_or_default();
            let is_sold = decode_cis(cis.trim())
                .ok()
                .and_then(|d| crate::live::sales::canonical_ki(&d).ok())
                .is_some_and(|ki| state.live.is_sold(ki.as_bytes()));
            serde_json::json!({ "cis": cis, "isSold": is_sold })
        })
        .collect();
    Ok(Json(serde_json::json!({ "results": results })).into_response())
}

#[derive(Deserialize)]
pub struct Page {
    skip: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v2/cis/sold?skip=&limit=`.
pub async fn sold_list(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, LmError> {
    let number = |name: &str, value: Option<String>, default: usize| match value {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            LmError::bad_request(
                codes::BAD_VALUE,
                format!("{name}={v:?} is not a non-negative integer"),
            )
        }),
    };
    let skip = number("skip", page.skip, 0)?;
    let limit = number("limit", page.limit, MAX_CODES_PER_REQUEST)?;
    if limit > MAX_CODES_PER_REQUEST {
        return Err(LmError::bad_request(
            codes::BAD_VALUE,
            format!("limit={limit}; at most {MAX_CODES_PER_REQUEST}"),
        ));
    }
    let live = state.live.clone();
    let sold = tokio::task::spawn_blocking(move || live.sold_kis())
        .await
        .map_err(|e| LmError::internal(format!("sold list task failed: {e}")))?;
    let page: Vec<&String> = sold.iter().skip(skip).take(limit).collect();
    Ok(Json(serde_json::json!({ "total_count": sold.len(), "cis_list": page })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_takes_the_reading_that_is_a_code() {
        // The manual's own example: a raw 21-char tobacco КИ holding `%`.
        assert_eq!(
            decode_cis("04647297654361!%C5UGb").unwrap(),
            "04647297654361!%C5UGb"
        );
        // The same КИ percent-encoded.
        assert_eq!(
            decode_cis("04647297654361%21%25C5UGb").unwrap(),
            "04647297654361!%C5UGb"
        );
        assert_eq!(
            decode_cis("0104600439931256215abcdEFGH1234%1D93dGVz").unwrap(),
            "0104600439931256215abcdEFGH1234\u{1d}93dGVz"
        );
        assert!(decode_cis("nonsense%41").is_err());
        assert_eq!(percent_decode("abc"), None);
        assert_eq!(percent_decode("a%4"), None);
        assert_eq!(percent_decode("%41%42"), Some("AB".into()));
    }
}
