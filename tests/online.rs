//! The online adapter against a scripted True API + CDN emulator on loopback.

#![cfg(all(feature = "online", feature = "cli"))]

mod common;
mod online_emulator;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cisgate::CheckOptions;
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::online::{
    AnsweredBy, Denial, FailureKind, ManualClock, OnlineChecker, OnlineConfig, OnlineVerdict,
    ReceiptMarker, SaleDecision,
};
use online_emulator::{Host, Reply, check_answer, dead_url, healthy, sellable};
use serde_json::json;

/// Not on the offline list.
const FREE: &str = "0104600439931256215abcdEFGH1234\u{1d}93dGVz";
/// On the offline blocked list.
const LISTED: &str = "0104600439931256215zzzzzzzzzzzz\u{1d}93dGVz";
const BUDGET: Duration = Duration::from_millis(1500);
const SLACK: Duration = Duration::from_millis(50);
const HOUR: i64 = 3600 * 1000;

struct Setup {
    _dir: tempfile::TempDir,
    offline: Arc<LiveIndex>,
}

fn setup_with_as_of(as_of_ms: i64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let out = common::blocked_cis_index(
        dir.path(),
        "77",
        as_of_ms,
        &["0104600439931256215zzzzzzzzzzzz"],
    );
    let offline = Arc::new(LiveIndex::open(&out, LiveOptions::default()).unwrap());
    Setup { _dir: dir, offline }
}

fn setup() -> Setup {
    setup_with_as_of(cisgate::time::now_ms())
}

fn config(hosts: &[&str]) -> OnlineConfig {
    OnlineConfig {
        token: Some("test-token".into()),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        fiscal_drive_number: Some("7281440500012345".into()),
        ..Default::default()
    }
}

fn checker(setup: &Setup, config: OnlineConfig) -> OnlineChecker {
    OnlineChecker::builder(config, setup.offline.clone())
        .build()
        .unwrap()
}

/// A host that is healthy and answers checks with `entry` for every code.
fn host_with(entry: fn(&str) -> serde_json::Value) -> Host {
    Host::start(move |r| {
        if r.is_health() {
            healthy(30)
        } else {
            check_answer(r, "5a1b2c3d-0000-4000-8000-000000000001", entry)
        }
    })
}

/// A host whose health check passes but whose checks get `reply`.
fn host_replying(reply: Reply) -> Host {
    Host::start(move |r| {
        if r.is_health() {
            healthy(10)
        } else {
            reply.clone()
        }
    })
}

/// Checks `code` and asserts the call kept to the budget.
fn timed_check(checker: &OnlineChecker, code: &str) -> OnlineVerdict {
    let started = Instant::now();
    let verdict = checker.check(code, &CheckOptions::default());
    let took = started.elapsed();
    assert!(
        took <= BUDGET + SLACK,
        "the call took {took:?}, over the budget: {verdict:#?}"
    );
    verdict
}

fn assert_offline(verdict: &OnlineVerdict, kind: FailureKind) {
    assert_eq!(verdict.answered_by, AnsweredBy::Offline, "{verdict:#?}");
    assert_eq!(
        verdict.online_failure.as_ref().map(|f| f.kind),
        Some(kind),
        "{verdict:#?}"
    );
    assert!(verdict.offline.is_some());
    let tag = &verdict.tag_1265;
    assert!(
        tag.starts_with("UUID=") && tag.contains("&Time=") && tag.contains("&Inst="),
        "{tag}"
    );
    assert!(tag.ends_with("&Ver=77"), "{tag}");
}

