//! The online budget under a host that never answers: `cargo bench --bench deadline --
//! [--calls N] [--budget-ms MS] [--concurrency C]`. Two emulated True API hosts accept
//! every check and never answer; each call must return within the budget. Prints latency
//! percentiles and the overshoot past the budget.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/online_emulator/mod.rs"]
mod online_emulator;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::online::{AnsweredBy, OnlineChecker, OnlineConfig};
use online_emulator::{Host, Reply, healthy};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let calls = arg("--calls", 1000) as usize;
    let budget_ms = arg("--budget-ms", 1500);
    let concurrency = arg("--concurrency", 1).max(1) as usize;

    let dir = tempfile::tempdir().unwrap();
    let out = common::blocked_cis_index(dir.path(), "1", cisgate::time::now_ms(), &[]);
    let offline = Arc::new(LiveIndex::open(&out, LiveOptions::default()).unwrap());

    let hang = |r: &online_emulator::Request| {
        if r.is_health() {
            healthy(10)
        } else {
            Reply::Hang
        }
    };
    let (a, b) = (Host::start(hang), Host::start(hang));
    let config = OnlineConfig {
        token: Some("bench".into()),
        hosts: vec![a.url.clone(), b.url.clone()],
        budget_ms,
        ..Default::default()
    };
    let checker = Arc::new(OnlineChecker::builder(config, offline).build().unwrap());
    let code = "0104600439931256215abcdEFGH1234\u{1d}93dGVz";

    eprintln!("{calls} calls, budget {budget_ms} ms, {concurrency} at a time, two hanging hosts");
    let started = Instant::now();
    let per_thread = calls.div_ceil(concurrency);
    let threads: Vec<_> = (0..concurrency)
        .map(|t| {
            let checker = checker.clone();
            std::thread::spawn(move || {
                let mut times = Vec::new();
                for _ in 0..per_thread.min(calls.saturating_sub(t * per_thread)) {
                    let s = Instant::now();
                    let v = checker.check(code, &Default::default());
                    times.push(s.elapsed());
                    assert_eq!(v.answered_by, AnsweredBy::Offline);
                }
                times
            })
        })
        .collect();
    let mut times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    let budget = Duration::from_millis(budget_ms);
    let over = times.iter().filter(|t| **t > budget).count();
    println!(
        "calls {} | min {:.1} ms | p50 {:.1} | p99 {:.1} | max {:.1} | over budget: {} (worst by {:.2} ms) | wall {:.0} s",
        times.len(),
        ms(times[0]),
        at(0.5),
        at(0.99),
        ms(*times.last().unwrap()),
        over,
        ms(times.last().unwrap().saturating_sub(budget)),
        started.elapsed().as_secs_f64()
    );
}
