//! The Local Module's HTTP API (v2, and the v1 forms older clients still call).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AppState, LmError, codes};
use crate::check::{CheckOptions, Reason, Status, Verdict};
use crate::live::LiveError;

/// At most this many КИ per LM request, as the LM allows.
pub const MAX_CODES_PER_REQUEST: usize = 1000;

/// Lists this long or longer are checked on the blocking pool rather than inline.
const INLINE_CHECK_LIMIT: usize = 32;

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

/// One `codes[]` entry of an outCheck result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LmCode {
    cis: String,
    gtin: String,
    is_blocked: bool,
    sold: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    mrp: Option<i32>,
}

/// One outCheck result: one per КИ asked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LmResult {
    req_id: String,
    req_timestamp: i64,
    inst: String,
    version: String,
    code: i32,
    description: String,
    codes: [LmCode; 1],
}

#[derive(Serialize)]
struct Results {
    results: Vec<LmResult>,
}

/// `POST /api/v2/cis/outCheck`.
pub async fn out_check(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    let body = super::read_json(body, state.config.body_limit_bytes).await?;
    let items = cis_list(&body)?;
    let results = check_items(&state, items).await?;
    Ok(Json(Results { results }).into_response())
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
    let mut results = check_items(&state, vec![Some(cis)]).await?;
    Ok(Json(results.remove(0)).into_response())
}

async fn check_items(
    state: &Arc<AppState>,
    items: Vec<Option<String>>,
) -> Result<Vec<LmResult>, LmError> {
    // Decode first: an input that cannot be read gets its own `code: 400` result.
    let decoded: Vec<Result<String, String>> = items
        .iter()
        .map(|item| match item.as_deref().map(str::trim) {
            None | Some("") => Err("the cis is empty".to_string()),
            Some(cis) => decode_cis(cis),
        })
        .collect();
    let inputs: Vec<String> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok().cloned())
        .collect();
    let verdicts = if inputs.len() < INLINE_CHECK_LIMIT {
        state.live.check_batch(&inputs, &CheckOptions::default())
    } else {
        let live = state.live.clone();
        tokio::task::spawn_blocking(move || live.check_batch(&inputs, &CheckOptions::default()))
            .await
            .map_err(|e| LmError::internal(format!("check task failed: {e}")))?
    }
    .map_err(LmError::from_live)?;
    state.metrics.add_codes_checked(items.len() as u64);
    // Each verdict names the generation that answered it; the current one may be newer
    // already. Inputs that never reached a lookup take the version of the first verdict.
    let version = verdicts.first().map_or_else(
        || state.live.generation().index().manifest().version.clone(),
        |v| v.index_version.clone(),
    );
    let now = crate::time::now_ms();
    let mut verdicts = verdicts.into_iter();
    let results = items
        .into_iter()
        .zip(decoded)
        .map(|(item, decoded)| {
            let base = |version: &str, code: i32, description: String, entry: LmCode| LmResult {
                req_id: uuid::Uuid::new_v4().to_string(),
                req_timestamp: now,
                inst: state.instance.clone(),
                version: version.to_string(),
                code,
                description,
                codes: [entry],
            };
            match decoded {
                Err(reason) => base(
                    &version,
                    400,
                    reason,
                    invalid_entry(item.unwrap_or_default()),
                ),
                Ok(_) => {
                    let verdict = verdicts.next().expect("one verdict per decoded input");
                    result_of(verdict, base)
                }
            }
        })
        .collect();
    Ok(results)
}

fn invalid_entry(cis: String) -> LmCode {
    // Blocked as well as `code: 400`: a client reading only `isBlocked` must not sell it.
    LmCode {
        cis,
        gtin: String::new(),
        is_blocked: true,
        sold: false,
        mrp: None,
    }
}

fn result_of(verdict: Verdict, base: impl Fn(&str, i32, String, LmCode) -> LmResult) -> LmResult {
    let version = verdict.index_version.clone();
    if verdict.status == Status::Invalid {
        let reason = verdict.error.unwrap_or_else(|| "not a marking code".into());
        return base(&version, 400, reason, invalid_entry(verdict.input));
    }
    let sold = verdict.reasons.contains(&Reason::Sold);
    let is_blocked = verdict.reasons.iter().any(|r| *r != Reason::Sold);
    let entry = LmCode {
        cis: verdict.ki.clone().unwrap_or_else(|| verdict.input.clone()),
        gtin: verdict.gtin.clone().unwrap_or_default(),
        is_blocked,
        sold,
        mrp: verdict
            .max_retail_price_kopecks
            .and_then(|k| i32::try_from(k).ok()),
    };
    base(&version, 0, "ok".into(), entry)
}

