//! One sold list per store, with real processes: the store's `cisgate serve` as the sold
//! authority, one till embedding the Rust library (`examples/till.rs`) and two embedding
//! the C ABI (`tests/shared/till.c`), each with its own copy of the index. A sale at one
//! till is refused at the others within a second; the store killed mid-stream loses
//! nothing; a retry is never a second sale; a code sold at two tills while the store was
//! down keeps both sales and reports the conflict; a node without its token is refused.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../tests/common/http.rs"]
mod http;
#[path = "../../tests/common/tools.rs"]
mod tools;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `target/debug` (or the profile's folder) of this build.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A binary of this workspace, brought up to date first (a `cargo test -p cisgate-ffi`
/// alone neither builds nor rebuilds the `cisgate` binary; a stale one would test old
/// code). Built once per test run.
fn workspace_binary(path: &str, build: &[&str]) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|p| p == path) {
        let status = Command::new(env!("CARGO"))
            .args(build)
            .arg("--quiet")
            .current_dir(repo())
            .status()
            .unwrap();
        assert!(status.success(), "cargo {build:?}");
        built.push(path.to_string());
    }
    profile_dir().join(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A list of banned КИ (none of the codes the tests sell) as of now, built into `dir`.
fn index(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let list = dir.join("cis.list");
    let now = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    std::fs::write(
        &list,
        format!(
            "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: {now}\n0104600439931256215BANNED000001\n"
        ),
    )
    .unwrap();
    let out = dir.join("index");
    cisgate::index::build(
        &out,
        &[list],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    out
}

/// The `n`th code the tests sell.
fn code(n: usize) -> String {
    format!("0104600439931256215{n:012}")
}

const TOKENS: [(&str, &str); 3] = [
    ("till-rust", "token-rust-0123456789abcdef"),
    ("till-c1", "token-c1-0123456789abcdef"),
    ("till-c2", "token-c2-0123456789abcdef"),
];

/// The store's `serve`.
struct Store {
    child: Option<Child>,
    index: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
}

impl Store {
    fn start(dir: &Path) -> Store {
        let index = index(&dir.join("store"));
        let config = dir.join("serve.json");
        let nodes: Vec<serde_json::Value> = TOKENS
            .iter()
            .map(|(name, token)| serde_json::json!({"name": name, "token": token}))
            .collect();
        std::fs::write(&config, serde_json::json!({"nodes": nodes}).to_string()).unwrap();
        let mut store = Store {
            child: None,
            index,
            config,
            addr: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        };
        store.resume();
        store
    }

    fn resume(&mut self) {
        let bin = workspace_binary("cisgate", &["build", "-p", "cisgate", "--bin", "cisgate"]);
        let child = Command::new(bin)
            .args(["serve", "--index"])
            .arg(&self.index)
            .arg("--config")
            .arg(&self.config)
            .arg("--listen")
            .arg(self.addr.to_string())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(self.config.with_file_name("serve.log"))
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A plain HTTP request to the store with a node's token: status and body.
    fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let auth = token.map(|t| format!("Token {t}"));
        http::request(self.addr, method, path, auth.as_deref(), body)
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.http("GET", "/status.json", None, "").1).unwrap()
    }

    /// Whether the store's own sold list (its LM API) has `ki` sold.
    fn sold(&self, ki: &str) -> bool {
        let (_, body) = self.http(
            "POST",
            "/api/v2/cis/sold/check",
            None,
            &format!("{{\"cis_list\":[\"{ki}\"]}}"),
        );
        body.contains("\"isSold\":true")
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A till process: a line in, a line out.
struct Till {
    name: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Till {
    fn ask(&mut self, line: &str) -> String {
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
        let mut answer = String::new();
        self.output.read_line(&mut answer).unwrap();
        assert!(!answer.is_empty(), "{} ended", self.name);
        answer.trim_end().to_string()
    }

    fn sold(&mut self, ki: &str) -> bool {
        let answer = self.ask(&format!("check {ki}"));
        answer.starts_with("blocked") && answer.contains("sold")
    }

    /// Waits until this till's answer for `ki` is `sold`; how long it took.
    fn until_sold(&mut self, ki: &str, sold: bool, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.sold(ki) == sold {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Till {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two kinds of till binaries.
struct Binaries {
    rust: PathBuf,
    c: PathBuf,
}

fn binaries(dir: &Path) -> Binaries {
    if !tools::on_path("cc") {
        tools::install_test_tools();
    }
    let rust = workspace_binary(
        "examples/till",
        &["build", "-p", "cisgate-ffi", "--example", "till"],
    );
    // The C till, linked with this build's static library.
    let deps = profile_dir().join("deps");
    let lib = [deps.clone(), profile_dir()]
        .into_iter()
        .map(|d| d.join("libcisgate_ffi.a"))
        .find(|p| p.exists())
        .expect("libcisgate_ffi.a (cargo builds it with the crate)");
    let c = dir.join("till-c");
    let out = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-I"])
        .arg(repo().join("ffi/include"))
        .arg(repo().join("ffi/tests/shared/till.c"))
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&c)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Binaries { rust, c }
}

/// Starts till `n` (0: the Rust one; 1, 2: C) on its own copy of the index, following
/// `store` with its token (or `token`).
fn till(dir: &Path, bins: &Binaries, n: usize, store: &Store, token: Option<&str>) -> Till {
    let (name, own) = TOKENS[n];
    let index = dir.join(name).join("index");
    if !index.exists() {
        self::index(&dir.join(name));
    }
    let bin = if n == 0 { &bins.rust } else { &bins.c };
    let mut child = Command::new(bin)
        .arg(&index)
        .arg(store.url())
        .arg(token.unwrap_or(own))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let input = child.stdin.take().unwrap();
    let output = BufReader::new(child.stdout.take().unwrap());
    Till {
        name,
        child,
        input,
        output,
    }
}

fn tills(dir: &Path, bins: &Binaries, store: &Store) -> Vec<Till> {
    (0..3).map(|n| till(dir, bins, n, store, None)).collect()
}

fn p99(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[((times.len() as f64 * 0.99).ceil() as usize).clamp(1, times.len()) - 1]
}

#[test]
fn a_sale_at_one_till_is_refused_at_the_others_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let store = Store::start(dir.path());
    let mut tills = tills(dir.path(), &bins, &store);
    let mut sold_delays = Vec::new();
    let mut returned_delays = Vec::new();
    for i in 0..30 {
        let ki = code(i);
        let seller = i % 3;
        let answer = tills[seller].ask(&format!("sell {ki}"));
        assert_eq!(answer, format!("ok shared {ki}"), "{}", tills[seller].name);
        for (n, t) in tills.iter_mut().enumerate() {
            if n == seller {
                assert!(t.sold(&ki), "the seller itself");
                continue;
            }
            let took = t.until_sold(&ki, true, Duration::from_secs(5));
            sold_delays.push(took.unwrap_or_else(|| panic!("{} never saw {ki} sold", t.name)));
        }
        // A second sale of it anywhere is refused.
        let again = tills[(seller + 1) % 3].ask(&format!("sell {ki}"));
        assert!(
            again.starts_with("error") && again.contains("already sold"),
            "{again}"
        );
        assert!(store.sold(&ki), "the store's own list");
        // And a return at another till un-sells it everywhere.
        if i % 5 == 0 {
            let returner = (seller + 2) % 3;
            assert_eq!(
                tills[returner].ask(&format!("return {ki}")),
                format!("ok shared {ki}")
            );
            for (n, t) in tills.iter_mut().enumerate() {
                if n != returner {
                    let took = t.until_sold(&ki, false, Duration::from_secs(5));
                    returned_delays
                        .push(took.unwrap_or_else(|| panic!("{} kept {ki} sold", t.name)));
                }
            }
        }
    }
    let (sold_p99, returned_p99) = (p99(sold_delays), p99(returned_delays));
    println!("propagation p99: sales {sold_p99:?}, returns {returned_p99:?}");
    assert!(sold_p99 <= Duration::from_secs(1), "{sold_p99:?}");
    assert!(returned_p99 <= Duration::from_secs(1), "{returned_p99:?}");
    // The store's page lists the nodes it serves.
    let status = store.status();
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{status}");
    assert!(nodes.iter().all(|n| n["last_seen"].is_string()), "{status}");
}

#[test]
fn the_store_killed_mid_stream_loses_nothing_and_every_till_converges() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let mut store = Store::start(dir.path());
    let mut tills = tills(dir.path(), &bins, &store);
    let before: Vec<String> = (100..106).map(code).collect();
    for (i, ki) in before.iter().enumerate() {
        assert!(
            tills[i % 3]
                .ask(&format!("sell {ki}"))
                .starts_with("ok shared")
        );
    }
    store.kill();
    // The tills keep selling, on their own journals, queued for the store.
    let during: Vec<String> = (200..209).map(code).collect();
    for (i, ki) in during.iter().enumerate() {
        let answer = tills[i % 3].ask(&format!("sell {ki}"));
        assert_eq!(answer, format!("ok offline {ki}"));
    }
    store.resume();
    for ki in before.iter().chain(&during) {
        for t in tills.iter_mut() {
            assert!(
                t.until_sold(ki, true, Duration::from_secs(15)).is_some(),
                "{} never saw {ki} sold after the store came back",
                t.name
            );
        }
        assert!(store.sold(ki), "the store lost {ki}");
    }
    // Sales after the restart are shared again.
    assert!(
        tills[1]
            .ask(&format!("sell {}", code(300)))
            .starts_with("ok shared")
    );
    assert!(
        tills[0]
            .until_sold(&code(300), true, Duration::from_secs(5))
            .is_some()
    );
}

#[test]
fn a_sale_the_store_took_is_neither_lost_nor_doubled_when_the_till_died_before_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let store = Store::start(dir.path());
    // The till's request reached the store and was taken; the till died before writing it
    // (and, having timed out, queued it): the store has it, the till's journal does not.
    let ki = code(400);
    let time = cisgate::time::now_ms() - 1000;
    let request = format!(
        "{{\"op\":\"sell\",\"items\":[{{\"ki\":\"{ki}\",\"time\":{time}}}],\"queued\":false}}"
    );
    let (status, body) = store.http(
        "POST",
        "/api/cisgate/v1/sold/register",
        Some(TOKENS[1].1),
        &request,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"applied\""), "{body}");
    index(&dir.path().join(TOKENS[1].0));
    let queue = dir.path().join(TOKENS[1].0).join("index/SOLD-QUEUE.jsonl");
    std::fs::write(
        &queue,
        format!("{{\"op\":\"sell\",\"ki\":\"{ki}\",\"time\":{time}}}\n"),
    )
    .unwrap();
    // The till starts again: its queued retry is recognised, the feed brings the sale.
    let mut till = till(dir.path(), &bins, 1, &store, None);
    assert!(
        till.until_sold(&ki, true, Duration::from_secs(10))
            .is_some()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&queue).is_ok_and(|q| !q.trim().is_empty()) {
        assert!(Instant::now() < deadline, "the queue was not forwarded");
        std::thread::sleep(Duration::from_millis(50));
    }
    // One sale in the store's journal, no conflict: the retry was not a second sale.
    let status = store.status();
    assert_eq!(status["conflicts"].as_array().unwrap().len(), 0, "{status}");
    let (_, sold) = store.http("GET", "/api/v2/cis/sold?skip=0&limit=1000", None, "");
    assert_eq!(sold.matches(&ki).count(), 1, "{sold}");
}

#[test]
fn a_code_sold_at_two_tills_while_the_store_was_down_keeps_both_sales_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let mut store = Store::start(dir.path());
    let mut tills = tills(dir.path(), &bins, &store);
    let ki = code(500);
    store.kill();
    assert_eq!(
        tills[0].ask(&format!("sell {ki}")),
        format!("ok offline {ki}")
    );
    assert_eq!(
        tills[1].ask(&format!("sell {ki}")),
        format!("ok offline {ki}")
    );
    store.resume();
    for t in tills.iter_mut() {
        assert!(
            t.until_sold(&ki, true, Duration::from_secs(15)).is_some(),
            "{} never saw {ki} sold; the store: sold {}, {}\n{}",
            t.name,
            store.sold(&ki),
            store.status()["nodes"],
            std::fs::read_to_string(store.config.with_file_name("serve.log")).unwrap_or_default()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status = store.status();
        if !status["conflicts"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let conflicts = status["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{status}");
    assert_eq!(conflicts[0]["ki"], ki);
    assert!(
        ["till-rust", "till-c1"].contains(&conflicts[0]["node"].as_str().unwrap()),
        "{status}"
    );
    let (_, metrics) = store.http("GET", "/metrics", None, "");
    assert!(
        metrics.contains("cisgate_sold_conflicts_total 1"),
        "{metrics}"
    );
    let (_, page) = store.http("GET", "/", None, "");
    assert!(
        page.contains("Двойные продажи") && page.contains(&ki),
        "{page}"
    );
    // A return at the third till un-sells it everywhere.
    assert_eq!(
        tills[2].ask(&format!("return {ki}")),
        format!("ok shared {ki}")
    );
    for t in tills.iter_mut() {
        assert!(
            t.until_sold(&ki, false, Duration::from_secs(5)).is_some(),
            "{}",
            t.name
        );
    }
}

#[test]
fn a_node_without_its_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let store = Store::start(dir.path());
    for token in [
        None,
        Some("not-a-token"),
        Some("token-rust-0123456789abcdeX"),
    ] {
        let (status, _) = store.http("GET", "/api/cisgate/v1/sold/feed?wait_ms=0", token, "");
        assert_eq!(status, 401, "{token:?}");
        let (status, _) = store.http(
            "POST",
            "/api/cisgate/v1/sold/register",
            token,
            "{\"op\":\"sell\",\"items\":[{\"ki\":\"0104600439931256215X\",\"time\":1}]}",
        );
        assert_eq!(status, 401, "{token:?}");
    }
    // The token travels in a header: a URL with credentials is refused by the node itself.
    let mut stranger = till(dir.path(), &bins, 2, &store, Some("wrong-token"));
    let answer = stranger.ask(&format!("sell {}", code(600)));
    assert!(
        answer.starts_with("error") && answer.contains("401"),
        "{answer}"
    );
    assert!(!store.sold(&code(600)));
}

/// `cisgate sell`/`return`/`check` on a node's own index copy, with the store as the sold
/// authority: the token from the environment, never the command line.
fn cli(index: &Path, store: &Store, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let bin = workspace_binary("cisgate", &["build", "-p", "cisgate", "--bin", "cisgate"]);
    let mut cmd = Command::new(bin);
    cmd.args(&args[..1])
        .arg("--index")
        .arg(index)
        .args(["--ignore-freshness", "--sold-authority", &store.url()])
        .args(&args[1..])
        .env_remove("CISGATE_SOLD_TOKEN");
    if let Some(t) = token {
        cmd.env("CISGATE_SOLD_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_sells_and_checks_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let bins = binaries(dir.path());
    let mut store = Store::start(dir.path());
    let mut c_till = till(dir.path(), &bins, 1, &store, None);
    let node_a = index(&dir.path().join("cli-a"));
    let node_b = index(&dir.path().join("cli-b"));
    let token = Some(TOKENS[0].1);

    // A sale from the command line is the store's, and the C till refuses the code.
    let (status, out, err) = cli(&node_a, &store, token, &["sell", &code(700)]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("\"mode\":\"shared\""), "{out}");
    assert!(store.sold(&code(700)));
    assert!(
        c_till
            .until_sold(&code(700), true, Duration::from_secs(1))
            .is_some()
    );

    // A check on another node's copy first reads the store's sold list: sales at the C
    // till and at node A are refused there.
    assert!(
        c_till
            .ask(&format!("sell {}", code(701)))
            .starts_with("ok shared")
    );
    let (status, out, err) = cli(&node_b, &store, token, &["check", &code(700), &code(701)]);
    assert_eq!(status, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("\"blocked\"") && l.contains("sold")),
        "{out}"
    );

    // Without a token nothing is sold, and the message says where the token comes from.
    let (status, out, err) = cli(&node_a, &store, None, &["sell", &code(702)]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("CISGATE_SOLD_TOKEN"), "{err}");
    assert!(!store.sold(&code(702)));

    // The store down: the sale is made on the node and says so; the next command forwards
    // it, and the return un-sells it everywhere.
    store.kill();
    let (status, out, err) = cli(&node_a, &store, token, &["sell", &code(703)]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("\"mode\":\"offline\""), "{out}");
    assert!(err.contains("unreachable"), "{err}");
    store.resume();
    let (status, out, err) = cli(&node_a, &store, token, &["return", &code(700)]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("\"mode\":\"shared\""), "{out}");
    assert!(store.sold(&code(703)), "the offline sale forwarded");
    assert!(!store.sold(&code(700)));
    assert!(
        c_till
            .until_sold(&code(703), true, Duration::from_secs(2))
            .is_some()
    );
    assert!(
        c_till
            .until_sold(&code(700), false, Duration::from_secs(2))
            .is_some()
    );
}
