//! Reading the list files an LM exporter produces (format: `docs/FORMATS.md`).
//!
//! A list file is a short `#`-header (kind, snapshot or delta, version, `as_of`) followed
//! by one entry per line, plain or zstd-compressed (detected by the zstd magic number).
//! Lines are parsed in parallel chunks; keys borrow from the file's bytes, so a 10-million
//! line list costs a handful of allocations, not ten million.
//!
//! ```
//! let text = b"#cisgate-list 1\n#kind: blocked_cis\n#version: v1\n#as_of: 2026-11-23T10:00:00Z\n\
//!              0104600439931256215abcdEFGH1234\n";
//! let list = cisgate::list::ListFile::from_bytes("inline", text.to_vec()).unwrap();
//! let parsed = list.parse().unwrap();
//! assert_eq!(parsed.added.len(), 1);
//! assert!(parsed.rejects.is_empty());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::code::{self, is_gs1_char, is_valid_gtin};

/// First line of every list file.
pub const MAGIC_LINE: &str = "#cisgate-list 1";

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

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

/// One entry key: borrowed from the file where it is contiguous there.
pub type Key<'a> = Cow<'a, [u8]>;

/// Keys (and values, for kinds that have them) in file order.
#[derive(Debug, Default)]
pub struct Records<'a> {
    /// Entry keys: КИ, GTIN, or GTIN followed by the series.
    pub keys: Vec<Key<'a>>,
    /// Entry values, parallel to `keys`; empty for set kinds.
    pub values: Vec<u64>,
}

impl Records<'_> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn append(&mut self, mut other: Self) {
        self.keys.append(&mut other.keys);
        self.values.append(&mut other.values);
    }
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
enum Op {
    Add,
    Remove,
}

/// A list file's bytes, decompressed if it was zstd.
pub struct ListFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// A parsed list: header, entries to add and remove, and the malformed lines.
#[derive(Debug)]
pub struct ParsedList<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its header.
    pub header: ListHeader,
    /// Entries added (all entries, for a snapshot).
    pub added: Records<'a>,
    /// Entries removed (deltas only).
    pub removed: Records<'a>,
    /// Malformed lines, in file order.
    pub rejects: Vec<Reject>,
    /// Entry lines read (valid and rejected, not counting header, comments and blanks).
    pub lines: u64,
}

impl ListFile {
    /// Reads a list file, decompressing it when it starts with the zstd magic number.
    pub fn open(path: &Path) -> Result<ListFile, ListError> {
        let io = |source| ListError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io)?;
        drop(file);
        let bytes = if n == 4 && magic == ZSTD_MAGIC {
            let file = File::open(path).map_err(io)?;
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(file)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(|source| ListError::Zstd {
                    path: path.to_path_buf(),
                    source,
                })?;
            out
        } else {
            std::fs::read(path).map_err(io)?
        };
        Ok(ListFile {
            path: path.to_path_buf(),
            bytes,
        })
    }

    /// Wraps bytes already in memory (zstd-compressed or plain); `name` is used in messages.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<ListFile, ListError> {
        let path = name.into();
        let bytes = if bytes.starts_with(&ZSTD_MAGIC) {
            zstd::stream::decode_all(bytes.as_slice()).map_err(|source| ListError::Zstd {
                path: path.clone(),
                source,
            })?
        } else {
            bytes
        };
        Ok(ListFile { path, bytes })
    }

    /// The file's path (or name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parses header and entries. Malformed entry lines become [`Reject`]s; a malformed
    /// header is an error.
    pub fn parse(&self) -> Result<ParsedList<'_>, ListError> {
        let (header, body_start, body_line) = parse_header(&self.path, &self.bytes)?;
        let body = &self.bytes[body_start..];
        let delta = matches!(header.list_type, ListType::Delta { .. });
        let chunks = split_chunks(body, 1 << 20);
        let parsed: Vec<ChunkResult> = chunks
            .par_iter()
            .map(|&(start, end)| parse_chunk(&body[start..end], header.kind, delta))
            .collect();

        let mut list = ParsedList {
            path: &self.path,
            header,
            added: Records::default(),
            removed: Records::default(),
            rejects: Vec::new(),
            lines: 0,
        };
        let mut line_base = body_line;
        for ((start, _), chunk) in chunks.iter().zip(parsed) {
            list.added.append(chunk.added);
            list.removed.append(chunk.removed);
            list.lines += chunk.entry_lines;
            for r in chunk.rejects {
                list.rejects.push(Reject {
                    file: self.path.clone(),
                    line: line_base + r.line_in_chunk,
                    byte_offset: (body_start + start + r.offset_in_chunk) as u64,
                    reason: r.reason,
                    text: String::from_utf8_lossy(&r.text[..r.text.len().min(200)]).into_owned(),
                });
            }
            line_base += chunk.newlines;
        }
        Ok(list)
    }
}

impl ParsedList<'_> {
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