/// The `cis_list` of a request body: strings, `null`s, or `{"cis": …}` objects.
fn cis_list(body: &Value) -> Result<Vec<Option<String>>, LmError> {
    let list = match body.get("cis_list") {
        None | Some(Value::Null) => {
            return Err(LmError::bad_request(
                codes::MISSING_PARAMETER,
                "cis_list is missing",
            ));
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(LmError::bad_request(
                codes::BAD_VALUE,
                "cis_list is not an array",
            ));
        }
    };
    if list.len() > MAX_CODES_PER_REQUEST {
        return Err(LmError::bad_request(
            codes::BAD_VALUE,
            format!(
                "cis_list holds {} codes; at most {MAX_CODES_PER_REQUEST} per request",
                list.len()
            ),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let cis = match item {
                Value::Object(o) => o.get("cis").unwrap_or(&Value::Null),
                other => other,
            };
            match cis {
                Value::String(s) => Ok(Some(s.clone())),
                Value::Null => Ok(None),
                other => Err(LmError::bad_request(
                    codes::BAD_VALUE,
                    format!("cis_list[{i}] is {other}, not a string"),
                )),
            }
        })
        .collect()
}

/// The code a client meant: as sent, or percent-decoded once (RFC 1738), whichever is a
/// readable marking code. Raw КИ can hold `%` themselves, so decoding is never assumed;
/// when both readings are codes and name different КИ, the input is refused as ambiguous.
pub fn decode_cis(raw: &str) -> Result<String, String> {
    if !raw.contains('%') {
        // Nothing to decode: the checker parses it and reports what is wrong.
        return Ok(raw.to_string());
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
        (Ok(_), _) => Ok(raw.to_string()),
        (Err(_), Some(Ok(_))) => Ok(decoded.unwrap_or_default()),
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

/// `POST /api/v2/cis/sell`: 201 once every sale is on disk.
pub async fn sell(State(state): State<Arc<AppState>>, body: Body) -> Result<Response, LmError> {
    journal_op(state, body, true).await
}

/// `POST /api/v2/cis/return`.
pub async fn return_sale(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    journal_op(state, body, false).await
}

async fn journal_op(state: Arc<AppState>, body: Body, sell: bool) -> Result<Response, LmError> {
    let body = super::read_json(body, state.config.body_limit_bytes).await?;
    let items = cis_list(&body)?;
    let mut kis = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let cis = item.as_deref().map(str::trim).unwrap_or("");
        if cis.is_empty() {
            return Err(LmError::bad_request(
                codes::BAD_VALUE,
                format!("cis_list[{i}] is empty"),
            ));
        }
        let decoded = decode_cis(cis).map_err(|e| LmError::bad_request(codes::BAD_VALUE, e))?;
        let ki = crate::live::canonical_ki(&decoded)
            .map_err(|e| LmError::bad_request(codes::BAD_VALUE, e.to_string()))?;
        kis.push(ki);
    }
    state.live.check_fresh().map_err(LmError::from_live)?;
    // All or nothing for what can be known up front: nothing is written if one would fail.
    for ki in &kis {
        let sold = state.live.is_sold(ki.as_bytes());
        if sell && sold {
            return Err(LmError::new(
                StatusCode::CONFLICT,
                codes::ALREADY_SOLD,
                format!("{ki} is already sold"),
            ));
        }
        if !sell && !sold {
            return Err(LmError::bad_request(
                codes::BAD_VALUE,
                format!("{ki} is not sold here, so it cannot be returned"),
            ));
        }
    }
    let live = state.live.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<Vec<String>, LiveError> {
        let mut done = Vec::with_capacity(kis.len());
        for ki in kis {
            done.push(if sell {
                live.sell(&ki)?
            } else {
                live.return_sale(&ki)?
            });
        }
        Ok(done)
    })
    .await
    .map_err(|e| LmError::internal(format!("journal task failed: {e}")))?
    .map_err(LmError::from_live)?;
    let status = if sell {
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
    let body = super::read_json(body, state.config.body_limit_bytes).await?;
    let items = cis_list(&body)?;
    let results: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let cis = item.unwrap_or_default();
            let is_sold = decode_cis(cis.trim())
                .ok()
                .and_then(|d| crate::live::canonical_ki(&d).ok())
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
