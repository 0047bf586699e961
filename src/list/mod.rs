//! Reading the list files an LM exporter produces (format: `docs/FORMATS.md`), and lists
//! from elsewhere: headerless files of one code per line, CSV/TSV, JSON Lines, full
//! marking codes; plain, zstd or gzip.
//!
//! A list file is a short `#`-header (kind, snapshot or delta, version, `as_of`) followed
//! by one entry per line. `ListReader` streams it: header first, then the body in chunks
//! of whole lines, with bounded memory whatever the input (see [`ReadOptions`]). Build
//! parses the chunks on all cores; [`ListFile`] collects a small list (a delta) whole.
//!
//! ```
//! let text = b"#cisgate-list 1\n#kind: blocked_cis\n#version: v1\n#as_of: 2026-11-23T10:00:00Z\n\
//!              0104600439931256215abcdEFGH1234\n";
//! let list = cisgate::list::ListFile::from_bytes("inline", text.to_vec()).unwrap();
//! let parsed = list.parse().unwrap();
//! assert_eq!(parsed.added.len(), 1);
//! assert!(parsed.rejects.is_empty());
//! ```

mod entry;
mod header;
mod reader;

pub use entry::{EntryOptions, InputFormat};
pub use reader::{Compression, ReadOptions};
pub(crate) use reader::{ListReader, Piece};

use std::fmt;
use std::path::{Path, PathBuf};

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
pub enum Op {
    /// Add or replace.
    Add,
    /// Remove.
    Remove,
}

/// Receives the entries of parsed lines.
pub(crate) trait EntrySink {
    /// One entry: its operation, key and value (0 for set kinds).
    fn entry(&mut self, op: Op, key: &[u8], value: u64);
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

/// Parses a piece of whole lines whose first line is `first_line` at byte `offset`,
/// sending entries to `sink`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_lines(
    path: &Path,
    bytes: &[u8],
    first_line: u64,
    offset: u64,
    header: &ListHeader,
    options: &EntryOptions,
    sink: &mut dyn EntrySink,
) -> LineStats {
    let delta = matches!(header.list_type, ListType::Delta { .. });
    let mut stats = LineStats::default();
    let mut pos = 0;
    let mut line_no = first_line;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| pos + p);
        let line = bytes[pos..end]
            .strip_suffix(b"\r")
            .unwrap_or(&bytes[pos..end]);
        let line_offset = offset + pos as u64;
        pos = end + 1;
        let this_line = line_no;
        line_no += 1;
        match entry::parse_line(line, header.kind, delta, options, this_line) {
            entry::LineResult::Skip => {}
            entry::LineResult::Entry {
                op,
                key,
                value,
                normalised,
            } => {
                stats.entry_lines += 1;
                stats.normalised += u64::from(normalised);
                sink.entry(op, &key, value);
            }
            entry::LineResult::Reject(reason) => {
                stats.entry_lines += 1;
                stats.rejects.push(Reject {
                    file: path.to_path_buf(),
                    line: this_line,
                    byte_offset: line_offset,
                    reason,
                    text: String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned(),
                });
            }
        }
    }
    stats
}

/// A list read whole into memory: for deltas and other small lists.
pub struct ListFile {
    path: PathBuf,
    source: Source,
    overrides: Option<HeaderFields>,
    options: EntryOptions,
}

enum Source {
    File,
    Bytes(Vec<u8>),
}

/// A parsed list: header, entries to add and remove, and the malformed lines.
#[derive(Debug)]
pub struct ParsedList {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub header: ListHeader,
    /// Entries added (all entries, for a snapshot).
    pub added: Records,
    /// Entries removed (deltas only).
    pub removed: Records,
    /// Malformed lines, in file order.
    pub rejects: Vec<Reject>,
    /// Entry lines read (valid and rejected, not counting header, comments and blanks).
    pub lines: u64,
    /// Full marking codes listed by their КИ.
    pub normalised: u64,
}

struct Collect<'a> {
    added: &'a mut Records,
    removed: &'a mut Records,
    values: bool,
}

impl EntrySink for Collect<'_> {
    fn entry(&mut self, op: Op, key: &[u8], value: u64) {
        let records = match op {
            Op::Add => &mut *self.added,
            Op::Remove => &mut *self.removed,
        };
        records.keys.push(key.into());
        if self.values {
            records.values.push(value);
        }
    }
}