#[test]
fn online_answers_with_every_denial_reason_in_crpt_order() {
    let setup = setup();
    let host = host_with(sellable);
    let checker = checker(&setup, config(&[&host.url]));

    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.answered_by, AnsweredBy::Online);
    assert_eq!(verdict.decision, SaleDecision::Allowed);
    assert_eq!(verdict.marker, Some(ReceiptMarker::Confirmed));
    assert_eq!(
        verdict.tag_1265,
        "UUID=5a1b2c3d-0000-4000-8000-000000000001&Time=1795428000123"
    );
    assert_eq!(
        verdict.online.as_ref().unwrap().fields["groupIds"],
        json!([3])
    );

    // The request: token, fiscal drive, full КМ with GS escaped as \u001d.
    let request = host.requests().into_iter().find(|r| r.is_check()).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("X-API-KEY"), Some("test-token"));
    let raw = String::from_utf8(request.body.clone()).unwrap();
    assert!(
        raw.contains(r"0104600439931256215abcdEFGH1234\u001d93dGVz"),
        "{raw}"
    );
    assert_eq!(request.json()["fiscalDriveNumber"], "7281440500012345");

    // The offline list does not decide when online answered.
    let listed = timed_check(&checker, LISTED);
    assert_eq!(listed.answered_by, AnsweredBy::Online);
    assert_eq!(listed.decision, SaleDecision::Allowed);

    let cases: [(&str, serde_json::Value, Denial); 8] = [
        ("valid", json!(false), Denial::InvalidCode),
        ("found", json!(false), Denial::NotFound),
        ("utilised", json!(false), Denial::NotUtilised),
        ("verified", json!(false), Denial::NotVerified),
        ("isBlocked", json!(true), Denial::Blocked),
        ("sold", json!(true), Denial::Sold),
        ("realizable", json!(false), Denial::NotRealizable),
        (
            "expireDate",
            json!("2020-01-01T00:00:00.000Z"),
            Denial::Expired,
        ),
    ];
    for (field, value, denial) in cases {
        let (f, v) = (field.to_string(), value.clone());
        host.set(move |r| {
            if r.is_health() {
                return healthy(30);
            }
            check_answer(r, "5a1b2c3d-0000-4000-8000-000000000002", |cis| {
                let mut e = sellable(cis);
                e[&f] = v.clone();
                e
            })
        });
        let verdict = timed_check(&checker, FREE);
        assert_eq!(verdict.answered_by, AnsweredBy::Online, "{field}");
        assert_eq!(verdict.decision, SaleDecision::Denied, "{field}");
        assert_eq!(verdict.denials, [denial], "{field}");
        assert_eq!(verdict.marker, None, "{field}");
        assert!(verdict.tag_1265.starts_with("UUID=5a1b2c3d"), "{field}");
    }

    // Several at once come in CRPT's order; prices are compared when given.
    host.set(|r| {
        if r.is_health() {
            return healthy(30);
        }
        check_answer(r, "5a1b2c3d-0000-4000-8000-000000000003", |cis| {
            let mut e = sellable(cis);
            e["sold"] = json!(true);
            e["isBlocked"] = json!(true);
            e["mrp"] = json!(15000);
            e["smp"] = json!(9000);
            e
        })
    });
    let with_price = |kopecks| CheckOptions {
        price_kopecks: Some(kopecks),
    };
    let verdict = checker.check(FREE, &with_price(16000));
    assert_eq!(
        verdict.denials,
        [Denial::Blocked, Denial::Sold, Denial::AboveMaxPrice]
    );
    let verdict = checker.check(FREE, &with_price(8000));
    assert_eq!(
        verdict.denials,
        [Denial::Blocked, Denial::Sold, Denial::BelowMinPrice]
    );
}

#[test]
fn a_hanging_host_is_benched_and_the_offline_index_answers_within_budget() {
    let setup = setup();
    let hanging = host_replying(Reply::Hang);
    let checker = checker(&setup, config(&[&hanging.url]));
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::AllHostsFailed);
    assert_eq!(verdict.decision, SaleDecision::Allowed);
    assert_eq!(verdict.marker, Some(ReceiptMarker::Unconfirmed));
    assert!(checker.hosts()[0].benched_until_ms.is_some());

    let listed = timed_check(&checker, LISTED);
    assert_offline(&listed, FailureKind::AllHostsFailed);
    assert_eq!(listed.decision, SaleDecision::Denied);
    assert_eq!(listed.denials, [Denial::Blocked]);
    assert_eq!(listed.marker, None);

    // Two hanging hosts: the second gets what is left of the budget, then time is up.
    let second = host_replying(Reply::Hang);
    let checker = self::checker(&setup, config(&[&hanging.url, &second.url]));
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::Timeout);
    assert_eq!(verdict.attempts.len(), 2);
    assert!(verdict.elapsed_ms >= 1400.0, "{}", verdict.elapsed_ms);
}

