//! The index as a checkout uses it: the current generation, swapped without locks when a
//! writer publishes a new one, plus the sold journal and the freshness rule.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let list = dir.path().join("cis.list");
//! # let now = cisgate::time::format_rfc3339(cisgate::time::now_ms());
//! # std::fs::write(&list, format!("#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: {now}\n"))?;
//! # let out = dir.path().join("idx");
//! # cisgate::index::build(&out, &[list], &Default::default(), &cisgate::progress::NoProgress)?;
//! use cisgate::live::{LiveIndex, LiveOptions};
//!
//! let live = LiveIndex::open(&out, LiveOptions::default())?;
//! let code = "0104600439931256215abcdEFGH1234\u{1d}93dGVz";
//! assert!(!live.check(code, &Default::default())?.is_blocked());
//! live.sell(code)?;                                  // durable before it returns
//! assert!(live.check(code, &Default::default())?.is_blocked());
//! assert!(live.sell(code).is_err());                 // already sold
//! live.return_sale(code)?;
//! # Ok(()) }
//! ```
//!
//! A long-running embedder lets a [`Refresher`] pick up new generations (an `apply`,
//! `compact` or `pull` by another process) instead of writing its own polling loop:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use cisgate::live::{LiveIndex, LiveOptions};
//!
//! let live = Arc::new(LiveIndex::open("/var/lib/cisgate".as_ref(), LiveOptions::default())?);
//! let refresher = live.refresh_every(Duration::from_secs(1)); // stops when dropped
//! # drop(refresher);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak, mpsc};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

pub(crate) mod sales;

use crate::check::parallel;
use crate::check::{CheckOptions, Decision, Outcome, SoldSource, Verdict};
use crate::code;
use crate::index::DEFAULT_SOLD_RETENTION_MS;
use crate::index::{Index, IndexError, OpenOptions, Table, manifest};
use crate::journal::{self, Journal, JournalError, JournalWriter, SaleOp, SoldState};
use crate::sold::client::{Client, ClientError, SoldAuthority};
use crate::sold::queue::{Queue, Queued};
use crate::sold::wire::{ItemOutcome, REGISTER_PATH, RegisterRequest, RegisterResponse, SaleItem};

/// The Local Module's default: offline checks stop 72 hours after the last sync.
pub const DEFAULT_MAX_AGE_MS: i64 = 72 * 3600 * 1000;

/// How a [`LiveIndex`] behaves.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Refuse checks and sales when the data is older than this (`None`: never refuse).
    /// 72 h by default; pharmacies use 10 days.
    pub max_age_ms: Option<i64>,
    /// How long a sale keeps a КИ on the sold list.
    pub sold_retention_ms: i64,
    /// Hash every data file when opening a generation.
    pub verify_checksums: bool,
    /// The store's `serve` as the sold authority: sales and returns go there first, so
    /// that every till of the store sees them ([`crate::sold`]); `None`: this index's own
    /// journal is the sold list.
    pub sold_authority: Option<SoldAuthority>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            max_age_ms: Some(DEFAULT_MAX_AGE_MS),
            sold_retention_ms: DEFAULT_SOLD_RETENTION_MS,
            verify_checksums: true,
            sold_authority: None,
        }
    }
}