impl ListFile {
    /// A list file on disk (plain, zstd or gzip).
    pub fn open(path: &Path) -> Result<ListFile, ListError> {
        Ok(ListFile {
            path: path.to_path_buf(),
            source: Source::File,
            overrides: None,
            options: EntryOptions::default(),
        })
    }

    /// Bytes already in memory (plain, zstd or gzip); `name` is used in messages.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<ListFile, ListError> {
        Ok(ListFile {
            path: name.into(),
            source: Source::Bytes(bytes),
            overrides: None,
            options: EntryOptions::default(),
        })
    }

    /// Reads the file as headerless, with these header fields.
    pub fn with_header_fields(mut self, fields: HeaderFields) -> ListFile {
        self.overrides = Some(fields);
        self
    }

    /// Reads entries in this input format.
    pub fn with_entry_options(mut self, options: EntryOptions) -> ListFile {
        self.options = options;
        self
    }

    /// The file's path (or name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses header and entries. Malformed entry lines become [`Reject`]s; a
    /// malformed header is an error.
    pub fn parse(&self) -> Result<ParsedList, ListError> {
        let options = ReadOptions::default();
        let mut reader = match &self.source {
            Source::File => ListReader::open(&self.path, options, self.overrides.as_ref())?,
            Source::Bytes(b) => ListReader::from_reader(
                self.path.clone(),
                std::io::Cursor::new(b.clone()),
                options,
                self.overrides.as_ref(),
            )?,
        };
        let header = reader.header().clone();
        let mut added = Records::default();
        let mut removed = Records::default();
        let mut stats = LineStats::default();
        while let Some(piece) = reader.next_piece()? {
            match piece {
                Piece::Lines {
                    bytes,
                    first_line,
                    offset,
                } => {
                    let mut sink = Collect {
                        added: &mut added,
                        removed: &mut removed,
                        values: header.kind.has_values(),
                    };
                    stats.merge(parse_lines(
                        &self.path,
                        &bytes,
                        first_line,
                        offset,
                        &header,
                        &self.options,
                        &mut sink,
                    ));
                }
                Piece::TooLong(reject) => {
                    stats.entry_lines += 1;
                    stats.rejects.push(reject);
                }
            }
        }
        Ok(ParsedList {
            path: self.path.clone(),
            header,
            added,
            removed,
            rejects: stats.rejects,
            lines: stats.entry_lines,
            normalised: stats.normalised,
        })
    }
}

