//! `cisgate serve` driven over loopback by a real HTTP client.

#![cfg(all(feature = "serve", feature = "cli"))]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::serve::{BasicUser, ServeConfig, Server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FREE: &str = "0104600439931256215abcdEFGH1234";
const FREE_KM: &str = "0104600439931256215abcdEFGH1234\u{1d}93dGVz";
const LISTED: &str = "0104600439931256215zzzzzzzzzzzz";
/// A 29-character tobacco pack code carrying a max retail price (146.30 ₽).
const TOBACCO: &str = "04647297654361!%C5UGbACW.abcd";
const TOKEN: &str = "4c7e0c4c-93a4-4f5e-9d8e-0b1f2a3b4c5d";

struct Service {
    _dir: tempfile::TempDir,
    index: PathBuf,
    addr: SocketAddr,
    live: Arc<LiveIndex>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    client: reqwest::Client,
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn metrics(&self) -> String {
        let r = self.client.get(self.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
    }
}

async fn start_with(config: ServeConfig, as_of_ms: i64) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let index = common::blocked_cis_index(dir.path(), "1", as_of_ms, &[LISTED]);
    let live = Arc::new(LiveIndex::open(&index, LiveOptions::default()).unwrap());
    let config = ServeConfig {
        listen: "127.0.0.1:0".into(),
        refresh_interval_ms: 20,
        ..config
    };
    let server = Server::bind(config, live.clone()).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Service {
        _dir: dir,
        index,
        addr,
        live,
        stop: Some(stop),
        done: Some(done),
        client: {
            // The crate builds reqwest with rustls but no default crypto provider.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
        },
    }
}

async fn start() -> Service {
    start_with(ServeConfig::default(), cisgate::time::now_ms()).await
}

fn one(results: &Value) -> &Value {
    let results = results["results"].as_array().expect("results array");
    assert_eq!(results.len(), 1);
    &results[0]
}

