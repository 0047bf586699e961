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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

use crate::check::{CheckOptions, Verdict};
use crate::code;
use crate::index::compact::DEFAULT_SOLD_RETENTION_MS;
use crate::index::{Index, IndexError, OpenOptions, Table, manifest};
use crate::journal::{Journal, JournalError, Op, SoldState};

/// The Local Module's default: offline checks stop 72 hours after the last sync.
pub const DEFAULT_MAX_AGE_MS: i64 = 72 * 3600 * 1000;

/// Batches shorter than this are checked on the calling thread.
const PARALLEL_BATCH_MIN: usize = 256;
/// Codes per parallel task (one journal lock each).
const PARALLEL_CHUNK: usize = 128;

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
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            max_age_ms: Some(DEFAULT_MAX_AGE_MS),
            sold_retention_ms: DEFAULT_SOLD_RETENTION_MS,
            verify_checksums: true,
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
        "offline check refused: the index data is as of {as_of}, older than the allowed {max_age_hours} h"
    )]
    Stale {
        /// When the data was current.
        as_of: String,
        /// The allowed age in hours.
        max_age_hours: f64,
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
}

/// One generation and the journal that goes with it.
pub struct Generation {
    index: Index,
    journal: Arc<RwLock<Journal>>,
}

impl Generation {
    /// The index of this generation.
    pub fn index(&self) -> &Index {
        &self.index
    }

    fn sold_at(&self, journal: &Journal, ki: &[u8]) -> Option<i64> {
        match journal.state(ki) {
            Some(SoldState::Sold(t)) => Some(t),
            Some(SoldState::Returned(_)) => None,
            None => self.index.get(Table::Sold, ki).map(|t| t as i64),
        }
    }
}

/// An index directory kept open for checks, sales and returns.
pub struct LiveIndex {
    dir: PathBuf,
    options: LiveOptions,
    current: ArcSwap<Generation>,
    refreshing: Mutex<()>,
}

