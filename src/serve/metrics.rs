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
    last_minute: Window,
}

/// Counts of the last 60 seconds, a slot a second.
struct Window {
    slots: [(u64, u64); 60],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            slots: [(0, 0); 60],
        }
    }
}

impl Window {
    fn add(&mut self, second: u64, n: u64) {
        let slot = &mut self.slots[(second % 60) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += n;
    }

    fn total(&self, now_second: u64) -> u64 {
        self.slots
            .iter()
            .filter(|(t, _)| now_second.saturating_sub(*t) < 60)
            .map(|(_, n)| n)
            .sum()
    }
}

fn unix_second() -> u64 {
    (crate::time::now_ms() / 1000).max(0) as u64
}

/// A check answered blocked or invalid, for the status page.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Refusal {
    /// When, RFC 3339.
    pub(crate) at: String,
    /// When, Unix ms.
    #[serde(skip)]
    pub(crate) at_ms: i64,
    /// The КИ (or the input, cut, when it is not a code).
    pub(crate) code: String,
    /// `blocked` or `invalid`.
    pub(crate) status: &'static str,
    /// The reasons by name, or the parser's message.
    pub(crate) reasons: Vec<String>,
}

/// Refusals the status page shows.
const RECENT_REFUSALS: usize = 20;

/// Days of counts kept (and reported).
const DAYS_KEPT: usize = 8;

/// Where the day counts survive a restart, beside the index (advisory).
pub(crate) const DAYS_FILE: &str = "DAYS.json";

/// One day's offline answers and sales, by the shop's local date.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Day {
    /// `YYYY-MM-DD`, local.
    pub date: String,
    /// Codes checked.
    pub checks: u64,
    /// Checks answered blocked or invalid.
    pub refusals: u64,
    /// Codes sold.
    pub sales: u64,
}

/// Everything `/metrics` and the status page show.
pub(crate) struct Metrics {
    // One lock per finished request, not one per map.
    endpoints: Mutex<PerEndpoint>,
    codes_checked: AtomicU64,
    codes_last_minute: Mutex<Window>,
    generation_switches: AtomicU64,
    recent_refusals: Mutex<std::collections::VecDeque<Refusal>>,
    started_ms: i64,
    /// The last days' counts, oldest first.
    days: Mutex<Vec<Day>>,
    /// The shop's time zone, for the days.
    tz: Mutex<crate::time::TimeZone>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            endpoints: Mutex::default(),
            codes_checked: AtomicU64::default(),
            codes_last_minute: Mutex::default(),
            generation_switches: AtomicU64::default(),
            recent_refusals: Mutex::default(),
            started_ms: crate::time::now_ms(),
            days: Mutex::default(),
            tz: Mutex::default(),
        }
    }
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
        endpoints.last_minute.add(unix_second(), 1);
    }

    /// Counts checked codes.
    pub fn add_codes_checked(&self, n: u64) {
        self.codes_checked.fetch_add(n, Ordering::Relaxed);
        lock(&self.codes_last_minute).add(unix_second(), n);
        self.today(|d| d.checks += n);
    }

    /// Counts checks answered blocked or invalid.
    pub fn add_refusals(&self, n: u64) {
        self.today(|d| d.refusals += n);
    }

    /// Counts codes sold.
    pub fn add_sales(&self, n: u64) {
        self.today(|d| d.sales += n);
    }

    /// Counts days in the shop's time zone `tz` from now on.
    pub fn set_timezone(&self, tz: crate::time::TimeZone) {
        *lock(&self.tz) = tz;
    }

    fn today(&self, add: impl FnOnce(&mut Day)) {
        let date = lock(&self.tz).date(crate::time::now_ms());
        let mut days = lock(&self.days);
        if days.last().is_none_or(|d| d.date != date) {
            days.push(Day {
                date,
                ..Day::default()
            });
            let excess = days.len().saturating_sub(DAYS_KEPT);
            days.drain(..excess);
        }
        if let Some(day) = days.last_mut() {
            add(day);
        }
    }

    /// The last days' counts, oldest first.
    pub fn days(&self) -> Vec<Day> {
        lock(&self.days).clone()
    }

    /// Takes the counts a previous run left at `path` (a restart keeps the day's counts).
    pub fn load_days(&self, path: &std::path::Path) {
        if let Some(days) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<Day>>(&b).ok())
        {
            *lock(&self.days) = days;
        }
    }

    /// Leaves the counts at `path` for the next run (best effort).
    pub fn save_days(&self, path: &std::path::Path) {
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
            let json = serde_json::to_vec(&self.days()).unwrap_or_default();
            let _ = crate::durable::write_advisory(dir, &name.to_string_lossy(), &json);
        }
    }

    /// Remembers a refused check for the status page (the last few only).
    pub fn add_refusal(&self, refusal: Refusal) {
        self.add_refusals(1);
        let mut recent = lock(&self.recent_refusals);
        if recent.len() == RECENT_REFUSALS {
            recent.pop_front();
        }
        recent.push_back(refusal);
    }

    /// The last refusals, newest first.
    pub fn recent_refusals(&self) -> Vec<Refusal> {
        lock(&self.recent_refusals).iter().rev().cloned().collect()
    }

    /// Requests and checked codes: since the start, and in the last minute.
    pub fn totals(&self) -> Totals {
        let now = unix_second();
        let endpoints = lock(&self.endpoints);
        Totals {
            started_ms: self.started_ms,
            requests: endpoints.requests.values().sum(),
            requests_last_minute: endpoints.last_minute.total(now),
            codes_checked: self.codes_checked.load(Ordering::Relaxed),
            codes_last_minute: lock(&self.codes_last_minute).total(now),
        }
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

/// The service's counters, for the status page.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Totals {
    /// When the service started, Unix ms.
    pub(crate) started_ms: i64,
    /// Requests answered.
    pub(crate) requests: u64,
    /// Of them, in the last minute.
    pub(crate) requests_last_minute: u64,
    /// Codes checked.
    pub(crate) codes_checked: u64,
    /// Of them, in the last minute.
    pub(crate) codes_last_minute: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful even if a thread panicked while holding the lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Refusal {
    /// The refusal of a check's outcome, if it was refused (blocked or not a code).
    pub(crate) fn of(outcome: &crate::check::Outcome<'_>) -> Option<Refusal> {
        use crate::check::Status;
        let d = outcome.decision;
        let status = match d.status() {
            Status::Allowed => return None,
            Status::Blocked => "blocked",
            Status::Invalid => "invalid",
        };
        let code = match d.ki() {
            Some(ki) => ki.to_string(),
            None => String::from_utf8_lossy(outcome.input)
                .chars()
                .take(64)
                .collect(),
        };
        let reasons = match outcome.error {
            Some(e) => vec![e.to_string()],
            None => d.reasons().iter().map(|r| r.name().to_string()).collect(),
        };
        let now = crate::time::now_ms();
        Some(Refusal {
            at: crate::time::format_rfc3339(now),
            at_ms: now,
            code,
            status,
            reasons,
        })
    }
}