/// Sends raw bytes and returns the raw answer (until the server closes or 2 s pass).
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_full_codes_of_the_longest_structure_fit_the_default_limit() {
    let svc = start().await;
    let crypto = "A".repeat(88);
    let codes: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"cis": format!(
                "0104600439931256215abcdEFGH1234{i:07}\u{1d}91EE07\u{1d}92{crypto}\u{1d}8005000150\u{1d}3103000350"
            )})
        })
        .collect();
    let body = json!({ "cis_list": codes });
    assert!(
        body.to_string().len() > 180_000,
        "{}",
        body.to_string().len()
    );
    let (status, answer) = svc.post("/api/v2/cis/outCheck", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"].as_array().unwrap().len(), 1000);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_config() {
    let svc = start().await;
    let (code, status) = svc.get("/api/v2/status").await;
    assert_eq!(code, 200);
    assert_eq!(status["status"], "ready");
    assert_eq!(status["dbVersion"], "1");
    assert_eq!(status["inst"], svc.live.instance_id());
    assert!(status["lastSync"].is_i64());
    assert_eq!(status["dbState"]["blocked_cis"]["localDocCount"], 1);
    let (code, config) = svc.get("/api/v2/config").await;
    assert_eq!(code, 200);
    assert_eq!(config["auth"], "none");
    assert_eq!(config["limits"]["bodyBytes"], 262144);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_check_shapes_and_rules() {
    let svc = start().await;
    let (code, body) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": [{"cis": FREE}]}))
        .await;
    assert_eq!(code, 200);
    let r = one(&body);
    assert_eq!(r["code"], 0);
    assert!(r["reqTimestamp"].is_i64());
    assert_eq!(r["reqId"].as_str().unwrap().len(), 36);
    assert_eq!(r["inst"], svc.live.instance_id());
    assert_eq!(r["version"], "1");
    let codes = r["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(
        codes[0],
        json!({"cis": FREE, "gtin": "04600439931256", "isBlocked": false, "sold": false})
    );

    // One result per КИ, in order; full КМ accepted; invalid ones get code 400 inside a 200.
    let (code, body) = svc
        .post(
            "/api/v2/cis/outCheck",
            json!({"tz": 3, "cis_list": [
                {"cis": LISTED, "pg": 3}, {"cis": FREE_KM}, {"cis": "garbage"}, {"cis": null},
                {"cis": ""}, {"cis": TOBACCO}]}),
        )
        .await;
    assert_eq!(code, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["codes"][0]["isBlocked"], true);
    assert_eq!(results[1]["codes"][0]["cis"], FREE);
    assert_eq!(results[1]["codes"][0]["isBlocked"], false);
    for r in &results[2..5] {
        assert_eq!(r["code"], 400, "{r}");
        assert_eq!(r["codes"][0]["isBlocked"], true, "{r}");
        assert!(!r["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(results[5]["code"], 0);
    assert_eq!(results[5]["codes"][0]["mrp"], 14630);
    assert_eq!(results[5]["codes"][0]["cis"], "04647297654361!%C5UGb");

    // Any JSON escape in strings.
    let escaped = r#"{"cis_list":[{"cis":"\u0030104600439931256215abcdEFGH1234"}]}"#;
    let r = svc
        .client
        .post(svc.url("/api/v2/cis/outCheck"))
        .header("Content-Type", "application/json")
        .body(escaped)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(one(&body)["codes"][0]["cis"], FREE);

    // v1: one object, no wrapper.
    let encoded = "0104600439931256215zzzzzzzzzzzz";
    for path in ["/api/v1/cis/outCheck", "/api/v1/cis/check"] {
        let (code, body) = svc.get(&format!("{path}?cis={encoded}")).await;
        assert_eq!(code, 200);
        assert_eq!(body["codes"][0]["isBlocked"], true, "{path}");
        assert!(body.get("results").is_none());
    }
    // A raw `+` in the query (read as a space by form decoding) and its encoded form.
    for query in [
        "0104600439931256215abc+EFGH1234",
        "0104600439931256215abc%2BEFGH1234",
    ] {
        let (code, body) = svc.get(&format!("/api/v1/cis/outCheck?cis={query}")).await;
        assert_eq!(code, 200);
        assert_eq!(
            body["codes"][0]["cis"], "0104600439931256215abc+EFGH1234",
            "{query}"
        );
    }
    let (code, body) = svc.get("/api/v1/cis/outCheck").await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6010)));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_check_errors_and_limits() {
    let svc = start().await;
    let many: Vec<Value> = (0..1001).map(|_| json!({"cis": FREE})).collect();
    let (code, body) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": many}))
        .await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6020)));
    assert!(body["reason"].as_str().unwrap().contains("1001"));
    let (code, body) = svc.post("/api/v2/cis/outCheck", json!({"tz": 3})).await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6010)));
    let (code, body) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": "x"}))
        .await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6020)));
    let r = svc.post_raw("/api/v2/cis/outCheck", "{not json").await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], 6011);
    let big = format!(r#"{{"cis_list":[{{"cis":"{}"}}]}}"#, "A".repeat(300_000));
    let r = svc.post_raw("/api/v2/cis/outCheck", big).await;
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], 6011);
    let (code, body) = svc.get("/api/v2/nothing").await;
    assert_eq!(code, 404);
    assert!(body["errorCode"].is_u64());
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_expect_continue_and_garbage() {
    let svc = start().await;
    let body = format!(r#"{{"cis_list":[{{"cis":"{FREE}"}}]}}"#);
    let chunked = format!(
        "POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let answer = raw(svc.addr, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""isBlocked":false"#), "{answer}");

    let expect = format!(
        "POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Expect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw(svc.addr, expect.as_bytes()).await;
    assert!(answer.contains("200 OK"), "{answer}");

    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"\x00\x01\x02\xff\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
    ] {
        let answer = raw(svc.addr, garbage).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer}"
        );
    }
    let (code, _) = svc.get("/api/v2/status").await;
    assert_eq!(code, 200, "still serving after garbage");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_returns_and_sold_lists() {
    let svc = start().await;
    let (code, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!(code, 201, "{body}");
    // Durable before 201: a fresh reader sees it.
    let other = LiveIndex::open(&svc.index, LiveOptions::default()).unwrap();
    assert!(other.is_sold(FREE.as_bytes()));
    let (code, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!(body["errorCode"], 4070, "{code} {body}");
    let (_, body) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": [{"cis": FREE}]}))
        .await;
    assert_eq!(one(&body)["codes"][0]["sold"], true);
    assert_eq!(one(&body)["codes"][0]["isBlocked"], false);

    // Percent-encoded and raw forms of a КИ holding `%`.
    let (code, _) = svc
        .post(
            "/api/v2/cis/sell",
            json!({"cis_list": ["04647297654361%21%25C5UGb"]}),
        )
        .await;
    assert_eq!(code, 201);
    let (_, body) = svc
        .post(
            "/api/v2/cis/sold/check",
            json!({"cis_list": ["04647297654361!%C5UGb", LISTED, null]}),
        )
        .await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["isSold"], true);
    assert_eq!(results[1]["isSold"], false);
    assert_eq!(results[2]["isSold"], false);

    let (code, body) = svc.get("/api/v2/cis/sold?skip=0&limit=1").await;
    assert_eq!(code, 200);
    assert_eq!(body["total_count"], 2);
    assert_eq!(body["cis_list"].as_array().unwrap().len(), 1);
    let (code, body) = svc.get("/api/v2/cis/sold?limit=1001").await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6020)));
    let (code, _) = svc.get("/api/v2/cis/sold?skip=-1").await;
    assert_eq!(code, 400);

    let (code, _) = svc
        .post("/api/v2/cis/return", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!(code, 200);
    let (code, body) = svc
        .post("/api/v2/cis/return", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(6020)));
    // Nothing is sold when one code of the list is bad, or listed twice (in any form).
    let (code, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE, FREE_KM]}))
        .await;
    assert_eq!(
        (code, body["errorCode"].clone()),
        (400, json!(6020)),
        "{body}"
    );
    assert!(!svc.live.is_sold(FREE.as_bytes()));
    let (code, _) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE, "garbage"]}))
        .await;
    assert_eq!(code, 400);
    assert!(!svc.live.is_sold(FREE.as_bytes()));
    svc.stop().await;
}

