//! `cisgate serve`: the index behind the Local Module's HTTP API, so that cash software
//! and self-checkout clusters can use it unchanged.
//!
//! The service answers the LM's v2 endpoints (and the v1 forms), a native streaming bulk
//! endpoint, and `/metrics`. It picks up generations published by `cisgate apply` or
//! `compact` without a restart: each request reads one generation from the [`LiveIndex`],
//! so no request sees two. Sales reach the durable journal before `201`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cisgate::live::{LiveIndex, LiveOptions};
//! use cisgate::serve::{ServeConfig, Server};
//!
//! let live = Arc::new(LiveIndex::open("index".as_ref(), LiveOptions::default())?);
//! let server = Server::bind(ServeConfig::default(), live).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

pub mod auth;
mod conn;
mod lm;
mod metrics;
mod native;
mod page;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::Semaphore;

pub use auth::{BasicUser, Credentials};
pub use lm::{MAX_CODES_PER_REQUEST, decode_cis};
pub(crate) use metrics::Metrics;

use crate::live::{LiveError, LiveIndex};

/// The Local Module's error codes.
pub mod codes {
    /// Bad or missing credentials.
    pub const BAD_CREDENTIALS: u32 = 4010;
    /// The service's status does not allow the operation.
    pub const UNACCEPTABLE_STATUS: u32 = 4045;
    /// Offline check impossible: the allowed sync period is exceeded.
    pub const OFFLINE_CHECK_IMPOSSIBLE: u32 = 4050;
    /// The sale is already registered.
    pub const ALREADY_SOLD: u32 = 4070;
    /// A required parameter is missing.
    pub const MISSING_PARAMETER: u32 = 6010;
    /// The request body cannot be read.
    pub const BAD_BODY: u32 = 6011;
    /// A parameter has a bad value.
    pub const BAD_VALUE: u32 = 6020;
    /// Internal error.
    pub const INTERNAL: u32 = 5040;
}

/// Shortest password accepted when listening beyond loopback.
pub const MIN_REMOTE_PASSWORD: usize = 12;

/// The default request body limit: 1000 codes (the LM's limit per request) of the longest
/// structure as JSON — a КИ with a 20-character serial, crypto key and an 88-character
/// crypto code, AIs 8005 and 3103, each GS escaped as `\u001d` — is about 200 KB.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The default listen address: the LM's port, loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5995";

/// How the service runs. Read from JSON with [`ServeConfig::from_file`]; every field has a
/// default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: String,
    /// Name reported by `/api/v2/status`.
    pub name: String,
    /// Basic-auth accounts.
    pub users: Vec<BasicUser>,
    /// Accepted `Authorization: Token …` values.
    pub tokens: Vec<String>,
    /// Origins allowed to call from a browser; none by default (no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// Largest request body of the LM endpoints.
    pub body_limit_bytes: usize,
    /// A request must be answered within this (the response headers, for the stream).
    pub request_timeout_ms: u64,
    /// Requests in progress at once; more get 503 at once instead of queueing.
    pub max_concurrent_requests: usize,
    /// Open connections at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout_ms: u64,
    /// A request's head (request line and headers) must arrive within this, however
    /// slowly it trickles.
    pub header_timeout_ms: u64,
    /// How often the index directory is polled for a new generation.
    pub refresh_interval_ms: u64,
    /// Log every request, not only failures.
    pub access_log: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN.to_string(),
            name: "cisgate".to_string(),
            users: Vec::new(),
            tokens: Vec::new(),
            cors_origins: Vec::new(),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            request_timeout_ms: 5000,
            max_concurrent_requests: 4096,
            max_connections: 1024,
            idle_timeout_ms: 30_000,
            header_timeout_ms: 10_000,
            refresh_interval_ms: 1000,
            access_log: false,
        }
    }
}

