//! The True API over HTTP: `codes/check`, the CDN host list and host health checks.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::OnlineConfig;
use super::error::OnlineError;

/// Path of the check method under a host's base URL.
pub const CHECK_PATH: &str = "/api/v4/true-api/codes/check";
/// Path of the host list under the CDN's base URL.
pub const CDN_INFO_PATH: &str = "/api/v4/true-api/cdn/info";
/// Path of the health check under a host's base URL.
pub const HEALTH_PATH: &str = "/api/v4/true-api/cdn/health/check";

/// How much of an unexpected body an error message quotes.
const BODY_EXCERPT: usize = 200;

/// A successful `codes/check` answer. Per-code entries stay raw JSON so that every field
/// the service sends reaches the caller; [`super::decide`] reads the ones the rules need.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse {
    /// 0 on success.
    pub code: i64,
    /// The service's text.
    #[serde(default)]
    pub description: Option<String>,
    /// Request id (UUID), for fiscal tag 1265.
    pub req_id: String,
    /// Server time of the request, Unix ms, for fiscal tag 1265.
    pub req_timestamp: i64,
    /// One entry per code sent, in order.
    pub codes: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCheckResponse {
    code: Option<i64>,
    description: Option<String>,
    req_id: Option<String>,
    req_timestamp: Option<i64>,
    codes: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckRequest<'a> {
    codes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    fiscal_drive_number: Option<&'a str>,
}

#[derive(Deserialize)]
struct CdnInfo {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    description: Option<String>,
    hosts: Vec<CdnHost>,
}

#[derive(Deserialize)]
struct CdnHost {
    host: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    code: i64,
    #[serde(default)]
    avg_time_ms: Option<u64>,
}

/// Why one request to one host did not produce an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptError {
    /// The host answered with a non-200 status.
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Connecting, sending or receiving failed (refused, reset, DNS, TLS).
    Transport(String),
    /// No full answer within the attempt's time.
    Timeout,
    /// A 200 answer that is not the documented JSON.
    Malformed(String),
    /// A well-formed answer with a non-zero `code`.
    Service {
        /// The service's code.
        code: i64,
        /// Its text.
        description: String,
    },
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Status { status, body } => write!(f, "HTTP {status}: {body}"),
            AttemptError::Transport(e) => write!(f, "{e}"),
            AttemptError::Timeout => write!(f, "no answer in time"),
            AttemptError::Malformed(e) => write!(f, "malformed answer: {e}"),
            AttemptError::Service { code, description } => {
                write!(f, "service code {code}: {description}")
            }
        }
    }
}

/// A True API client: one connection pool, the token, and the fiscal drive number.
#[derive(Clone)]
pub struct TrueApiClient {
    http: reqwest::Client,
    token: String,
    fiscal_drive_number: Option<String>,
}