#[test]
fn a_slow_trickle_does_not_stretch_the_budget() {
    let setup = setup();
    let body = json!({"code": 0, "reqId": "x", "reqTimestamp": 1, "codes": [sellable("x")]});
    let slow = host_replying(Reply::Trickle(
        200,
        body.to_string(),
        Duration::from_millis(40),
    ));
    let fast = host_with(sellable);
    let mut config = config(&[&slow.url, &fast.url]);
    config.attempt_timeout_ms = 600;
    let checker = checker(&setup, config);
    // The slow host's health says 10 ms, the fast one's 30: the slow one goes first.
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.answered_by, AnsweredBy::Online, "{verdict:#?}");
    assert_eq!(verdict.online.as_ref().unwrap().host, fast.url);
    assert_eq!(verdict.attempts[0].outcome, "no answer in time");

    // Alone, it costs the budget and no more.
    let checker = self::checker(&setup, self::config(&[&slow.url]));
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::AllHostsFailed);
}

#[test]
fn server_errors_retry_once_then_move_to_the_next_host() {
    let setup = setup();
    let failing = host_replying(Reply::Json(503, r#"{"error":"busy"}"#.into()));
    let good = host_with(sellable);
    let checker = checker(&setup, config(&[&failing.url, &good.url]));
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.answered_by, AnsweredBy::Online, "{verdict:#?}");
    assert_eq!(verdict.online.as_ref().unwrap().host, good.url);
    assert_eq!(failing.checks(), 2, "one retry on the same host");
    let hosts: Vec<&str> = verdict.attempts.iter().map(|a| a.host.as_str()).collect();
    assert_eq!(hosts, [&failing.url, &failing.url, &good.url]);
    // Benched: the next call goes straight to the good host.
    let benched = checker.hosts();
    assert!(
        benched
            .iter()
            .any(|h| h.url == failing.url && h.benched_until_ms.is_some())
    );
    timed_check(&checker, FREE);
    assert_eq!(failing.checks(), 2);

    // 429 once, then an answer from the same host.
    let flaky = Host::start({
        let calls = std::sync::atomic::AtomicUsize::new(0);
        move |r| {
            if r.is_health() {
                return healthy(5);
            }
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::Json(429, "{}".into())
            } else {
                check_answer(r, "7e000000-0000-4000-8000-000000000000", sellable)
            }
        }
    });
    let checker = self::checker(&setup, config(&[&flaky.url, &good.url]));
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.online.as_ref().unwrap().host, flaky.url);
    assert_eq!(verdict.attempts.len(), 2);
    assert!(verdict.attempts[0].outcome.starts_with("HTTP 429"));
}

#[test]
fn unauthorized_stops_at_once() {
    let setup = setup();
    let denied = host_replying(Reply::Json(401, r#"{"error":"token expired"}"#.into()));
    let good = host_with(sellable);
    let checker = checker(&setup, config(&[&denied.url, &good.url]));
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::Unauthorized);
    assert_eq!(good.checks(), 0, "401 must not move on to other hosts");
    assert_eq!(denied.checks(), 1, "401 is not retried");
    assert!(checker.hosts().iter().all(|h| h.benched_until_ms.is_none()));

    // Other 4xx stop as well.
    denied.set(|r| {
        if r.is_health() {
            healthy(10)
        } else {
            Reply::Json(400, r#"{"error":"bad"}"#.into())
        }
    });
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::Rejected);
    assert_eq!(good.checks(), 0);
}

#[test]
fn malformed_answers() {
    let setup = setup();
    let garbage = host_replying(Reply::Json(200, "<html>gateway</html>".into()));
    let good = host_with(sellable);
    let checker = checker(&setup, config(&[&garbage.url, &good.url]));
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.online.as_ref().unwrap().host, good.url);
    assert!(verdict.attempts[0].outcome.starts_with("malformed answer"));

    // Nothing but garbage: offline.
    let checker = self::checker(&setup, config(&[&garbage.url]));
    assert_offline(&timed_check(&checker, FREE), FailureKind::AllHostsFailed);

    // Well-formed JSON missing a flag the rules need: offline, never a default "allowed".
    good.set(|r| {
        if r.is_health() {
            return healthy(30);
        }
        check_answer(r, "id", |cis| {
            let mut e = sellable(cis);
            e.as_object_mut().unwrap().remove("verified");
            e
        })
    });
    let checker = self::checker(&setup, config(&[&good.url]));
    let verdict = timed_check(&checker, LISTED);
    assert_offline(&verdict, FailureKind::Malformed);
    assert_eq!(verdict.decision, SaleDecision::Denied);

    // A wrong number of entries.
    good.set(|r| {
        if r.is_health() {
            return healthy(30);
        }
        let body = json!({"code": 0, "reqId": "id", "reqTimestamp": 1, "codes": []});
        Reply::Json(200, body.to_string())
    });
    assert_offline(&timed_check(&checker, FREE), FailureKind::Malformed);
}

