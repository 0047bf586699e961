//! The on-disk index: building it, opening it with validation, and raw lookups.
//!
//! An index is a directory:
//!
//! ```text
//! CURRENT                        names the published manifest and its xxh3
//! MANIFEST-0000000003.json       one generation: lists, counts, segments, digest
//! seg-000001-blocked_cis.blocks  data files in a checksummed container: КИ blocks, FSTs,
//! seg-000001-blocked_cis.filter  and the filter in front of each
//! LOCK                           held by the one writer
//! PULL-STATUS.json               the last pull round's report (nodes that pull)
//! ```
//! See `docs/FORMATS.md` for the byte layouts.
//!
//! Modules, lowest first (each imports only those above it; `tests/imports.rs` holds the
//! graph to that): `table` (tables, layouts, the tombstone), `error`, `lock`, `durable`
//! (the one way a file is written), `digest`, `format` (the data-file container),
//! `filter`, `manifest`, `segment` (the layouts behind one seam, readers and writers),
//! `reader` (`Index`: open, look up, verify), `gc`, `generation` (the one writer of a
//! generation), then `build`, `apply`, `compact`, which write through it.

mod apply;
mod build;
mod compact;
pub(crate) mod digest;
mod error;
pub(crate) mod filter;
pub(crate) mod format;
pub(crate) mod gc;
pub(crate) mod generation;
mod lock;
pub(crate) mod manifest;
mod reader;
pub(crate) mod segment;
mod table;

pub use apply::{ApplyOptions, ApplyReport, apply};
pub use build::{BuildOptions, BuildReport, build};
pub use compact::{
    CompactOptions, CompactReport, DEFAULT_SOLD_RETENTION_MS, MergeReport, compact, merge_layers,
};
pub use digest::ContentDigest;
pub use error::{IndexError, RejectedList};
pub use format::FileMeta;
pub use lock::WriterLock;
pub use manifest::{CURRENT, ListSource, Manifest, PULL_STATUS, SegmentMeta};
pub(crate) use reader::{BATCH_CHUNK, TableStack};
pub use reader::{Index, OpenOptions, VerifyReport, verify, verify_with};
pub use segment::{EntryCursor, Layout};
pub use table::{TOMBSTONE, Table};