/// Reads the `#` header. Returns it, the byte offset of the body and the body's first
/// line number.
fn parse_header(path: &Path, bytes: &[u8]) -> Result<(ListHeader, usize, u64), ListError> {
    let err = |line: u64, reason: String| ListError::Header {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut pos = 0;
    let mut line_no = 0u64;
    let mut fields: Vec<(String, String, u64)> = Vec::new();
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| pos + p);
        let raw = trim_cr(&bytes[pos..end]);
        if line_no > 0 && !raw.starts_with(b"#") {
            break;
        }
        line_no += 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            return Err(err(line_no, "header line is not UTF-8".into()));
        };
        if line_no == 1 {
            if text.trim_end() != MAGIC_LINE {
                let shown: String = text.chars().take(40).collect();
                return Err(err(
                    1,
                    format!(
                        "not a cisgate list: expected {MAGIC_LINE:?} on the first line, found {shown:?}"
                    ),
                ));
            }
        } else if let Some((k, v)) = text[1..].split_once(':') {
            let key = k.trim().to_ascii_lowercase();
            if fields.iter().any(|(f, _, _)| *f == key) {
                return Err(err(line_no, format!("header field {key:?} given twice")));
            }
            fields.push((key, v.trim().to_string(), line_no));
        }
        // `#` lines without a colon are comments.
        pos = end + 1;
    }
    let body_start = pos.min(bytes.len());
    let get = |name: &str| fields.iter().find(|(k, _, _)| k == name);
    let need = |name: &str| {
        get(name).ok_or_else(|| err(line_no.max(1), format!("header field {name:?} is missing")))
    };

    let (_, kind_text, kind_line) = need("kind")?;
    let kind = ListKind::from_name(kind_text).ok_or_else(|| {
        err(*kind_line, format!("unknown list kind {kind_text:?}; expected blocked_cis, blocked_gtin, blocked_series or min_price"))
    })?;
    let (_, version, version_line) = need("version")?;
    if version.is_empty() || version.len() > 128 || version.chars().any(char::is_whitespace) {
        return Err(err(
            *version_line,
            format!("version {version:?} must be 1–128 characters without spaces"),
        ));
    }
    let (_, as_of_text, as_of_line) = need("as_of")?;
    let as_of_ms = crate::time::parse_timestamp(as_of_text).ok_or_else(|| {
        err(*as_of_line, format!("as_of {as_of_text:?} is neither RFC 3339 (2026-11-23T10:00:00Z) nor Unix milliseconds"))
    })?;
    let list_type = match get("type").map(|(_, v, l)| (v.as_str(), *l)) {
        None | Some(("snapshot", _)) => ListType::Snapshot,
        Some(("delta", l)) => {
            let (_, parent, _) = need("parent")
                .map_err(|_| err(l, "a delta needs a \"parent\" header field".into()))?;
            ListType::Delta {
                parent: parent.clone(),
            }
        }
        Some((other, l)) => {
            return Err(err(l, format!("type {other:?} must be snapshot or delta")));
        }
    };
    let pg = match get("pg") {
        None => None,
        Some((_, v, l)) => Some(
            v.parse::<u32>()
                .map_err(|_| err(*l, format!("pg {v:?} is not a product-group number")))?,
        ),
    };
    let result_digest = match get("result_digest") {
        None => None,
        Some((_, v, l)) => {
            if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    *l,
                    format!("result_digest {v:?} must be 32 hex digits"),
                ));
            }
            Some(v.to_ascii_lowercase())
        }
    };
    if let Some((k, _, l)) = fields.iter().find(|(k, _, _)| {
        !matches!(
            k.as_str(),
            "kind" | "type" | "version" | "parent" | "as_of" | "pg" | "result_digest"
        )
    }) {
        return Err(err(*l, format!("unknown header field {k:?}")));
    }
    Ok((
        ListHeader {
            kind,
            list_type,
            version: version.clone(),
            as_of_ms,
            pg,
            result_digest,
        },
        body_start,
        line_no + 1,
    ))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits `body` into ranges of about `target` bytes that end at line boundaries.
fn split_chunks(body: &[u8], target: usize) -> Vec<(usize, usize)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + target).min(body.len());
        if end < body.len() {
            end = body[end..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |p| end + p + 1);
        }
        chunks.push((start, end));
        start = end;
    }
    chunks
}

struct ChunkReject<'a> {
    line_in_chunk: u64,
    offset_in_chunk: usize,
    reason: String,
    text: &'a [u8],
}

struct ChunkResult<'a> {
    added: Records<'a>,
    removed: Records<'a>,
    rejects: Vec<ChunkReject<'a>>,
    newlines: u64,
    entry_lines: u64,
}

