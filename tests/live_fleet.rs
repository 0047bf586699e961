//! A live fleet, with real parts: s3s-fs as the chain's store, Debian's `nats-server` for
//! push notices, `cisgate ingest` as the head office's builder, stores running `pull
//! --watch` or `serve --pull-from`, a local webhook receiver for alerts, and headless
//! Chromium for the fleet page. A code banned at the head office must be refused at every
//! store within seconds; the builder must survive being killed at any moment; NATS is a
//! hint that may be down or lie; alerts come once per change.
#![cfg(feature = "cli")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cisgate::distribute::alert::{AlertBook, AlertConfig, Alerter, Webhook, WebhookKind};
use cisgate::distribute::{IngestOptions, Ingester, PublishOptions, Remote, Step};
use common::browser::{check_accessibility, dom_of, get, screenshot};
use common::servers::{
    ACCESS_KEY, Bucket, CountingProxy, NatsServer, Receiver, S3Server, SECRET_KEY, free_port,
    wait_for_port,
};

/// A process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A chain: its store, its keys, the builder's folders, and synthetic lists.
struct Chain {
    dir: tempfile::TempDir,
    s3: S3Server,
}

const URL: &str = "s3://fleet/chain";

impl Chain {
    fn new() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let s3 = S3Server::start(&dir.path().join("s3"));
        let chain = Chain { dir, s3 };
        let out = chain.command(&[
            "keygen",
            "--secret-key",
            &chain.path("publisher.key"),
            "--public-key",
            &chain.path("publisher.pub"),
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let out = chain.command(&[
            "gen",
            "--out",
            &chain.path("lists"),
            "--codes",
            "20000",
            "--gtins",
            "500",
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        std::fs::create_dir_all(chain.dir.path().join("inbox")).unwrap();
        chain
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    fn cmd(&self, endpoint: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cisgate"));
        cmd.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1");
        cmd
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        self.cmd(&self.s3.endpoint()).args(args).output().unwrap()
    }

    /// `pull` into `node`'s index from this chain, with the publisher's key.
    fn pull_args(&self, node: &str) -> Vec<String> {
        [
            "pull",
            "--index",
            &self.path(node),
            "--from",
            URL,
            "--public-key",
            &self.path("publisher.pub"),
        ]
        .map(String::from)
        .to_vec()
    }

    /// One `pull` into `node`, with `extra` arguments.
    fn pull_once(&self, node: &str, extra: &[&str]) -> std::process::Output {
        self.cmd(&self.s3.endpoint())
            .args(self.pull_args(node))
            .args(extra)
            .output()
            .unwrap()
    }

    fn remote(&self) -> Remote {
        let mut remote = Remote::parse(URL, Some(self.s3.endpoint()), None).unwrap();
        remote.credentials = Some(cisgate::distribute::Credentials {
            key_id: ACCESS_KEY.into(),
            secret: SECRET_KEY.into(),
        });
        remote
    }

    /// `cisgate ingest` on this chain, its JSON lines in `ingest-N.log`.
    fn spawn_ingest(&self, run: usize, extra: &[&str]) -> Running {
        let log = std::fs::File::create(self.path(&format!("ingest-{run}.log"))).unwrap();
        let err = std::fs::File::create(self.path(&format!("ingest-{run}.err"))).unwrap();
        let child = self
            .cmd(&self.s3.endpoint())
            .args([
                "ingest",
                "--inbox",
                &self.path("inbox"),
                "--index",
                &self.path("builder"),
                "--to",
                URL,
                "--secret-key",
                &self.path("publisher.key"),
            ])
            .args(extra)
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap();
        Running(child)
    }

    /// A store that pulls every `every` seconds (and on notices from `nats`).
    fn spawn_pull(&self, node: &str, every: &str, nats: Option<&str>) -> Running {
        let mut cmd = self.cmd(&self.s3.endpoint());
        cmd.args(self.pull_args(node))
            .args(["--watch", every, "--node", node]);
        if let Some(url) = nats {
            cmd.args(["--nats", url]);
        }
        Running(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// A store that runs one service: `serve` pulling itself. Returns it and its port.
    fn spawn_serve(&self, node: &str, every: &str, nats: Option<&str>) -> (Running, u16) {
        let port = free_port();
        let mut cmd = self.cmd(&self.s3.endpoint());
        cmd.args([
            "serve",
            "--index",
            &self.path(node),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--pull-from",
            URL,
            "--public-key",
            &self.path("publisher.pub"),
            "--pull-every",
            every,
            "--node",
            node,
        ]);
        if let Some(url) = nats {
            cmd.args(["--nats", url]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(format!("127.0.0.1:{port}").parse().unwrap());
        (Running(child), port)
    }

    /// Drops the snapshot into the inbox, as an exporter does: a folder renamed in.
    fn deliver_snapshot(&self) {
        let tmp = self.inbox().join(".snapshot");
        std::fs::create_dir_all(&tmp).unwrap();
        for entry in std::fs::read_dir(self.path("lists")).unwrap().flatten() {
            std::fs::copy(entry.path(), tmp.join(entry.file_name())).unwrap();
        }
        std::fs::rename(&tmp, self.inbox().join("snapshot-1")).unwrap();
    }

    /// Writes delta `k` (`synthetic-{k+1}` → `synthetic-{k+2}`, `adds` new bans) under
    /// `name`; returns its first added КИ.
    fn write_delta(&self, path: &Path, k: usize, adds: usize) -> String {
        let out = self.command(&[
            "gen-delta",
            "--lists",
            &self.path("lists"),
            "--out",
            path.to_str().unwrap(),
            "--parent",
            &format!("synthetic-{}", k + 1),
            "--version",
            &format!("synthetic-{}", k + 2),
            "--sequence",
            &k.to_string(),
            "--adds",
            &adds.to_string(),
            "--removes",
            "0",
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        added(path)[0].clone()
    }

    /// Delivers delta `k` into the inbox by rename; returns its first added КИ.
    fn deliver_delta(&self, k: usize, adds: usize) -> String {
        let tmp = self.inbox().join(format!("d{k:03}.list.tmp"));
        let ki = self.write_delta(&tmp, k, adds);
        std::fs::rename(&tmp, self.inbox().join(format!("d{k:03}.list"))).unwrap();
        ki
    }
}

/// What the builder's runs said and what is left in the inbox, for a failure message.
fn diagnose(chain: &Chain, runs: usize) -> String {
    let mut out = String::new();
    for r in 0..=runs {
        for ext in ["log", "err"] {
            let text = std::fs::read_to_string(chain.path(&format!("ingest-{r}.{ext}")))
                .unwrap_or_default();
            out.push_str(&format!("--- ingest-{r}.{ext}\n{text}"));
        }
    }
    for folder in ["", "rejected", "applied"] {
        let names: Vec<String> = std::fs::read_dir(chain.inbox().join(folder))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&format!("--- inbox/{folder}: {names:?}\n"));
    }
    out.push_str(&format!("--- channel: {:?}\n", channel_version(chain)));
    out
}

/// The КИ a delta adds.
fn added(delta: &Path) -> Vec<String> {
    std::fs::read_to_string(delta)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix('+').map(str::to_string))
        .collect()
}

/// Whether the index at `dir` bans `ki` now (false while it has no index).
fn banned(dir: &str, ki: &str) -> bool {
    cisgate::Index::open(Path::new(dir)).is_ok_and(|index| index.contains_ki(ki.as_bytes()))
}

/// Whether the store serving on `port` answers `ki` blocked through outCheck.
fn blocked_via_serve(port: u16, ki: &str) -> bool {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let body = format!("{{\"cis_list\":[{{\"cis\":\"{ki}\"}}]}}");
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    use std::io::{Read, Write};
    let _ = write!(
        stream,
        "POST /api/v2/cis/outCheck HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"isBlocked\":true")
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The pointer's version in the store.
fn channel_version(chain: &Chain) -> Option<String> {
    let bucket = Bucket::new(&chain.s3.endpoint());
    let key = "channels/LATEST";
    bucket.keys("channels/").iter().any(|k| k == key).then(|| {
        let pointer: serde_json::Value = serde_json::from_slice(&bucket.get(key)).unwrap();
        pointer["version"].as_str().unwrap().to_string()
    })
}

#[test]
fn a_ban_reaches_every_store_within_seconds_by_push_and_by_polling_without_nats() {
    let chain = Chain::new();
    let mut nats = NatsServer::start();
    let _builder = chain.spawn_ingest(0, &["--nats", &nats.url()]);
    chain.deliver_snapshot();
    assert!(
        wait_until(Duration::from_secs(30), || channel_version(&chain)
            .is_some())
        .is_some(),
        "the snapshot was not published"
    );
    // Stores polling once a minute: only the push notice can make them quick.
    let url = nats.url();
    let _a = chain.spawn_pull("store-a", "60", Some(&url));
    let _b = chain.spawn_pull("store-b", "60", Some(&url));
    let (_c, port) = chain.spawn_serve("store-c", "60", Some(&url));
    for node in ["store-a", "store-b", "store-c"] {
        let path = chain.path(node);
        assert!(
            wait_until(Duration::from_secs(30), || Path::new(&path)
                .join("CURRENT")
                .exists())
            .is_some(),
            "{node} did not pull the base"
        );
    }
    // Give the subscriptions a moment to be in place.
    std::thread::sleep(Duration::from_secs(1));
    let ki = chain.deliver_delta(0, 200);
    let (a, b) = (chain.path("store-a"), chain.path("store-b"));
    let took = wait_until(Duration::from_secs(10), || {
        banned(&a, &ki) && banned(&b, &ki) && blocked_via_serve(port, &ki)
    });
    assert!(
        took.is_some(),
        "the ban did not reach every store within 10 s by push"
    );
    println!("time to block with push, 3 stores: {took:?}");

    // NATS stops: stores that poll every second still converge.
    drop((_a, _b, _c));
    nats.stop();
    let _a = chain.spawn_pull("store-a", "1", Some(&url));
    let (_c, port) = chain.spawn_serve("store-c", "1", Some(&url));
    let ki = chain.deliver_delta(1, 200);
    let took = wait_until(Duration::from_secs(15), || {
        banned(&a, &ki) && blocked_via_serve(port, &ki)
    });
    assert!(
        took.is_some(),
        "stores did not converge by polling with NATS down"
    );
    println!("time to block by polling at 1 s, NATS down: {took:?}");

    // NATS back: notices reach the stores again (the clients reconnect by themselves).
    nats.resume();
    drop(_a);
    let _a = chain.spawn_pull("store-a", "60", Some(&url));
    std::thread::sleep(Duration::from_secs(2));
    let ki = chain.deliver_delta(2, 200);
    assert!(
        wait_until(Duration::from_secs(10), || banned(&a, &ki)).is_some(),
        "no notice after NATS came back"
    );

    // Every store reported when it switched: the fleet report has each one's time to block.
    let out = chain.command(&["fleet", "--from", URL, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let switched = report["time_to_block"]["switched"].as_u64().unwrap();
    assert!(switched >= 1, "{report:#}");
    assert_eq!(report["builders"][0]["role"], "builder", "{report:#}");
}

#[test]
fn a_forged_notice_costs_one_request_and_changes_nothing() {
    let chain = Chain::new();
    let nats = NatsServer::start();
    let _builder = chain.spawn_ingest(0, &["--nats", &nats.url()]);
    chain.deliver_snapshot();
    assert!(
        wait_until(Duration::from_secs(30), || channel_version(&chain)
            .is_some())
        .is_some()
    );
    let store = chain.path("store");
    let _node = chain.spawn_pull("store", "60", Some(&nats.url()));
    assert!(
        wait_until(Duration::from_secs(30), || Path::new(&store)
            .join("CURRENT")
            .exists())
        .is_some()
    );
    std::thread::sleep(Duration::from_secs(1));
    let pulled_before = std::fs::read(Path::new(&store).join("PULLED")).unwrap();
    let current_before = std::fs::read(Path::new(&store).join("CURRENT")).unwrap();
    // Anyone on the NATS server can send a notice; a lying one names a huge sequence.
    let forger = cisgate::distribute::notice::Notifier::connect(&nats.url()).unwrap();
    forger.notify("LATEST", u64::MAX / 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        std::fs::read(Path::new(&store).join("CURRENT")).unwrap(),
        current_before
    );
    assert_eq!(
        std::fs::read(Path::new(&store).join("PULLED")).unwrap(),
        pulled_before,
        "a forged notice moved the node's state"
    );
    // And it does not stop the node from acting on the real one next.
    let ki = chain.deliver_delta(0, 50);
    assert!(
        wait_until(Duration::from_secs(10), || banned(&store, &ki)).is_some(),
        "the real notice after a forged one was not acted on"
    );
}

#[test]
fn an_unchanged_channel_costs_one_conditional_request_a_round() {
    let chain = Chain::new();
    let _builder = chain.spawn_ingest(0, &[]);
    chain.deliver_snapshot();
    assert!(
        wait_until(Duration::from_secs(30), || channel_version(&chain)
            .is_some())
        .is_some()
    );
    let proxy = CountingProxy::start(chain.s3.addr);
    let store = chain.path("store");
    let child = chain
        .cmd(&proxy.endpoint())
        .args(chain.pull_args("store"))
        .args(["--watch", "0.5", "--jitter", "0", "--node", "store"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _node = Running(child);
    assert!(
        wait_until(Duration::from_secs(30), || Path::new(&store)
            .join("CURRENT")
            .exists())
        .is_some()
    );
    std::thread::sleep(Duration::from_secs(1));
    let (before, bytes_before) = (proxy.requests().len(), proxy.bytes_down());
    std::thread::sleep(Duration::from_secs(5));
    let idle: Vec<String> = proxy.requests()[before..].to_vec();
    let bytes = proxy.bytes_down() - bytes_before;
    // About ten rounds in five seconds, each exactly one GET of the pointer; no signature
    // read again, no status write (its heartbeat is five minutes). s3s-fs ignores
    // If-None-Match and sends the pointer's ~700 bytes again; a store that honours it (S3,
    // MinIO, Garage) answers 304 with no body.
    assert!((7..=12).contains(&idle.len()), "{idle:?}");
    assert!(
        idle.iter().all(|r| r == "GET /fleet/chain/channels/LATEST"),
        "{idle:?}"
    );
    println!(
        "idle: {} requests and {bytes} bytes in 5 s ({} bytes a request)",
        idle.len(),
        bytes / idle.len() as u64
    );
    assert!(
        bytes / (idle.len() as u64) < 1500,
        "{bytes} bytes for {} rounds",
        idle.len()
    );
}

/// The builder in this process, on a chain without NATS.
fn ingester(chain: &Chain, wait: Duration) -> Ingester {
    let publish = PublishOptions::new(PathBuf::from(chain.path("publisher.key")));
    let mut options =
        IngestOptions::new(chain.inbox(), PathBuf::from(chain.path("builder")), publish);
    options.wait_for_parent = wait;
    Ingester::start(&chain.remote(), options, None).unwrap()
}

/// Steps until something happens (or a few seconds pass).
fn step_until_done(ingester: &mut Ingester) -> Vec<Step> {
    for _ in 0..50 {
        let steps = ingester.step().unwrap();
        if !steps.is_empty() {
            return steps;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Vec::new()
}

#[test]
fn the_builder_follows_the_chain_and_rejects_what_does_not_fit() {
    let chain = Chain::new();
    let mut builder = ingester(&chain, Duration::from_secs(2));
    chain.deliver_snapshot();
    let steps = step_until_done(&mut builder);
    assert!(
        matches!(&steps[..], [Step::Published { version, .. }] if version == "synthetic-1"),
        "{steps:?}"
    );
    // Out of order: the second delta waits for the first, then both go as one generation.
    let second = chain.inbox().join("second.list");
    let tmp = chain.inbox().join("second.list.tmp");
    chain.write_delta(&tmp, 1, 20);
    std::fs::rename(&tmp, &second).unwrap();
    assert!(
        builder.step().unwrap().is_empty(),
        "a delta without its parent was taken"
    );
    let first = chain.deliver_delta(0, 20);
    let steps = builder.step().unwrap();
    assert!(
        matches!(&steps[..], [Step::Published { files, version, .. }]
            if files == &["d000.list".to_string(), "second.list".to_string()] && version == "synthetic-3"),
        "{steps:?}"
    );
    assert_eq!(channel_version(&chain).as_deref(), Some("synthetic-3"));
    assert!(banned(&chain.path("builder"), &first));

    // The same delta again: harmless.
    let again = chain.inbox().join("again.list");
    chain.write_delta(&again, 0, 20);
    let steps = builder.step().unwrap();
    assert_eq!(steps, [Step::AlreadyApplied("again.list".into())]);

    // A corrupt delta: rejected with where and why; the channel keeps its generation.
    let bad = chain.inbox().join("bad.list.tmp");
    chain.write_delta(&bad, 2, 20);
    let mut text = std::fs::read_to_string(&bad).unwrap();
    text.push_str("+01046003540153609210not*a*serial\n");
    std::fs::write(&bad, text).unwrap();
    std::fs::rename(&bad, chain.inbox().join("bad.list")).unwrap();
    let steps = builder.step().unwrap();
    let [Step::Rejected(name, why)] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(name, "bad.list");
    assert!(why.contains("bad.list") && why.contains("line"), "{why}");
    let told = std::fs::read_to_string(chain.inbox().join("rejected/bad.list.why.txt")).unwrap();
    assert!(told.contains("line"), "{told}");
    assert_eq!(channel_version(&chain).as_deref(), Some("synthetic-3"));

    // A delta whose parent never comes is reported after the wait.
    let orphan = chain.inbox().join("orphan.list");
    chain.write_delta(&orphan, 7, 5);
    assert!(builder.step().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(2200));
    let steps = builder.step().unwrap();
    let [Step::Rejected(name, why)] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(name, "orphan.list");
    assert!(
        why.contains("never arrived") && why.contains("synthetic-8"),
        "{why}"
    );
    // Nothing left in the inbox but the builder's own folders.
    let left: Vec<_> = std::fs::read_dir(chain.inbox())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !matches!(n.as_str(), "applied" | "rejected"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_builder_killed_at_random_moments_loses_nothing_and_publishes_nothing_twice() {
    let chain = Chain::new();
    chain.deliver_snapshot();
    const DELTAS: usize = 20;
    // Deltas written ahead, delivered one at a time while the builder is killed again and
    // again.
    let staged = chain.dir.path().join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    let mut bans = Vec::new();
    for k in 0..DELTAS {
        bans.push(chain.write_delta(&staged.join(format!("d{k:03}.list")), k, 30));
    }
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut run = 0;
    let mut delivered = 0;
    while delivered < DELTAS {
        let builder = chain.spawn_ingest(run, &[]);
        run += 1;
        let life = Instant::now() + Duration::from_millis(150 + random(750));
        while Instant::now() < life && delivered < DELTAS {
            std::fs::rename(
                staged.join(format!("d{delivered:03}.list")),
                chain.inbox().join(format!("d{delivered:03}.list")),
            )
            .unwrap();
            delivered += 1;
            std::thread::sleep(Duration::from_millis(100 + random(300)));
        }
        // SIGKILL, whatever it is doing.
        drop(builder);
    }
    // The last run finishes the work.
    let _builder = chain.spawn_ingest(run, &[]);
    let last = format!("synthetic-{}", DELTAS + 1);
    assert!(
        wait_until(Duration::from_secs(60), || channel_version(&chain)
            .as_deref()
            == Some(last.as_str()))
        .is_some(),
        "the channel did not reach {last} after {run} kills\n{}",
        diagnose(&chain, run)
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::fs::read_dir(chain.inbox())
                .unwrap()
                .flatten()
                .all(|e| e.path().is_dir())
        })
        .is_some(),
        "files left in the inbox"
    );
    // Nothing rejected, every delta set aside once.
    let rejected = std::fs::read_dir(chain.inbox().join("rejected"))
        .unwrap()
        .count();
    assert_eq!(rejected, 0);
    let mut applied: Vec<String> = std::fs::read_dir(chain.inbox().join("applied"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('d'))
        .collect();
    applied.sort();
    let expected: Vec<String> = (0..DELTAS).map(|k| format!("d{k:03}.list")).collect();
    assert_eq!(applied, expected, "a delta set aside twice or lost");
    // No version was published twice (a published line per generation, over every run).
    let mut published = Vec::new();
    for r in 0..=run {
        let log =
            std::fs::read_to_string(chain.path(&format!("ingest-{r}.log"))).unwrap_or_default();
        for line in log.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["event"] == "published" {
                published.push(event["version"].as_str().unwrap().to_string());
            }
        }
    }
    let mut unique = published.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        published.len(),
        "published twice: {published:?}"
    );
    // A store that pulls now has every ban, and the builder's exact content.
    let out = chain.pull_once("store", &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    for ki in &bans {
        assert!(banned(&chain.path("store"), ki), "{ki} lost");
    }
    let digest = |dir: &str| {
        cisgate::Index::open(Path::new(dir))
            .unwrap()
            .manifest()
            .content_digest
            .clone()
    };
    assert_eq!(digest(&chain.path("store")), digest(&chain.path("builder")));
    println!("{run} kills, {} publishes", published.len());
}

#[test]
fn alerts_fire_once_per_transition_in_every_format_and_survive_a_restart() {
    let receiver = Receiver::start();
    let config = AlertConfig {
        webhooks: vec![
            Webhook {
                kind: WebhookKind::Json,
                url: receiver.url("/hook"),
                chat_id: None,
            },
            Webhook {
                kind: WebhookKind::Telegram,
                url: receiver.url("/bot123:SECRET/sendMessage"),
                chat_id: Some("-100777".into()),
            },
            Webhook {
                kind: WebhookKind::Ntfy,
                url: receiver.url("/cisgate-alerts"),
                chat_id: None,
            },
        ],
    };
    let alerter = Alerter::new(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("alerts.json");
    let mut book = AlertBook::open(&state).unwrap();
    let say = |c: Option<&str>, p: Option<&str>| format!("store-7: {c:?} (was {p:?})");
    let fire = |book: &mut AlertBook, c: Option<&str>| {
        if let Some(alert) = book.observe("store-7", c, say).unwrap() {
            assert!(alerter.send(&alert).is_empty());
        }
    };
    fire(&mut book, None);
    fire(&mut book, Some("stale"));
    fire(&mut book, Some("stale"));
    fire(&mut book, Some("stale"));
    assert_eq!(receiver.taken().len(), 3, "one alert, to three webhooks");
    // A restart keeps what was alerted: no repeat, and the recovery still comes.
    drop(book);
    let mut book = AlertBook::open(&state).unwrap();
    fire(&mut book, Some("stale"));
    assert_eq!(receiver.taken().len(), 3);
    fire(&mut book, None);
    fire(&mut book, None);
    assert_eq!(receiver.taken().len(), 6, "one recovery");
    fire(&mut book, Some("silent"));
    assert_eq!(receiver.taken().len(), 9);

    let taken = receiver.taken();
    let json: Vec<_> = taken.iter().filter(|r| r.path == "/hook").collect();
    assert_eq!(json.len(), 3);
    assert_eq!(json[0].json()["condition"], "stale");
    assert_eq!(json[1].json()["recovered"], true);
    assert_eq!(json[1].json()["previous"], "stale");
    assert_eq!(json[2].json()["condition"], "silent");
    let telegram: Vec<_> = taken
        .iter()
        .filter(|r| r.path.ends_with("/sendMessage"))
        .collect();
    assert_eq!(telegram[0].method, "POST");
    assert_eq!(telegram[0].json()["chat_id"], "-100777");
    assert!(
        telegram[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("store-7")
    );
    let ntfy: Vec<_> = taken
        .iter()
        .filter(|r| r.path == "/cisgate-alerts")
        .collect();
    assert_eq!(ntfy[0].header("Priority"), Some("high"));
    assert_eq!(ntfy[0].header("Tags"), Some("warning"));
    assert_eq!(ntfy[1].header("Tags"), Some("white_check_mark"));
    assert!(ntfy[0].header("Title").unwrap().contains("store-7"));
    assert!(String::from_utf8_lossy(&ntfy[0].body).contains("store-7"));
}

#[test]
fn the_console_alerts_on_a_stale_store_and_shows_the_fleet_page_in_a_browser() {
    let chain = Chain::new();
    let _builder = chain.spawn_ingest(0, &[]);
    chain.deliver_snapshot();
    assert!(
        wait_until(Duration::from_secs(30), || channel_version(&chain)
            .is_some())
        .is_some()
    );
    // Two stores report; one is pushed into the past by hand (its data 80 h old).
    for node in ["store-1", "store-2"] {
        let out = chain.pull_once(node, &["--node", node]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let bucket = Bucket::new(&chain.s3.endpoint());
    let mut status: serde_json::Value =
        serde_json::from_slice(&bucket.get("status/store-2.json")).unwrap();
    status["as_of_ms"] = (cisgate::time::now_ms() - 80 * 3_600_000).into();
    bucket.put("status/store-2.json", serde_json::to_vec(&status).unwrap());

    let receiver = Receiver::start();
    std::fs::write(
        chain.path("alerts.json"),
        format!(
            "{{\"webhooks\": [{{\"kind\": \"json\", \"url\": \"{}\"}}]}}",
            receiver.url("/hook")
        ),
    )
    .unwrap();
    let port = free_port();
    let console = chain
        .cmd(&chain.s3.endpoint())
        .args([
            "fleet",
            "--from",
            URL,
            "--serve",
            &format!("127.0.0.1:{port}"),
            "--every",
            "1",
            "--alerts",
            &chain.path("alerts.json"),
            "--alert-state",
            &chain.path("fleet-alerts.json"),
            "--name",
            "Сеть тест",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _console = Running(console);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_port(addr);
    assert!(
        wait_until(Duration::from_secs(15), || !receiver.taken().is_empty()).is_some(),
        "no alert for the stale store"
    );
    std::thread::sleep(Duration::from_secs(3));
    let alerts: Vec<serde_json::Value> = receiver.taken().iter().map(|r| r.json()).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["subject"], "store-2");
    assert_eq!(alerts[0]["condition"], "stale");

    // The store recovers: one recovery notice.
    status["as_of_ms"] = cisgate::time::now_ms().into();
    status["reported_ms"] = cisgate::time::now_ms().into();
    bucket.put("status/store-2.json", serde_json::to_vec(&status).unwrap());
    assert!(
        wait_until(Duration::from_secs(15), || receiver.taken().len() == 2).is_some(),
        "no recovery notice"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.taken().len(), 2);
    assert_eq!(receiver.taken()[1].json()["recovered"], true);

    // The page, as a browser builds it.
    let profile = chain.dir.path().join("chromium");
    let page = dom_of(addr, "/", &profile);
    assert!(
        page.contains("store-1") && page.contains("store-2"),
        "{page}"
    );
    assert!(page.contains("Сеть тест"));
    let now = cisgate::time::TimeZone::default().format(cisgate::time::now_ms());
    assert!(page.contains(&now[..10]) && page.contains(" МСК"), "{page}");
    assert!(!page.contains(".000Z"), "raw UTC on the page: {page}");
    let (code, html) = get(addr, "/", None);
    assert_eq!(code, 200);
    check_accessibility(&html);
    let (code, json) = get(addr, "/fleet.json", None);
    assert_eq!(code, 200);
    let fleet: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(fleet["report"]["nodes"].as_array().unwrap().len(), 2);
    let shot = screenshot(addr, &profile, "fleet-page.png");
    println!("screenshot: {}", shot.display());
}

/// `Ingester::run` stops when asked (the CLI's loop).
#[test]
fn the_builder_loop_stops_when_asked() {
    let chain = Chain::new();
    let mut builder = ingester(&chain, Duration::from_secs(60));
    let stop = AtomicBool::new(true);
    builder.run(&stop, |_| panic!("no step expected"));
}

/// A publish cut between its two writes (a builder killed there) leaves the channel's
/// `.minisig` belonging to a pointer that never arrived: stores still check the pointer
/// that is there against its own kept signature, and the builder publishes again.
#[test]
fn a_publish_cut_between_signature_and_pointer_leaves_the_channel_usable() {
    let chain = Chain::new();
    let mut builder = ingester(&chain, Duration::from_secs(60));
    chain.deliver_snapshot();
    step_until_done(&mut builder);
    chain.deliver_delta(0, 10);
    let steps = builder.step().unwrap();
    assert!(matches!(&steps[..], [Step::Published { .. }]), "{steps:?}");
    let bucket = Bucket::new(&chain.s3.endpoint());
    let signatures = bucket.keys("channels/LATEST.sig/");
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    // The signature of the first pointer stands where the second's should.
    bucket.put("channels/LATEST.minisig", bucket.get(&signatures[0]));
    let out = chain.pull_once("store", &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("synthetic-2"));
    let ki = chain.deliver_delta(1, 10);
    let steps = builder.step().unwrap();
    assert!(
        matches!(&steps[..], [Step::Published { version, .. }] if version == "synthetic-3"),
        "{steps:?}"
    );
    assert!(banned(&chain.path("builder"), &ki));
    // Only the two newest kept signatures stay.
    assert_eq!(bucket.keys("channels/LATEST.sig/").len(), 2);
}

/// The builder alerts by itself when it rejects a file.
#[test]
fn the_builder_alerts_when_it_rejects_a_file() {
    let chain = Chain::new();
    let receiver = Receiver::start();
    let alerter = Alerter::new(&AlertConfig {
        webhooks: vec![Webhook {
            kind: WebhookKind::Json,
            url: receiver.url("/hook"),
            chat_id: None,
        }],
    })
    .unwrap();
    let publish = PublishOptions::new(PathBuf::from(chain.path("publisher.key")));
    let mut options =
        IngestOptions::new(chain.inbox(), PathBuf::from(chain.path("builder")), publish);
    options.node = "hq-builder".into();
    let mut builder = Ingester::start(&chain.remote(), options, Some(alerter)).unwrap();
    chain.deliver_snapshot();
    step_until_done(&mut builder);
    std::fs::write(chain.inbox().join("junk.list"), "not a list at all\n").unwrap();
    let steps = builder.step().unwrap();
    assert!(
        matches!(&steps[..], [Step::Rejected(name, _)] if name == "junk.list"),
        "{steps:?}"
    );
    let alerts = receiver.taken();
    assert_eq!(alerts.len(), 1);
    let alert = alerts[0].json();
    assert_eq!(alert["subject"], "hq-builder");
    assert_eq!(alert["condition"], "rejected");
    assert!(
        alert["text"].as_str().unwrap().contains("junk.list"),
        "{alert}"
    );
}
