//! What can go wrong writing, opening and verifying an index. Where a caller may act on a
//! refusal (a broken version chain, a digest mismatch, older data, too many rejects), it is
//! a variant of its own with typed fields, not a sentence.

use std::path::PathBuf;

use crate::journal::JournalError;
use crate::list::{ListError, ListKind};

/// One list that lost more lines than allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedList {
    /// The list file.
    pub path: PathBuf,
    /// Entry lines rejected.
    pub rejected: u64,
    /// Entry lines in the list.
    pub entry_lines: u64,
}

impl std::fmt::Display for RejectedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} of {} entry lines rejected ({:.1} %)",
            self.path.display(),
            self.rejected,
            self.entry_lines,
            self.rejected as f64 * 100.0 / self.entry_lines.max(1) as f64
        )
    }
}

fn rejected_lines(lists: &[RejectedList], limit: f64) -> String {
    lists
        .iter()
        .map(|l| {
            let shown = l.to_string();
            let shown = shown.strip_suffix(" %)").unwrap_or(&shown);
            format!("\n  {shown} %, the limit is {:.1} %)", limit * 100.0)
        })
        .collect::<String>()
}

fn opt_path(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| "-".into(), |p| p.display().to_string())
}

/// Errors of building, applying, compacting, pulling, opening and verifying an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The user stopped the operation; nothing was published and its files are removed.
    #[error("interrupted; nothing published")]
    Interrupted,
    /// The directory does not exist.
    #[error("{dir}: no such directory")]
    NoSuchDirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory holds no `CURRENT` file.
    #[error("{dir} is not a cisgate index (no CURRENT file)")]
    NotAnIndex {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest or `CURRENT` is malformed or of an unknown version.
    #[error("{path}: bad manifest: {reason}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file's bytes are damaged: truncated, bit-flipped, foreign or swapped.
    #[error("{path}: damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A list file could not be read.
    #[error(transparent)]
    List(ListError),
    /// The sold journal could not be read or written.
    #[error(transparent)]
    Journal(JournalError),
    /// Another process is writing to the index.
    #[error("{dir}: another writer holds the index lock ({dir}/LOCK); try again when it is done")]
    Locked {
        /// The index directory.
        dir: PathBuf,
    },
    /// A build or an apply was given no files.
    #[error("no {what} files given")]
    NothingGiven {
        /// `list` or `delta`.
        what: &'static str,
    },
    /// A build was given a delta.
    #[error("{path} is a delta; build takes snapshots (apply deltas with `cisgate apply`)")]
    DeltaToBuild {
        /// The delta.
        path: PathBuf,
    },
    /// An apply was given a snapshot.
    #[error("{path} is a snapshot; apply takes deltas (rebuild with `cisgate build`)")]
    SnapshotToApply {
        /// The snapshot.
        path: PathBuf,
    },
    /// Two snapshots of one list (and product group) in one build.
    #[error("{first} and {second} are both {kind} snapshots{}", pg.map(|pg| format!(" for product group {pg}")).unwrap_or_default())]
    TwoSnapshots {
        /// The first.
        first: PathBuf,
        /// The second.
        second: PathBuf,
        /// Their kind.
        kind: ListKind,
        /// Their product group.
        pg: Option<u32>,
    },
    /// The lists of a build carry different versions and none was given.
    #[error(
        "lists carry different versions ({first}: {first_version}, {other}: {other_version}); pass --version"
    )]
    VersionsDiffer {
        /// A list.
        first: PathBuf,
        /// Its version.
        first_version: String,
        /// A list with another version.
        other: PathBuf,
        /// That version.
        other_version: String,
    },
    /// The lists are older than the data the index holds.
    #[error(
        "the lists are as of {}, older than the index's current data ({}, version {index_version}); nothing published (pass --allow-older to go back)",
        crate::time::format_rfc3339(*lists_as_of_ms),
        crate::time::format_rfc3339(*index_as_of_ms)
    )]
    OlderData {
        /// When the lists were current.
        lists_as_of_ms: i64,
        /// When the index's data was current.
        index_as_of_ms: i64,
        /// The index's version.
        index_version: String,
    },
    /// Lists lost more lines than allowed: an index built from them would allow what they ban.
    #[error(
        "too many malformed lines; nothing published:{}\n  rejected lines: {}",
        rejected_lines(lists, *limit),
        opt_path(rejects_path)
    )]
    TooManyRejects {
        /// The lists over the limit.
        lists: Vec<RejectedList>,
        /// The limit, as a share of each list's entry lines.
        limit: f64,
        /// Where the rejected lines were written.
        rejects_path: Option<PathBuf>,
    },
    /// GTINs listed with different minimum prices (refused with `strict`).
    #[error("{count} GTIN(s) listed with conflicting minimum prices")]
    PriceConflicts {
        /// How many.
        count: u64,
    },
    /// A delta follows another version than the index holds.
    #[error(
        "{path} applies to version {parent:?}, but the index is at {index_version:?}; nothing applied"
    )]
    BrokenChain {
        /// The delta.
        path: PathBuf,
        /// The version it applies to.
        parent: String,
        /// The version the index is at (with the deltas before it applied).
        index_version: String,
    },
    /// After a delta the content digest is not what the delta says it should be.
    #[error(
        "{path}: the content digest after applying it would be {computed}, the delta says {expected}; nothing applied"
    )]
    DigestMismatch {
        /// The delta.
        path: PathBuf,
        /// The digest the index would have.
        computed: String,
        /// The digest the delta names.
        expected: String,
    },
    /// A delta both adds and removes a key.
    #[error("{path} both adds and removes {key:?}; nothing applied")]
    AddedAndRemoved {
        /// The delta.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A delta with malformed lines (deltas must be clean: a lost removal would keep a
    /// ban, a lost addition would drop one).
    #[error("{path}: nothing applied: {reason}")]
    UncleanDelta {
        /// The delta.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file just written does not read back as written (a bug or failing hardware).
    #[error("internal error: {name} {what}; nothing published")]
    WriteCheck {
        /// The file.
        name: String,
        /// What did not hold.
        what: &'static str,
    },
}

impl From<ListError> for IndexError {
    fn from(e: ListError) -> Self {
        IndexError::List(e)
    }
}

impl From<crate::durable::DurableError> for IndexError {
    fn from(e: crate::durable::DurableError) -> Self {
        IndexError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl From<JournalError> for IndexError {
    fn from(e: JournalError) -> Self {
        IndexError::Journal(e)
    }
}

impl IndexError {
    /// An I/O error of `path`, for `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IndexError {
        let path = path.into();
        move |source| IndexError::Io { path, source }
    }

    /// Whether the inputs were refused (lists or deltas that do not fit the index):
    /// nothing was written, and the fix is in the inputs.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            IndexError::NothingGiven { .. }
                | IndexError::DeltaToBuild { .. }
                | IndexError::SnapshotToApply { .. }
                | IndexError::TwoSnapshots { .. }
                | IndexError::VersionsDiffer { .. }
                | IndexError::OlderData { .. }
                | IndexError::TooManyRejects { .. }
                | IndexError::PriceConflicts { .. }
                | IndexError::BrokenChain { .. }
                | IndexError::DigestMismatch { .. }
                | IndexError::AddedAndRemoved { .. }
                | IndexError::UncleanDelta { .. }
                | IndexError::List(_)
        )
    }
}