impl LiveIndex {
    /// Opens the current generation and replays its journal.
    pub fn open(dir: &Path, options: LiveOptions) -> Result<LiveIndex, LiveError> {
        let index = OpenOptions::new()
            .verify_checksums(options.verify_checksums)
            .open(dir)?;
        let journal = Journal::open(&dir.join(&index.manifest().journal))?;
        Ok(LiveIndex {
            dir: dir.to_path_buf(),
            options,
            current: ArcSwap::from_pointee(Generation {
                index,
                journal: Arc::new(RwLock::new(journal)),
            }),
            refreshing: Mutex::new(()),
        })
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

    /// Picks up a generation another writer published, and sales other processes
    /// journaled. Returns whether the generation changed. Lookups in flight keep the
    /// generation they started with.
    pub fn refresh(&self) -> Result<bool, LiveError> {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let (name, _) = manifest::read_pointer(&self.dir)?;
        let current = self.current.load_full();
        if name == current.index.manifest().file_name() {
            write_lock(&current.journal).catch_up()?;
            return Ok(false);
        }
        let index = OpenOptions::new()
            .verify_checksums(self.options.verify_checksums)
            .open(&self.dir)?;
        let journal = if index.manifest().journal == current.index.manifest().journal {
            Arc::clone(&current.journal)
        } else {
            Arc::new(RwLock::new(Journal::open(
                &self.dir.join(&index.manifest().journal),
            )?))
        };
        write_lock(&journal).catch_up()?;
        self.current.store(Arc::new(Generation { index, journal }));
        Ok(true)
    }

    fn fresh(&self, generation: &Generation) -> Result<(), LiveError> {
        let as_of = generation.index.manifest().as_of_ms;
        match self.options.max_age_ms {
            Some(max) if crate::time::now_ms() - as_of > max => Err(LiveError::Stale {
                as_of: crate::time::format_rfc3339(as_of),
                max_age_hours: max as f64 / 3_600_000.0,
            }),
            _ => Ok(()),
        }
    }

    /// Checks one code: the offline lists, and whether it is sold here. Refused with
    /// [`LiveError::Stale`] when the data is too old.
    pub fn check(&self, input: &str, options: &CheckOptions) -> Result<Verdict, LiveError> {
        let generation = self.current.load();
        self.fresh(&generation)?;
        let journal = read_lock(&generation.journal);
        Ok(self.check_in(
            &generation,
            &journal,
            input,
            options,
            self.oldest_kept_sale(),
        ))
    }

    /// Checks many codes across cores against one generation.
    pub fn check_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Result<Vec<Verdict>, LiveError> {
        use rayon::prelude::*;
        let generation = self.current.load_full();
        self.fresh(&generation)?;
        let oldest = self.oldest_kept_sale();
        // One read lock of the journal per chunk, not per code: both cores taking the same
        // lock for every code would bounce its cache line between them.
        let check_chunk = |chunk: &[S]| {
            let journal = read_lock(&generation.journal);
            chunk
                .iter()
                .map(|s| self.check_in(&generation, &journal, s.as_ref(), options, oldest))
                .collect::<Vec<_>>()
        };
        // Handing a few codes to the thread pool costs more than checking them here.
        if inputs.len() < PARALLEL_BATCH_MIN {
            return Ok(check_chunk(inputs));
        }
        Ok(inputs
            .par_chunks(PARALLEL_CHUNK)
            .flat_map_iter(check_chunk)
            .collect())
    }

    /// Sales before this time (Unix ms) have expired.
    fn oldest_kept_sale(&self) -> i64 {
        crate::time::now_ms() - self.options.sold_retention_ms
    }

    fn check_in(
        &self,
        generation: &Generation,
        journal: &Journal,
        input: &str,
        options: &CheckOptions,
        oldest: i64,
    ) -> Verdict {
        let sold = |ki: &[u8]| generation.sold_at(journal, ki).is_some_and(|t| t >= oldest);
        generation.index.check_with_sold(input, options, &sold)
    }

    /// Whether `ki` (canonical) is sold here and not returned.
    pub fn is_sold(&self, ki: &[u8]) -> bool {
        let generation = self.current.load();
        let journal = read_lock(&generation.journal);
        let oldest = self.oldest_kept_sale();
        generation
            .sold_at(&journal, ki)
            .is_some_and(|t| t >= oldest)
    }

    /// Every КИ sold here and not returned (within the retention period), sorted.
    pub fn sold_kis(&self) -> Vec<String> {
        let generation = self.current.load_full();
        let journal = read_lock(&generation.journal);
        let oldest = self.oldest_kept_sale();
        let mut sold = Vec::new();
        generation.index.for_each_entry(Table::Sold, |ki, t| {
            if journal.state(ki).is_none() && t as i64 >= oldest {
                sold.push(String::from_utf8_lossy(ki).into_owned());
            }
        });
        for (ki, state) in journal.entries() {
            if matches!(state, SoldState::Sold(t) if t >= oldest) {
                sold.push(String::from_utf8_lossy(ki).into_owned());
            }
        }
        sold.sort_unstable();
        sold
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

    /// Registers a sale. The record is on disk before this returns. Returns the КИ.
    pub fn sell(&self, input: &str) -> Result<String, LiveError> {
        self.journal_op(input, Op::Sell)
    }

    /// Registers a return of a sold КИ. Returns the КИ.
    pub fn return_sale(&self, input: &str) -> Result<String, LiveError> {
        self.journal_op(input, Op::Return)
    }

    fn journal_op(&self, input: &str, op: Op) -> Result<String, LiveError> {
        let ki = canonical_ki(input)?;
        loop {
            let generation = self.current.load_full();
            self.fresh(&generation)?;
            let mut journal = write_lock(&generation.journal);
            let mut guard = journal.lock()?;
            // A compaction may have folded this journal into a newer generation while we
            // waited for the lock: then the sale belongs in the new journal.
            let (name, _) = manifest::read_pointer(&self.dir)?;
            if name != generation.index.manifest().file_name() {
                drop(guard);
                drop(journal);
                self.refresh()?;
                continue;
            }
            guard.catch_up()?;
            let now = crate::time::now_ms();
            let oldest = now - self.options.sold_retention_ms;
            let sold = generation
                .sold_at(guard.journal(), ki.as_bytes())
                .is_some_and(|t| t >= oldest);
            match (op, sold) {
                (Op::Sell, true) => return Err(LiveError::AlreadySold { ki }),
                (Op::Return, false) => return Err(LiveError::NotSold { ki }),
                _ => {}
            }
            guard.append(op, ki.as_bytes(), now)?;
            return Ok(ki);
        }
    }
}

/// The one КИ an input stands for, for sales and returns.
pub fn canonical_ki(input: &str) -> Result<String, LiveError> {
    let parsed = code::parse(input).map_err(|error| LiveError::InvalidCode {
        input: input.to_string(),
        error,
    })?;
    match parsed.single() {
        Some(c) => Ok(c.ki.clone()),
        None => Err(LiveError::Ambiguous {
            input: input.to_string(),
            candidates: parsed
                .candidates
                .iter()
                .map(|c| c.ki.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        }),
    }
}

// A poisoned lock only means another thread panicked mid-lookup; the journal state itself
// is updated after the durable write, so it is still consistent.
fn read_lock(l: &RwLock<Journal>) -> std::sync::RwLockReadGuard<'_, Journal> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock(l: &RwLock<Journal>) -> std::sync::RwLockWriteGuard<'_, Journal> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