/// A canonical КИ of the sample GTIN with a 13-character serial.
fn ki_with_serial(serial: &str) -> String {
    assert_eq!(serial.len(), 13);
    format!("010460043993125621{serial}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sale_is_all_or_nothing_under_contention() {
    let svc = Arc::new(start().await);
    for round in 0..150 {
        let shared = ki_with_serial(&format!("r{round:04}sharedxx"));
        let mut clients = Vec::new();
        for client in 0..4 {
            let svc = svc.clone();
            let own = ki_with_serial(&format!("r{round:04}c{client}owners"));
            let shared = shared.clone();
            clients.push(tokio::spawn(async move {
                let (code, body) = svc
                    .post("/api/v2/cis/sell", json!({"cis_list": [own, shared]}))
                    .await;
                (code, body, own)
            }));
        }
        let mut winners = 0;
        for c in clients {
            let (code, body, own) = c.await.unwrap();
            match code {
                201 => {
                    winners += 1;
                    assert!(svc.live.is_sold(own.as_bytes()));
                }
                409 => {
                    assert_eq!(body["errorCode"], 4070, "{body}");
                    // A failed sale wrote nothing: the till may sell its own item again.
                    assert!(!svc.live.is_sold(own.as_bytes()), "round {round}: {own}");
                }
                other => panic!("round {round}: {other} {body}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
    // What the service answered is what a fresh reader finds on disk.
    let other = LiveIndex::open(&svc.index, LiveOptions::default()).unwrap();
    assert_eq!(other.sold_kis().len(), 150 * 2);
    Arc::try_unwrap(svc).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_that_times_out_is_never_written() {
    let config = ServeConfig {
        request_timeout_ms: 400,
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    let journal = svc
        .index
        .join(&svc.live.generation().index().manifest().journal);
    // Another process's writer holds the journal lock for longer than the request timeout.
    let holder = std::fs::File::options()
        .append(true)
        .open(&journal)
        .unwrap();
    holder.lock().unwrap();
    let started = std::time::Instant::now();
    let (code, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    let took = started.elapsed();
    assert_eq!(
        (code, body["errorCode"].clone()),
        (408, json!(5040)),
        "{body}"
    );
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{body}"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // Outside the sale, checks go on while the lock is held.
    let (code, _) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": [{"cis": FREE}]}))
        .await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.unlock().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The lock is free now; the abandoned sale did not go through after its failure.
    let other = LiveIndex::open(&svc.index, LiveOptions::default()).unwrap();
    assert!(!other.is_sold(FREE.as_bytes()));
    assert!(!svc.live.is_sold(FREE.as_bytes()));
    let (code, _) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!(code, 201);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication() {
    let config = ServeConfig {
        users: vec![BasicUser {
            user: "cashier".into(),
            password: "s3cret".into(),
        }],
        tokens: vec![TOKEN.into()],
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    let status = |auth: Option<String>| {
        let mut r = svc.client.get(svc.url("/api/v2/status"));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        async move {
            let r = r.send().await.unwrap();
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let basic = |s: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    };
    let (code, body) = status(None).await;
    assert_eq!((code, body["errorCode"].clone()), (401, json!(4010)));
    assert_eq!(status(Some(basic("cashier:wrong"))).await.0, 401);
    assert_eq!(status(Some(basic("admin:admin"))).await.0, 401);
    assert_eq!(status(Some("Basic".into())).await.0, 401);
    assert_eq!(status(Some("Token nope".into())).await.0, 401);
    assert_eq!(status(Some(basic("cashier:s3cret"))).await.0, 200);
    assert_eq!(status(Some(format!("Token {TOKEN}"))).await.0, 200);
    let (code, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!((code, body["errorCode"].clone()), (401, json!(4010)));
    assert!(!svc.live.is_sold(FREE.as_bytes()));
    svc.stop().await;

    // No credentials beyond loopback: refused. Empty passwords: refused.
    let dir = tempfile::tempdir().unwrap();
    let index = common::blocked_cis_index(dir.path(), "1", cisgate::time::now_ms(), &[LISTED]);
    let live = Arc::new(LiveIndex::open(&index, LiveOptions::default()).unwrap());
    let open = ServeConfig {
        listen: "0.0.0.0:0".into(),
        ..Default::default()
    };
    let err = Server::bind(open, live.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("without credentials"), "{err}");
    let empty = ServeConfig {
        users: vec![BasicUser {
            user: "admin".into(),
            password: String::new(),
        }],
        ..Default::default()
    };
    assert!(Server::bind(empty, live.clone()).await.is_err());
    // Beyond loopback a password must be long enough to resist guessing.
    let remote = |password: &str| ServeConfig {
        listen: "0.0.0.0:0".into(),
        users: vec![BasicUser {
            user: "cashier".into(),
            password: password.into(),
        }],
        ..Default::default()
    };
    let err = Server::bind(remote("x"), live.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("at least 12"), "{err}");
    assert!(
        Server::bind(remote("correct horse battery"), live)
            .await
            .is_ok()
    );
}

/// Status and `Access-Control-Allow-Origin` of a request from `origin`.
async fn from_origin(
    svc: &Service,
    method: reqwest::Method,
    path: &str,
    origin: &str,
) -> (u16, Option<String>) {
    let r = svc
        .client
        .request(method, svc.url(path))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    let allowed = r
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), allowed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_unless_configured() {
    use reqwest::Method;
    let svc = start().await;
    let status = "/api/v2/status";
    let evil = "http://evil.example";
    // Without credentials an unknown origin is refused outright.
    assert_eq!(
        from_origin(&svc, Method::GET, status, evil).await,
        (403, None)
    );
    svc.stop().await;

    let config = ServeConfig {
        cors_origins: vec!["http://pos.local".into()],
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    let preflight = from_origin(
        &svc,
        Method::OPTIONS,
        "/api/v2/cis/outCheck",
        "http://pos.local",
    );
    assert_eq!(preflight.await, (204, Some("http://pos.local".into())));
    assert_eq!(
        from_origin(&svc, Method::GET, status, "http://pos.local").await,
        (200, Some("http://pos.local".into()))
    );
    assert_eq!(
        from_origin(&svc, Method::GET, status, evil).await,
        (403, None)
    );
    svc.stop().await;

    // With credentials, an unknown origin gets an answer without CORS headers, which a
    // browser will not hand to the page.
    let config = ServeConfig {
        tokens: vec![TOKEN.into()],
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    let r = svc
        .client
        .get(svc.url(status))
        .header("Origin", evil)
        .header("Authorization", format!("Token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_a_browser_cannot_sell_or_return() {
    let svc = start().await;
    let sell = |host: &'static str, origin: Option<&'static str>, content_type: &'static str| {
        let mut body = format!(r#"{{"cis_list":["{FREE}"]}}"#);
        if content_type == "application/x-www-form-urlencoded" {
            body = format!("cis_list={FREE}");
        }
        let mut request = format!(
            "POST /api/v2/cis/sell HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(origin) = origin {
            request.push_str(&format!("Origin: {origin}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        raw(svc.addr, request.into_bytes().leak())
    };
    // The reported attack: a page on another site, through DNS rebinding.
    let answer = sell("evil.example", Some("http://evil.example"), "text/plain").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("4010"), "{answer}");
    // Each of the three signs alone is refused.
    let answer = sell("evil.example", None, "application/json").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let answer = sell("localhost", Some("http://evil.example"), "application/json").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    for form in ["text/plain", "application/x-www-form-urlencoded"] {
        let answer = sell("localhost", None, form).await;
        assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
        assert!(answer.contains("6011"), "{answer}");
    }
    assert!(!svc.live.is_sold(FREE.as_bytes()));
    // The loopback names a till's software uses are served.
    for host in ["localhost:5995", "127.0.0.1", "[::1]:5995", "LOCALHOST."] {
        let answer = raw(
            svc.addr,
            format!("GET /api/v2/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
    let answer = sell("127.0.0.1:5995", None, "application/json; charset=utf-8").await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_data_is_a_sync_error_and_refuses_checks_and_sales() {
    let svc = start_with(
        ServeConfig::default(),
        cisgate::time::now_ms() - 80 * 3_600_000,
    )
    .await;
    let (_, status) = svc.get("/api/v2/status").await;
    assert_eq!(status["status"], "sync_error");
    let (code, body) = svc
        .post("/api/v2/cis/outCheck", json!({"cis_list": [{"cis": FREE}]}))
        .await;
    assert_eq!((code, body["errorCode"].clone()), (400, json!(4050)));
    let (_, body) = svc
        .post("/api/v2/cis/sell", json!({"cis_list": [FREE]}))
        .await;
    assert_eq!(body["errorCode"], 4050);
    let r = svc.post_raw("/api/cisgate/v1/check", FREE).await;
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], 4050);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out() {
    let config = ServeConfig {
        request_timeout_ms: 300,
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    // Headers promise a body that never comes.
    let answer = raw(
        svc.addr,
        b"POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"cis",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("5040"), "{answer}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_stream_answers_an_over_long_line_as_invalid_and_goes_on() {
    let svc = start().await;
    let long = "x".repeat(5000);
    for body in [
        format!("{FREE}\n{long}\n{LISTED}\n"),
        format!("{FREE}\n{long}{long}\n{LISTED}"),
        format!("{FREE}\n{LISTED}\n{long}"),
    ] {
        let r = svc.post_raw("/api/cisgate/v1/check", body.clone()).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.expect("the whole stream, not a reset");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text:.500}");
        let statuses: Vec<&str> = lines
            .iter()
            .map(|l| l["status"].as_str().unwrap())
            .collect();
        let long_at = body.lines().position(|l| l.len() > 4096).unwrap();
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["line"], i as u64 + 1);
            if i == long_at {
                assert_eq!(statuses[i], "invalid");
                assert!(l["error"].as_str().unwrap().contains("4096"), "{l}");
                assert!(l["input"].as_str().unwrap().len() <= 64);
            } else {
                assert_ne!(statuses[i], "invalid", "{l}");
            }
        }
    }
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_bulk_endpoint_streams_in_order() {
    let svc = start().await;
    let mut body = String::new();
    for i in 0..20_000 {
        match i % 4 {
            0 => body.push_str(LISTED),
            1 => body.push_str("garbage"),
            _ => body.push_str(&format!("010460043993125621{i:013}")),
        }
        body.push('\n');
    }
    let r = svc.post_raw("/api/cisgate/v1/check", body).await;
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20_000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["line"], i as u64 + 1);
        let want = ["blocked", "invalid", "allowed", "allowed"][i % 4];
        assert_eq!(line["status"], want, "{line}");
    }
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("cisgate_codes_checked_total 20000"),
        "{metrics}"
    );
    assert!(metrics.contains(r#"cisgate_requests_total{endpoint="nativeCheck",status="200"} 1"#));
    assert!(metrics.contains(
        r#"cisgate_request_duration_seconds_bucket{endpoint="nativeCheck",le="+Inf"} 1"#
    ));
    assert!(metrics.contains(r#"cisgate_index_info{version="1""#));
    assert!(metrics.contains("cisgate_index_age_seconds"));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_generation_is_picked_up_under_load_without_mixed_answers() {
    let svc = start().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (
            svc.client.clone(),
            svc.url("/api/v2/cis/outCheck"),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (mut old, mut new) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let r = client
                    .post(&url)
                    .json(&json!({"cis_list": [{"cis": FREE}, {"cis": LISTED}]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                let body: Value = r.json().await.unwrap();
                let results = body["results"].as_array().unwrap();
                let version = results[0]["version"].as_str().unwrap().to_string();
                assert_eq!(
                    results[1]["version"],
                    version.as_str(),
                    "one generation per request"
                );
                let free_blocked = results[0]["codes"][0]["isBlocked"].as_bool().unwrap();
                let listed_blocked = results[1]["codes"][0]["isBlocked"].as_bool().unwrap();
                match version.as_str() {
                    "1" => {
                        assert!(!free_blocked && listed_blocked);
                        old += 1;
                    }
                    "2" => {
                        assert!(free_blocked && !listed_blocked);
                        new += 1;
                    }
                    other => panic!("unexpected version {other}"),
                }
            }
            (old, new)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Version 2 bans FREE and lifts LISTED.
    let delta = svc._dir.path().join("d2.list");
    let as_of = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    std::fs::write(
        &delta,
        format!(
            "#cisgate-list 1\n#kind: blocked_cis\n#version: 2\n#as_of: {as_of}\n#type: delta\n#parent: 1\n+{FREE}\n-{LISTED}\n"
        ),
    )
    .unwrap();
    let index = svc.index.clone();
    tokio::task::spawn_blocking(move || {
        cisgate::index::apply(
            &index,
            &[delta],
            &Default::default(),
            &cisgate::progress::NoProgress,
        )
    })
    .await
    .unwrap()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut old, mut new) = (0, 0);
    for w in workers {
        let (o, n) = w.await.unwrap();
        old += o;
        new += n;
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
    let metrics = svc.metrics().await;
    // The apply, and the auto-compaction a tiny base triggers right after it.
    let switches: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cisgate_generation_switches_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(switches >= 1, "{metrics}");
    svc.stop().await;
}

#[test]
fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let index = common::blocked_cis_index(dir.path(), "1", cisgate::time::now_ms(), &[LISTED]);
    let config = dir.path().join("serve.json");
    std::fs::write(
        &config,
        json!({"tokens": [TOKEN], "access_log": true}).to_string(),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--index"])
        .arg(&index)
        .arg("--config")
        .arg(&config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let start: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(start["event"], "start");
    let addr = start["listen"].as_str().unwrap().to_string();

    let request = |auth: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let body = format!(r#"{{"cis_list":[{{"cis":"{LISTED}"}}]}}"#);
        write!(
            s,
            "POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    let answer = request(&format!("Token {TOKEN}"));
    assert!(answer.contains(r#""isBlocked":true"#), "{answer}");
    let answer = request("Token not-the-token");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains(r#""event":"stop""#), "{rest}");
    // Log lines say who asked, from where, under which request id, and why it failed;
    // never the secret.
    assert!(!rest.contains(TOKEN), "{rest}");
    let requests: Vec<Value> = rest
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "request")
        .collect();
    assert_eq!(requests.len(), 2, "{rest}");
    for line in &requests {
        assert!(
            line["client"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        assert_eq!(line["request_id"].as_str().unwrap().len(), 36, "{line}");
        let ms = line["ms"].as_f64().unwrap();
        assert_eq!((ms * 1000.0).round() / 1000.0, ms, "{line}");
        assert!(line["ms"].to_string().len() <= 12, "{line}");
    }
    assert_eq!(requests[0]["user"], "token #1");
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[1]["status"], 401);
    assert!(
        requests[1]["error"].as_str().unwrap().contains("4010"),
        "{}",
        requests[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_in_progress_are_shed_not_queued() {
    let config = ServeConfig {
        max_concurrent_requests: 1,
        request_timeout_ms: 2000,
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    // Holds the only slot: headers promise a body that arrives late.
    let mut slow = tokio::net::TcpStream::connect(svc.addr).await.unwrap();
    slow.write_all(
        b"POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, body) = svc.get("/api/v2/status").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["errorCode"], 5040);
    drop(slow);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(svc.get("/api/v2/status").await.0, 200);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_crashes_the_service() {
    let svc = start().await;
    // A fixed-seed generator of hostile bodies: random bytes, truncated and mutated JSON.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: [&[u8]; 4] = [
        br#"{"cis_list":[{"cis":"0104600439931256215abcdEFGH1234"}]}"#,
        br#"{"cis_list":["04647297654361%21%25C5UGb",null,{"cis":null,"pg":3}]}"#,
        br#"{"tz":3,"cis_list":[]}"#,
        b"[1,2,{\"cis\":\"\\u001d\"}]",
    ];
    for round in 0..600 {
        let seed = seeds[round % seeds.len()];
        let mut body = seed.to_vec();
        match next() % 4 {
            0 => body.truncate((next() as usize) % (body.len() + 1)),
            1 => {
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % body.len();
                    body[at] = next() as u8;
                }
            }
            2 => body = (0..next() % 200).map(|_| next() as u8).collect(),
            _ => body.splice(0..0, seed.iter().copied()).for_each(drop),
        }
        let path = [
            "/api/v2/cis/outCheck",
            "/api/v2/cis/sell",
            "/api/v2/cis/return",
            "/api/v2/cis/sold/check",
        ][round % 4];
        let r = svc.post_raw(path, body.clone()).await;
        let status = r.status().as_u16();
        assert!(
            [200, 201, 400, 409, 413].contains(&status),
            "{path} {status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        let answer: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        if status >= 400 {
            assert!(
                answer["errorCode"].is_u64() && answer["reason"].is_string(),
                "{answer}"
            );
        }
    }
    assert_eq!(svc.get("/api/v2/status").await.0, 200);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_clients_are_served_and_slow_ones_give_way() {
    let config = ServeConfig {
        max_connections: 2,
        idle_timeout_ms: 300,
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    // Two silent connections take both slots; a third client is served at once, and the
    // oldest silent one is closed to make room.
    let mut first = tokio::net::TcpStream::connect(svc.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second = tokio::net::TcpStream::connect(svc.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = std::time::Instant::now();
    let answer = raw(
        svc.addr,
        b"GET /api/v2/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_millis(200));
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_millis(100), first.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the oldest silent connection stayed open: {closed:?}"
    );
    // The other silent one is closed once idle for 300 ms.
    let closed = tokio::time::timeout(Duration::from_secs(1), second.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "an idle connection stayed open: {closed:?}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_take_the_service_down() {
    let config = ServeConfig {
        header_timeout_ms: 2000,
        ..Default::default()
    };
    let svc = start_with(config, cisgate::time::now_ms()).await;
    let addr = svc.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // 1500 sockets send a partial head, then one byte every 500 ms; a closed one reconnects.
    let mut trickles = Vec::new();
    for _ in 0..1500 {
        let (stop, open) = (stop.clone(), open.clone());
        trickles.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut ok = s
                    .write_all(b"GET /api/v2/status HTTP/1.1\r\nHost: localhost\r\nX-a")
                    .await
                    .is_ok();
                while ok && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    ok = s.write_all(b"a").await.is_ok();
                }
                open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    // Let them all connect and start trickling.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(open.load(std::sync::atomic::Ordering::Relaxed) > 1024);
    // A normal client opening a new connection per request is answered quickly.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut slowest = Duration::ZERO;
    for round in 0..20 {
        let started = std::time::Instant::now();
        let status = client.get(svc.url("/api/v2/status")).send().await.unwrap();
        assert_eq!(status.status(), 200);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "round {round}: status in {took:?}"
        );
        slowest = slowest.max(took);
        let started = std::time::Instant::now();
        let check = client
            .post(svc.url("/api/v2/cis/outCheck"))
            .json(&json!({"cis_list": [{"cis": LISTED}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(check.status(), 200);
        let body: Value = check.json().await.unwrap();
        assert_eq!(one(&body)["codes"][0]["isBlocked"], true);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "round {round}: outCheck in {took:?}"
        );
        slowest = slowest.max(took);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "slowest status or outCheck under 1500 trickling sockets: {slowest:?} ({} open)",
        open.load(std::sync::atomic::Ordering::Relaxed)
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in trickles {
        t.abort();
    }
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_heads_get_the_lm_error_shape() {
    let svc = start().await;
    let long_uri = format!(
        "GET /api/v2/status?{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let big_header = format!(
        "GET /api/v2/status HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "b".repeat(500_000)
    );
    let cases: [(&str, &[u8], &str); 4] = [
        ("HTTP/0.9", b"GET /api/v2/status\r\n\r\n", "HTTP/1.1 400"),
        (
            "two Content-Lengths",
            b"POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            "HTTP/1.1 400",
        ),
        ("a URI too long", long_uri.as_bytes(), "HTTP/1.1 4"),
        ("headers too large", big_header.as_bytes(), "HTTP/1.1 431"),
    ];
    for (name, request, status) in cases {
        let answer = raw(svc.addr, request).await;
        assert!(answer.starts_with(status), "{name}: {answer:.300}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        let body: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{name}: body not JSON ({e}): {answer:.300}"));
        assert!(
            body["errorCode"].is_u64() && body["reason"].is_string(),
            "{name}: {body}"
        );
    }
    // HTTP/2 with prior knowledge is not served: the connection is closed.
    let answer = raw(svc.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(answer.is_empty(), "{answer}");
    // The service goes on answering.
    assert_eq!(svc.get("/api/v2/status").await.0, 200);
    svc.stop().await;
}
