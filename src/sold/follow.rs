//! A node following its store's sold list: a thread that forwards the queue of sales made
//! while the authority was unreachable, and long-polls the store's feed into this node's
//! journal (the replica the checks read).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::apply::{apply_events, apply_reset};
use super::client::ClientError;
use super::queue::Queued;
use super::wire::{
    FEED_PATH, FeedPage, ItemOutcome, REGISTER_PATH, RegisterRequest, RegisterResponse, SaleItem,
};
use crate::live::LiveIndex;

/// How long the store holds a feed request open when nothing happens.
const FEED_WAIT: Duration = Duration::from_secs(20);
/// Backoff after a failed round, doubling up to the second value.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(2));
/// Queued items forwarded per request.
const FORWARD_BATCH: usize = 1000;

/// How the following stands (for a node's own status and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowState {
    /// Whether the last exchange with the authority succeeded.
    pub connected: bool,
    /// The last error, while not connected.
    pub last_error: Option<String>,
    /// The store's journal and the position this node has read up to.
    pub journal: Option<String>,
    /// That position.
    pub position: u64,
    /// Sales and returns waiting in the queue.
    pub queued: usize,
    /// Feed events applied to the replica so far.
    pub applied: u64,
    /// When the authority last answered, Unix ms.
    pub last_contact_ms: Option<i64>,
    /// Whether the last page said there was nothing more.
    pub caught_up: bool,
}

/// The thread that keeps a node on its store's sold list; dropping it stops the thread.
pub struct StoreFollower {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<FollowState>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StoreFollower {
    /// Starts following the store of `live`'s sold authority; `None` when it has none.
    pub fn start(live: &Arc<LiveIndex>) -> Option<StoreFollower> {
        live.authority()?;
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(FollowState::default()));
        let (live, s, st) = (Arc::clone(live), stop.clone(), state.clone());
        let thread = std::thread::Builder::new()
            .name("cisgate-sold".into())
            .spawn(move || follow(&live, &s, &st))
            .ok();
        Some(StoreFollower {
            stop,
            state,
            thread,
        })
    }

    /// How the following stands now.
    pub fn state(&self) -> FollowState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for StoreFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The thread may be inside a long poll; it is detached rather than waited for
        // (it holds its own reference to the index and ends at its next look at `stop`).
        drop(self.thread.take());
    }
}

/// Brings this node's replica up to the store now, once: the queue forwarded and the feed
/// read until it has nothing more (a command-line check or sale that does not keep a
/// follower running). Returns how the following stands.
pub fn sync_now(live: &LiveIndex) -> Result<FollowState, String> {
    let stop = AtomicBool::new(false);
    let state = Mutex::new(FollowState::default());
    for _ in 0..1000 {
        round_with(live, &stop, &state, Duration::ZERO)?;
        let st = state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if st.caught_up {
            return Ok(st);
        }
    }
    Err("the store's feed did not end".into())
}

fn follow(live: &Arc<LiveIndex>, stop: &AtomicBool, state: &Mutex<FollowState>) {
    let mut backoff = BACKOFF.0;
    while !stop.load(Ordering::Relaxed) {
        let round = round(live, stop, state);
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        match round {
            Ok(()) => {
                st.connected = true;
                st.last_error = None;
                st.last_contact_ms = Some(crate::time::now_ms());
                backoff = BACKOFF.0;
            }
            Err(e) => {
                st.connected = false;
                st.last_error = Some(e);
                drop(st);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// One round: the queue forwarded, then one feed page applied (the store holding the
/// request open up to `FEED_WAIT` for something new).
fn round(live: &LiveIndex, stop: &AtomicBool, state: &Mutex<FollowState>) -> Result<(), String> {
    round_with(live, stop, state, FEED_WAIT)
}

fn round_with(
    live: &LiveIndex,
    stop: &AtomicBool,
    state: &Mutex<FollowState>,
    wait: Duration,
) -> Result<(), String> {
    let Some(authority) = live.authority() else {
        return Err("no sold authority".into());
    };
    forward(live, state)?;
    let (journal, position) = {
        let st = state.lock().unwrap_or_else(|e| e.into_inner());
        (st.journal.clone(), st.position)
    };
    let path = match &journal {
        Some(j) => format!(
            "{FEED_PATH}?journal={j}&after={position}&wait_ms={}",
            wait.as_millis()
        ),
        None => format!("{FEED_PATH}?wait_ms=0"),
    };
    let started = Instant::now();
    let page: FeedPage = authority
        .client
        .json("GET", &path, None::<&()>, wait + Duration::from_secs(5))
        .map_err(|e: ClientError| e.to_string())?;
    if stop.load(Ordering::Relaxed) {
        return Ok(());
    }
    let applied = match &page.reset {
        Some(sold) => {
            let queued: Vec<Vec<u8>> = authority
                .queue
                .load()
                .into_iter()
                .map(|q| q.ki.into_bytes())
                .collect();
            apply_reset(live, sold, &queued).map_err(|e| e.to_string())?
        }
        None => apply_events(live, &page.events).map_err(|e| e.to_string())?,
    };
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.caught_up = page.reset.is_none() && page.events.is_empty();
    st.journal = Some(page.journal);
    st.position = page.next;
    st.applied += applied as u64;
    // An empty page answered at once is a store that does not hold requests open (or a
    // reset): pace the next one.
    if !wait.is_zero()
        && page.events.is_empty()
        && page.reset.is_none()
        && started.elapsed() < Duration::from_millis(50)
    {
        drop(st);
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Forwards the queue: each sale or return the authority answers (applied, already there,
/// a conflict, or refused for good) leaves the queue.
fn forward(live: &LiveIndex, state: &Mutex<FollowState>) -> Result<(), String> {
    let Some(authority) = live.authority() else {
        return Ok(());
    };
    let queued = authority.queue.load();
    state.lock().unwrap_or_else(|e| e.into_inner()).queued = queued.len();
    for chunk in queued.chunks(FORWARD_BATCH) {
        // One request per run of the same operation, in order.
        let mut at = 0;
        while at < chunk.len() {
            let op = chunk[at].op;
            let run: Vec<&Queued> = chunk[at..].iter().take_while(|q| q.op == op).collect();
            at += run.len();
            let request = RegisterRequest {
                op,
                items: run
                    .iter()
                    .map(|q| SaleItem {
                        ki: q.ki.clone(),
                        time: q.time,
                    })
                    .collect(),
                queued: true,
            };
            let response: RegisterResponse = authority
                .client
                .json(
                    "POST",
                    REGISTER_PATH,
                    Some(&request),
                    authority.timeout.max(Duration::from_secs(5)),
                )
                .map_err(|e| e.to_string())?;
            let answered: Vec<Queued> = run
                .iter()
                .zip(&response.results)
                .filter(|(_, r)| {
                    matches!(
                        r.outcome,
                        ItemOutcome::Applied
                            | ItemOutcome::Already
                            | ItemOutcome::Conflict
                            | ItemOutcome::Refused
                    )
                })
                .map(|(q, _)| (*q).clone())
                .collect();
            // Whatever the store answered, its word comes back through the feed.
            authority
                .queue
                .remove(&answered)
                .map_err(|e| e.to_string())?;
        }
    }
    state.lock().unwrap_or_else(|e| e.into_inner()).queued = authority.queue.load().len();
    Ok(())
}