#[test]
fn all_hosts_down_answers_offline_at_once() {
    let setup = setup();
    // Refused connections: the start-up health checks bench both hosts, so every host is
    // benched, the marks reset and both are tried.
    let checker = checker(&setup, config(&[&dead_url(), &dead_url()]));
    let started = Instant::now();
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::AllHostsFailed);
    assert_eq!(verdict.attempts.len(), 2);
    assert!(started.elapsed() < Duration::from_millis(500));

    // A host that is healthy but resets every check; the dead one stays benched.
    let reset = host_replying(Reply::Reset);
    let checker = self::checker(&setup, config(&[&dead_url(), &reset.url]));
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::AllHostsFailed);
    assert_eq!(verdict.attempts.len(), 1);
    assert_eq!(verdict.attempts[0].host, reset.url);
}

#[test]
fn benched_hosts_come_back_after_15_minutes_and_all_benched_resets() {
    let setup = setup();
    let clock = Arc::new(ManualClock::new(cisgate::time::now_ms()));
    let first = host_replying(Reply::Json(500, "{}".into()));
    let second = host_with(sellable);
    let checker = OnlineChecker::builder(config(&[&first.url, &second.url]), setup.offline.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    timed_check(&checker, FREE);
    assert_eq!(first.checks(), 2);
    clock.advance(14 * 60 * 1000);
    timed_check(&checker, FREE);
    assert_eq!(first.checks(), 2, "still benched after 14 minutes");
    clock.advance(60 * 1000);
    timed_check(&checker, FREE);
    assert_eq!(first.checks(), 4, "tried again after 15 minutes");

    // Both fail: both benched, and the next call resets the marks and tries both again.
    second.set(|r| {
        if r.is_health() {
            healthy(30)
        } else {
            Reply::Json(502, "{}".into())
        }
    });
    clock.advance(15 * 60 * 1000);
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::AllHostsFailed);
    assert!(checker.hosts().iter().all(|h| h.benched_until_ms.is_some()));
    let before = (first.checks(), second.checks());
    timed_check(&checker, FREE);
    assert_eq!(
        (first.checks(), second.checks()),
        (before.0 + 2, before.1 + 2)
    );
}

