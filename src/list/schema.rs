//! What a list is: its kinds, header, records, rejected lines and errors, and the entry
//! operations a line can carry. A leaf of `list`: the line formats, the reader and the
//! whole-file parser build on it.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// First line of every list file.
pub const MAGIC_LINE: &str = "#cisgate-list 1";

/// Longest series (batch) accepted: GS1 AI 10 holds up to 20 characters.
pub const MAX_SERIES_LEN: usize = 20;

/// Which Local Module list a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Banned identification codes (КИ), one per line.
    BlockedCis,
    /// Banned GTINs: `GTIN` or `GTIN<TAB>grey` for GTINs that must be decided online.
    BlockedGtin,
    /// Banned medicine series: `GTIN<TAB>SERIES`.
    BlockedSeries,
    /// Minimum retail price per GTIN (nicotine products): `GTIN<TAB>KOPECKS`.
    MinPrice,
}

impl ListKind {
    /// All kinds, in index order.
    pub const ALL: [ListKind; 4] = [
        ListKind::BlockedCis,
        ListKind::BlockedGtin,
        ListKind::BlockedSeries,
        ListKind::MinPrice,
    ];

    /// The name used in headers and manifests.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::BlockedCis => "blocked_cis",
            ListKind::BlockedGtin => "blocked_gtin",
            ListKind::BlockedSeries => "blocked_series",
            ListKind::MinPrice => "min_price",
        }
    }

    /// Parses a header name.
    pub fn from_name(name: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The value one file gives a key it lists twice: GTIN flags combine (banned and grey
    /// is both), the higher minimum price wins (the stricter one).
    pub fn combine(self, a: u64, b: u64) -> u64 {
        match self {
            ListKind::BlockedGtin => a | b,
            _ => a.max(b),
        }
    }

    /// Whether entries carry a value (a map rather than a set).
    pub fn has_values(self) -> bool {
        matches!(self, ListKind::BlockedGtin | ListKind::MinPrice)
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Value bits of a `blocked_gtin` entry.
pub mod gtin_flags {
    /// Banned by a federal authority.
    pub const BLOCKED: u64 = 1;
    /// "Grey" GTIN: must be decided online; offline it is refused.
    pub const GREY: u64 = 2;
}

/// Full snapshot or incremental delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ListType {
    /// The whole list as of `as_of`.
    Snapshot,
    /// Changes turning version `parent` into this version.
    Delta {
        /// Version the delta applies to.
        parent: String,
    },
}

/// The header of a list file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListHeader {
    /// Which list.
    pub kind: ListKind,
    /// Snapshot or delta.
    #[serde(flatten)]
    pub list_type: ListType,
    /// The list version this file produces.
    pub version: String,
    /// When the exporter's data was current (Unix ms).
    pub as_of_ms: i64,
    /// Product group, for partitioned `blocked_cis` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg: Option<u32>,
    /// Content digest of the index after applying this delta, when the exporter knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
}

/// Keys (and values, for kinds that have them) in file order.
#[derive(Debug, Default)]
pub struct Records {
    /// Entry keys: КИ, GTIN, or GTIN followed by the series.
    pub keys: Vec<Box<[u8]>>,
    /// Entry values, parallel to `keys`; empty for set kinds.
    pub values: Vec<u64>,
}

impl Records {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The header's fields given from outside, for a file that has no header (a plain file of
/// codes, a CSV export). `kind`, `version` and `as_of` are required; a `parent` makes the
/// file a delta.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// `blocked_cis`, `blocked_gtin`, `blocked_series` or `min_price`.
    pub kind: Option<String>,
    /// The list version.
    pub version: Option<String>,
    /// RFC 3339 or Unix milliseconds.
    pub as_of: Option<String>,
    /// Product group of a `blocked_cis` partition.
    pub pg: Option<u32>,
    /// For a delta: the version it applies to.
    pub parent: Option<String>,
}

/// A malformed line: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The list file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's start in the (decompressed) file.
    pub byte_offset: u64,
    /// What is wrong.
    pub reason: String,
    /// The line as found (lossy UTF-8, cut at 200 bytes).
    pub text: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (byte {}): {}: {:?}",
            self.file.display(),
            self.line,
            self.byte_offset,
            self.reason,
            self.text
        )
    }
}

/// Errors that stop a list file from being read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The zstd stream is damaged.
    #[error("{path}: zstd decompression failed: {source}")]
    Zstd {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The gzip stream is damaged.
    #[error("{path}: gzip decompression failed: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A compressed file expands far beyond any real list: a decompression bomb, or a
    /// file of little but blank lines.
    #[error(
        "{path}: expands {compressed} compressed bytes to over {decompressed} bytes (ratio over {}:1, the limit is {limit}:1); not read further",
        decompressed / compressed
    )]
    Expansion {
        /// The file.
        path: PathBuf,
        /// Bytes read from the file.
        compressed: u64,
        /// Bytes they decompressed to.
        decompressed: u64,
        /// The allowed ratio.
        limit: u64,
    },
    /// The header is missing, malformed or incomplete.
    #[error("{path}:{line}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// `--strict` and malformed lines were found.
    #[error("{count} malformed line(s); first: {first}")]
    Strict {
        /// How many lines were rejected.
        count: usize,
        /// The first of them.
        first: Box<Reject>,
    },
}

/// Whether a line adds or removes an entry (snapshots only add).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryOp {
    /// Add or replace.
    Add,
    /// Remove.
    Remove,
}

/// Receives the entries of parsed lines.
pub(crate) trait EntrySink {
    /// One entry: its operation, key and value (0 for set kinds).
    fn entry(&mut self, op: EntryOp, key: &[u8], value: u64);
}

/// What parsing some lines found besides entries.
#[derive(Debug, Default)]
pub(crate) struct LineStats {
    /// Entry lines read (valid and rejected; not blanks, comments or CSV header rows).
    pub entry_lines: u64,
    /// Full marking codes listed by their КИ.
    pub normalised: u64,
    /// Malformed lines, in order.
    pub rejects: Vec<Reject>,
}

impl LineStats {
    /// Adds another part's figures (its rejects after these).
    pub fn merge(&mut self, other: LineStats) {
        self.entry_lines += other.entry_lines;
        self.normalised += other.normalised;
        self.rejects.extend(other.rejects);
    }
}