/// Errors of live checks and sales.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The index could not be opened or refreshed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The sold journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The data is older than the allowed period: offline checks are refused.
    #[error(
        "offline check refused: the index data is as of {as_of}, {} old, over the allowed {}; update the lists (cisgate build, apply or pull), or change the limit (--max-age-hours, --ignore-freshness; LiveOptions::max_age_ms)",
        crate::time::format_span(*age_ms),
        crate::time::format_limit(*max_age_ms)
    )]
    Stale {
        /// When the data was current.
        as_of: String,
        /// How old the data is, in hours (rounded to 0.1).
        age_hours: f64,
        /// The allowed age in hours.
        max_age_hours: f64,
        /// How old the data is, ms.
        age_ms: i64,
        /// The allowed age, ms.
        max_age_ms: i64,
    },
    /// The input is not a marking code.
    #[error("{input:?}: {error}")]
    InvalidCode {
        /// The input.
        input: String,
        /// The parser's error.
        error: code::ParseError,
    },
    /// The input can be read as more than one КИ; a sale needs exactly one.
    #[error(
        "{input:?} is ambiguous without its GS separator (could be {candidates}); scan it again"
    )]
    Ambiguous {
        /// The input.
        input: String,
        /// The readings.
        candidates: String,
    },
    /// Selling a КИ that is already sold here.
    #[error("{ki} is already sold")]
    AlreadySold {
        /// The КИ.
        ki: String,
    },
    /// Returning a КИ that is not sold here.
    #[error("{ki} is not sold here, so it cannot be returned")]
    NotSold {
        /// The КИ.
        ki: String,
    },
    /// One list names the same КИ twice.
    #[error("the codes at positions {first} and {second} (from 0) are the same КИ {ki}")]
    Duplicate {
        /// The КИ.
        ki: String,
        /// 0-based position of its first mention.
        first: usize,
        /// 0-based position of the repeat.
        second: usize,
    },
    /// Another writer held the sold journal until the deadline: nothing was written.
    #[error(
        "the sold journal stayed locked by another writer for {waited_ms} ms; nothing was written"
    )]
    Busy {
        /// How long the call waited.
        waited_ms: u64,
    },
    /// The caller gave up waiting before the write began: nothing was written.
    #[error("the answer went out before the write began; nothing was written")]
    Abandoned,
    /// The store's sold authority is misconfigured or refused this node.
    #[error("sold authority: {0}")]
    Authority(String),
}

/// A deadline for a sale or return, shared by the caller that waits for the answer and the
/// thread that writes.
///
/// When the caller's time runs out it calls [`WriteDeadline::abandon`]: if the write had
/// not begun, it never will (and the caller may answer "failed, nothing written"); if it
/// had, the caller must wait for its result, because a write under way is not cut short.
#[derive(Clone, Debug)]
pub struct WriteDeadline {
    at: Instant,
    state: Arc<AtomicU8>,
}

const WRITE_PENDING: u8 = 0;
const WRITE_BEGUN: u8 = 1;
const WRITE_ABANDONED: u8 = 2;

impl WriteDeadline {
    /// A deadline at `at`.
    pub fn new(at: Instant) -> WriteDeadline {
        WriteDeadline {
            at,
            state: Arc::new(AtomicU8::new(WRITE_PENDING)),
        }
    }

    /// When waiting for the journal stops.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// Gives up on the write. `true`: it had not begun and never will; `false`: it is under
    /// way (or done), so its result is the answer.
    pub fn abandon(&self) -> bool {
        match self.state.compare_exchange(
            WRITE_PENDING,
            WRITE_ABANDONED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(state) => state == WRITE_ABANDONED,
        }
    }

    fn begin_write(&self) -> bool {
        self.state
            .compare_exchange(
                WRITE_PENDING,
                WRITE_BEGUN,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// A generation's sold journal as this process shares it: the replayed state for lookups,
/// and the writer, so that a writer waiting for another process's lock never holds up
/// lookups.
struct JournalHandle {
    state: RwLock<Journal>,
    writer: JournalWriter,
}

impl JournalHandle {
    fn open(path: &Path) -> Result<JournalHandle, LiveError> {
        Ok(JournalHandle {
            state: RwLock::new(Journal::open(path)?),
            writer: JournalWriter::open(path)?,
        })
    }
}

/// The background refresh of a [`LiveIndex`] ([`LiveIndex::refresh_every`]); dropping it
/// stops the thread and waits for it.
pub struct Refresher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Refresher {
    /// The error of the last refresh, if it failed (the index keeps answering from the
    /// generation it has).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Milliseconds as hours, rounded to a tenth.
fn hours(ms: i64) -> f64 {
    (ms as f64 / 360_000.0).round() / 10.0
}

/// One generation and the journal that goes with it.
pub struct Generation {
    index: Index,
    journal: Arc<JournalHandle>,
}

impl Generation {
    /// The index of this generation.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// When `ki` was sold here, if it is sold now (the journal's rule: [`journal::sold_at`]).
    fn sold_at(&self, journal: &Journal, ki: &[u8], oldest_kept_ms: i64) -> Option<i64> {
        let folded = || self.index.get(Table::Sold, ki).map(|t| t as i64);
        journal::sold_at(journal.state(ki), folded, oldest_kept_ms)
    }
}

/// One generation and a read view of its sold journal, for checks that must all answer
/// from the same state ([`LiveIndex::with_view`]). Shared across threads by reference.
pub struct CheckView<'a> {
    generation: &'a Arc<Generation>,
    journal: &'a Journal,
    oldest: i64,
}

impl CheckView<'_> {
    /// The generation answering.
    pub fn generation(&self) -> Arc<Generation> {
        Arc::clone(self.generation)
    }

    /// Its index: the database version is `index().manifest().version`, the data's age
    /// `index().as_of_text()`.
    pub fn index(&self) -> &Index {
        &self.generation.index
    }

    fn sold(&self) -> SoldSource<'_> {
        SoldSource::Journal {
            journal: self.journal,
            oldest: self.oldest,
        }
    }

    /// Decides every input in order on the calling thread, handing each [`Outcome`] to
    /// `each(i, outcome)`: the one path every answer is written from.
    pub fn check_each<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        each: impl FnMut(usize, &Outcome<'_>),
    ) {
        self.index()
            .decide_each(inputs, options, &self.sold(), each);
    }

    /// Decides each input into `out[i]` on the calling thread (`out` as long as `inputs`).
    pub fn check_into<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        out: &mut [Decision],
    ) {
        self.check_each(inputs, options, |i, outcome| {
            if let Some(slot) = out.get_mut(i) {
                *slot = *outcome.decision;
            }
        });
    }

