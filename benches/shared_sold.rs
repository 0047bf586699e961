//! One sold list per store, measured as tills see it: a real `cisgate serve` as the
//! store's sold authority and eight embedded nodes (each a `LiveIndex` on its own copy of
//! the index, following the store), under a stream of sales and returns.
//!
//! `cargo bench --bench shared_sold -- [--keys N] [--nodes N] [--rate N] [--seconds N]`
//! (defaults: 1,000,000 banned КИ, 8 nodes, 100 operations a second for 30 seconds; one
//! in five a return of an earlier sale).
//!
//! - **Propagation**: from the moment a node's `register` returned (the store has the sale,
//!   durably) until every other node's check answers `sold` (or, for a return, no longer
//!   does); p50, p99 and max over every (operation, other node) pair. A watcher thread
//!   asks each node through the check path every millisecond.
//! - **Check rate**: decisions per second of `check_batch_into` on one thread, over full
//!   scanner codes, on a node that follows the store (its replica holding the stream's
//!   sales, its follower running) and on a node without a sold authority; both opened on
//!   copies of the same index, measured alternately in the same run, best of eleven rounds
//!   each. Three nodes without one: a journal with as many sales and returns as the
//!   replica ends with (the follower the only difference), a till holding its own share of
//!   the sales (what it would hold without the shared list) and a till that sold nothing
//!   (an empty journal skips the sold lookup). Measured twice: while the stream runs (the
//!   replica being written) and after.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cisgate::check::{CheckOptions, Decision, Reason};
use cisgate::journal::SaleOp;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use cisgate::sold::{SoldAuthority, StoreFollower};
use cisgate::synth::{Catalogue, GenConfig};

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The store's `cisgate serve`, killed when dropped.
struct Store(Child);

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An operation of the stream and when each node first showed it.
#[derive(Clone)]
struct Pending {
    ki: Vec<u8>,
    /// The КИ is sold after this operation (a sale), or not (a return).
    sold: bool,
    /// The node that made it.
    origin: usize,
    /// When its `register` returned.
    acknowledged: Instant,
    seen: Vec<Option<Duration>>,
}

