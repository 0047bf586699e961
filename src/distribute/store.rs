//! The one path to the object store: an S3-compatible bucket (any endpoint, path-style,
//! plain HTTP allowed for a local store) through the `object_store` crate, with short
//! timeouts and few retries so that a store that stops makes a pull fail soon, not hang.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use super::{DistributeError, Remote};

/// Objects above this size are uploaded in parts, so that memory stays bounded.
const MULTIPART_ABOVE: u64 = 64 << 20;

/// A bucket and prefix.
pub(crate) struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    runtime: tokio::runtime::Runtime,
}

impl Store {
    /// Connects to `remote`; credentials come from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and the other usual `AWS_*` variables).
    pub(crate) fn open(remote: &Remote) -> Result<Store, DistributeError> {
        // reqwest is built without a default TLS provider; https endpoints use ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&remote.bucket)
            .with_virtual_hosted_style_request(false)
            .with_retry(object_store::RetryConfig {
                backoff: Default::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(15),
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120)),
            );
        if let Some(endpoint) = &remote.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(true);
        }
        if let Some(region) = &remote.region {
            builder = builder.with_region(region);
        }
        if let Some(c) = &remote.credentials {
            builder = builder
                .with_access_key_id(&c.key_id)
                .with_secret_access_key(&c.secret);
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
        })
    }

    fn path(&self, key: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(key)
        } else {
            object_store::path::Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn error(&self, key: &str, e: impl std::fmt::Display) -> DistributeError {
        DistributeError::Store {
            url: format!("{}/{key}", self.url.trim_end_matches('/')),
            reason: e.to_string(),
        }
    }

    /// The object's size, or `None` when there is no such object.
    pub(crate) fn size(&self, key: &str) -> Result<Option<u64>, DistributeError> {
        match self.runtime.block_on(self.inner.head(&self.path(key))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Writes a small object.
    pub(crate) fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), DistributeError> {
        self.runtime
            .block_on(
                self.inner
                    .put(&self.path(key), PutPayload::from(Bytes::from(bytes))),
            )
            .map(drop)
            .map_err(|e| self.error(key, e))
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
            let upload = self
                .inner
                .put_multipart(&path)
                .await
                .map_err(|e| self.error(key, e))?;
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
            match self.inner.get_opts(&self.path(key), options).await {
                Ok(got) => {
                    let tag = got.meta.e_tag.clone();
                    let bytes = got.bytes().await.map_err(|e| self.error(key, e))?;
                    Ok(Some((bytes, tag)))
                }
                Err(object_store::Error::NotFound { .. })
                | Err(object_store::Error::NotModified { .. }) => Ok(None),
                Err(e) => Err(self.error(key, e)),
            }
        })
    }

    /// Streams an object into `to` (created), hashing it on the way; returns its length
    /// and SHA-256.
    pub(crate) fn download(
        &self,
        key: &str,
        to: &mut std::fs::File,
        to_path: &Path,
    ) -> Result<(u64, [u8; 32]), DistributeError> {
        self.runtime.block_on(async {
            let got = self
                .inner
                .get_opts(&self.path(key), GetOptions::default())
                .await
                .map_err(|e| match e {
                    object_store::Error::NotFound { .. } => DistributeError::Missing {
                        key: key.to_string(),
                    },
                    e => self.error(key, e),
                })?;
            let mut stream = got.into_stream();
            let mut hasher = Sha256::new();
            let mut len = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error(key, e))?;
                hasher.update(&chunk);
                len += chunk.len() as u64;
                to.write_all(&chunk).map_err(|source| DistributeError::Io {
                    path: to_path.to_path_buf(),
                    source,
                })?;
            }
            Ok((len, hasher.finalize().into()))
        })
    }
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