    /// Decides `inputs` across the cores, handing each outcome to `write` with its slot of
    /// `out` (as long as `inputs`): a caller's own answer type (the C ABI's verdicts)
    /// written in place. The calling thread alone checks a short batch.
    pub fn par_check_with<S: AsRef<[u8]> + Sync, T: Send>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        out: &mut [T],
        write: impl Fn(&mut T, &Outcome<'_>) + Sync,
    ) {
        parallel::spread_into(inputs, out, |inputs, out| {
            self.check_each(inputs, options, |i, outcome| {
                if let Some(slot) = out.get_mut(i) {
                    write(slot, outcome);
                }
            });
        });
    }

    /// Rich verdicts of `inputs`, on the calling thread.
    pub fn verdicts<S: AsRef<[u8]>>(&self, inputs: &[S], options: &CheckOptions) -> Vec<Verdict> {
        self.index().verdicts(inputs, options, &self.sold())
    }
}

/// An index directory kept open for checks, sales and returns.
pub struct LiveIndex {
    dir: PathBuf,
    options: LiveOptions,
    current: ArcSwap<Generation>,
    refreshing: Mutex<()>,
    /// The store's sold authority, when one was given at open.
    authority: Option<Authority>,
}

/// A node's way to its store's sold authority, and its queue of sales made while the
/// authority was unreachable.
pub(crate) struct Authority {
    pub(crate) client: Client,
    pub(crate) queue: Queue,
    pub(crate) timeout: Duration,
}

impl Authority {
    fn new(dir: &Path, a: &SoldAuthority) -> Result<Authority, LiveError> {
        Ok(Authority {
            client: Client::new(&a.url, &a.token).map_err(LiveError::Authority)?,
            queue: Queue::new(dir),
            timeout: a.timeout,
        })
    }
}

/// The decisions of one batch ([`LiveIndex::check_batch`]) and the generation that
/// answered them all. Derefs to the decisions.
#[derive(Clone)]
pub struct Checked {
    generation: Arc<Generation>,
    decisions: Vec<Decision>,
}

impl Checked {
    /// The decisions, in input order.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The decisions, owned.
    pub fn into_decisions(self) -> Vec<Decision> {
        self.decisions
    }

    /// The generation that answered.
    pub fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }

    /// The database version that answered.
    pub fn version(&self) -> &str {
        &self.generation.index.manifest().version
    }

    /// When that data was current (RFC 3339).
    pub fn as_of(&self) -> &str {
        self.generation.index.as_of_text()
    }
}

impl std::ops::Deref for Checked {
    type Target = [Decision];
    fn deref(&self) -> &[Decision] {
        &self.decisions
    }
}

impl<'a> IntoIterator for &'a Checked {
    type Item = &'a Decision;
    type IntoIter = std::slice::Iter<'a, Decision>;
    fn into_iter(self) -> Self::IntoIter {
        self.decisions.iter()
    }
}

/// How a sale or return was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaleMode {
    /// This index's own journal is the sold list (no authority configured).
    Local,
    /// The store's authority has it, durably: every till of the store sees it.
    Shared,
    /// The authority was unreachable: made on this node's journal and queued; forwarded
    /// when the authority is back (a [`crate::sold::StoreFollower`] does it).
    Offline,
}

