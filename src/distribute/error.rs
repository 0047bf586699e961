//! Errors of publishing and pulling.

use std::path::PathBuf;

use crate::index::IndexError;

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

impl From<crate::durable::DurableError> for DistributeError {
    fn from(e: crate::durable::DurableError) -> Self {
        DistributeError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl DistributeError {
    /// The same error again, for a caller that must keep one and return another (only a
    /// signature error carries no source that cannot be cloned).
    pub(crate) fn clone_kind(&self) -> DistributeError {
        DistributeError::Signature(self.to_string())
    }
}
