//! A small blocking HTTP/1.1 client for the store's `serve` on the local network: JSON
//! requests with a token, answers with a `Content-Length`. It is all a node needs to talk
//! to its authority, and it keeps the core (which the C ABI links) free of an async stack
//! and a TLS library: the store server is on the shop's own network, as the Local
//! Module's API is.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest answer accepted (a reset of a large store's sold list fits many times over).
const MAX_BODY: usize = 256 << 20;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The authority could not be reached, or did not answer in time.
    #[error("{url}: {reason}")]
    Unreachable {
        /// The authority.
        url: String,
        /// What happened.
        reason: String,
    },
    /// It answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The authority.
        url: String,
        /// The status.
        status: u16,
        /// What it said.
        body: String,
    },
    /// The answer was not what the protocol says.
    #[error("{url}: a malformed answer: {reason}")]
    Malformed {
        /// The authority.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// A node's sold authority: the store's `serve`, its address and this node's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoldAuthority {
    /// `http://host:port` of the store's `serve`.
    pub url: String,
    /// This node's token (serve.json `nodes`); sent in a header, never in the URL.
    pub token: String,
    /// How long a sale waits for the authority before it is made offline and queued.
    pub timeout: Duration,
}

impl SoldAuthority {
    /// `url` with `token`, a sale waiting up to a second for it.
    pub fn new(url: &str, token: &str) -> SoldAuthority {
        SoldAuthority {
            url: url.to_string(),
            token: token.to_string(),
            timeout: Duration::from_secs(1),
        }
    }
}

/// The authority's address and this node's token.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    /// `host:port`.
    host: String,
    /// The URL for messages.
    url: String,
    token: String,
}

impl Client {
    /// A client of `url` (`http://host:port`, a path ignored) with `token`.
    pub(crate) fn new(url: &str, token: &str) -> Result<Client, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: the sold authority is an http://host:port URL"))?;
        let host = rest.split('/').next().unwrap_or("").to_string();
        if host.is_empty() || host.contains('@') {
            return Err(format!(
                "{url:?}: give http://host:port (the token goes in its own setting, never in the URL)"
            ));
        }
        let host = if host.contains(':') {
            host
        } else {
            format!("{host}:80")
        };
        Ok(Client {
            url: format!("http://{host}"),
            host,
            token: token.to_string(),
        })
    }

    /// A request with an optional JSON body; the status and body of the answer.
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        let addr = self
            .host
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("no address".into()))?;
        let stream = TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(5)))
            .map_err(|e| unreachable(e.to_string()))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| unreachable(e.to_string()))?;
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Token {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.host,
            self.token,
            body.len()
        );
        let mut out = &stream;
        out.write_all(head.as_bytes())
            .and_then(|()| out.write_all(body))
            .map_err(|e| unreachable(e.to_string()))?;
        let mut reader = BufReader::new(&stream);
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| unreachable(e.to_string()))?;
        let malformed = |reason: String| ClientError::Malformed {
            url: self.url.clone(),
            reason,
        };
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed(format!("status line {status_line:?}")))?;
        let mut length = None;
        loop {
            let mut line = String::new();
            reader
                .read_line(&mut line)
                .map_err(|e| unreachable(e.to_string()))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or_else(|| malformed("no Content-Length".into()))?;
        if length > MAX_BODY {
            return Err(malformed(format!("an answer of {length} bytes")));
        }
        let mut answer = vec![0; length];
        reader
            .read_exact(&mut answer)
            .map_err(|e| unreachable(e.to_string()))?;
        if status >= 300 {
            return Err(ClientError::Status {
                url: self.url.clone(),
                status,
                body: String::from_utf8_lossy(&answer[..answer.len().min(500)]).into_owned(),
            });
        }
        Ok((status, answer))
    }

    /// A JSON request answered with JSON.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl serde::Serialize>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let (_, answer) = self.request(method, path, body.as_deref(), timeout)?;
        serde_json::from_slice(&answer).map_err(|e| ClientError::Malformed {
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }
}