impl SaleMode {
    /// Its name in answers: `local`, `shared`, `offline`.
    pub fn name(self) -> &'static str {
        match self {
            SaleMode::Local => "local",
            SaleMode::Shared => "shared",
            SaleMode::Offline => "offline",
        }
    }
}

/// A registered sale or return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The КИ.
    pub ki: String,
    /// How it was made.
    pub mode: SaleMode,
}

impl LiveIndex {
    /// Opens the current generation and replays its journal.
    pub fn open(dir: &Path, options: LiveOptions) -> Result<LiveIndex, LiveError> {
        let index = OpenOptions::new()
            .verify_checksums(options.verify_checksums)
            .open(dir)?;
        let journal = JournalHandle::open(&dir.join(&index.manifest().journal))?;
        let authority = match &options.sold_authority {
            Some(a) => Some(Authority::new(dir, a)?),
            None => None,
        };
        Ok(LiveIndex {
            dir: dir.to_path_buf(),
            options,
            current: ArcSwap::from_pointee(Generation {
                index,
                journal: Arc::new(journal),
            }),
            refreshing: Mutex::new(()),
            authority,
        })
    }

    /// The store's sold authority, when one is configured.
    pub(crate) fn authority(&self) -> Option<&Authority> {
        self.authority.as_ref()
    }

    /// Whether this index shares its store's sold list ([`LiveOptions::sold_authority`]).
    pub fn has_sold_authority(&self) -> bool {
        self.authority.is_some()
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index's instance id (made with the index, kept by every generation): the
    /// `Inst` of offline fiscal tag 1265 and the LM-style `inst`.
    pub fn instance_id(&self) -> String {
        self.current.load().index.manifest().instance_id.clone()
    }

    /// The generation lookups use now. Holding it keeps that generation's files alive.
    pub fn generation(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Starts a thread that calls [`refresh`](Self::refresh) every `interval`, so that
    /// checks follow new generations and other processes' sales without a restart. The
    /// thread ends when the returned [`Refresher`] is dropped (or the index is).
    pub fn refresh_every(self: &Arc<Self>, interval: Duration) -> Refresher {
        let (stop, stopped) = mpsc::channel::<()>();
        let index: Weak<LiveIndex> = Arc::downgrade(self);
        let last_error = Arc::new(Mutex::new(None));
        let errors = Arc::clone(&last_error);
        let thread = std::thread::Builder::new()
            .name("cisgate-refresh".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let Some(index) = index.upgrade() else { return };
                    let result = index.refresh().err().map(|e| e.to_string());
                    *errors.lock().unwrap_or_else(|e| e.into_inner()) = result;
                }
            })
            .ok();
        Refresher {
            stop: Some(stop),
            thread,
            last_error,
        }
    }

    /// Picks up a generation another writer published, and sales other processes
    /// journaled. Returns whether the generation changed. Lookups in flight keep the
    /// generation they started with.
    pub fn refresh(&self) -> Result<bool, LiveError> {
        self.switch(None)
    }

    /// Serves `index`, a generation this process has just committed and opened (a pull in
    /// the same process, every checksum already verified), without opening it again.
    /// When `CURRENT` has moved on meanwhile, this is an ordinary [`refresh`](Self::refresh).
    pub fn adopt(&self, index: Index) -> Result<bool, LiveError> {
        self.switch(Some(index))
    }

    /// Switches to the generation `CURRENT` names (`opened`, when it is that one).
    fn switch(&self, opened: Option<Index>) -> Result<bool, LiveError> {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let (name, _) = manifest::read_pointer(&self.dir)?;
        let current = self.current.load_full();
        if name == current.index.manifest().file_name() {
            write_lock(&current.journal.state).catch_up()?;
            return Ok(false);
        }
        let index = match opened.filter(|i| i.manifest().file_name() == name) {
            Some(index) => index,
            None => OpenOptions::new()
                .verify_checksums(self.options.verify_checksums)
                .open(&self.dir)?,
        };
        let journal = if index.manifest().journal == current.index.manifest().journal {
            Arc::clone(&current.journal)
        } else {
            Arc::new(JournalHandle::open(
                &self.dir.join(&index.manifest().journal),
            )?)
        };
        write_lock(&journal.state).catch_up()?;
        self.current.store(Arc::new(Generation { index, journal }));
        Ok(true)
    }

    fn fresh(&self, generation: &Generation) -> Result<(), LiveError> {
        self.fresh_at(generation, crate::time::now_ms())
    }

