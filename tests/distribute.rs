//! Fleet distribution against a real S3-compatible server (s3s-fs, started here; installed by
//! `.ci/tools` when missing): publish, pull, deltas, a running `serve` switching, and every
//! fault the node must survive with its index unchanged and answering.
#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cisgate::distribute::{Credentials, PullOptions, PullOutcome, Remote};
use object_store::ObjectStoreExt;
use serde_json::Value;

use common::servers::{
    ACCESS_KEY, Bucket, S3Server, SECRET_KEY, free_port, s3s_fs_binary, wait_for_port,
};

/// A builder, a store and one node.
struct Fleet {
    dir: tempfile::TempDir,
    s3: S3Server,
    config: cisgate::synth::GenConfig,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet::with_config(common::small_config())
    }

    fn with_config(config: cisgate::synth::GenConfig) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let s3 = S3Server::start(&dir.path().join("s3"));
        let fleet = Fleet { config, s3, dir };
        fleet.keygen("publisher");
        common::synthetic_index(&fleet.dir.path().join("builder"), &fleet.config);
        fleet
    }

    /// Writes the key pair `NAME.key` and `NAME.pub`.
    fn keygen(&self, name: &str) {
        let out = self.cisgate(&[
            "keygen",
            "--secret-key",
            &self.path(&format!("{name}.key")),
            "--public-key",
            &self.path(&format!("{name}.pub")),
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn builder(&self) -> PathBuf {
        self.dir.path().join("builder/idx")
    }

    fn node(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    fn bucket(&self) -> Bucket {
        Bucket::new(&self.s3.endpoint())
    }

    /// Runs the binary with the store's endpoint and credentials in its environment.
    fn cisgate_at(&self, endpoint: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cisgate"))
            .args(args)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    }

    fn cisgate(&self, args: &[&str]) -> Output {
        self.cisgate_at(&self.s3.endpoint(), args)
    }

    fn publish_with(&self, extra: &[&str]) -> Output {
        let builder = self.builder();
        let mut args = vec![
            "publish",
            "--index",
            builder.to_str().unwrap(),
            "--to",
            "s3://fleet/chain",
        ];
        let key = self.path("publisher.key");
        args.extend(["--secret-key", &key]);
        args.extend(extra);
        self.cisgate(&args)
    }

    /// Builds the builder's lists into the directory `index` and publishes that index to
    /// `to` with the secret key file `key`; returns what publish printed.
    fn build_and_publish(&self, index: &str, to: &str, key: &str) -> String {
        let index = self.path(index);
        let lists = self.dir.path().join("builder/lists");
        let out = self.cisgate(&["build", "--out", &index, lists.to_str().unwrap()]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let key = self.path(key);
        let out = self.cisgate(&[
            "publish",
            "--index",
            &index,
            "--to",
            to,
            "--secret-key",
            &key,
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        common::stdout(&out)
    }

    fn publish(&self) -> String {
        let out = self.publish_with(&[]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        common::stdout(&out)
    }

    fn pull_at(&self, endpoint: &str, node: &Path) -> Output {
        self.pull_with(endpoint, node, &[])
    }

    /// A pull through `endpoint` into `node` with `extra` arguments. A store that does not
    /// answer is given up on after 5 s without progress (the default is minutes).
    fn pull_with(&self, endpoint: &str, node: &Path, extra: &[&str]) -> Output {
        let public = self.path("publisher.pub");
        let mut args = vec![
            "pull",
            "--index",
            node.to_str().unwrap(),
            "--from",
            "s3://fleet/chain",
            "--public-key",
            &public,
        ];
        if !extra.contains(&"--give-up-after") {
            args.extend(["--give-up-after", "5"]);
        }
        args.extend(extra);
        self.cisgate_at(endpoint, &args)
    }

    fn pull(&self) -> Output {
        self.pull_at(&self.s3.endpoint(), &self.node())
    }

    fn pull_ok(&self) -> String {
        let out = self.pull();
        assert!(
            out.status.success(),
            "{}{}",
            common::stdout(&out),
            common::stderr(&out)
        );
        common::stdout(&out)
    }

    /// A failing pull: its message, after checking the exit status.
    fn pull_fails(&self) -> String {
        let out = self.pull();
        assert!(!out.status.success(), "{}", common::stdout(&out));
        common::stderr(&out)
    }

    fn info(&self, index: &Path) -> Value {
        let out = self.cisgate(&["info", "--index", index.to_str().unwrap()]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn check(&self, index: &Path, code: &str) -> Value {
        let out = self.cisgate(&["check", "--index", index.to_str().unwrap(), code]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Applies synthetic delta `k` to the builder and returns a КИ it adds.
    fn apply_delta(&self, k: u64, adds: u64) -> String {
        let delta = common::synthetic_delta(self.dir.path(), &self.config, k, adds, 10);
        let builder = self.builder();
        let out = self.cisgate(&[
            "apply",
            "--index",
            builder.to_str().unwrap(),
            delta.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let text = zstd::decode_all(std::fs::File::open(&delta).unwrap()).unwrap();
        let text = String::from_utf8(text).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix('+'))
            .unwrap()
            .to_string()
    }

    fn compact_builder(&self) {
        let builder = self.builder();
        let out = self.cisgate(&["compact", "--index", builder.to_str().unwrap()]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }

    /// The node at the first publish (v0), the builder one delta ahead (v1, adding
    /// `added`) and published; with `compacted`, v1 is a new base (a full download).
    fn node_behind(compacted: bool) -> (Fleet, String) {
        let fleet = Fleet::new();
        fleet.publish();
        fleet.pull_ok();
        let added = fleet.apply_delta(0, 2_000);
        if compacted {
            fleet.compact_builder();
        }
        fleet.publish();
        (fleet, added)
    }

    /// What must not change when a pull fails: the node's files and answers.
    fn node_state(&self) -> NodeState {
        let node = self.node();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&node)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name == "CURRENT" || name.starts_with("MANIFEST-") || name == "PULLED"
            })
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        NodeState {
            files,
            digest: self.info(&node)["content_digest"].clone(),
        }
    }

    /// The node is exactly as it was, verifies, and answers from the old generation.
    fn assert_unchanged(&self, before: &NodeState, added: &str) {
        assert_eq!(&self.node_state(), before);
        let node = self.node();
        let out = self.cisgate(&["verify", "--index", node.to_str().unwrap()]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let verdict = self.check(&node, added);
        assert_eq!(verdict["status"], "allowed", "{verdict}");
        assert_eq!(verdict["index_version"], "v0", "{verdict}");
        let leftovers: Vec<String> = std::fs::read_dir(&node)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// The next pull succeeds and the node answers from v1, digest equal to the builder's.
    fn assert_next_pull_succeeds(&self, added: &str) {
        let out = self.pull_ok();
        assert!(out.contains("pulled version v1"), "{out}");
        self.assert_at_builder(added);
    }

    fn assert_at_builder(&self, added: &str) {
        let node = self.node();
        assert_eq!(
            self.info(&node)["content_digest"],
            self.info(&self.builder())["content_digest"]
        );
        let verdict = self.check(&node, added);
        assert_eq!(verdict["status"], "blocked", "{verdict}");
        assert_eq!(verdict["index_version"], "v1", "{verdict}");
        let out = self.cisgate(&["verify", "--index", node.to_str().unwrap()]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }

    /// The data objects of the builder's current generation that the node lacks.
    fn new_object_keys(&self) -> Vec<String> {
        let bucket = self.bucket();
        let pointer: Value = serde_json::from_slice(&bucket.get("channels/LATEST")).unwrap();
        let generation: Value =
            serde_json::from_slice(&bucket.get(pointer["generation"]["key"].as_str().unwrap()))
                .unwrap();
        let node = self.node();
        let mut keys: Vec<String> = generation["objects"]
            .as_object()
            .unwrap()
            .values()
            .map(|sha| sha.as_str().unwrap().to_string())
            .filter(|sha| {
                !std::fs::read_dir(&node)
                    .unwrap()
                    .any(|e| e.unwrap().file_name().to_string_lossy().contains(sha))
            })
            .map(|sha| format!("objects/{sha}"))
            .collect();
        keys.sort();
        keys.dedup();
        assert!(!keys.is_empty());
        keys
    }

    /// The largest object the node lacks.
    fn largest_new_object(&self) -> String {
        let bucket = self.bucket();
        self.new_object_keys()
            .into_iter()
            .max_by_key(|k| bucket.get(k).len())
            .unwrap()
    }
}

#[derive(Debug, PartialEq)]
struct NodeState {
    files: Vec<(String, Vec<u8>)>,
    digest: Value,
}

/// How a [`Relay`] misbehaves.
#[derive(Clone, Copy)]
struct Link {
    /// Cut every connection (and refuse new ones) once this many bytes went through: the
    /// store stopping in the middle of a transfer.
    cut_after: u64,
    /// A pause after every 4 KiB sent back: a slow link.
    pause_per_4k: Duration,
    /// Drop each connection after it sent back this many bytes (a flaky link that
    /// reconnects).
    drop_every: u64,
    /// Stop sending anything once this many bytes went through, keeping every connection
    /// open (a link that hangs).
    stall_after: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            cut_after: u64::MAX,
            pause_per_4k: Duration::ZERO,
            drop_every: u64::MAX,
            stall_after: u64::MAX,
        }
    }
}

/// A TCP relay in front of the store that misbehaves as its [`Link`] says.
struct Relay {
    addr: SocketAddr,
    relayed: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
    /// Connections accepted.
    connections: Arc<AtomicU64>,
}

impl Relay {
    fn start(upstream: SocketAddr, cut_after: u64, pause_per_4k: Duration) -> Relay {
        Relay::with(
            upstream,
            Link {
                cut_after,
                pause_per_4k,
                ..Link::default()
            },
        )
    }

    fn with(upstream: SocketAddr, link: Link) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let relayed = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (r, s, c) = (relayed.clone(), stopped.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if s.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                open.lock().unwrap().push(client.try_clone().unwrap());
                open.lock().unwrap().push(server.try_clone().unwrap());
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut s_out);
                });
                let (mut s_in, mut c_out) = (server, client);
                let (r, s, open) = (r.clone(), s.clone(), open.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut this_connection = 0u64;
                    loop {
                        if r.load(Ordering::SeqCst) >= link.stall_after {
                            // Hang: hold the connection, send nothing.
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                        let n = match s_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        this_connection += n as u64;
                        let total = r.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        if total >= link.cut_after && !s.swap(true, Ordering::SeqCst) {
                            for stream in open.lock().unwrap().iter() {
                                let _ = stream.shutdown(std::net::Shutdown::Both);
                            }
                        }
                        if this_connection >= link.drop_every {
                            let _ = s_in.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        std::thread::sleep(link.pause_per_4k);
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay {
            addr,
            relayed,
            stopped,
            connections,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[test]
fn publish_then_pull_a_generation_then_only_its_delta() {
    let fleet = Fleet::new();
    let out = fleet.publish();
    assert!(
        out.contains("published version v0 to s3://fleet/chain channel LATEST sequence "),
        "{out}"
    );
    let first = fleet.pull_ok();
    assert!(
        first.contains("pulled version v0 (from nothing)"),
        "{first}"
    );
    let node = fleet.node();
    assert_eq!(
        fleet.info(&node)["content_digest"],
        fleet.info(&fleet.builder())["content_digest"]
    );
    // A second pull asks with the pointer's ETag and moves nothing.
    assert!(fleet.pull_ok().starts_with("up to date"));

    // Re-publishing the same content uploads no data: only the pointer is renewed, with
    // a higher sequence.
    let sequence = |bucket: &Bucket| {
        let pointer: Value = serde_json::from_slice(&bucket.get("channels/LATEST")).unwrap();
        pointer["sequence"].as_u64().unwrap()
    };
    let first_sequence = sequence(&fleet.bucket());
    let again = fleet.publish();
    assert!(again.contains("0 objects uploaded (0 bytes)"), "{again}");
    assert!(again.contains("pointer renewed"), "{again}");
    assert!(sequence(&fleet.bucket()) > first_sequence);
    assert!(fleet.pull_ok().starts_with("up to date"));

    // A delta layer: the node downloads the layer's files, not the base again.
    let added = fleet.apply_delta(0, 100);
    let out = fleet.publish();
    let layer_files = fleet.new_object_keys().len();
    assert!(
        out.contains(&format!("{layer_files} objects uploaded")),
        "{out}"
    );
    let pulled = fleet.pull_ok();
    assert!(pulled.contains("pulled version v1 (from v0)"), "{pulled}");
    assert!(
        pulled.contains(&format!("{layer_files} objects downloaded")),
        "{pulled}"
    );
    let moved: u64 = pulled
        .split(" objects downloaded (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let full = fleet.info(&fleet.builder())["bytes"].as_u64().unwrap();
    assert!(moved * 10 < full, "moved {moved} bytes of {full}");
    fleet.assert_at_builder(&added);

    // A second node with nothing downloads everything and reaches the same state.
    let other = fleet.dir.path().join("other-node");
    let out = fleet.pull_at(&fleet.s3.endpoint(), &other);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        fleet.info(&other)["content_digest"],
        fleet.info(&fleet.builder())["content_digest"]
    );

    // The bucket holds content-addressed objects, generations and the signed pointer.
    let bucket = fleet.bucket();
    let keys = bucket.keys("");
    assert!(keys.contains(&"channels/LATEST".to_string()), "{keys:?}");
    assert!(keys.contains(&"channels/LATEST.minisig".to_string()));
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("generations/"))
            .count(),
        2
    );
    let pointer: Value = serde_json::from_slice(&bucket.get("channels/LATEST")).unwrap();
    assert_eq!(pointer["format"], "cisgate-pointer");
    assert_eq!(pointer["version"], "v1");
    assert_eq!(pointer["parent_chain"], serde_json::json!(["v0"]));
    assert!(pointer["expires_ms"].as_i64() > pointer["created_ms"].as_i64());
}

#[test]
fn builds_from_the_same_lists_publish_nothing_new() {
    let fleet = Fleet::new();
    fleet.publish();
    let printed = fleet.build_and_publish("rebuilt", "s3://fleet/chain", "publisher.key");
    assert!(
        printed.contains("0 objects uploaded (0 bytes)"),
        "{printed}"
    );
}

#[test]
fn a_running_serve_switches_to_a_pulled_generation() {
    let (fleet, added) = Fleet::node_behind(false);
    let node = fleet.node();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--index"])
        .arg(&node)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(serve.stderr.take().unwrap());
    let mut first = String::new();
    log.read_line(&mut first).unwrap();
    let start: Value = serde_json::from_str(&first).unwrap();
    let addr = start["listen"].as_str().unwrap().to_string();
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let blocked = || {
        let mut s = TcpStream::connect(&addr).unwrap();
        let body = format!(r#"{{"cis_list":[{{"cis":"{added}"}}]}}"#);
        write!(
            s,
            "POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer.contains(r#""isBlocked":true"#)
    };
    assert!(!blocked());
    fleet.pull_ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !blocked() {
        assert!(Instant::now() < deadline, "serve never switched");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = serve.kill();
    let _ = serve.wait();
}

/// The largest object the node needs is damaged in the store by `damage` (given the
/// bucket, its key and its bytes): the pull fails naming it with `says`, the node is
/// unchanged, and once the object is whole again the next pull succeeds.
fn object_fault(compacted: bool, damage: impl Fn(&Bucket, &str, &[u8]), says: &str) {
    let (fleet, added) = Fleet::node_behind(compacted);
    let before = fleet.node_state();
    let bucket = fleet.bucket();
    let key = fleet.largest_new_object();
    let whole = bucket.get(&key);
    damage(&bucket, &key, &whole);
    let message = fleet.pull_fails();
    assert!(message.contains(&key), "{message}");
    assert!(message.contains(says), "{message}");
    fleet.assert_unchanged(&before, &added);
    bucket.put(&key, whole);
    fleet.assert_next_pull_succeeds(&added);
}

#[test]
fn a_truncated_object_is_refused_and_the_node_is_unchanged() {
    object_fault(
        false,
        |bucket, key, whole| bucket.put(key, whole[..whole.len() / 2].to_vec()),
        "nothing changed",
    );
}

#[test]
fn a_corrupted_object_is_refused_and_the_node_is_unchanged() {
    object_fault(
        true,
        |bucket, key, whole| {
            let mut damaged = whole.to_vec();
            damaged[whole.len() / 2] ^= 0x20;
            bucket.put(key, damaged);
        },
        "hashing to",
    );
}

#[test]
fn a_missing_object_is_named_and_the_node_is_unchanged() {
    object_fault(false, |bucket, key, _| bucket.delete(key), "missing");
}

#[test]
fn a_pointer_signed_by_another_key_is_refused() {
    let (fleet, added) = Fleet::node_behind(false);
    let before = fleet.node_state();
    // Someone with write access to the bucket, but not the publisher's key.
    fleet.keygen("intruder");
    let bucket = fleet.bucket();
    let genuine = bucket.get("channels/LATEST.minisig");
    fleet.build_and_publish("intruder-index", "s3://fleet/intruder", "intruder.key");
    let forged = Bucket::new(&fleet.s3.endpoint());
    let intruders = |key: &str| {
        forged.runtime.block_on(async {
            let got = forged
                .store
                .get(&object_store::path::Path::from(format!("intruder/{key}")))
                .await
                .unwrap();
            got.bytes().await.unwrap().to_vec()
        })
    };
    // The intruder's own pointer and signature (and its kept signature) where the
    // publisher's stand.
    let genuine_pointer = bucket.get("channels/LATEST");
    let forged_pointer = intruders("channels/LATEST");
    let sequence = serde_json::from_slice::<Value>(&forged_pointer).unwrap()["sequence"]
        .as_u64()
        .unwrap();
    let kept = format!("channels/LATEST.sig/{sequence}");
    bucket.put(&kept, intruders(&kept));
    bucket.put(
        "channels/LATEST.minisig",
        intruders("channels/LATEST.minisig"),
    );
    bucket.put("channels/LATEST", forged_pointer);
    let message = fleet.pull_fails();
    assert!(message.contains("pointer signature"), "{message}");
    assert!(message.contains("nothing changed"), "{message}");
    fleet.assert_unchanged(&before, &added);

    // A byte changed in the pointer itself, under the genuine signature.
    bucket.put("channels/LATEST.minisig", genuine);
    bucket.put("channels/LATEST", genuine_pointer);
    let pointer = bucket.get("channels/LATEST");
    let tampered = String::from_utf8(pointer.clone())
        .unwrap()
        .replace("\"expires_ms\": 1", "\"expires_ms\": 2");
    assert_ne!(tampered.as_bytes(), &pointer[..]);
    bucket.put("channels/LATEST", tampered.into_bytes());
    let message = fleet.pull_fails();
    assert!(message.contains("pointer signature"), "{message}");
    fleet.assert_unchanged(&before, &added);

    bucket.put("channels/LATEST", pointer);
    fleet.assert_next_pull_succeeds(&added);
}

#[test]
fn a_replayed_older_pointer_is_refused_as_a_rollback() {
    let fleet = Fleet::new();
    fleet.publish();
    let bucket = fleet.bucket();
    let old = (
        bucket.get("channels/LATEST"),
        bucket.get("channels/LATEST.minisig"),
    );
    let added = fleet.apply_delta(0, 100);
    fleet.publish();
    fleet.pull_ok();
    fleet.assert_at_builder(&added);
    let state = fleet.node_state();

    // The old pointer and its genuine signature, put back: valid, but older.
    bucket.put("channels/LATEST.minisig", old.1);
    bucket.put("channels/LATEST", old.0);
    let message = fleet.pull_fails();
    assert!(message.contains("refused as a rollback"), "{message}");
    assert_eq!(fleet.node_state(), state);
    fleet.assert_at_builder(&added);

    // The publisher's next pointer is above the replayed one and what the node holds.
    fleet.publish();
    assert!(fleet.pull_ok().starts_with("up to date"));
    fleet.assert_at_builder(&added);
    let more = fleet.apply_delta(1, 100);
    fleet.publish();
    assert!(fleet.pull_ok().starts_with("pulled version v2 (from v1)"));
    assert_eq!(fleet.check(&fleet.node(), &more)["status"], "blocked");
}

#[test]
fn an_expired_pointer_is_refused_as_a_frozen_feed() {
    let fleet = Fleet::new();
    fleet.publish();
    fleet.pull_ok();
    let added = fleet.apply_delta(0, 100);
    // Valid for a third of a second: expired by the time the node reads it.
    let out = fleet.publish_with(&["--valid-hours", "0.0001"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    std::thread::sleep(Duration::from_millis(600));
    let before = fleet.node_state();
    let message = fleet.pull_fails();
    assert!(message.contains("expired"), "{message}");
    assert!(message.contains("frozen"), "{message}");
    fleet.assert_unchanged(&before, &added);
    fleet.publish();
    fleet.assert_next_pull_succeeds(&added);
}

#[test]
fn the_store_stopping_mid_pull_leaves_the_node_unchanged() {
    let (mut fleet, added) = Fleet::node_behind(true);
    let before = fleet.node_state();
    let bucket = fleet.bucket();
    let object = fleet.largest_new_object();
    let size = bucket.get(&object).len() as u64;
    assert!(size > 64 << 10, "{size}");
    let small: u64 = ["channels/LATEST", "channels/LATEST.minisig"]
        .iter()
        .map(|k| bucket.get(k).len() as u64)
        .sum();
    // The relay dies half-way through the largest object (or earlier).
    let relay = Relay::start(fleet.s3.addr, small + size / 2, Duration::ZERO);
    let out = fleet.pull_at(&relay.endpoint(), &fleet.node());
    assert!(!out.status.success(), "{}", common::stdout(&out));
    assert!(relay.stopped.load(Ordering::SeqCst));
    let message = common::stderr(&out);
    assert!(message.contains("s3://fleet/chain"), "{message}");
    fleet.assert_unchanged(&before, &added);

    // The store itself down: the node says which store, and stays as it was.
    fleet.s3.stop();
    let message = fleet.pull_fails();
    assert!(message.contains("s3://fleet/chain"), "{message}");
    fleet.assert_unchanged(&before, &added);
    fleet.s3.resume();
    fleet.assert_next_pull_succeeds(&added);
}

#[test]
fn a_node_killed_mid_pull_is_unchanged_and_pulls_again() {
    let (fleet, added) = Fleet::node_behind(true);
    let before = fleet.node_state();
    // A slow link (about 400 KB/s), so that the kill lands in a download.
    let relay = Relay::start(fleet.s3.addr, u64::MAX, Duration::from_millis(10));
    let public = fleet.path("publisher.pub");
    let node = fleet.node();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["pull", "--index", node.to_str().unwrap()])
        .args(["--from", "s3://fleet/chain", "--public-key", &public])
        .env("AWS_ENDPOINT_URL", relay.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay.relayed.load(Ordering::SeqCst) < 48 << 10 {
        assert!(Instant::now() < deadline, "the pull never started");
        assert!(child.try_wait().unwrap().is_none(), "the pull ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    // A partial download may remain as a temporary file; nothing else differs.
    assert_eq!(fleet.node_state(), before);
    let out = fleet.cisgate(&["verify", "--index", node.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(fleet.check(&node, &added)["status"], "allowed");
    fleet.assert_next_pull_succeeds(&added);
    let leftovers: Vec<String> = std::fs::read_dir(&node)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn twenty_nodes_pull_the_same_generation_at_once() {
    let fleet = Fleet::new();
    fleet.publish();
    let expected = fleet.info(&fleet.builder())["content_digest"].clone();
    let mut remote = Remote::parse("s3://fleet/chain", Some(fleet.s3.endpoint()), None).unwrap();
    remote.region = Some("us-east-1".into());
    remote.credentials = Some(Credentials {
        key_id: ACCESS_KEY.into(),
        secret: SECRET_KEY.into(),
    });
    let options = PullOptions::new(fleet.dir.path().join("publisher.pub"));
    let nodes: Vec<PathBuf> = (0..20)
        .map(|i| fleet.dir.path().join(format!("store-{i:02}")))
        .collect();
    std::thread::scope(|scope| {
        for node in &nodes {
            let (remote, options) = (remote.clone(), options.clone());
            scope.spawn(move || {
                let report = cisgate::distribute::pull(node, &remote, &options).unwrap();
                assert!(matches!(report.outcome, PullOutcome::Updated { .. }));
            });
        }
    });
    for node in &nodes {
        assert_eq!(fleet.info(node)["content_digest"], expected);
    }
}

#[test]
fn secrets_never_reach_output_or_debug() {
    let fleet = Fleet::new();
    let secret = std::fs::read_to_string(fleet.path("publisher.key")).unwrap();
    let key_line = secret.lines().nth(1).unwrap().to_string();
    let out = fleet.publish_with(&["--channel", "NIGHTLY"]);
    let all = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(!all.contains(&key_line));
    // A damaged secret key file is named, its content is not shown.
    let damaged = secret.replace(&key_line, &key_line[..key_line.len() / 2]);
    std::fs::write(fleet.path("publisher.key"), damaged).unwrap();
    let out = fleet.publish_with(&[]);
    assert!(!out.status.success());
    let message = common::stderr(&out);
    assert!(message.contains("publisher.key"), "{message}");
    assert!(!message.contains(&key_line), "{message}");
    let credentials = Credentials {
        key_id: ACCESS_KEY.into(),
        secret: SECRET_KEY.into(),
    };
    assert!(!format!("{credentials:?}").contains(SECRET_KEY));
}

/// The bytes of every object of the channel's current generation, with the generation
/// record and the pointer: what a full pull must move.
fn published_bytes(bucket: &Bucket) -> (u64, u64) {
    let pointer: Value = serde_json::from_slice(&bucket.get("channels/LATEST")).unwrap();
    let record_key = pointer["generation"]["key"].as_str().unwrap();
    let generation: Value = serde_json::from_slice(&bucket.get(record_key)).unwrap();
    let mut shas: Vec<&str> = generation["objects"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    shas.sort_unstable();
    shas.dedup();
    let sizes: Vec<u64> = shas
        .iter()
        .map(|sha| bucket.get(&format!("objects/{sha}")).len() as u64)
        .collect();
    let small: u64 = [record_key, "channels/LATEST", "channels/LATEST.minisig"]
        .iter()
        .map(|k| bucket.get(k).len() as u64)
        .sum();
    (
        sizes.iter().sum::<u64>() + small,
        sizes.into_iter().max().unwrap(),
    )
}

/// A number after `label` in `text` (`"... 12 reads resumed"` → 12 for "reads resumed").
fn number_before(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)?;
    text[..at].split_whitespace().last()?.parse().ok()
}

#[test]
fn a_weak_link_finishes_across_cut_reads_and_moves_each_byte_about_once() {
    let config = cisgate::synth::GenConfig {
        codes: 150_000,
        ..common::small_config()
    };
    let fleet = Fleet::with_config(config);
    fleet.publish();
    let (total, largest) = published_bytes(&fleet.bucket());
    assert!(largest > 1 << 20, "the largest object is {largest} bytes");
    // About 20 KB/s (a pause of 200 ms per 4 KiB), and every connection dropped after
    // 300 KB, as a weak mobile link does: no read of the largest object can finish whole.
    let relay = Relay::with(
        fleet.s3.addr,
        Link {
            pause_per_4k: Duration::from_millis(200),
            drop_every: 300 << 10,
            ..Link::default()
        },
    );
    let started = Instant::now();
    let out = fleet.pull_with(&relay.endpoint(), &fleet.node(), &["--stall-timeout", "5"]);
    let took = started.elapsed();
    let stdout = common::stdout(&out);
    assert!(out.status.success(), "{stdout}{}", common::stderr(&out));
    let resumed = number_before(&stdout, "reads resumed").unwrap_or(0);
    assert!(resumed >= 2, "{stdout}");
    assert_eq!(
        fleet.info(&fleet.node())["content_digest"],
        fleet.info(&fleet.builder())["content_digest"]
    );
    let relayed = relay.relayed.load(Ordering::SeqCst);
    assert!(
        relayed as f64 <= total as f64 * 1.1,
        "{relayed} bytes relayed for {total} bytes published"
    );
    println!(
        "{total} bytes ({largest} in the largest object) in {:.1} s through {} connections, {resumed} reads resumed, {relayed} bytes relayed",
        took.as_secs_f64(),
        relay.connections.load(Ordering::SeqCst)
    );
}

#[test]
fn a_hanging_link_is_given_up_after_the_stall_limit_and_resumed_next_round() {
    let (fleet, added) = Fleet::node_behind(true);
    let before = fleet.node_state();
    let bucket = fleet.bucket();
    let (_, largest) = published_bytes(&bucket);
    // The link hangs (sends nothing, keeps the connection) half-way through the pull.
    let relay = Relay::with(
        fleet.s3.addr,
        Link {
            stall_after: largest / 2,
            ..Link::default()
        },
    );
    let started = Instant::now();
    let out = fleet.pull_with(
        &relay.endpoint(),
        &fleet.node(),
        &["--stall-timeout", "2", "--give-up-after", "4"],
    );
    let took = started.elapsed();
    let message = common::stderr(&out);
    assert!(!out.status.success(), "{}", common::stdout(&out));
    assert!(message.contains("no bytes for 2 s"), "{message}");
    assert!(took < Duration::from_secs(30), "gave up after {took:?}");
    fleet.assert_unchanged(&before, &added);
    let node = fleet.node();
    let partial: u64 = std::fs::read_dir(&node)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(partial > 0, "nothing kept to resume from");
    // The next round (the link fine again) resumes where the last stopped.
    let out = fleet.pull_ok();
    let resumed = number_before(&out, "bytes resumed").unwrap_or(0);
    assert!(
        resumed > 0 && resumed == partial,
        "{out} ({partial} bytes were kept)"
    );
    fleet.assert_at_builder(&added);
    let leftovers = std::fs::read_dir(&node)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".part")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn guard_rails_for_validity_credentials_and_a_public_bucket() {
    let fleet = Fleet::new();
    // A pointer that is already expired would freeze every node.
    let out = fleet.publish_with(&["--valid-hours", "0"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("--valid-hours 0"),
        "{}",
        common::stderr(&out)
    );
    let out = fleet.publish_with(&["--valid-hours", "-3"]);
    assert!(!out.status.success());
    // Fractions work, and a short validity warns.
    let out = fleet.publish_with(&["--valid-hours", "0.5"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("warning"),
        "{}",
        common::stderr(&out)
    );
    fleet.publish();

    // No credentials: named, no metadata service tried.
    let node = fleet.node();
    let public = fleet.path("publisher.pub");
    let bare = |endpoint: &str, extra: &[&str], secret: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cisgate"));
        cmd.args(["pull", "--index", node.to_str().unwrap()])
            .args(["--from", "s3://fleet/chain", "--public-key", &public])
            .args(["--give-up-after", "3"])
            .args(extra)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1");
        if let Some(secret) = secret {
            cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        cmd.output().unwrap()
    };
    let started = Instant::now();
    let out = bare(&fleet.s3.endpoint(), &[], None);
    assert!(!out.status.success());
    let message = common::stderr(&out);
    assert!(message.contains("no credentials"), "{message}");
    assert!(message.contains("--anonymous"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A wrong secret is named as such.
    let out = bare(&fleet.s3.endpoint(), &[], Some("not-the-secret"));
    assert!(!out.status.success());
    let message = common::stderr(&out);
    assert!(message.contains("secret access key is wrong"), "{message}");

    // A public-read bucket (the same data served without authentication): --anonymous.
    let mut public_store = S3Server {
        child: None,
        root: fleet.s3.root.clone(),
        addr: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
    };
    let child = Command::new(s3s_fs_binary())
        .args(["--host", "127.0.0.1", "--port"])
        .arg(public_store.addr.port().to_string())
        .arg(&public_store.root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    public_store.child = Some(child);
    wait_for_port(public_store.addr);
    let out = bare(
        &public_store.endpoint(),
        &["--anonymous", "--no-status"],
        None,
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        fleet.info(&node)["content_digest"],
        fleet.info(&fleet.builder())["content_digest"]
    );
}

#[test]
fn a_second_pull_waits_for_the_first_or_fails_with_no_wait() {
    let fleet = Fleet::new();
    fleet.publish();
    let node = fleet.node();
    std::fs::create_dir_all(&node).unwrap();
    // Another writer holds the index (as a `pull --watch` mid-round would).
    let lock = std::fs::File::create(node.join("LOCK")).unwrap();
    lock.lock().unwrap();
    let out = fleet.pull_with(&fleet.s3.endpoint(), &node, &["--no-wait"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("another writer"),
        "{}",
        common::stderr(&out)
    );
    let public = fleet.path("publisher.pub");
    let waiting = Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["pull", "--index", node.to_str().unwrap()])
        .args(["--from", "s3://fleet/chain", "--public-key", &public])
        .env("AWS_ENDPOINT_URL", fleet.s3.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    lock.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("waiting"),
        "{}",
        common::stderr(&out)
    );
    assert!(common::stdout(&out).contains("pulled version v0"));
}

#[test]
fn the_fleet_shows_every_node_and_exits_non_zero_for_one_that_stopped() {
    let fleet = Fleet::new();
    fleet.publish();
    let store_b = fleet.dir.path().join("node-b");
    let out = fleet.pull_with(&fleet.s3.endpoint(), &store_b, &["--node", "store-b"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    fleet.apply_delta(0, 100);
    fleet.publish();
    let out = fleet.pull_with(&fleet.s3.endpoint(), &fleet.node(), &["--node", "store-a"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    // A third store stopped pulling five days ago on data six days old.
    let now = cisgate::time::now_ms();
    let day = 86_400_000;
    let stopped = serde_json::json!({
        "format": "cisgate-node-status", "format_version": 1, "node": "store-c",
        "reported_ms": now - 5 * day, "version": "v0", "content_digest": "0",
        "generation": 1, "as_of_ms": now - 6 * day, "pointer_sequence": 1,
        "pointer_expires_ms": now + day, "last_success_ms": now - 5 * day,
        "last_error": null, "software": "0.1.0"
    });
    fleet
        .bucket()
        .put("status/store-c.json", serde_json::to_vec(&stopped).unwrap());

    let out = fleet.cisgate(&["fleet", "--from", "s3://fleet/chain"]);
    let table = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{table}{}",
        common::stderr(&out)
    );
    let state_of = |node: &str| {
        table
            .lines()
            .find(|l| l.contains(node))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state_of("store-a"), "current", "{table}");
    assert_eq!(state_of("store-b"), "behind", "{table}");
    assert_eq!(state_of("store-c"), "stale", "{table}");
    assert!(table.contains("points at version v1"), "{table}");
    let out = fleet.cisgate(&["fleet", "--from", "s3://fleet/chain", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(report["nodes"][0]["status"]["node"], "store-c");
    // With only the current stores in view, nothing needs attention.
    fleet.bucket().delete("status/store-c.json");
    let out = fleet.cisgate(&["fleet", "--from", "s3://fleet/chain"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
}