impl TrueApiClient {
    /// A client for `config`; `resolver` replaces the system DNS (tests use it to make
    /// DNS hang).
    pub fn new(
        config: &OnlineConfig,
        resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
    ) -> Result<TrueApiClient, OnlineError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(config)?)
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .user_agent(concat!("cisgate/", env!("CARGO_PKG_VERSION")));
        if let Some(resolver) = resolver {
            builder = builder.dns_resolver(resolver);
        }
        let http = builder
            .build()
            .map_err(|e| OnlineError::Invalid(format!("cannot set up the HTTP client: {e}")))?;
        Ok(TrueApiClient {
            http,
            token: config.resolve_token()?,
            fiscal_drive_number: config.fiscal_drive_number.clone(),
        })
    }

    /// `POST {host}/api/v4/true-api/codes/check` with `codes` (full КМ, GS as is: JSON
    /// escapes it as `\u001d`), answered within `timeout` or [`AttemptError::Timeout`].
    pub async fn check(
        &self,
        host: &str,
        codes: &[String],
        timeout: Duration,
    ) -> Result<CheckResponse, AttemptError> {
        let request = CheckRequest {
            codes,
            fiscal_drive_number: self.fiscal_drive_number.as_deref(),
        };
        let send = self
            .http
            .post(format!("{host}{CHECK_PATH}"))
            .header("X-API-KEY", &self.token)
            .json(&request);
        let body = with_timeout(timeout, fetch(send)).await?;
        let raw: RawCheckResponse =
            serde_json::from_slice(&body).map_err(|e| AttemptError::Malformed(e.to_string()))?;
        let code = raw
            .code
            .ok_or_else(|| AttemptError::Malformed("no \"code\" field".into()))?;
        if code != 0 {
            return Err(AttemptError::Service {
                code,
                description: raw.description.unwrap_or_default(),
            });
        }
        let missing = |field: &str| AttemptError::Malformed(format!("no \"{field}\" field"));
        Ok(CheckResponse {
            code,
            description: raw.description,
            req_id: raw.req_id.ok_or_else(|| missing("reqId"))?,
            req_timestamp: raw.req_timestamp.ok_or_else(|| missing("reqTimestamp"))?,
            codes: raw.codes.ok_or_else(|| missing("codes"))?,
        })
    }

    /// The host base URLs the CDN lists.
    pub async fn cdn_hosts(
        &self,
        cdn_url: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, AttemptError> {
        let url = format!("{}{CDN_INFO_PATH}", cdn_url.trim_end_matches('/'));
        let info: CdnInfo = self.get_json(&url, timeout).await?;
        if info.code != 0 {
            return Err(AttemptError::Service {
                code: info.code,
                description: info.description.unwrap_or_default(),
            });
        }
        Ok(info
            .hosts
            .into_iter()
            .map(|h| {
                let host = h.host.trim().trim_end_matches('/');
                if host.contains("://") {
                    host.to_string()
                } else {
                    format!("https://{host}")
                }
            })
            .collect())
    }

    /// The host's health check: its `avgTimeMs` when it reports itself healthy.
    pub async fn health(&self, host: &str, timeout: Duration) -> Result<u64, AttemptError> {
        let health: Health = self
            .get_json(&format!("{host}{HEALTH_PATH}"), timeout)
            .await?;
        if health.code != 0 {
            return Err(AttemptError::Service {
                code: health.code,
                description: "host reports itself unhealthy".into(),
            });
        }
        Ok(health.avg_time_ms.unwrap_or(u64::MAX))
    }

    /// `GET url` with the token, read whole within `timeout` and parsed as `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<T, AttemptError> {
        let send = self.http.get(url).header("X-API-KEY", &self.token);
        let body = with_timeout(timeout, fetch(send)).await?;
        serde_json::from_slice(&body).map_err(|e| AttemptError::Malformed(e.to_string()))
    }
}

async fn with_timeout<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, AttemptError>>,
) -> Result<T, AttemptError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(AttemptError::Timeout))
}

/// Sends and reads the whole body; the caller's timeout covers a slow trickle too.
async fn fetch(request: reqwest::RequestBuilder) -> Result<bytes::Bytes, AttemptError> {
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(transport)?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]).into_owned();
        return Err(AttemptError::Status { status, body: text });
    }
    Ok(body)
}

fn transport(e: reqwest::Error) -> AttemptError {
    // The source chain holds the useful part ("connection refused", "dns error ...").
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    AttemptError::Transport(text)
}

/// rustls with the `ring` provider, Mozilla's roots and any roots from `ca_file`.
fn tls_config(config: &OnlineConfig) -> Result<rustls::ClientConfig, OnlineError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.ca_file {
        let config_error = |message: String| OnlineError::Config {
            path: path.clone(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| config_error(format!("cannot read the CA file: {e}")))?;
        for cert in certs {
            let cert = cert.map_err(|e| config_error(format!("bad PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| config_error(format!("unusable root certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OnlineError::Invalid(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A preconfigured config gets no ALPN from reqwest; without it HTTP/2 is never offered.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}
