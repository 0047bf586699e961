//! Where generations go and how objects move: the store's address and credentials, and
//! the transfer policy (timeouts, retries, resumption, rate cap).

use std::fmt;
use std::time::Duration;

use super::error::DistributeError;

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
