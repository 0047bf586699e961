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
mod file;
mod header;
mod reader;
mod schema;

pub(crate) use entry::parse_lines;
pub use entry::{EntryOptions, InputFormat};
pub use file::{ListFile, ParsedList};
pub use reader::{Compression, ReadOptions};
pub(crate) use reader::{ListReader, Piece};
pub use schema::{
    EntryOp, HeaderFields, ListError, ListHeader, ListKind, ListType, MAGIC_LINE, MAX_SERIES_LEN,
    Records, Reject, gtin_flags,
};
pub(crate) use schema::{EntrySink, LineStats};
