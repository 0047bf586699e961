//! A scripted True API + CDN emulator: a real HTTP/1.1 server on loopback, one per host,
//! whose every answer a test decides, down to hanging, trickling and resetting.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the emulator received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON request body")
    }

    pub fn is_check(&self) -> bool {
        self.path == "/api/v4/true-api/codes/check"
    }

    pub fn is_health(&self) -> bool {
        self.path == "/api/v4/true-api/cdn/health/check"
    }
}

/// What the emulator does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status and body.
    Json(u16, String),
    /// Accept, read the request, never answer.
    Hang,
    /// Send the status line and headers, then the body one byte per interval.
    Trickle(u16, String, Duration),
    /// Close the connection with a TCP reset.
    Reset,
}

type Script = dyn Fn(&Request) -> Reply + Send + Sync;

/// One emulated host.
pub struct Host {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<Arc<Script>>>,
}

impl Host {
    /// Starts a host on a free loopback port, answering with `script`.
    pub fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Host {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", std_listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Arc<Script>>> = Arc::new(Mutex::new(Arc::new(script)));
        let (r, s) = (requests.clone(), script.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(serve(stream, r.clone(), s.clone()));
                }
            });
        });
        Host {
            url,
            requests,
            script,
        }
    }

    /// Replaces the script.
    pub fn set(&self, script: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(script);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// How many `codes/check` requests arrived.
    pub fn checks(&self) -> usize {
        self.requests().iter().filter(|r| r.is_check()).count()
    }
}

/// A URL on which nothing listens (connection refused).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn serve(
    mut stream: TcpStream,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<Arc<Script>>>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        requests.lock().unwrap().push(request.clone());
        let reply = {
            let script = script.lock().unwrap().clone();
            script(&request)
        };
        match reply {
            Reply::Json(status, body) => {
                let head = head(status, body.len());
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Trickle(status, body, every) => {
                if stream
                    .write_all(head(status, body.len()).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                for b in body.as_bytes() {
                    tokio::time::sleep(every).await;
                    if stream.write_all(&[*b]).await.is_err() {
                        return;
                    }
                }
            }
            Reply::Reset => {
                // SO_LINGER 0 turns the close into a reset; blocking on drop is harmless here.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
        }
    }
}

fn head(status: u16, len: usize) -> String {
    format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..header_end + len].to_vec();
    buf.drain(..header_end + len);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// A `codes/check` answer with one entry per requested code, each made by `entry`.
pub fn check_answer(
    request: &Request,
    req_id: &str,
    entry: impl Fn(&str) -> serde_json::Value,
) -> Reply {
    let codes: Vec<serde_json::Value> = request.json()["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| entry(c.as_str().unwrap()))
        .collect();
    let body = serde_json::json!({
        "code": 0, "description": "ok", "reqId": req_id,
        "reqTimestamp": 1_795_428_000_123i64, "codes": codes,
    });
    Reply::Json(200, body.to_string())
}

/// A code entry for a product that may be sold.
pub fn sellable(cis: &str) -> serde_json::Value {
    serde_json::json!({
        "cis": cis, "valid": true, "printView": cis, "gtin": "04600439931256",
        "groupIds": [3], "verified": true, "found": true, "realizable": true,
        "utilised": true, "isBlocked": false, "sold": false, "isOwner": false,
        "expireDate": "2099-01-01T00:00:00.000Z", "errorCode": 0,
    })
}

/// The health check's answer.
pub fn healthy(avg_time_ms: u64) -> Reply {
    Reply::Json(
        200,
        serde_json::json!({"code": 0, "avgTimeMs": avg_time_ms}).to_string(),
    )
}
