//! cisgate: offline checks of Russian product-marking codes (Честный ЗНАК / GIS MT).
//!
//! The crate compiles the Local Module's lists of codes that may not be sold into
//! memory-mapped FST indexes and answers checkout checks against them:
//!
//! - [`code`] turns scanner output into identification codes (КИ);
//! - [`list`] reads list files (snapshots and deltas, plain or zstd);
//! - [`index`] builds, opens, validates and looks up the on-disk index;
//! - [`check`] decides whether a scanned code may be sold;
//! - [`live`] keeps an index open across updates, with the sold journal;
//! - [`online`] asks True API first and falls back to the index within the budget;
//! - [`serve`] serves the index through the Local Module's HTTP API;
//! - [`distribute`] publishes signed generations to an S3-compatible store and pulls them;
//! - [`synth`] makes realistic synthetic lists and scan streams.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let list = dir.path().join("blocked.list");
//! std::fs::write(&list, "#cisgate-list 1\n#kind: blocked_cis\n#version: 42\n\
//!     #as_of: 2026-11-23T10:00:00Z\n0104600439931256215abcdEFGH1234\n")?;
//! let out = dir.path().join("index");
//! cisgate::index::build(&out, &[list], &Default::default(), &cisgate::progress::NoProgress)?;
//!
//! let index = cisgate::Index::open(&out)?;
//! let verdict = index.check("0104600439931256215abcdEFGH1234\u{1d}93dGVz");
//! assert_eq!(verdict.status, cisgate::check::Status::Blocked);
//! assert_eq!(verdict.reasons, [cisgate::check::Reason::Cis]);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
pub mod check;
pub mod code;
#[cfg(feature = "distribute")]
pub mod distribute;
pub mod index;
pub mod journal;
pub mod list;
pub mod live;
#[cfg(feature = "online")]
pub mod online;
pub mod progress;
#[cfg(feature = "serve")]
pub mod serve;
pub mod time;
pub use check::{CheckOptions, Verdict};
pub use index::Index;
pub mod synth;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