impl ServeConfig {
    /// Reads a JSON configuration file.
    pub fn from_file(path: &Path) -> Result<ServeConfig, ServeError> {
        let config_error = |message: String| ServeError::Config {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| config_error(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| config_error(e.to_string()))
    }
}

/// Errors starting or running the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file cannot be read or parsed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration is unsafe or unusable.
    #[error("{0}")]
    Refused(String),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The index cannot be used.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An error answer in the LM's shape: `{"errorCode": n, "reason": "…"}`.
#[derive(Debug)]
pub struct LmError {
    status: StatusCode,
    code: u32,
    reason: String,
}

impl LmError {
    fn new(status: StatusCode, code: u32, reason: impl Into<String>) -> LmError {
        LmError {
            status,
            code,
            reason: reason.into(),
        }
    }

    fn bad_request(code: u32, reason: impl Into<String>) -> LmError {
        LmError::new(StatusCode::BAD_REQUEST, code, reason)
    }

    fn internal(reason: impl Into<String>) -> LmError {
        LmError::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, reason)
    }

    fn from_live(e: LiveError) -> LmError {
        match e {
            LiveError::Stale { .. } => {
                LmError::bad_request(codes::OFFLINE_CHECK_IMPOSSIBLE, e.to_string())
            }
            LiveError::AlreadySold { .. } => {
                LmError::new(StatusCode::CONFLICT, codes::ALREADY_SOLD, e.to_string())
            }
            LiveError::InvalidCode { .. }
            | LiveError::Ambiguous { .. }
            | LiveError::NotSold { .. }
            | LiveError::Duplicate { .. } => LmError::bad_request(codes::BAD_VALUE, e.to_string()),
            other => LmError::internal(other.to_string()),
        }
    }
}

/// The reason of an error answer, kept on the response for the log line.
#[derive(Clone, Debug)]
struct ErrorReason(String);

impl IntoResponse for LmError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errorCode": self.code, "reason": self.reason });
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(ErrorReason(format!("{}: {}", self.code, self.reason)));
        response
    }
}

/// When a request must be answered; the sale and return handlers enforce it themselves,
/// so that a write under way is never reported as a failure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestDeadline(pub(crate) Instant);

/// What every handler shares.
pub(crate) struct AppState {
    live: Arc<LiveIndex>,
    config: ServeConfig,
    credentials: Credentials,
    instance: String,
    metrics: Metrics,
    in_flight: Arc<Semaphore>,
}

/// Reads a body of at most `limit` bytes (chunked or not); an empty one is a missing
/// parameter.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, LmError> {
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

/// The service, bound and ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

/// `host:port` or `ip:port` to one address: a name (`localhost:5995`) is resolved, IPv4
/// preferred, as a till's software would reach it.
async fn listen_address(listen: &str) -> Result<SocketAddr, ServeError> {
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let refused = |why: String| {
        ServeError::Refused(format!(
            "{listen:?} is not an address or host:port such as {DEFAULT_LISTEN} or localhost:5995{why}"
        ))
    };
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| refused(format!(" ({e})")))?
        .collect();
    resolved
        .iter()
        .find(|a| a.is_ipv4())
        .or(resolved.first())
        .copied()
        .ok_or_else(|| refused(String::new()))
}

impl Server {
    /// Binds `config.listen`. Refuses to listen beyond loopback without credentials.
    pub async fn bind(config: ServeConfig, live: Arc<LiveIndex>) -> Result<Server, ServeError> {
        let credentials = Credentials::new(config.users.clone(), config.tokens.clone());
        let addr = listen_address(&config.listen).await?;
        if let Some(user) = config.users.iter().find(|u| u.password.is_empty()) {
            return Err(ServeError::Refused(format!(
                "user {:?} has an empty password",
                user.user
            )));
        }
        if !addr.ip().is_loopback()
            && let Some(user) = config
                .users
                .iter()
                .find(|u| u.password.chars().count() < MIN_REMOTE_PASSWORD)
        {
            return Err(ServeError::Refused(format!(
                "user {:?} has a password of {} characters; beyond loopback passwords need at least {MIN_REMOTE_PASSWORD}",
                user.user,
                user.password.chars().count()
            )));
        }
        if config.tokens.iter().any(|t| t.len() < 16) {
            return Err(ServeError::Refused(
                "tokens must be at least 16 characters".into(),
            ));
        }
        if !addr.ip().is_loopback() && !credentials.is_enabled() {
            return Err(ServeError::Refused(format!(
                "refusing to listen on {addr} without credentials: configure users or tokens, or listen on loopback"
            )));
        }
        if config.max_concurrent_requests == 0
            || config.request_timeout_ms == 0
            || config.max_connections == 0
            || config.idle_timeout_ms == 0
            || config.header_timeout_ms == 0
        {
            return Err(ServeError::Refused(
                "max_concurrent_requests, max_connections, request_timeout_ms, idle_timeout_ms and header_timeout_ms must be above 0".into(),
            ));
        }
        let instance = live.instance_id();
        let listener = listen(addr).map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let state = Arc::new(AppState {
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            live,
            config,
            credentials,
            instance,
            metrics: Metrics::default(),
        });
        Ok(Server { listener, state })
    }