    /// [`fresh`](Self::fresh) at `now` (Unix ms), for a caller that needs the time too.
    fn fresh_at(&self, generation: &Generation, now: i64) -> Result<(), LiveError> {
        let as_of = generation.index.manifest().as_of_ms;
        match self.options.max_age_ms {
            Some(max) if now - as_of > max => {
                let age = now - as_of;
                Err(LiveError::Stale {
                    as_of: crate::time::format_rfc3339(as_of),
                    age_hours: hours(age),
                    max_age_hours: hours(max),
                    age_ms: age,
                    max_age_ms: max,
                })
            }
            _ => Ok(()),
        }
    }

    /// Runs `f` with a [`CheckView`]: the current generation and a read view of its sold
    /// journal, so that every check made through it answers from one generation. Refused
    /// with [`LiveError::Stale`] when the data is too old. Sales wait while a view is held.
    pub fn with_view<T>(&self, f: impl FnOnce(&CheckView<'_>) -> T) -> Result<T, LiveError> {
        let generation = self.current.load_full();
        // One clock read for both rules (a check of one code feels it).
        let now = crate::time::now_ms();
        self.fresh_at(&generation, now)?;
        let journal = read_lock(&generation.journal.state);
        let view = CheckView {
            generation: &generation,
            journal: &journal,
            oldest: now - self.options.sold_retention_ms,
        };
        Ok(f(&view))
    }

    /// Checks one code: the offline lists, and whether it is sold here. A [`Decision`]
    /// (status, reasons, the КИ and GTIN inline), without heap allocation for the forms
    /// scanners send; [`explain`](Self::explain) gives the rich form. Refused with
    /// [`LiveError::Stale`] when the data is too old.
    pub fn check(
        &self,
        input: impl AsRef<[u8]>,
        options: &CheckOptions,
    ) -> Result<Decision, LiveError> {
        let mut out = [Decision::default()];
        self.check_batch_into(&[input], options, &mut out)?;
        Ok(out[0])
    }

    /// Checks many codes across the cores against one generation: the decisions in input
    /// order and the generation that answered (its version and `as_of`, once per batch).
    /// One allocation for the batch, none per code.
    pub fn check_batch<S: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Result<Checked, LiveError> {
        let mut decisions = parallel::filled(inputs.len(), Decision::default());
        let generation = self.par_check_batch_into(inputs, options, &mut decisions)?;
        Ok(Checked {
            generation,
            decisions,
        })
    }

    /// The rich form of [`check`](Self::check), on request: the input, every reading of
    /// an ambiguous code with its own reasons, the repairs and the parser's message, the
    /// version and `as_of` (a [`Verdict`], built on the heap).
    pub fn explain(&self, input: &str, options: &CheckOptions) -> Result<Verdict, LiveError> {
        self.with_view(|view| view.index().explain_sold(input, options, &view.sold()))
    }

    /// [`explain`](Self::explain) for many codes across the cores against one generation.
    pub fn explain_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Result<Vec<Verdict>, LiveError> {
        self.with_view(|view| {
            view.index()
                .explain_batch_sold(inputs, options, &view.sold())
        })
    }

    /// Decides each input into `out[i]` on the calling thread, without heap allocation
    /// for the forms scanners send. Returns the generation that answered (its version
    /// and `as_of`, once per batch).
    pub fn check_batch_into<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        out: &mut [Decision],
    ) -> Result<Arc<Generation>, LiveError> {
        self.with_view(|view| {
            view.check_into(inputs, options, out);
            view.generation()
        })
    }

    /// [`check_batch_into`](Self::check_batch_into) spread over the cores.
    pub fn par_check_batch_into<S: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        out: &mut [Decision],
    ) -> Result<Arc<Generation>, LiveError> {
        self.with_view(|view| {
            view.par_check_with(inputs, options, out, |slot, outcome| {
                *slot = *outcome.decision
            });
            view.generation()
        })
    }

    /// Whether the current generation's data is within the allowed age; the error says how
    /// old it is.
    pub fn check_fresh(&self) -> Result<(), LiveError> {
        self.fresh(&self.current.load())
    }

    /// The options this index was opened with.
    pub fn options(&self) -> &LiveOptions {
        &self.options
    }
}

fn read_lock(l: &RwLock<Journal>) -> std::sync::RwLockReadGuard<'_, Journal> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock(l: &RwLock<Journal>) -> std::sync::RwLockWriteGuard<'_, Journal> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