/// Whether `node`'s check path answers `ki` as sold.
fn shows_sold(node: &LiveIndex, ki: &[u8], options: &CheckOptions) -> bool {
    let mut out = [Decision::default()];
    node.check_batch_into(&[ki], options, &mut out).unwrap();
    out[0].reasons().contains(Reason::Sold)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Million decisions a second on `node`, over `scans`, one thread.
fn rate(node: &LiveIndex, scans: &[Vec<u8>], options: &CheckOptions) -> f64 {
    let mut out = vec![Decision::default(); 1000];
    let started = Instant::now();
    for chunk in scans.chunks(1000) {
        node.check_batch_into(chunk, options, &mut out[..chunk.len()])
            .unwrap();
    }
    scans.len() as f64 / started.elapsed().as_secs_f64() / 1e6
}

/// Best of eleven rounds of each node, in an order that turns every round.
fn compare_rates(nodes: &[&LiveIndex], scans: &[Vec<u8>], options: &CheckOptions) -> Vec<f64> {
    let mut best = vec![0.0f64; nodes.len()];
    for round in 0..11 {
        for k in 0..nodes.len() {
            let n = (k + round) % nodes.len();
            best[n] = best[n].max(rate(nodes[n], scans, options));
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` only checks that this compiles.
    }
    let keys: u64 = arg(&args, "--keys").unwrap_or(1_000_000);
    let nodes_n: usize = arg(&args, "--nodes").unwrap_or(8);
    let per_second: u64 = arg(&args, "--rate").unwrap_or(100);
    let seconds: u64 = arg(&args, "--seconds").unwrap_or(30);
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();

    // The lists and the store's index; each node gets a copy.
    let config = GenConfig {
        seed: 31,
        codes: keys,
        gtins: 20_000,
        zstd: false,
        version: "bench".into(),
        as_of_ms: cisgate::time::now_ms(),
    };
    cisgate::synth::write_lists(&dir.join("lists"), &config).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.join("lists"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    let store_index = dir.join("store");
    cisgate::index::build(&store_index, &files, &Default::default(), &NoProgress).unwrap();
    for n in 0..nodes_n {
        copy_dir(&store_index, &dir.join(format!("node-{n}")));
    }

    // The store: serve with a token per node.
    let tokens: Vec<String> = (0..nodes_n)
        .map(|n| format!("bench-node-{n}-0123456789abcdef"))
        .collect();
    let nodes_config: Vec<serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(n, t)| serde_json::json!({"name": format!("node-{n}"), "token": t}))
        .collect();
    let config_path = dir.join("serve.json");
    std::fs::write(
        &config_path,
        serde_json::json!({ "nodes": nodes_config }).to_string(),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let _store = Store(
        Command::new(env!("CARGO_BIN_EXE_cisgate"))
            .args(["serve", "--index"])
            .arg(&store_index)
            .arg("--config")
            .arg(&config_path)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The nodes, each following the store, and one without a sold authority.
    let nodes: Vec<Arc<LiveIndex>> = (0..nodes_n)
        .map(|n| {
            let options = LiveOptions {
                sold_authority: Some(SoldAuthority::new(&url, &tokens[n])),
                ..LiveOptions::default()
            };
            Arc::new(LiveIndex::open(&dir.join(format!("node-{n}")), options).unwrap())
        })
        .collect();
    let _followers: Vec<StoreFollower> = nodes
        .iter()
        .map(|n| StoreFollower::start(n).unwrap())
        .collect();
    let options = CheckOptions::default();
    // Scans for the check rate: full codes, 0.1 % banned.
    let catalogue = Catalogue::new(&config);
    let scans: Vec<Vec<u8>> = (0..1_000_000u64)
        .map(|s| {
            let i = if s % 1000 == 0 {
                s * 7919 % keys
            } else {
                keys + 1_000_000_000 + s
            };
            catalogue.code(i).km
        })
        .collect();

    // Nodes without a sold authority, each on its own copy: one whose journal holds as
    // many sales and returns as the replica will at the end (the same lookups, without
    // the follower), a till holding only its own share of the stream's sales (what it
    // would hold without the shared list), and one that sold nothing (an empty journal
    // skips the sold lookup altogether).
    let operations = per_second * seconds;
    let (stream_sales, stream_returns) = (operations - operations / 5, operations / 5);
    let own_sales = stream_sales / nodes_n as u64;
    let local_node = |name: &str, sales: u64, returns: u64| {
        copy_dir(&store_index, &dir.join(name));
        let node = LiveIndex::open(&dir.join(name), LiveOptions::default()).unwrap();
        for k in 0..sales {
            // Full codes, as tills sell them (a bare КИ can read two ways without its GS).
            let km = catalogue.code(keys + 4_000_000_000 + k).km;
            let km = String::from_utf8(km).unwrap();
            node.sell(&km).unwrap();
            if k < returns {
                node.return_sale(&km).unwrap();
            }
        }
        node
    };
    let same = local_node("same", stream_sales, stream_returns);
    let own = local_node("own", own_sales, 0);
    let unsold = local_node("unsold", 0, 0);

    // The stream: a watcher asks every node about every pending operation each
    // millisecond; the stream thread makes `per_second` operations a second round-robin
    // over the nodes, one in five a return of the oldest sale still sold.
    let pending: Arc<Mutex<Vec<Pending>>> = Arc::new(Mutex::new(Vec::new()));
    let done: Arc<Mutex<Vec<Pending>>> = Arc::new(Mutex::new(Vec::new()));
    let streaming = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (pending, done, streaming, nodes) = (
            pending.clone(),
            done.clone(),
            streaming.clone(),
            nodes.clone(),
        );
        std::thread::spawn(move || {
            let options = CheckOptions::default();
            loop {
                let ops: Vec<(usize, Pending)> = {
                    let p = pending.lock().unwrap();
                    if p.is_empty() && !streaming.load(Ordering::Relaxed) {
                        break;
                    }
                    p.iter().cloned().enumerate().collect()
                };
                let mut updates = Vec::new();
                for (i, op) in ops {
                    for (n, node) in nodes.iter().enumerate() {
                        if n != op.origin
                            && op.seen[n].is_none()
                            && shows_sold(node, &op.ki, &options) == op.sold
                        {
                            updates.push((i, n, op.acknowledged.elapsed()));
                        }
                    }
                }
                {
                    let mut p = pending.lock().unwrap();
                    for (i, n, after) in updates {
                        p[i].seen[n] = Some(after);
                    }
                    let mut finished = Vec::new();
                    let mut at = 0;
                    while at < p.len() {
                        if p[at]
                            .seen
                            .iter()
                            .enumerate()
                            .all(|(n, s)| n == p[at].origin || s.is_some())
                        {
                            finished.push(p.remove(at));
                        } else {
                            at += 1;
                        }
                    }
                    done.lock().unwrap().extend(finished);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let stream = {
        let (pending, streaming, nodes) = (pending.clone(), streaming.clone(), nodes.clone());
        std::thread::spawn(move || {
            let total = per_second * seconds;
            let started = Instant::now();
            let mut sold_queue = std::collections::VecDeque::new();
            let mut register_times = Vec::new();
            for k in 0..total {
                let due = started + Duration::from_secs_f64(k as f64 / per_second as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let origin = k as usize % nodes.len();
                let ((ki, km), op) = match sold_queue.pop_front() {
                    Some(sale) if k % 5 == 4 => (sale, SaleOp::Return),
                    other => {
                        if let Some(sale) = other {
                            sold_queue.push_front(sale);
                        }
                        let code = catalogue.code(keys + 3_000_000_000 + k);
                        sold_queue.push_back((code.ki.clone(), code.km.clone()));
                        ((code.ki, code.km), SaleOp::Sell)
                    }
                };
                // Full codes, as tills sell them (a bare КИ can read two ways without GS).
                let text = String::from_utf8(km).unwrap();
                let asked = Instant::now();
                let made = nodes[origin].register(&text, op).unwrap();
                let acknowledged = Instant::now();
                register_times.push(acknowledged - asked);
                assert_eq!(made.mode.name(), "shared", "the store answers");
                pending.lock().unwrap().push(Pending {
                    ki,
                    sold: op == SaleOp::Sell,
                    origin,
                    acknowledged,
                    seen: vec![None; nodes.len()],
                });
            }
            streaming.store(false, Ordering::Relaxed);
            (started.elapsed(), register_times)
        })
    };

    // The check rate while the stream runs, then the stream's figures.
    std::thread::sleep(Duration::from_secs(2));
    let compared = [nodes[0].as_ref(), &same, &own, &unsold];
    let during = compare_rates(&compared, &scans, &options);
    let (elapsed, mut register_times) = stream.join().unwrap();
    let wait_until = Instant::now() + Duration::from_secs(30);
    while !pending.lock().unwrap().is_empty() && Instant::now() < wait_until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let unfinished = pending.lock().unwrap().len();
    streaming.store(false, Ordering::Relaxed);
    pending.lock().unwrap().clear();
    watcher.join().unwrap();
    let after = compare_rates(&compared, &scans, &options);

    let done = done.lock().unwrap();
    let figures = |sold: bool| {
        let mut times: Vec<Duration> = done
            .iter()
            .filter(|op| op.sold == sold)
            .flat_map(|op| op.seen.iter().flatten().copied())
            .collect();
        times.sort();
        times
    };
    let sales = figures(true);
    let returns = figures(false);
    register_times.sort();
    let replica = nodes[0].sold_kis().len();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "shared sold list: {nodes_n} nodes, {} operations in {:.1} s ({per_second}/s asked), {keys} banned КИ, replica of {replica} sold КИ at the end",
        per_second * seconds,
        elapsed.as_secs_f64()
    )
    .unwrap();
    for (what, times) in [("sale", &sales), ("return", &returns)] {
        if times.is_empty() {
            continue;
        }
        writeln!(
            out,
            "  {what} seen at every other node: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} observations)",
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.99)),
            ms(*times.last().unwrap()),
            times.len()
        )
        .unwrap();
    }
    writeln!(
        out,
        "  register (store durable) p50 {:.1} ms  p99 {:.1} ms; operations not seen everywhere within 30 s: {unfinished}",
        ms(percentile(&register_times, 0.5)),
        ms(percentile(&register_times, 0.99)),
    )
    .unwrap();
    for (when, rates) in [("during the stream", during), ("after it", after)] {
        writeln!(
            out,
            "  check rate {when}, one thread, M/s: with the replica ({replica} sold) {:.2}; without: as many sales {:.2} (ratio {:.3}), own {own_sales} sales {:.2} (ratio {:.3}), nothing sold {:.2} (ratio {:.3})",
            rates[0],
            rates[1],
            rates[0] / rates[1],
            rates[2],
            rates[0] / rates[2],
            rates[3],
            rates[0] / rates[3],
        )
        .unwrap();
    }
}
