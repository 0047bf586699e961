//! The service: bound, then run until its shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::auth::Credentials;
use super::config::{DEFAULT_LISTEN, MIN_REMOTE_PASSWORD, ServeConfig};
use super::conn;
use super::error::ServeError;
use super::metrics::{DAYS_FILE, Metrics};
use super::refresh::refresh_loop;
use super::router::router;
use super::state::{AppState, log};
use crate::live::LiveIndex;

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
        let tz = crate::time::TimeZone::parse(&config.timezone).ok_or_else(|| {
            ServeError::Refused(format!(
                "time zone {:?} is not one of МСК, МСК+N, МСК-N, UTC or an offset such as +05:00",
                config.timezone
            ))
        })?;
        let metrics = Metrics::default();
        metrics.set_timezone(tz.clone());
        metrics.load_days(&live.dir().join(DAYS_FILE));
        let state = Arc::new(AppState {
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            live,
            config,
            credentials,
            instance,
            metrics,
            tz,
            sold: Default::default(),
        });
        state
            .sold
            .load_conflicts(&state.live.dir().join(super::nodes::CONFLICTS_FILE));
        Ok(Server { listener, state })
    }

    /// What the handlers share (for the pull loop a service may run).
    #[cfg_attr(not(feature = "distribute"), allow(dead_code))]
    pub(crate) fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
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