    /// The bound address (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let state = self.state;
        let addr = self.listener.local_addr()?;
        log(
            "start",
            serde_json::json!({
                "listen": addr.to_string(),
                "auth": state.credentials.is_enabled(),
                "index": state.live.dir().display().to_string(),
                "version": state.live.generation().index().manifest().version,
            }),
        );
        if !state.credentials.is_enabled() {
            log(
                "warning",
                serde_json::json!({"message": "serving WITHOUT authentication (loopback only); configure users or tokens"}),
            );
        }
        if let Err(stale) = state.live.check_fresh() {
            log("warning", serde_json::json!({"message": stale.to_string()}));
        }
        let refresher = tokio::spawn(refresh_loop(state.clone()));
        let app = router(state.clone());
        let limits = conn::Limits {
            max_connections: state.config.max_connections,
            idle: Duration::from_millis(state.config.idle_timeout_ms),
            header: Duration::from_millis(state.config.header_timeout_ms),
        };
        // Requests in progress at shutdown get their own timeout to finish.
        let drain = Duration::from_millis(state.config.request_timeout_ms + 1000);
        let served = conn::serve(self.listener, app, limits, shutdown, drain).await;
        refresher.abort();
        log(
            "stop",
            serde_json::json!({
                "listen": addr.to_string(),
                "connections_closed_for_room": served.as_ref().ok(),
            }),
        );
        served.map(drop).map_err(ServeError::Io)
    }
}

/// A listening socket with a deep accept queue: under a connection flood the kernel keeps
/// newcomers queued (the accept loop makes room for them) instead of dropping their SYNs,
/// which would cost a client a one-second retransmission.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// The routes and the gate every request passes.
fn router(state: Arc<AppState>) -> Router {
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
        .route("/metrics", get(metrics_text))
        .route("/", get(page::page))
        .route("/status.json", get(page::status_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&state.live),
    )
        .into_response()
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
        "/metrics" => "metrics",
        "/" => "page",
        "/status.json" => "statusJson",
        _ => "other",
    }
}

/// Load shedding, CORS, authentication, the request timeout, metrics and the access log.
async fn gate(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
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

fn preflight() -> Response {
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

/// Polls for generations published by other processes (and their sales).
async fn refresh_loop(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.refresh_interval_ms.max(10));
    loop {
        tokio::time::sleep(every).await;
        let live = state.live.clone();
        match tokio::task::spawn_blocking(move || live.refresh()).await {
            Ok(Ok(true)) => {
                state.metrics.add_generation_switch();
                let generation = state.live.generation();
                let manifest = generation.index().manifest();
                log(
                    "generation",
                    serde_json::json!({"version": manifest.version, "manifest": manifest.file_name()}),
                );
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => log(
                "refresh_failed",
                serde_json::json!({"error": e.to_string()}),
            ),
            Err(e) => log(
                "refresh_failed",
                serde_json::json!({"error": e.to_string()}),
            ),
        }
    }
}

/// One structured log line on stderr.
fn log(event: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({
        "ts": crate::time::format_rfc3339(crate::time::now_ms()),
        "event": event,
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}
