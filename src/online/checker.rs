//! [`OnlineChecker`]: True API first, on the fastest healthy host, within the budget; then
//! the offline index.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::answer::{
    AnsweredBy, Attempt, FailureKind, OnlineAnswer, OnlineFailure, OnlineVerdict, ReceiptMarker,
    SaleDecision,
};
use super::api::{AttemptError, CheckResponse, TrueApiClient};
use super::config::{Clock, OnlineConfig, SystemClock};
use super::decide::{self, Denial};
use super::error::OnlineError;
use super::hosts::{HostPool, HostStatus};
use crate::check::CheckOptions;
use crate::code;
use crate::live::LiveIndex;

/// Sets up an [`OnlineChecker`].
pub struct OnlineCheckerBuilder {
    config: OnlineConfig,
    offline: Arc<LiveIndex>,
    clock: Arc<dyn Clock>,
    resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
}

impl OnlineCheckerBuilder {
    /// Uses `clock` for benching and the outage rule instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Resolves host names with `resolver` instead of the system's.
    pub fn resolver(mut self, resolver: Arc<dyn reqwest::dns::Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Starts the adapter without waiting for the network: the host list (from the CDN,
    /// unless hosts are configured) and the health ranking are fetched in the background
    /// and kept fresh there. A check made before they arrive waits for them only inside its
    /// own budget.
    pub fn build(self) -> Result<OnlineChecker, OnlineError> {
        self.config.validate()?;
        let client = TrueApiClient::new(&self.config, self.resolver)?;
        let instance = self.offline.instance_id();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cisgate-online")
            .enable_all()
            .build()
            .map_err(OnlineError::Runtime)?;
        let (ready, _) = tokio::sync::watch::channel(Readiness {
            hosts_known: !self.config.hosts.is_empty(),
            list_failed: false,
            ranked: false,
        });
        let shared = Arc::new(Shared {
            pool: HostPool::new(&self.config.hosts),
            config: self.config,
            client,
            offline: self.offline,
            instance,
            clock: self.clock,
            failing_since: Mutex::new(None),
            ready,
            host_list_error: Mutex::new(None),
        });
        runtime.spawn(shared.clone().refresh_loop());
        runtime.spawn(shared.clone().probe_loop());
        Ok(OnlineChecker {
            shared,
            runtime: Some(runtime),
        })
    }
}

/// The online-first checker. Cheap to share between threads (`&self` everywhere).
pub struct OnlineChecker {
    shared: Arc<Shared>,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for OnlineChecker {
    fn drop(&mut self) {
        // Requests cut at their deadline may still sit in a hanging resolver or socket:
        // leave them behind instead of waiting, so that a program ends right after its
        // last answer.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl OnlineChecker {
    /// A builder for `config`, answering offline from `offline`.
    pub fn builder(config: OnlineConfig, offline: Arc<LiveIndex>) -> OnlineCheckerBuilder {
        OnlineCheckerBuilder {
            config,
            offline,
            clock: Arc::new(SystemClock),
            resolver: None,
        }
    }

    /// Checks one code within the budget. Must not be called from inside an async runtime
    /// (use [`OnlineChecker::check_async`] there).
    pub fn check(&self, input: &str, options: &CheckOptions) -> OnlineVerdict {
        let mut verdicts = self.check_batch(&[input], options);
        verdicts.pop().expect("one verdict per input")
    }

    /// Checks many codes in as few requests as the batch size allows, sent at once, all
    /// within one budget. Verdicts are in input order.
    pub fn check_batch<S: AsRef<str>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
    ) -> Vec<OnlineVerdict> {
        self.check_batch_since(inputs, options, std::time::Instant::now())
    }

    /// [`OnlineChecker::check_batch`] with the budget counted from `scanned` (when the
    /// codes were scanned or read) rather than from the call.
    pub fn check_batch_since<S: AsRef<str>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        scanned: std::time::Instant,
    ) -> Vec<OnlineVerdict> {
        let inputs: Vec<String> = inputs.iter().map(|s| s.as_ref().to_string()).collect();
        self.runtime().block_on(
            self.shared
                .clone()
                .check_batch(inputs, *options, scanned.into()),
        )
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    /// [`OnlineChecker::check_batch`] for callers already inside a tokio runtime.
    pub async fn check_async(
        &self,
        inputs: Vec<String>,
        options: &CheckOptions,
    ) -> Vec<OnlineVerdict> {
        self.shared
            .clone()
            .check_batch(inputs, *options, Instant::now())
            .await
    }

    /// The hosts with their health and bench marks.
    pub fn hosts(&self) -> Vec<HostStatus> {
        self.shared.pool.snapshot()
    }

    /// Since when online checks are being skipped under the outage rule, if they are.
    pub fn outage_since_ms(&self) -> Option<i64> {
        self.shared.outage_since()
    }

    /// Asks every host's health check now; returns whether one answered (which ends an
    /// outage). The background probe does the same every `probe_interval_ms` during one.
    pub fn probe_now(&self) -> bool {
        self.runtime().block_on(self.shared.clone().probe())
    }
}

struct Shared {
    config: OnlineConfig,
    client: TrueApiClient,
    pool: HostPool,
    offline: Arc<LiveIndex>,
    instance: String,
    clock: Arc<dyn Clock>,
    /// Start of the current unbroken run of online failures.
    failing_since: Mutex<Option<i64>>,
    /// What the background refresh has achieved so far.
    ready: tokio::sync::watch::Sender<Readiness>,
    /// Why the last attempt to get the host list failed, while no host is known.
    host_list_error: Mutex<Option<String>>,
}

/// Progress of the background start: whether any host is known, whether fetching the
/// host list has failed, and whether the hosts have been health-checked once.
#[derive(Clone, Copy, Debug)]
struct Readiness {
    hosts_known: bool,
    list_failed: bool,
    ranked: bool,
}

/// How long after the deadline a batch waits for requests cut at the deadline to report.
const REPORT_GRACE: Duration = Duration::from_millis(2);

/// Kept back from the budget for what follows the online attempt (the offline check,
/// building the verdict), the runtime's millisecond timer and a busy machine's late
/// wake-ups, so that the whole call ends within the budget rather than just after it.
/// 5 ms was too little on a loaded two-core machine (a call took 1508 ms); an online
/// answer 50 ms before the deadline is worth no more than the offline one.
const DEADLINE_RESERVE: Duration = Duration::from_millis(50);

/// What became of one request's codes: the host that answered and its answer.
type ChunkOutcome = Result<(String, CheckResponse), OnlineFailure>;

/// What a request's task has tried, kept outside the task: the one record of its
/// attempts, so that a task the deadline cuts (or a busy machine wakes late) still reports
/// the hosts it asked.
#[derive(Default)]
struct AttemptLog {
    done: Vec<Attempt>,
    /// The host being asked, and since when.
    in_flight: Option<(String, Instant)>,
}

impl AttemptLog {
    /// The attempts: those finished, and one still in flight (a task that did not
    /// report), cut at the deadline.
    fn attempts(&self) -> Vec<Attempt> {
        let mut attempts = self.done.clone();
        if let Some((host, since)) = &self.in_flight {
            attempts.push(Attempt {
                host: host.clone(),
                outcome: "cut at the deadline".into(),
                elapsed_ms: since.elapsed().as_secs_f64() * 1000.0,
            });
        }
        attempts
    }
}

impl Shared {
    async fn check_batch(
        self: Arc<Self>,
        inputs: Vec<String>,
        options: CheckOptions,
        started: Instant,
    ) -> Vec<OnlineVerdict> {
        if inputs.is_empty() {
            // Nothing was asked: neither a success nor a failure of the online service.
            return Vec::new();
        }
        if let Some(since) = self.outage_since() {
            let failure = OnlineFailure::new(
                FailureKind::Outage,
                format!(
                    "online checks failing since {}; probing in the background",
                    crate::time::format_rfc3339(since)
                ),
            );
            return inputs
                .iter()
                .map(|input| {
                    self.offline(input, &options, failure.clone(), true, Vec::new(), started)
                })
                .collect();
        }
        let budget = Duration::from_millis(self.config.budget_ms);
        let deadline = started + budget.saturating_sub(DEADLINE_RESERVE);
        // A code the parser cannot read is still sent: True API is the authority on
        // structures the parser does not know.
        let texts: Vec<String> = inputs
            .iter()
            .map(|i| code::normalised_text(i).unwrap_or_else(|_| i.trim().to_string()))
            .collect();
        let chunks: Vec<Vec<String>> = texts
            .chunks(self.config.batch_size)
            .map(|c| c.to_vec())
            .collect();
        let mut outcomes: Vec<Option<ChunkOutcome>> = vec![None; chunks.len()];
        let logs: Vec<Arc<Mutex<AttemptLog>>> = (0..chunks.len()).map(|_| Arc::default()).collect();
        let mut tasks = JoinSet::new();
        for (n, chunk) in chunks.into_iter().enumerate() {
            let me = self.clone();
            let log = logs[n].clone();
            tasks.spawn(async move { (n, me.ask_online(chunk, deadline, &log).await) });
        }
        // Every attempt is bounded by the deadline already, so this only bounds the rest;
        // the grace lets a task cut at the deadline report its attempts.
        let _ = tokio::time::timeout_at(deadline + REPORT_GRACE, async {
            while let Some(Ok((n, outcome))) = tasks.join_next().await {
                outcomes[n] = Some(outcome);
            }
        })
        .await;
        tasks.abort_all();

        let answered = outcomes.iter().any(|o| matches!(o, Some(Ok(_))));
        if answered {
            self.note_success();
        } else {
            self.note_failure();
        }
        let now = self.clock.now_ms();
        let mut verdicts = Vec::with_capacity(inputs.len());
        let mut inputs = inputs.into_iter();
        for (n, outcome) in outcomes.into_iter().enumerate() {
            let size = self
                .config
                .batch_size
                .min(texts.len() - n * self.config.batch_size);
            let chunk: Vec<String> = inputs.by_ref().take(size).collect();
            let attempts = lock(&logs[n]).attempts();
            let result = outcome.unwrap_or_else(|| {
                let detail = format!("no answer within {} ms", self.config.budget_ms);
                Err(OnlineFailure::new(FailureKind::Timeout, detail))
            });
            let response = result.and_then(|(host, response)| {
                if response.codes.len() == chunk.len() {
                    Ok((host, response))
                } else {
                    Err(OnlineFailure::new(
                        FailureKind::Malformed,
                        format!(
                            "{host} answered {} codes for {} sent",
                            response.codes.len(),
                            chunk.len()
                        ),
                    ))
                }
            });
            for (i, input) in chunk.into_iter().enumerate() {
                let verdict = match &response {
                    Ok((host, response)) => {
                        let entry = &response.codes[i];
                        match decide::online_denials(entry, &options, now) {
                            Ok(denials) => online_verdict(
                                input, host, response, entry, denials, &attempts, started,
                            ),
                            Err(e) => {
                                let failure = OnlineFailure::new(
                                    FailureKind::Malformed,
                                    format!("{host}: {e}"),
                                );
                                self.offline(
                                    &input,
                                    &options,
                                    failure,
                                    false,
                                    attempts.clone(),
                                    started,
                                )
                            }
                        }
                    }
                    Err(failure) => self.offline(
                        &input,
                        &options,
                        failure.clone(),
                        false,
                        attempts.clone(),
                        started,
                    ),
                };
                verdicts.push(verdict);
            }
        }
        verdicts
    }

    /// Asks the ranked hosts in turn until one answers, the rules say stop, or the deadline
    /// passes. 429 and 5xx are retried once on the same host; a host that fails is benched.
    async fn ask_online(
        &self,
        codes: Vec<String>,
        deadline: Instant,
        log: &Mutex<AttemptLog>,
    ) -> ChunkOutcome {
        let attempt_timeout = Duration::from_millis(self.config.attempt_timeout_ms);
        self.wait_ready(deadline).await;
        let hosts = self.pool.ranked(self.clock.now_ms());
        if hosts.is_empty() {
            let cause = lock(&self.host_list_error)
                .clone()
                .unwrap_or_else(|| "the CDN's host list has not arrived yet".into());
            let failure = OnlineFailure::new(
                FailureKind::NoHosts,
                format!("no True API host is known: {cause}"),
            );
            return Err(failure);
        }
        let mut failures = Vec::new();
        for host in hosts {
            for retry in [false, true] {
                let now = Instant::now();
                let remaining = deadline.saturating_duration_since(now);
                if remaining.is_zero() {
                    return Err(timeout_failure(&failures));
                }
                let limit = remaining.min(attempt_timeout);
                lock(log).in_flight = Some((host.clone(), now));
                let result = self.client.check(&host, &codes, limit).await;
                let outcome = match &result {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e.to_string(),
                };
                {
                    let mut log = lock(log);
                    log.in_flight = None;
                    log.done.push(Attempt {
                        host: host.clone(),
                        outcome: outcome.clone(),
                        elapsed_ms: now.elapsed().as_secs_f64() * 1000.0,
                    });
                }
                match result {
                    Ok(response) => return Ok((host, response)),
                    Err(AttemptError::Status { status: 401, body }) => {
                        let failure = OnlineFailure::new(
                            FailureKind::Unauthorized,
                            format!("{host}: HTTP 401 {body}"),
                        );
                        return Err(failure);
                    }
                    Err(AttemptError::Status { status, .. }) if status == 429 || status >= 500 => {
                        if retry {
                            failures.push(format!("{host}: {outcome}"));
                            self.bench(&host);
                        } else {
                            continue;
                        }
                    }
                    Err(e @ (AttemptError::Status { .. } | AttemptError::Service { .. })) => {
                        let failure =
                            OnlineFailure::new(FailureKind::Rejected, format!("{host}: {e}"));
                        return Err(failure);
                    }
                    Err(AttemptError::Timeout) if limit < attempt_timeout => {
                        // The deadline, not the host, cut this attempt short.
                        failures.push(format!("{host}: {outcome}"));
                        return Err(timeout_failure(&failures));
                    }
                    Err(_) => {
                        failures.push(format!("{host}: {outcome}"));
                        self.bench(&host);
                    }
                }
                break;
            }
        }
        let failure = OnlineFailure::new(FailureKind::AllHostsFailed, failures.join("; "));
        Err(failure)
    }

    /// Before the first ranking, waits for it a quarter of the budget at most (then the
    /// hosts are tried in the order known); with no host known at all, waits for the host
    /// list until the deadline.
    async fn wait_ready(&self, deadline: Instant) {
        let mut ready = self.ready.subscribe();
        let rank_by =
            deadline.min(Instant::now() + Duration::from_millis(self.config.budget_ms / 4));
        let _ = tokio::time::timeout_at(rank_by, ready.wait_for(|r| r.ranked)).await;
        if self.pool.is_empty() {
            // A host list that could not be fetched (refused, bad answer) will not arrive
            // within this budget: answer offline now instead of waiting out the budget.
            let _ = tokio::time::timeout_at(
                deadline,
                ready.wait_for(|r| r.hosts_known || r.list_failed),
            )
            .await;
        }
    }

    fn bench(&self, host: &str) {
        let until = self.clock.now_ms() + self.config.bench_ms as i64;
        self.pool.bench(host, until);
    }

    fn offline(
        &self,
        input: &str,
        options: &CheckOptions,
        failure: OnlineFailure,
        outage_mode: bool,
        attempts: Vec<Attempt>,
        started: Instant,
    ) -> OnlineVerdict {
        let req_id = uuid::Uuid::new_v4();
        let now = self.clock.now_ms();
        let (offline, offline_error, denials, version) = match self.offline.explain(input, options)
        {
            Ok(verdict) => {
                let denials = decide::offline_denials(&verdict);
                let version = verdict.index_version.clone();
                (Some(verdict), None, denials, version)
            }
            Err(e) => {
                let version = self.offline.generation().index().manifest().version.clone();
                (
                    None,
                    Some(e.to_string()),
                    vec![Denial::OfflineUnavailable],
                    version,
                )
            }
        };
        let allowed = denials.is_empty();
        OnlineVerdict {
            input: input.to_string(),
            answered_by: AnsweredBy::Offline,
            decision: if allowed {
                SaleDecision::Allowed
            } else {
                SaleDecision::Denied
            },
            denials,
            marker: allowed.then_some(ReceiptMarker::Unconfirmed),
            tag_1265: format!(
                "UUID={req_id}&Time={now}&Inst={}&Ver={version}",
                self.instance
            ),
            online_failure: Some(failure),
            outage_mode,
            online: None,
            offline,
            offline_error,
            attempts,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    fn outage_since(&self) -> Option<i64> {
        let since = *lock(&self.failing_since);
        let outage_after = self.config.outage_after_ms as i64;
        since.filter(|&s| self.clock.now_ms() - s >= outage_after)
    }

    fn note_failure(&self) {
        let now = self.clock.now_ms();
        lock(&self.failing_since).get_or_insert(now);
    }

    fn note_success(&self) {
        *lock(&self.failing_since) = None;
    }

    /// Fetches the CDN's host list (unless hosts are configured) and health-checks them all.
    async fn refresh_hosts(&self) -> Result<usize, AttemptError> {
        let timeout = Duration::from_millis(self.config.health_timeout_ms);
        if self.config.hosts.is_empty() {
            let listed = match self.client.cdn_hosts(&self.config.cdn_url, timeout).await {
                Ok(hosts) if hosts.is_empty() => {
                    Err(AttemptError::Malformed("the CDN lists no hosts".into()))
                }
                other => other,
            };
            let hosts = match listed {
                Ok(hosts) => hosts,
                Err(e) => {
                    *lock(&self.host_list_error) = Some(format!(
                        "the CDN's host list ({}) could not be fetched: {e}",
                        self.config.cdn_url
                    ));
                    // Hosts known from an earlier list stay in use.
                    self.ready.send_modify(|r| {
                        r.list_failed = true;
                        r.ranked = true;
                    });
                    return Err(e);
                }
            };
            self.pool.replace(&hosts);
            *lock(&self.host_list_error) = None;
            self.ready.send_modify(|r| r.hosts_known = true);
        }
        let healthy = self.health_check_all().await;
        self.ready.send_modify(|r| r.ranked = true);
        Ok(healthy)
    }

    /// Health-checks every host at once: a healthy one is ranked by its `avgTimeMs`, a
    /// failing one benched. Returns how many are healthy.
    async fn health_check_all(&self) -> usize {
        let timeout = Duration::from_millis(self.config.health_timeout_ms);
        let mut checks = JoinSet::new();
        for host in self.pool.snapshot() {
            let client = self.client.clone();
            checks.spawn(async move {
                let result = client.health(&host.url, timeout).await;
                (host.url, result)
            });
        }
        let mut healthy = 0;
        while let Some(Ok((url, result))) = checks.join_next().await {
            match result {
                Ok(avg) => {
                    self.pool.healthy(&url, avg);
                    healthy += 1;
                }
                Err(_) => self.bench(&url),
            }
        }
        healthy
    }

    async fn refresh_loop(self: Arc<Self>) {
        const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
        // The first refresh at once; with no host known, retry soon.
        let mut wait = Duration::ZERO;
        loop {
            tokio::time::sleep(wait).await;
            wait = match self.refresh_hosts().await {
                Err(_) if self.pool.is_empty() => Duration::from_secs(1),
                Ok(_) => Duration::from_millis(self.config.cdn_refresh_ms),
                Err(_) => {
                    RETRY_AFTER_FAILURE.min(Duration::from_millis(self.config.cdn_refresh_ms))
                }
            };
        }
    }

    async fn probe_loop(self: Arc<Self>) {
        let every = Duration::from_millis(self.config.probe_interval_ms);
        loop {
            tokio::time::sleep(every).await;
            if self.outage_since().is_some() {
                self.clone().probe().await;
            }
        }
    }

    /// Asks every host (benched or not) whether it is healthy; one healthy host ends the
    /// run of failures.
    async fn probe(self: Arc<Self>) -> bool {
        if self.pool.is_empty() && self.refresh_hosts().await.is_err() {
            return false;
        }
        let recovered = self.health_check_all().await > 0;
        if recovered {
            self.note_success();
        }
        recovered
    }
}

/// A mutex whose data stays valid after every statement that changes it, so a panic
/// elsewhere does not make it unusable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn timeout_failure(failures: &[String]) -> OnlineFailure {
    let mut detail = "the online budget ran out".to_string();
    if !failures.is_empty() {
        detail.push_str(" after: ");
        detail.push_str(&failures.join("; "));
    }
    OnlineFailure::new(FailureKind::Timeout, detail)
}

fn online_verdict(
    input: String,
    host: &str,
    response: &CheckResponse,
    entry: &serde_json::Value,
    denials: Vec<Denial>,
    attempts: &[Attempt],
    started: Instant,
) -> OnlineVerdict {
    let allowed = denials.is_empty();
    OnlineVerdict {
        input,
        answered_by: AnsweredBy::Online,
        decision: if allowed {
            SaleDecision::Allowed
        } else {
            SaleDecision::Denied
        },
        denials,
        marker: allowed.then_some(ReceiptMarker::Confirmed),
        tag_1265: format!("UUID={}&Time={}", response.req_id, response.req_timestamp),
        online_failure: None,
        outage_mode: false,
        online: Some(OnlineAnswer {
            host: host.to_string(),
            req_id: response.req_id.clone(),
            req_timestamp: response.req_timestamp,
            fields: entry.clone(),
        }),
        offline: None,
        offline_error: None,
        attempts: attempts.to_vec(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_cut_at_the_deadline_still_reports_the_hosts_it_asked() {
        let mut log = AttemptLog::default();
        assert!(log.attempts().is_empty());
        log.done.push(Attempt {
            host: "https://a".into(),
            outcome: "timed out".into(),
            elapsed_ms: 800.0,
        });
        log.in_flight = Some(("https://b".into(), Instant::now()));
        let attempts = log.attempts();
        let hosts: Vec<_> = attempts.iter().map(|a| a.host.as_str()).collect();
        assert_eq!(hosts, ["https://a", "https://b"]);
        assert_eq!(attempts[1].outcome, "cut at the deadline");
    }
}