impl ParsedList {
    /// Fails with [`ListError::Strict`] if any line was rejected.
    pub fn require_clean(&self) -> Result<(), ListError> {
        match self.rejects.first() {
            None => Ok(()),
            Some(first) => Err(ListError::Strict {
                count: self.rejects.len(),
                first: Box::new(first.clone()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(header: &str, body: &str) -> ListFile {
        ListFile::from_bytes(
            "t.list",
            format!("{MAGIC_LINE}\n{header}{body}").into_bytes(),
        )
        .unwrap()
    }

    const CIS: &str = "#kind: blocked_cis\n#version: v1\n#as_of: 2026-11-23T10:00:00Z\n";

    #[test]
    fn reads_a_snapshot_with_rejects_located() {
        let f = list(
            CIS,
            "0104600439931256215abcdEFGH1234\r\n\n# comment\nbad line\n04647297654361!%C5UGb\n0104600439931257215abcdEFGH1234\n",
        );
        let p = f.parse().unwrap();
        assert_eq!(p.header.kind, ListKind::BlockedCis);
        assert_eq!(p.header.list_type, ListType::Snapshot);
        assert_eq!(p.added.len(), 2);
        assert_eq!(p.lines, 4);
        assert_eq!(p.rejects.len(), 2);
        assert_eq!(p.rejects[0].line, 8);
        assert_eq!(p.rejects[0].text, "bad line");
        let header_len = MAGIC_LINE.len() + 1 + CIS.len();
        let expected_offset = header_len + "0104600439931256215abcdEFGH1234\r\n\n# comment\n".len();
        assert_eq!(p.rejects[0].byte_offset, expected_offset as u64);
        assert_eq!(p.rejects[1].line, 10);
        assert!(
            p.rejects[1].reason.contains("check digit"),
            "{}",
            p.rejects[1].reason
        );
        assert!(p.require_clean().is_err());
    }

    #[test]
    fn line_numbers_survive_chunking() {
        let mut body = String::new();
        for i in 0..300_000 {
            if i % 100_000 == 99_999 {
                body.push_str("junk\n");
            } else {
                body.push_str("0104600439931256215abcdEFGH1234\n");
            }
        }
        let text = format!("{MAGIC_LINE}\n{CIS}{body}");
        let f = ListFile::from_bytes("t.list", text.clone().into_bytes()).unwrap();
        let p = f.parse().unwrap();
        let lines: Vec<u64> = p.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![5 + 99_999, 5 + 199_999, 5 + 299_999]);
        for r in &p.rejects {
            assert_eq!(
                &text.as_bytes()[r.byte_offset as usize..r.byte_offset as usize + 4],
                b"junk"
            );
        }
    }

    #[test]
    fn other_kinds_and_deltas() {
        let g = list(
            "#kind: blocked_gtin\n#version: 3\n#as_of: 1795428000000\n",
            "04600439931256\n04607034170059\tgrey\n04600439931256 black\n",
        );
        let p = g.parse().unwrap();
        assert_eq!(p.added.values, vec![gtin_flags::BLOCKED, gtin_flags::GREY]);
        assert_eq!(p.rejects.len(), 1);

        let s = list(
            "#kind: blocked_series\n#version: 3\n#as_of: 1795428000000\n",
            "04600439931256\tLOT-1\n04600439931256\n",
        );
        let p = s.parse().unwrap();
        assert_eq!(&*p.added.keys[0], b"04600439931256LOT-1");
        assert_eq!(p.rejects.len(), 1);

        let m = list(
            "#kind: min_price\n#type: delta\n#parent: 2\n#version: 3\n#as_of: 1795428000000\n",
            "+04600439931256\t14630\n-04607034170059\n04600439931256\t1\n+04600439931256\t1.5\n",
        );
        let p = m.parse().unwrap();
        assert_eq!(p.header.list_type, ListType::Delta { parent: "2".into() });
        assert_eq!(p.added.values, vec![14630]);
        assert_eq!(p.removed.len(), 1);
        assert_eq!(p.rejects.len(), 2);
    }

    #[test]
    fn header_errors_name_the_line() {
        let bad = |text: &str| {
            ListFile::from_bytes("h.list", text.as_bytes().to_vec())
                .unwrap()
                .parse()
                .unwrap_err()
                .to_string()
        };
        assert!(bad("0104600439931256215abcdEFGH1234\n").contains("h.list:1: not a cisgate list"));
        assert!(
            bad(&format!("{MAGIC_LINE}\n#kind: blocked_cis\n#as_of: 0\n"))
                .contains("\"version\" is missing")
        );
        assert!(
            bad(&format!("{MAGIC_LINE}\n#kind: blocked_bananas\n"))
                .contains("h.list:2: unknown list kind")
        );
        assert!(
            bad(&format!("{MAGIC_LINE}\n{CIS}#as_of: 0\n"))
                .contains("h.list:5: header field \"as_of\" given twice")
        );
        assert!(
            bad(&format!(
                "{MAGIC_LINE}\n#kind: blocked_cis\n#version: 1\n#as_of: soon\n"
            ))
            .contains("h.list:4: as_of")
        );
        assert!(bad(&format!("{MAGIC_LINE}\n{CIS}#type: delta\n")).contains("parent"));
        assert!(
            bad(&format!("{MAGIC_LINE}\n{CIS}#colour: red\n")).contains("unknown header field")
        );
    }

    #[test]
    fn zstd_is_detected_by_magic() {
        let text = format!("{MAGIC_LINE}\n{CIS}0104600439931256215abcdEFGH1234\n");
        let packed = zstd::encode_all(text.as_bytes(), 3).unwrap();
        let f = ListFile::from_bytes("z", packed.clone()).unwrap();
        assert_eq!(f.parse().unwrap().added.len(), 1);
        let mut broken = packed;
        broken.truncate(broken.len() - 3);
        assert!(matches!(
            ListFile::from_bytes("z", broken).unwrap().parse(),
            Err(ListError::Zstd { .. })
        ));
    }
}
