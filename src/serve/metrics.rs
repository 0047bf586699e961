//! Request counters and latency histograms, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::live::LiveIndex;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Default)]
struct PerEndpoint {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// Everything `/metrics` shows.
#[derive(Default)]
pub(crate) struct Metrics {
    // One lock per finished request, not one per map.
    endpoints: Mutex<PerEndpoint>,
    codes_checked: AtomicU64,
    generation_switches: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub fn record(&self, endpoint: &'static str, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut endpoints = lock(&self.endpoints);
        *endpoints.requests.entry((endpoint, status)).or_default() += 1;
        let h = endpoints.latency.entry(endpoint).or_default();
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum_seconds += seconds;
    }

    /// Counts checked codes.
    pub fn add_codes_checked(&self, n: u64) {
        self.codes_checked.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a switch to a newly published generation.
    pub fn add_generation_switch(&self) {
        self.generation_switches.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, live: &LiveIndex) -> String {
        let mut out = String::new();
        let endpoints = lock(&self.endpoints);
        out.push_str("# HELP cisgate_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE cisgate_requests_total counter\n");
        for ((endpoint, status), n) in &endpoints.requests {
            let _ = writeln!(
                out,
                "cisgate_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP cisgate_request_duration_seconds Time to answer, by endpoint.\n");
        out.push_str("# TYPE cisgate_request_duration_seconds histogram\n");
        for (endpoint, h) in &endpoints.latency {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "cisgate_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cisgate_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}\n\
                 cisgate_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}\n\
                 cisgate_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}",
                h.count, h.sum_seconds, h.count
            );
        }
        let generation = live.generation();
        let manifest = generation.index().manifest();
        let age = (crate::time::now_ms() - manifest.as_of_ms) as f64 / 1000.0;
        let version = manifest.version.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = write!(
            out,
            "# HELP cisgate_codes_checked_total Codes checked offline.\n\
             # TYPE cisgate_codes_checked_total counter\n\
             cisgate_codes_checked_total {}\n\
             # HELP cisgate_index_info The index generation being served.\n\
             # TYPE cisgate_index_info gauge\n\
             cisgate_index_info{{version=\"{version}\",manifest=\"{}\"}} 1\n\
             # HELP cisgate_index_age_seconds Age of the served data (now minus its as_of).\n\
             # TYPE cisgate_index_age_seconds gauge\n\
             cisgate_index_age_seconds {age}\n\
             # HELP cisgate_index_layers Delta layers over the base.\n\
             # TYPE cisgate_index_layers gauge\n\
             cisgate_index_layers {}\n\
             # HELP cisgate_generation_switches_total New generations picked up while serving.\n\
             # TYPE cisgate_generation_switches_total counter\n\
             cisgate_generation_switches_total {}\n",
            self.codes_checked.load(Ordering::Relaxed),
            manifest.file_name(),
            generation.index().layer_count(),
            self.generation_switches.load(Ordering::Relaxed),
        );
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful even if a thread panicked while holding the lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
