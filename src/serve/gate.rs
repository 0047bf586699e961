//! The gate every request passes: load shedding, Host and Origin rules, authentication,
//! the deadline, the access log; and reading a request body within its limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ErrorReason, LmError, codes};
use super::state::{AppState, RequestDeadline, log};

/// A fixed label per endpoint, so that metrics stay small whatever paths clients send.
fn endpoint_label(path: &str) -> &'static str {
    match path {
        "/api/v2/status" => "status",
        "/api/v2/config" => "config",
        "/api/v2/cis/outCheck" => "outCheck",
        "/api/v2/cis/sell" => "sell",
        "/api/v2/cis/return" => "return",
        "/api/v2/cis/sold/check" => "soldCheck",
        "/api/v2/cis/sold" => "sold",
        "/api/v1/cis/outCheck" => "v1outCheck",
        "/api/v1/cis/check" => "v1check",
        "/api/cisgate/v1/check" => "nativeCheck",
        "/api/cisgate/v1/sold/register" => "soldRegister",
        "/api/cisgate/v1/sold/feed" => "soldFeed",
        "/metrics" => "metrics",
        "/" => "page",
        "/status.json" => "statusJson",
        _ => "other",
    }
}

/// Load shedding, CORS, authentication, the request timeout, metrics and the access log.
pub(crate) async fn gate(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let endpoint = endpoint_label(request.uri().path());
    let method = request.method().clone();
    let request_id = uuid::Uuid::new_v4();
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string());
    let allowed_origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|o| {
            state
                .config
                .cors_origins
                .iter()
                .any(|allowed| allowed.as_bytes() == o.as_bytes())
        })
        .cloned();
    let (mut response, principal) = if method == Method::OPTIONS && allowed_origin.is_some() {
        (preflight(), None)
    } else {
        admit(&state, request, next).await
    };
    if let Some(origin) = allowed_origin {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Ok(id) = HeaderValue::from_str(&request_id.to_string()) {
        response.headers_mut().insert("x-request-id", id);
    }
    let status = response.status().as_u16();
    let took = started.elapsed();
    state.metrics.record(endpoint, status, took);
    if state.config.access_log || status >= 400 {
        let mut fields = serde_json::json!({
            "request_id": request_id.to_string(),
            "client": client,
            "method": method.as_str(), "endpoint": endpoint, "status": status,
            // Microseconds are as precise as a request's duration means anything.
            "ms": took.as_micros() as f64 / 1000.0,
        });
        if let Some(who) = principal {
            fields["user"] = serde_json::Value::String(who);
        }
        if let Some(reason) = response.extensions().get::<ErrorReason>() {
            fields["error"] = serde_json::Value::String(reason.0.clone());
        }
        log("request", fields);
    }
    response
}

/// Whether a `Host` header names this machine's loopback interface (`localhost`,
/// `127.0.0.1`, `[::1]`, with or without a port).
fn is_loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || port.starts_with(':') => inside,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Without credentials the service trusts whatever runs on this machine, so it must not be
/// reachable through a browser: a page on another site (a cross-site request) or a name
/// that resolves to loopback (DNS rebinding). Refuses a `Host` that is not loopback, an
/// `Origin` not configured, and a sale or return that is not `application/json` (a form
/// post needs no preflight).
fn refuse_browser_reach(state: &AppState, request: &Request) -> Option<LmError> {
    if state.credentials.is_enabled() {
        return None;
    }
    let headers = request.headers();
    if let Some(host) = headers.get(header::HOST)
        && !is_loopback_host(host.as_bytes())
    {
        return Some(LmError::new(
            StatusCode::FORBIDDEN,
            codes::BAD_CREDENTIALS,
            format!(
                "Host {:?} is not a loopback name; without credentials only localhost, 127.0.0.1 or [::1] is served",
                String::from_utf8_lossy(host.as_bytes())
            ),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state
            .config
            .cors_origins
            .iter()
            .any(|allowed| allowed.as_bytes() == origin.as_bytes())
    {
        return Some(LmError::new(
            StatusCode::FORBIDDEN,
            codes::BAD_CREDENTIALS,
            format!(
                "requests from origin {:?} are refused (configure cors_origins to allow it)",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        ));
    }
    let changes_state = matches!(endpoint_label(request.uri().path()), "sell" | "return");
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if changes_state && !json {
        return Some(LmError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::BAD_BODY,
            "a sale or return must be sent as Content-Type: application/json",
        ));
    }
    None
}

async fn admit(
    state: &Arc<AppState>,
    mut request: Request,
    next: Next,
) -> (Response, Option<String>) {
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        let shed = LmError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::INTERNAL,
            "too many requests in progress; retry",
        );
        return (shed.into_response(), None);
    };
    if let Some(refusal) = refuse_browser_reach(state, &request) {
        return (refusal.into_response(), None);
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    // The store's sold list checks its nodes' tokens itself (serve.json `nodes`), and its
    // feed holds requests open longer than the request timeout, up to its own bound.
    if matches!(
        endpoint_label(request.uri().path()),
        "soldRegister" | "soldFeed"
    ) {
        let deadline = Instant::now() + Duration::from_millis(state.config.request_timeout_ms);
        request.extensions_mut().insert(RequestDeadline(deadline));
        return (next.run(request).await, None);
    }
    let principal = match state.credentials.check(authorization) {
        Ok(who) => who,
        Err(_) => {
            let mut response = LmError::new(
                StatusCode::UNAUTHORIZED,
                codes::BAD_CREDENTIALS,
                "bad or missing credentials",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cisgate\""),
            );
            return (response, None);
        }
    };
    let limit = Duration::from_millis(state.config.request_timeout_ms);
    let deadline = Instant::now() + limit;
    request.extensions_mut().insert(RequestDeadline(deadline));
    if matches!(endpoint_label(request.uri().path()), "sell" | "return") {
        return (next.run(request).await, principal);
    }
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => LmError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::INTERNAL,
            format!(
                "the request was not complete within {} ms",
                limit.as_millis()
            ),
        )
        .into_response(),
    };
    (response, principal)
}

pub(crate) fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, X-ClientId",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

/// Reads a body of at most `limit` bytes (chunked or not); an empty one is a missing
/// parameter.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, LmError> {
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return Err(if too_big {
                LmError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    codes::BAD_BODY,
                    format!("the request body is over {limit} bytes"),
                )
            } else {
                LmError::bad_request(
                    codes::BAD_BODY,
                    format!("cannot read the request body: {e}"),
                )
            });
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(LmError::bad_request(
            codes::MISSING_PARAMETER,
            "the request body is empty",
        ));
    }
    Ok(bytes)
}
