//! Real servers for the tests that need them: an S3-compatible store (s3s-fs), a NATS
//! server, a webhook receiver, and a proxy that counts requests. Each is installed by
//! `.ci/tools` when missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::{ObjectStore, ObjectStoreExt};

/// The bucket every test store holds.
pub const BUCKET: &str = "fleet";
/// The store's access key.
pub const ACCESS_KEY: &str = "cisgate-test";
/// The store's secret key.
pub const SECRET_KEY: &str = "cisgate-test-secret";

/// Where the s3s-fs binary is: `S3S_FS`, the `PATH`, or cargo's bin directory; when it is
/// in none of them, `.ci/tools` installs it (once per test run).
pub fn s3s_fs_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let find = || {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Some(home) = std::env::var_os("CARGO_HOME") {
            dirs.push(PathBuf::from(home).join("bin"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".cargo/bin"));
        }
        dirs.into_iter()
            .map(|d| d.join("s3s-fs"))
            .find(|p| p.is_file())
    };
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    find()
        .or_else(|| {
            INSTALLED.get_or_init(super::tools::install_test_tools);
            find()
        })
        .expect("s3s-fs is still missing after .ci/tools")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real S3-compatible server on a loopback port, storing under a temporary directory.
pub struct S3Server {
    pub child: Option<Child>,
    pub root: PathBuf,
    pub addr: SocketAddr,
}

impl S3Server {
    pub fn start(root: &Path) -> S3Server {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut server = S3Server {
            child: None,
            root: root.to_path_buf(),
            addr,
        };
        server.resume();
        server
    }

    /// (Re)starts the server on the same port and data.
    pub fn resume(&mut self) {
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for_port(self.addr);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Direct access to the bucket through the S3 API, as an operator (or an attacker with
/// write access) would have: to damage, remove and replay objects.
pub struct Bucket {
    pub store: object_store::aws::AmazonS3,
    pub runtime: tokio::runtime::Runtime,
}

impl Bucket {
    pub fn new(endpoint: &str) -> Bucket {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Bucket { store, runtime }
    }

    pub fn path(key: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("chain/{key}"))
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.runtime.block_on(async {
            let got = self.store.get(&Self::path(key)).await.unwrap();
            got.bytes().await.unwrap().to_vec()
        })
    }

    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        self.runtime
            .block_on(self.store.put(&Self::path(key), bytes.into()))
            .unwrap();
    }

    pub fn delete(&self, key: &str) {
        self.runtime
            .block_on(self.store.delete(&Self::path(key)))
            .unwrap();
    }

    pub fn keys(&self, under: &str) -> Vec<String> {
        use futures_util::StreamExt;
        self.runtime.block_on(async {
            let prefix = Self::path(under);
            let mut listing = self.store.list(Some(&prefix));
            let mut keys = Vec::new();
            while let Some(meta) = listing.next().await {
                let key = meta.unwrap().location.to_string();
                keys.push(key.trim_start_matches("chain/").to_string());
            }
            keys.sort();
            keys
        })
    }
}

/// A program on the `PATH` (or in cargo's bin directory), installed by `.ci/tools` when
/// it is in neither.
fn tool(name: &str) -> PathBuf {
    let find = || {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.push(PathBuf::from("/usr/sbin"));
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".cargo/bin"));
        }
        dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
    };
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    find()
        .or_else(|| {
            INSTALLED.get_or_init(super::tools::install_test_tools);
            find()
        })
        .unwrap_or_else(|| panic!("{name} is still missing after .ci/tools"))
}

/// A real NATS server (Debian's `nats-server`) on a loopback port.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
        };
        server.resume();
        server
    }

    /// (Re)starts it on the same port.
    pub fn resume(&mut self) {
        let child = Command::new(tool("nats-server"))
            .args(["-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for_port(format!("127.0.0.1:{}", self.port).parse().unwrap());
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP request a [`Receiver`] took.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP server that answers every request 200 and keeps it: a webhook receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve_one(stream, &kept));
            }
        });
        Receiver { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn taken(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock().unwrap().push(Received {
            method,
            path,
            headers,
            body,
        });
        if out
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}",
            )
            .is_err()
        {
            return;
        }
    }
}

/// A TCP proxy in front of a server that counts the HTTP requests passing through it,
/// by method and path.
pub struct CountingProxy {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    bytes_down: Arc<AtomicU64>,
}

impl CountingProxy {
    pub fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let bytes_down = Arc::new(AtomicU64::new(0));
        let (kept, down) = (requests.clone(), bytes_down.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (kept, down) = (kept.clone(), down.clone());
                let (c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    // Request lines are read off the client's stream; bodies (a PUT's)
                    // are passed on by length.
                    let mut reader = BufReader::new(c_in);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        let mut head = line.clone();
                        let mut len = 0usize;
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            head.push_str(&h);
                            if h == "\r\n" || h == "\n" {
                                break;
                            }
                        }
                        let mut body = vec![0u8; len];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let request: Vec<&str> = line.split_whitespace().take(2).collect();
                        kept.lock().unwrap().push(request.join(" "));
                        if s_out.write_all(head.as_bytes()).is_err()
                            || s_out.write_all(&body).is_err()
                        {
                            return;
                        }
                    }
                });
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match s_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        down.fetch_add(n as u64, Ordering::SeqCst);
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CountingProxy {
            addr,
            requests,
            bytes_down,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests so far (`METHOD /path?query`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Bytes the server sent back so far.
    pub fn bytes_down(&self) -> u64 {
        self.bytes_down.load(Ordering::SeqCst)
    }
}
