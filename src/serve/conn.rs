//! The connections under `cisgate serve`: HTTP/1.1 on hyper, with the defences a service
//! on a till needs against slow and hostile clients.
//!
//! - A request head must arrive whole within `header_timeout_ms` (hyper's header-read
//!   timer), however it trickles.
//! - A connection with no traffic either way for `idle_timeout_ms` is closed.
//! - At most `max_connections` are open. When a new client arrives at the cap, the
//!   connection that has been waiting longest without a request in progress is closed to
//!   make room: first those that never completed a request (slow or silent headers), then
//!   idle keep-alives. New clients are served; slow ones give way. Only when every
//!   connection has a request in progress is the newcomer turned away with a 503.
//! - The error answers hyper writes by itself (a malformed or oversized head: 400, 414, 431)
//!   are rewritten into the Local Module's error shape.
//!
//! HTTP/2 is not served: the Local Module's clients speak HTTP/1.1, and a client that
//! opens with the HTTP/2 preface is disconnected.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Longest request head (request line and headers) read; a longer one is answered 431.
/// LM requests have heads of a few hundred bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The limits the connection layer enforces.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// A connection silent both ways for this long is closed.
    pub idle: Duration,
    /// A request head must arrive within this.
    pub header: Duration,
}

/// What the registry knows of one connection.
struct ConnState {
    accepted: Instant,
    /// Requests whose answer has not been sent in full.
    in_flight: AtomicUsize,
    /// Requests handed to the router so far.
    calls: AtomicU64,
    /// Requests answered in full so far.
    answered: AtomicU64,
    /// When the last answer finished (ms since `accepted`).
    idle_since_ms: AtomicU64,
    /// Told to close to make room for a newcomer.
    evict: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            evict: Notify::new(),
        }
    }

    /// The order in which connections give way: never-answered ones first, oldest first;
    /// then idle keep-alives, longest idle first. `None`: a request is in progress.
    fn eviction_rank(&self) -> Option<(bool, Instant)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let answered = self.answered.load(Ordering::Acquire) > 0;
        let idle_since =
            self.accepted + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        Some((answered, idle_since))
    }
}

/// The open connections.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    evicted: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection, making room when at the cap. `None`: no room, every
    /// connection has a request in progress.
    fn admit(&self, max: usize) -> Option<(u64, Arc<ConnState>)> {
        let mut open = self.lock();
        if open.len() >= max {
            let victim = open
                .iter()
                .filter_map(|(id, c)| c.eviction_rank().map(|rank| (rank, *id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(c) = open.remove(&victim) {
                c.evict.notify_one();
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        open.insert(id, state.clone());
        Some((id, state))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in progress
/// finish (for at most `drain`). Returns how many connections were closed to make room.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
    drain: Duration,
) -> io::Result<u64> {
    let registry = Arc::new(Registry::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: no reason to wait for more.
        let _ = stream.set_nodelay(true);
        let Some((id, state)) = registry.admit(limits.max_connections) else {
            tokio::spawn(turn_away(stream));
            continue;
        };
        let service = service(router.clone(), state.clone(), addr);
        let io = TokioIo::new(TrackedStream::new(stream, state.clone(), limits.idle));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header)
            .max_header_size(MAX_HEAD_BYTES)
            .keep_alive(true)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        let registry = registry.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                () = state.evict.notified() => {}
            }
            registry.remove(id);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
    Ok(registry.evicted.load(Ordering::Relaxed))
}

/// Answers a connection there is no room for and closes it.
async fn turn_away(mut stream: TcpStream) {
    let answer = error_answer(
        503,
        "Service Unavailable",
        crate::serve::error::codes::INTERNAL,
        "every connection has a request in progress; retry",
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer)).await;
}

/// An HTTP/1.1 answer in the LM's error shape that closes the connection.
fn error_answer(status: u16, text: &str, code: u32, reason: &str) -> Vec<u8> {
    let body = serde_json::json!({ "errorCode": code, "reason": reason }).to_string();
    format!(
        "HTTP/1.1 {status} {text}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The router as a hyper service for one connection: marks the connection busy from the
/// request until its answer is sent in full, and gives handlers the client's address.
fn service(
    router: Router,
    state: Arc<ConnState>,
    addr: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<TrackedBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<TrackedBody>, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let busy = Busy::start(state.clone());
        request.extensions_mut().insert(ConnectInfo(addr));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| TrackedBody { body, _busy: busy }))
        }
    })
}

/// A request in progress on a connection, until its answer's body is done.
struct Busy(Arc<ConnState>);

impl Busy {
    fn start(state: Arc<ConnState>) -> Busy {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.calls.fetch_add(1, Ordering::AcqRel);
        Busy(state)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let idle_since = self.0.accepted.elapsed().as_millis() as u64;
        self.0.idle_since_ms.store(idle_since, Ordering::Release);
        self.0.answered.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its connection marked busy until it is dropped.
pub(super) struct TrackedBody {
    body: Body,
    _busy: Busy,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// One accepted connection: closes when idle too long, and rewrites the error answers
/// hyper writes on its own into the LM's error shape.
struct TrackedStream {
    stream: TcpStream,
    state: Arc<ConnState>,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Response heads of router answers seen so far.
    heads: u64,
    /// A rewritten answer still to be sent; once set, hyper's own bytes are dropped.
    replacement: Option<(Vec<u8>, usize)>,
}

impl TrackedStream {
    fn new(stream: TcpStream, state: Arc<ConnState>, idle: Duration) -> TrackedStream {
        TrackedStream {
            stream,
            state,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            heads: 0,
            replacement: None,
        }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    fn idle_error(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.deadline
            .as_mut()
            .poll(cx)
            .is_ready()
            .then(|| io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long"))
    }

    /// Whether `data` starts a final (non-1xx) response head that no router call asked
    /// for: hyper answering a head it could not parse. Counts router heads on the way.
    fn is_hyper_error_head(&mut self, data: &[u8]) -> Option<u16> {
        let status = data
            .strip_prefix(b"HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok())?;
        if status < 200 {
            return None;
        }
        if self.heads < self.state.calls.load(Ordering::Acquire) {
            self.heads += 1;
            return None;
        }
        Some(status)
    }

    /// Sends what is left of a rewritten answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.replacement {
            if *sent == bytes.len() {
                break;
            }
            match Pin::new(&mut self.stream).poll_write(cx, &bytes[*sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The LM-shaped answer for a status hyper chose for an unreadable head.
fn rewritten(status: u16) -> Vec<u8> {
    let (text, reason) = match status {
        414 => ("URI Too Long", "the request URI is too long"),
        431 => (
            "Request Header Fields Too Large",
            "the request headers are too large",
        ),
        505 => (
            "HTTP Version Not Supported",
            "only HTTP/1.0 and HTTP/1.1 are served",
        ),
        _ => (
            "Bad Request",
            "the request is not well-formed HTTP/1.1 (bad request line, headers or framing)",
        ),
    };
    error_answer(status, text, crate::serve::error::codes::BAD_BODY, reason)
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.idle_error(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            other => other,
        }
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_none()
            && let Some(status) = this.is_hyper_error_head(data)
        {
            this.replacement = Some((rewritten(status), 0));
        }
        if this.replacement.is_some() {
            // hyper closes the connection after its error answer: ours goes instead.
            return match this.poll_replacement(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(data.len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        match Pin::new(&mut this.stream).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                this.touch();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match this.idle_error(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_replacement(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.stream).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_replacement(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.stream).poll_shutdown(cx),
            other => other,
        }
    }
}
