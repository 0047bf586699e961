//! cisgate: offline checks of Russian product-marking codes (Честный ЗНАК / GIS MT).
//!
//! The crate compiles the Local Module's lists of codes that may not be sold into compact,
//! checksummed, memory-mapped indexes and answers checkout checks against them. Three
//! levels, from the one a checkout wants:
//!
//! - **The checkout: [`LiveIndex`]** — checks with the Local Module's rules: refuses when
//!   the data is older than 72 h, blocks codes sold here (the durable sold journal, with
//!   [`LiveIndex::sell`] and [`LiveIndex::return_sale`]), and switches to new generations
//!   without a restart ([`LiveIndex::refresh_every`]). Use this at a till.
//! - **Online first: `online::OnlineChecker`** (feature `online`) — asks True API within
//!   the 1.5 s budget and falls back to a [`LiveIndex`].
//! - **Raw lookups: [`Index`]** — one generation, no freshness rule, no sold list:
//!   [`Index::check`] and [`Index::contains_ki_batch`] for tools, audits and benchmarks.
//!
//! A check answers a [`Decision`]: status, reasons, the КИ and GTIN inline, no heap behind
//! it; `check_batch` answers a batch of them at once, across the cores. The rich
//! [`Verdict`] (every reading of an ambiguous code, the parser's message, strings for
//! JSON) comes from `explain` when an answer needs it.
//!
//! Modules, in the order data flows: [`list`] reads list files (snapshots and deltas, in
//! several formats); [`code`] turns scanner output into identification codes (КИ);
//! [`index`] builds, opens, validates and looks up the on-disk index; [`check`] decides;
//! [`live`] and [`journal`] keep it open with the sold list; `online`, `serve` (the Local
//! Module's HTTP API) and `distribute` (signed generations through an S3-compatible
//! store) come with their features; `synth` (feature `synth`) makes synthetic lists and
//! scan streams.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! use cisgate::{LiveIndex, LiveOptions};
//!
//! let list = dir.path().join("blocked.list");
//! let as_of = cisgate::time::format_rfc3339(cisgate::time::now_ms());
//! std::fs::write(&list, format!("#cisgate-list 1\n#kind: blocked_cis\n#version: 42\n\
//!     #as_of: {as_of}\n0104600439931256215abcdEFGH1234\n"))?;
//! let out = dir.path().join("index");
//! cisgate::index::build(&out, &[list], &Default::default(), &cisgate::progress::NoProgress)?;
//!
//! let live = std::sync::Arc::new(LiveIndex::open(&out, LiveOptions::default())?);
//! let _refresher = live.refresh_every(std::time::Duration::from_secs(1));
//! let decision = live.check("0104600439931256215abcdEFGH1234\u{1d}93dGVz", &Default::default())?;
//! assert_eq!(decision.status(), cisgate::check::Status::Blocked);
//! assert!(decision.reasons().contains(cisgate::check::Reason::Cis));
//! assert_eq!(decision.ki(), Some("0104600439931256215abcdEFGH1234"));
//!
//! // Many codes across the cores, against one generation: a `Decision` each, no heap per code.
//! let codes = ["0104600439931256215abcdEFGH1234", "0104600439931256215zzzzzzzzzzzz"];
//! let checked = live.check_batch(&codes, &Default::default())?;
//! assert!(checked[0].is_blocked() && !checked[1].is_blocked());
//! assert_eq!(checked.version(), "42");
//! // Every reading of an ambiguous code and the parser's message, on request.
//! let rich = live.explain("not a code", &Default::default())?;
//! assert!(rich.error.is_some());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Two blocks need `unsafe` (mapping index files, the prefetch intrinsic); each carries its
// own `allow` and the reason it is sound.
#![deny(unsafe_code)]
pub mod answer;
pub mod check;
pub mod code;
#[cfg(feature = "distribute")]
pub mod distribute;
pub(crate) mod durable;
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod hashing;
pub mod index;
pub mod journal;
pub mod list;
pub mod live;
#[cfg(feature = "online")]
pub mod online;
pub mod progress;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sold;
pub mod time;
pub use check::{CheckOptions, Decision, Verdict};
pub use index::Index;
pub use live::{Checked, LiveError, LiveIndex, LiveOptions};
#[cfg(feature = "synth")]
pub mod synth;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
