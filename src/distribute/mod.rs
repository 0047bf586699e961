//! Fleet distribution: a builder publishes signed generations to an S3-compatible object
//! store, every node pulls them, the way Safe Browsing and CRLite ship their lists.
//!
//! ```text
//! s3://bucket/prefix/
//!   objects/<sha256>              data files, content-addressed and immutable
//!   generations/<sha256>.json     a generation: the index manifest and each file's object
//!   channels/<CHANNEL>            the pointer (JSON): sequence, version, parent chain,
//!                                 generation object and hash, content digest, times, expiry
//!   channels/<CHANNEL>.minisig    its Ed25519 signature, minisign format
//! ```
//!
//! [`publish`] uploads the objects the store lacks (the same lists give byte-identical
//! files, so nothing new is uploaded for the same content), then the generation, then the
//! signed pointer. [`pull`] reads the pointer with a conditional GET, checks its signature,
//! refuses an older one (rollback) and an expired one (freeze), downloads only the objects
//! the node lacks (a delta layer when it holds the parent), checks every object's hash,
//! opens the new generation with every checksum verified, checks its content digest
//! against the pointer's, and publishes it through the index's atomic `CURRENT`: a running
//! `serve` or [`LiveIndex`](crate::live::LiveIndex) switches without a restart. A failed
//! pull changes nothing.

pub mod alert;
mod error;
mod ingest;
pub mod notice;
mod pointer;
mod publish;
mod pull;
mod remote;
mod sign;
mod status;
mod store;
mod transfer;
mod watch;

pub use error::DistributeError;
pub use ingest::{IngestOptions, Ingester, Step};
pub use pointer::Pointer;
pub use publish::{PublishOptions, PublishReport, Publisher, publish};
pub use pull::{DEFAULT_STATUS_EVERY, PullOptions, PullOutcome, PullReport, Puller, pull};
pub use remote::{Access, Credentials, DEFAULT_CHANNEL, Remote, TransferPolicy};
pub use sign::{PASSWORD_VAR, keygen};
pub use status::{BuilderStatus, DayCounts, FleetNode, FleetReport, NodeState, NodeStatus, fleet};
pub use watch::{MIN_INTERVAL, Trigger, WatchOptions, watch};
