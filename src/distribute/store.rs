//! The one path to the object store: an S3-compatible bucket (any endpoint, path-style,
//! plain HTTP allowed for a local store) through the `object_store` crate. Small requests
//! have a whole-request limit; object downloads are ranged reads with a stall limit
//! instead (no bytes for that long ends the read), so that a slow link finishes and a dead
//! one is noticed; retries with backoff are the caller's (`transfer.rs`), across requests.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use super::error::DistributeError;
use super::remote::{Access, Remote, TransferPolicy};

/// Objects above this size are uploaded in parts, so that memory stays bounded.
const MULTIPART_ABOVE: u64 = 64 << 20;

/// A bucket and prefix.
pub(crate) struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    runtime: tokio::runtime::Runtime,
    policy: TransferPolicy,
}

/// Whether the environment names credentials: keys, or a container or web identity the
/// AWS SDKs read (an explicit configuration, unlike the instance metadata service).
fn credentials_in_environment() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

impl Store {
    /// Connects to `remote` with its access ([`Access`]) and the connect and request
    /// limits of `policy`. With the default access and no credentials anywhere, this fails
    /// naming what to set (never a silent try of a cloud metadata service).
    pub(crate) fn open(remote: &Remote, policy: &TransferPolicy) -> Result<Store, DistributeError> {
        // reqwest is built without a default TLS provider; https endpoints use ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&remote.bucket)
            .with_virtual_hosted_style_request(false)
            // Retries are the pull's own (with backoff over a bounded time, and resuming).
            .with_retry(object_store::RetryConfig {
                backoff: Default::default(),
                max_retries: 0,
                retry_timeout: Duration::ZERO,
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(policy.connect_timeout)
                    // Whole-request limits are applied per request below: a download may
                    // take hours on a weak link as long as bytes keep coming.
                    .with_timeout_disabled(),
            );
        if let Some(endpoint) = &remote.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(true);
        }
        if let Some(region) = &remote.region {
            builder = builder.with_region(region);
        }
        match (&remote.credentials, remote.access) {
            (Some(c), _) => {
                builder = builder
                    .with_access_key_id(&c.key_id)
                    .with_secret_access_key(&c.secret);
            }
            (None, Access::Anonymous) => builder = builder.with_skip_signature(true),
            (None, Access::Environment) if !credentials_in_environment() => {
                return Err(DistributeError::NoCredentials {
                    url: remote.to_string(),
                });
            }
            // The environment's keys, or (asked for) the instance metadata service.
            (None, Access::Environment | Access::InstanceMetadata) => {}
        }
        let inner = builder.build().map_err(|e| DistributeError::Store {
            url: remote.to_string(),
            reason: e.to_string(),
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DistributeError::Store {
                url: remote.to_string(),
                reason: format!("cannot start the I/O runtime: {e}"),
            })?;
        Ok(Store {
            inner: Arc::new(inner),
            prefix: remote.prefix.trim_matches('/').to_string(),
            url: remote.to_string(),
            runtime,
            policy: policy.clone(),
        })
    }

    fn path(&self, key: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(key)
        } else {
            object_store::path::Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The error of a request for `key`, classified: what a retry may cure (a timeout, a
    /// refused or cut connection, 5xx, 429) is [`DistributeError::Unreachable`]; a refusal
    /// of the credentials says which part of them the store rejected.
    fn error(&self, key: &str, e: object_store::Error) -> DistributeError {
        let url = format!("{}/{key}", self.url.trim_end_matches('/'));
        let text = error_chain(&e);
        match e {
            object_store::Error::NotFound { .. } => DistributeError::Missing {
                key: key.to_string(),
            },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                let reason = if text.contains("SignatureDoesNotMatch") {
                    "the store rejects the signature: the secret access key is wrong".to_string()
                } else if text.contains("InvalidAccessKeyId") {
                    "the store does not know the access key id".to_string()
                } else {
                    format!("the key is not allowed to do this: {text}")
                };
                DistributeError::Denied { url, reason }
            }
            object_store::Error::Generic { .. } if is_transient(&text) => {
                DistributeError::Unreachable { url, reason: text }
            }
            _ => DistributeError::Store { url, reason: text },
        }
    }

    /// A small request's future with the policy's whole-request limit.
    async fn limited<T>(
        &self,
        key: &str,
        request: impl std::future::Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, DistributeError> {
        match tokio::time::timeout(self.policy.request_timeout, request).await {
            Ok(done) => done.map_err(|e| self.error(key, e)),
            Err(_) => Err(DistributeError::Unreachable {
                url: format!("{}/{key}", self.url.trim_end_matches('/')),
                reason: format!(
                    "no answer within {:.0} s",
                    self.policy.request_timeout.as_secs_f64()
                ),
            }),
        }
    }

    /// The object's size, or `None` when there is no such object.
    pub(crate) fn size(&self, key: &str) -> Result<Option<u64>, DistributeError> {
        match self
            .runtime
            .block_on(self.limited(key, self.inner.head(&self.path(key))))
        {
            Ok(meta) => Ok(Some(meta.size)),
            Err(DistributeError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a small object.
    pub(crate) fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), DistributeError> {
        self.put_within(key, bytes, self.policy.request_timeout)
    }

    /// Writes a small object, giving up after `limit` (a best-effort report must not hold
    /// up the pull it reports on).
    pub(crate) fn put_within(
        &self,
        key: &str,
        bytes: Vec<u8>,
        limit: Duration,
    ) -> Result<(), DistributeError> {
        let payload = PutPayload::from(Bytes::from(bytes));
        let path = self.path(key);
        let put = self.inner.put(&path, payload);
        self.runtime.block_on(async {
            match tokio::time::timeout(limit, put).await {
                Ok(done) => done.map(drop).map_err(|e| self.error(key, e)),
                Err(_) => Err(DistributeError::Unreachable {
                    url: format!("{}/{key}", self.url.trim_end_matches('/')),
                    reason: format!("no answer within {:.0} s", limit.as_secs_f64()),
                }),
            }
        })
    }

    /// Removes an object (absent already is fine).
    pub(crate) fn delete(&self, key: &str) -> Result<(), DistributeError> {
        match self
            .runtime
            .block_on(self.limited(key, self.inner.delete(&self.path(key))))
        {
            Ok(()) | Err(DistributeError::Missing { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The keys under `under` (relative to the prefix), each with its size.
    pub(crate) fn list(&self, under: &str) -> Result<Vec<(String, u64)>, DistributeError> {
        let prefix = self.path(under);
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.runtime.block_on(async {
            let mut listing = self.inner.list(Some(&prefix));
            let mut keys = Vec::new();
            while let Some(meta) = tokio::time::timeout(self.policy.request_timeout, listing.next())
                .await
                .map_err(|_| DistributeError::Unreachable {
                    url: format!("{}/{under}", self.url),
                    reason: "the listing stopped".into(),
                })?
            {
                let meta = meta.map_err(|e| self.error(under, e))?;
                let key = meta.location.to_string();
                keys.push((
                    key.strip_prefix(&strip).unwrap_or(&key).to_string(),
                    meta.size,
                ));
            }
            keys.sort();
            Ok(keys)
        })
    }

    /// Uploads a file, in parts when it is large.
    pub(crate) fn put_file(&self, key: &str, file: &Path) -> Result<(), DistributeError> {
        let io = |source| DistributeError::Io {
            path: file.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(file).map_err(io)?.len();
        if len <= MULTIPART_ABOVE {
            return self.put(key, std::fs::read(file).map_err(io)?);
        }
        let path = self.path(key);
        self.runtime.block_on(async {
            let upload = self.limited(key, self.inner.put_multipart(&path)).await?;
            let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, 16 << 20);
            let mut reader = std::fs::File::open(file).map_err(io)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut reader, &mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(4)
                    .await
                    .map_err(|e| self.error(key, e))?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map_err(|e| self.error(key, e))?;
            Ok(())
        })
    }

    /// Reads a small object whole; `None` when there is no such object.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Bytes>, DistributeError> {
        self.get_if_changed(key, None)
            .map(|got| got.map(|(b, _)| b))
    }

    /// Reads an object unless its entity tag is still `etag` (a conditional GET): `None`
    /// when there is no such object or it has not changed, else the bytes and new tag.
    pub(crate) fn get_if_changed(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> Result<Option<(Bytes, Option<String>)>, DistributeError> {
        let options = GetOptions {
            if_none_match: etag.map(str::to_string),
            ..Default::default()
        };
        self.runtime.block_on(async {
            let got = tokio::time::timeout(
                self.policy.request_timeout,
                self.inner.get_opts(&self.path(key), options),
            )
            .await;
            match got {
                Ok(Ok(got)) => {
                    let tag = got.meta.e_tag.clone();
                    let bytes = self.limited(key, got.bytes()).await?;
                    Ok(Some((bytes, tag)))
                }
                Ok(Err(
                    object_store::Error::NotFound { .. } | object_store::Error::NotModified { .. },
                )) => Ok(None),
                Ok(Err(e)) => Err(self.error(key, e)),
                Err(_) => Err(DistributeError::Unreachable {
                    url: format!("{}/{key}", self.url.trim_end_matches('/')),
                    reason: format!(
                        "no answer within {:.0} s",
                        self.policy.request_timeout.as_secs_f64()
                    ),
                }),
            }
        })
    }

    /// Reads bytes `range` of an object and appends them to `to`, counting into `written`
    /// as they arrive (so that a read cut short still says how far it got). Ends with
    /// [`DistributeError::Unreachable`] when nothing arrives for the stall limit, and
    /// keeps to the rate cap by pausing between chunks.
    pub(crate) fn read_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
        object_len: u64,
        to: &mut std::fs::File,
        to_path: &Path,
        written: &mut u64,
    ) -> Result<(), DistributeError> {
        let stall = self.policy.stall_timeout;
        let stalled = || DistributeError::Unreachable {
            url: format!("{}/{key}", self.url.trim_end_matches('/')),
            reason: format!("no bytes for {:.0} s", stall.as_secs_f64()),
        };
        self.runtime.block_on(async {
            let options = GetOptions {
                range: Some(object_store::GetRange::Bounded(range)),
                ..Default::default()
            };
            let got =
                match tokio::time::timeout(stall, self.inner.get_opts(&self.path(key), options))
                    .await
                {
                    Ok(got) => got.map_err(|e| self.error(key, e))?,
                    Err(_) => return Err(stalled()),
                };
            if got.meta.size != object_len {
                return Err(DistributeError::Integrity {
                    key: key.to_string(),
                    reason: format!(
                        "the store holds {} bytes, the generation says {object_len}",
                        got.meta.size
                    ),
                });
            }
            let started = tokio::time::Instant::now();
            let mut this_read = 0u64;
            let mut stream = got.into_stream();
            loop {
                let chunk = match tokio::time::timeout(stall, stream.next()).await {
                    Err(_) => return Err(stalled()),
                    Ok(None) => return Ok(()),
                    Ok(Some(chunk)) => chunk.map_err(|e| self.error(key, e))?,
                };
                to.write_all(&chunk).map_err(|source| DistributeError::Io {
                    path: to_path.to_path_buf(),
                    source,
                })?;
                *written += chunk.len() as u64;
                this_read += chunk.len() as u64;
                if let Some(rate) = self.policy.max_rate.filter(|r| *r > 0) {
                    let due = Duration::from_secs_f64(this_read as f64 / rate as f64);
                    tokio::time::sleep_until(started + due).await;
                }
            }
        })
    }
}

/// An error and its sources, as one line (object_store puts the store's answer, such as
/// `SignatureDoesNotMatch`, in a source).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Whether a failed request is worth repeating: the connection failed, timed out or was
/// cut, or the store answered 5xx or 429.
fn is_transient(text: &str) -> bool {
    let status = |code: &str| text.contains(&format!("status code: {code}"));
    ["500", "502", "503", "504", "429"]
        .iter()
        .any(|c| status(c))
        || [
            "error sending request",
            "connection",
            "Connection",
            "timed out",
            "body error",
            "decoding response body",
            "end of file",
            "reset",
            "broken pipe",
        ]
        .iter()
        .any(|t| text.contains(t))
}

/// The SHA-256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<[u8; 32], DistributeError> {
    let io = |source| DistributeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).map_err(io)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of bytes, as hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