fn parse_chunk(chunk: &[u8], kind: ListKind, delta: bool) -> ChunkResult<'_> {
    let mut out = ChunkResult {
        added: Records::default(),
        removed: Records::default(),
        rejects: Vec::new(),
        newlines: 0,
        entry_lines: 0,
    };
    let mut pos = 0;
    while pos < chunk.len() {
        let end = chunk[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(chunk.len(), |p| pos + p);
        let line = trim_cr(&chunk[pos..end]);
        let line_in_chunk = out.newlines;
        out.newlines += 1;
        let offset = pos;
        pos = end + 1;
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        out.entry_lines += 1;
        match parse_line(line, kind, delta) {
            Ok((op, key, value)) => {
                let records = if op == Op::Add {
                    &mut out.added
                } else {
                    &mut out.removed
                };
                records.keys.push(key);
                if kind.has_values() {
                    records.values.push(value);
                }
            }
            Err(reason) => out.rejects.push(ChunkReject {
                line_in_chunk,
                offset_in_chunk: offset,
                reason,
                text: line,
            }),
        }
    }
    out
}

/// Parses one entry line into its operation, key and value.
fn parse_line(line: &[u8], kind: ListKind, delta: bool) -> Result<(Op, Key<'_>, u64), String> {
    let (op, entry) = if delta {
        match line.first() {
            Some(b'+') => (Op::Add, &line[1..]),
            Some(b'-') => (Op::Remove, &line[1..]),
            _ => return Err("a delta line must start with + (add) or - (remove)".into()),
        }
    } else {
        (Op::Add, line)
    };
    let mut fields = entry
        .split(|&b| b == b'\t' || b == b' ')
        .filter(|f| !f.is_empty());
    let first = fields.next().ok_or("empty entry")?;
    let second = fields.next();
    if fields.next().is_some() {
        return Err(format!("too many fields for a {kind} entry"));
    }
    let check_gtin = |g: &[u8]| {
        if is_valid_gtin(g) {
            Ok(())
        } else {
            Err(format!(
                "{:?} is not a GTIN-14 with a valid check digit",
                String::from_utf8_lossy(g)
            ))
        }
    };
    let no_second = |what: &str| match second {
        Some(_) => Err(format!("unexpected second field in a {what} entry")),
        None => Ok(()),
    };
    match kind {
        ListKind::BlockedCis => {
            no_second("blocked_cis")?;
            code::validate_ki(first).map_err(|e| format!("not a canonical КИ: {e}"))?;
            Ok((op, Cow::Borrowed(first), 0))
        }
        ListKind::BlockedGtin => {
            check_gtin(first)?;
            let flags = match second {
                None => gtin_flags::BLOCKED,
                Some(b"grey") => gtin_flags::GREY,
                Some(other) => {
                    return Err(format!(
                        "second field {:?} must be \"grey\" or absent",
                        String::from_utf8_lossy(other)
                    ));
                }
            };
            Ok((op, Cow::Borrowed(first), flags))
        }
        ListKind::BlockedSeries => {
            check_gtin(first)?;
            let series = second.ok_or("a blocked_series entry needs GTIN and series")?;
            if series.len() > MAX_SERIES_LEN || series.iter().any(|&b| !is_gs1_char(b)) {
                return Err(format!(
                    "series {:?} must be 1–{MAX_SERIES_LEN} GS1 characters",
                    String::from_utf8_lossy(series)
                ));
            }
            let mut key = Vec::with_capacity(14 + series.len());
            key.extend_from_slice(first);
            key.extend_from_slice(series);
            Ok((op, Cow::Owned(key), 0))
        }
        ListKind::MinPrice => {
            check_gtin(first)?;
            let price = match (op, second) {
                (Op::Remove, None) => 0,
                (_, Some(p))
                    if !p.is_empty() && p.len() <= 12 && p.iter().all(u8::is_ascii_digit) =>
                {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("bad price")?
                }
                (_, Some(p)) => {
                    return Err(format!(
                        "price {:?} must be whole kopecks (digits only)",
                        String::from_utf8_lossy(p)
                    ));
                }
                (Op::Add, None) => {
                    return Err("a min_price entry needs GTIN and price in kopecks".into());
                }
            };
            Ok((op, Cow::Borrowed(first), price))
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
        for i in 0..60_000 {
            if i % 20_000 == 19_999 {
                body.push_str("junk\n");
            } else {
                body.push_str("0104600439931256215abcdEFGH1234\n");
            }
        }
        let f = list(CIS, &body);
        let chunks = split_chunks(&f.bytes, 1 << 20);
        assert!(chunks.len() > 1);
        let p = f.parse().unwrap();
        let lines: Vec<u64> = p.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![5 + 19_999, 5 + 39_999, 5 + 59_999]);
        for r in &p.rejects {
            assert_eq!(
                &f.bytes[r.byte_offset as usize..r.byte_offset as usize + 4],
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
        assert_eq!(p.added.keys[0].as_ref(), b"04600439931256LOT-1");
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
            ListFile::from_bytes("z", broken),
            Err(ListError::Zstd { .. })
        ));
    }
}
