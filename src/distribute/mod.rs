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

mod pointer;
mod publish;
mod pull;
mod sign;
mod status;
mod store;
mod transfer;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use pointer::Pointer;
pub use publish::{PublishOptions, PublishReport, publish};
pub use pull::{PullOptions, PullOutcome, PullReport, pull};
pub use sign::{PASSWORD_VAR, keygen};
pub use status::{FleetNode, FleetReport, NodeState, NodeStatus, fleet};

use crate::index::IndexError;

/// The default channel.
pub const DEFAULT_CHANNEL: &str = "LATEST";

/// Where generations are published: `s3://bucket/prefix` on an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The bucket.
    pub bucket: String,
    /// The key prefix inside it (may be empty).
    pub prefix: String,
    /// The endpoint URL (`http://127.0.0.1:9000`); AWS's when `None`.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION` or `us-east-1` when `None`).
    pub region: Option<String>,
    /// Credentials; else what `access` says.
    pub credentials: Option<Credentials>,
    /// How to reach the store without explicit credentials.
    pub access: Access,
}

/// How a node reaches the store when no credentials are given explicitly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// The usual environment variables (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`,
    /// or a container or web identity); none set is an error that says so.
    #[default]
    Environment,
    /// Unsigned requests, for a public-read bucket.
    Anonymous,
    /// The cloud's instance metadata service (EC2, ECS), asked for explicitly.
    InstanceMetadata,
}

/// How objects move over a link: the network policy of `pull` (docs/DISTRIBUTION.md).
#[derive(Clone, Debug, PartialEq)]
pub struct TransferPolicy {
    /// Establishing a connection may take this long.
    pub connect_timeout: Duration,
    /// A small request (pointer, generation record, status) must be answered whole within
    /// this.
    pub request_timeout: Duration,
    /// An object read that receives nothing for this long is cut, and resumed.
    pub stall_timeout: Duration,
    /// Bytes asked for in one ranged read of an object.
    pub chunk_bytes: u64,
    /// Retries (with backoff) go on while something moved within this; then the pull
    /// fails, keeping what it downloaded for the next one.
    pub give_up_after: Duration,
    /// The first pause between retries; it doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest pause between retries.
    pub backoff_max: Duration,
    /// At most this many bytes per second (`None`: as fast as the link goes).
    pub max_rate: Option<u64>,
}

impl Default for TransferPolicy {
    fn default() -> Self {
        TransferPolicy {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            chunk_bytes: 8 << 20,
            give_up_after: Duration::from_secs(300),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_rate: None,
        }
    }
}

/// An access key for the store. Its `Debug` form never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub key_id: String,
    /// The secret access key.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl Remote {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(
        url: &str,
        endpoint: Option<String>,
        region: Option<String>,
    ) -> Result<Remote, DistributeError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            DistributeError::Invalid(format!("{url:?} is not an s3://bucket/prefix URL"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(DistributeError::Invalid(format!("{url:?} names no bucket")));
        }
        Ok(Remote {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            endpoint,
            region,
            credentials: None,
            access: Access::default(),
        })
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// Errors of publishing and pulling. Nothing is published locally when a pull fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistributeError {
    /// The store could not be reached or refused a request.
    #[error("{url}: {reason}")]
    Store {
        /// The object or bucket.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The store did not answer, or answered 5xx or 429, or a transfer stalled: worth
    /// retrying later (a pull keeps what it downloaded).
    #[error("{url}: {reason}")]
    Unreachable {
        /// The object or bucket.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The store refused the credentials or what they may do.
    #[error("{url}: {reason}")]
    Denied {
        /// The object or bucket.
        url: String,
        /// What the store refused.
        reason: String,
    },
    /// No credentials were given and none are in the environment.
    #[error(
        "{url}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --anonymous for a public-read bucket, or --instance-metadata to use the cloud's metadata service"
    )]
    NoCredentials {
        /// The store.
        url: String,
    },
    /// An object the generation needs is not in the store.
    #[error("object {key} is missing from the store")]
    Missing {
        /// Its key under the prefix.
        key: String,
    },
    /// An object's bytes are not what the signed pointer promised.
    #[error("{key}: {reason}; nothing changed")]
    Integrity {
        /// The object's key.
        key: String,
        /// What differs.
        reason: String,
    },
    /// A signature is missing, malformed, or not by the trusted key.
    #[error("pointer signature: {0}; nothing changed")]
    Signature(String),
    /// The pointer is older than one this node already accepted (a replay).
    #[error(
        "the store's pointer is sequence {offered} (version {version}), older than sequence {held} this node holds: refused as a rollback; nothing changed"
    )]
    Rollback {
        /// The pointer's sequence.
        offered: u64,
        /// Its version.
        version: String,
        /// The sequence this node holds.
        held: u64,
    },
    /// The pointer's expiry has passed: the feed may be frozen by an attacker or stalled.
    #[error(
        "the store's pointer (version {version}) expired at {expired}; refused (a frozen feed); nothing changed"
    )]
    Expired {
        /// Its version.
        version: String,
        /// When it expired (RFC 3339).
        expired: String,
    },
    /// A key file cannot be read or written.
    #[error("{}: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The local index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
}