#[test]
fn a_long_outage_skips_online_until_the_probe_sees_a_host_again() {
    let setup = setup();
    let clock = Arc::new(ManualClock::new(cisgate::time::now_ms()));
    // Checks and health checks alike fail.
    let host = Host::start(|_| Reply::Json(503, "{}".into()));
    let mut config = config(&[&host.url]);
    config.probe_interval_ms = 50;
    let checker = OnlineChecker::builder(config, setup.offline.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let verdict = timed_check(&checker, FREE);
    assert!(!verdict.outage_mode);
    clock.advance(HOUR + 59 * 60 * 1000);
    let verdict = timed_check(&checker, FREE);
    assert!(
        !verdict.outage_mode,
        "1 h 59 min of failures is not an outage yet"
    );
    let asked = host.checks();
    assert!(asked >= 4);

    clock.advance(60 * 1000);
    let started = Instant::now();
    let verdict = checker.check(FREE, &CheckOptions::default());
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "no budget spent in an outage"
    );
    assert!(verdict.outage_mode);
    assert_offline(&verdict, FailureKind::Outage);
    assert_eq!(verdict.marker, Some(ReceiptMarker::Unconfirmed));
    assert_eq!(host.checks(), asked, "no online request in outage mode");
    assert!(checker.outage_since_ms().is_some());
    let listed = checker.check(LISTED, &CheckOptions::default());
    assert_eq!(listed.denials, [Denial::Blocked]);

    // The host recovers; the background probe notices and online checks resume.
    host.set(|r| {
        if r.is_health() {
            healthy(25)
        } else {
            check_answer(r, "ok", sellable)
        }
    });
    let waited = Instant::now();
    while checker.outage_since_ms().is_some() {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "the probe never noticed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.answered_by, AnsweredBy::Online);
    assert_eq!(verdict.marker, Some(ReceiptMarker::Confirmed));
    assert!(!verdict.outage_mode);
}

#[test]
fn hosts_come_from_the_cdn_fastest_first() {
    let setup = setup();
    let slow = Host::start(|r| {
        if r.is_health() {
            healthy(400)
        } else {
            check_answer(r, "slow", sellable)
        }
    });
    let fast = Host::start(|r| {
        if r.is_health() {
            healthy(12)
        } else {
            check_answer(r, "fast", sellable)
        }
    });
    let sick = Host::start(|_| Reply::Json(200, json!({"code": 1, "avgTimeMs": 1}).to_string()));
    let hosts =
        json!({"code": 0, "hosts": [{"host": slow.url}, {"host": sick.url}, {"host": fast.url}]});
    let cdn = Host::start(move |r| {
        if r.path == "/api/v4/true-api/cdn/info" {
            Reply::Json(200, hosts.to_string())
        } else {
            Reply::Json(404, "{}".into())
        }
    });
    let mut config = config(&[]);
    config.cdn_url = cdn.url.clone();
    let checker = checker(&setup, config);
    // The first check waits (inside its budget) for the list and the ranking.
    let verdict = timed_check(&checker, FREE);
    assert_eq!(cdn.requests()[0].header("X-API-KEY"), Some("test-token"));
    assert_eq!(verdict.online.as_ref().unwrap().host, fast.url);
    let status = checker.hosts();
    assert_eq!(status.len(), 3);
    assert!(
        status
            .iter()
            .any(|h| h.url == sick.url && h.benched_until_ms.is_some())
    );
}

/// A resolver that never answers, like a DNS server that has gone silent.
struct HangingDns;

impl reqwest::dns::Resolve for HangingDns {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            let none: Vec<SocketAddr> = Vec::new();
            Ok(Box::new(none.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[test]
fn hanging_dns_stays_within_budget() {
    let setup = setup();
    let checker = OnlineChecker::builder(
        config(&[
            "http://api.true.invalid",
            "http://api2.true.invalid",
            "http://api3.true.invalid",
            "http://api4.true.invalid",
        ]),
        setup.offline.clone(),
    )
    .resolver(Arc::new(HangingDns))
    .build()
    .unwrap();
    // The connect timeout (500 ms) covers name resolution: four hosts would take 2 s.
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::Timeout);
    assert_eq!(verdict.attempts.len(), 3, "{verdict:#?}");
}

#[test]
fn batches_split_into_requests_and_keep_order() {
    let setup = setup();
    let host = host_with(|cis| {
        let mut e = sellable(cis);
        if cis.contains("BLOCKED") {
            e["isBlocked"] = json!(true);
        }
        e
    });
    let mut config = config(&[&host.url]);
    config.batch_size = 100;
    let checker = checker(&setup, config);
    let codes: Vec<String> = (0..250)
        .map(|i| {
            let serial = if i % 7 == 0 {
                format!("BLOCKED{i:06}")
            } else {
                format!("free{i:09}")
            };
            format!("0104600439931256215{serial:.13}\u{1d}93dGVz")
        })
        .collect();
    let none: [&str; 0] = [];
    assert!(
        checker
            .check_batch(&none, &CheckOptions::default())
            .is_empty()
    );
    assert_eq!(host.checks(), 0);
    let started = Instant::now();
    let verdicts = checker.check_batch(&codes, &CheckOptions::default());
    assert!(started.elapsed() <= BUDGET + SLACK);
    assert_eq!(verdicts.len(), 250);
    assert_eq!(host.checks(), 3);
    for (i, v) in verdicts.iter().enumerate() {
        assert_eq!(v.input, codes[i]);
        assert_eq!(v.answered_by, AnsweredBy::Online);
        assert_eq!(v.is_denied(), i % 7 == 0, "{i}");
    }
}

#[test]
fn stale_offline_data_denies_rather_than_allowing_unchecked() {
    let setup = setup_with_as_of(cisgate::time::now_ms() - 100 * HOUR);
    let checker = checker(&setup, config(&[&dead_url()]));
    let verdict = timed_check(&checker, FREE);
    assert_eq!(verdict.answered_by, AnsweredBy::Offline);
    assert_eq!(verdict.denials, [Denial::OfflineUnavailable]);
    assert!(
        verdict
            .offline_error
            .as_ref()
            .unwrap()
            .contains("h old, over the allowed")
    );
    assert!(verdict.tag_1265.ends_with("&Ver=77"));
}

#[test]
fn cli_check_online() {
    let setup = setup();
    let host = host_with(sellable);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("online.json");
    let write_config = |hosts: &[&str]| {
        let body = json!({"token": "test-token", "hosts": hosts, "budget_ms": 1500});
        std::fs::write(&config, body.to_string()).unwrap();
    };
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
            .args(["check", "--index"])
            .arg(setup.offline.dir())
            .arg("--online")
            .arg(&config)
            .args([FREE, LISTED])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    write_config(&[&host.url]);
    let lines = run();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["answered_by"], "online");
        assert_eq!(line["marker"], "[M+]");
    }
    assert_eq!(host.checks(), 1, "both codes in one request");

    let dead = dead_url();
    write_config(&[&dead]);
    let lines = run();
    assert_eq!(lines[0]["answered_by"], "offline");
    assert_eq!(lines[0]["marker"], "[M]");
    assert_eq!(lines[0]["online_failure"]["kind"], "all_hosts_failed");
    assert_eq!(lines[1]["decision"], "denied");
    assert_eq!(lines[1]["denials"], json!(["blocked"]));

    std::fs::write(&config, r#"{"token": "t", "budget": 5}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["check", "--index"])
        .arg(setup.offline.dir())
        .arg("--online")
        .arg(&config)
        .arg(FREE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("online.json") && stderr.contains("budget"),
        "{stderr}"
    );
}

/// Runs `cisgate check --online` on one code with `config` and returns the parsed line and
/// the time from spawning the process to its exit.
fn cli_check_timed(setup: &Setup, config: serde_json::Value) -> (serde_json::Value, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cisgate"))
        .args(["check", "--no-verify", "--index"])
        .arg(setup.offline.dir())
        .arg("--online")
        .arg(&path)
        .arg(FREE)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    (line, took)
}

#[test]
fn the_first_scan_is_answered_within_the_budget_from_process_start() {
    let setup = setup();
    let hanging = Host::start(|_| Reply::Hang);
    let trickling = Host::start(|r| {
        if r.is_health() {
            Reply::Trickle(
                200,
                "{\"code\":0,\"avgTimeMs\":5}".into(),
                Duration::from_millis(300),
            )
        } else {
            Reply::Trickle(200, "{\"code\":0}".repeat(20), Duration::from_millis(100))
        }
    });
    let hanging_cdn = Host::start(|_| Reply::Hang);
    let listed = json!({"code": 0, "hosts": [{"host": hanging.url}, {"host": trickling.url}]});
    let cdn_of_hanging_hosts = Host::start(move |r| {
        if r.path == "/api/v4/true-api/cdn/info" {
            Reply::Json(200, listed.to_string())
        } else {
            Reply::Hang
        }
    });
    let base = json!({"token": "test-token", "budget_ms": 1500, "health_timeout_ms": 1500});
    let with = |extra: serde_json::Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let cases = [
        ("a hanging host", with(json!({"hosts": [hanging.url]}))),
        ("a trickling host", with(json!({"hosts": [trickling.url]}))),
        ("a hanging CDN", with(json!({"cdn_url": hanging_cdn.url}))),
        (
            "a CDN listing hanging hosts",
            with(json!({"cdn_url": cdn_of_hanging_hosts.url})),
        ),
    ];
    for (name, config) in cases {
        let (line, took) = cli_check_timed(&setup, config);
        eprintln!(
            "{name}: exited {took:?} after start, elapsed_ms {}",
            line["elapsed_ms"]
        );
        assert!(
            took <= BUDGET + Duration::from_millis(100),
            "{name}: answered and exited {took:?} after the process started: {line}"
        );
        assert_eq!(line["answered_by"], "offline", "{name}: {line}");
        assert_eq!(line["decision"], "allowed", "{name}: {line}");
        assert_eq!(line["marker"], "[M]", "{name}: {line}");
        assert!(
            line["elapsed_ms"].as_f64().unwrap() <= 1500.0,
            "{name}: {line}"
        );
    }
}

#[test]
fn an_unreachable_cdn_is_reported_with_its_cause() {
    let setup = setup();
    let mut config = config(&[]);
    config.cdn_url = dead_url();
    let checker = checker(&setup, config);
    let verdict = timed_check(&checker, FREE);
    assert_offline(&verdict, FailureKind::NoHosts);
    // A refused host list does not make the till wait out the budget for it.
    assert!(
        verdict.elapsed_ms < BUDGET.as_secs_f64() * 1000.0 / 2.0,
        "{verdict:#?}"
    );
    let detail = &verdict.online_failure.as_ref().unwrap().detail;
    assert!(
        detail.contains("host list")
            && detail.contains("could not be fetched")
            && detail.contains("onnect"),
        "{detail}"
    );
}
