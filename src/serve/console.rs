//! The chain's console: every store of the fleet on one page, the same facts as JSON, and
//! alerts when a store or the builder needs someone (`cisgate fleet --serve`).
//!
//! It reads the fleet's status reports every `every` seconds ([`crate::distribute::fleet`]),
//! judges each store (stale, frozen, silent, failing, or behind the channel for longer than
//! the bound) and each builder (silent, not publishing), sends one alert per change of
//! condition and one when it clears ([`crate::distribute::alert`]), and serves a page in
//! the store status page's style: no script, no external asset, times in the chain's
//! time zone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ServeError;
use super::page::{STYLE, esc};
use super::state::log;
use crate::distribute::alert::{AlertBook, Alerter};
use crate::distribute::{
    FleetNode, FleetReport, NodeState, NodeStatus, Remote, TransferPolicy, fleet,
};
use crate::time::TimeZone;

/// How the console judges and alerts.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    /// The channel the stores follow.
    pub channel: String,
    /// Read the reports this often.
    pub every: Duration,
    /// A store whose data is older than this is stale.
    pub max_age_ms: i64,
    /// A store or builder that has not reported for this long is silent.
    pub silent_after_ms: i64,
    /// A store behind the channel for longer than this is alerted.
    pub behind_after_ms: i64,
    /// A builder whose last publish is older than this is not publishing.
    pub publish_stall_ms: i64,
    /// The chain's time zone, for the page.
    pub tz: TimeZone,
    /// The page's title.
    pub name: String,
}

/// What the page shows: the last report, when it was read, and its error if the last
/// read failed.
#[derive(Default)]
struct Seen {
    report: Option<FleetReport>,
    read_ms: i64,
    error: Option<String>,
}

struct Console {
    options: ConsoleOptions,
    seen: Mutex<Seen>,
}

/// The condition a store is alerted for, if any.
pub fn store_condition(node: &FleetNode, behind_after_ms: i64) -> Option<&'static str> {
    match node.state {
        NodeState::Behind if node.lag_ms.is_some_and(|l| l > behind_after_ms) => Some("behind"),
        NodeState::Behind | NodeState::Current => None,
        state => Some(state.name()),
    }
}

/// The condition a builder is alerted for, if any.
pub fn builder_condition(
    b: &NodeStatus,
    now: i64,
    options: &ConsoleOptions,
) -> Option<&'static str> {
    if now - b.reported_ms > options.silent_after_ms {
        return Some("silent");
    }
    let last = b
        .builder
        .as_ref()
        .and_then(|s| s.last_publish_ms)
        .or(b.last_success_ms);
    if last.is_none_or(|t| now - t > options.publish_stall_ms) {
        return Some("not_publishing");
    }
    None
}

fn describe(subject: &str, condition: Option<&str>, previous: Option<&str>) -> String {
    let ru = |c: &str| match c {
        "stale" => "данные устарели, офлайн-продажи запрещены",
        "frozen" => "указатель канала истёк, обновления не принимаются",
        "silent" => "не выходит на связь",
        "failing" => "обновление не удаётся",
        "behind" => "отстаёт от канала",
        "not_publishing" => "сборщик не публикует",
        _ => "требует внимания",
    };
    match condition {
        Some(c) => format!("{subject}: {} / {subject}: {c}", ru(c)),
        None => format!(
            "{subject}: снова в порядке (было: {}) / {subject}: recovered from {}",
            previous.map_or("—", ru),
            previous.unwrap_or("-")
        ),
    }
}

/// One look at the fleet: the report read, every store's and builder's condition observed,
/// alerts sent. Returns the report.
pub fn look(
    remote: &Remote,
    options: &ConsoleOptions,
    alerts: Option<&mut (Alerter, AlertBook)>,
) -> Result<FleetReport, crate::distribute::DistributeError> {
    let now = crate::time::now_ms();
    let report = fleet(
        remote,
        &options.channel,
        &TransferPolicy::default(),
        now,
        options.max_age_ms,
        options.silent_after_ms,
    )?;
    if let Some((alerter, book)) = alerts {
        let mut observed: Vec<(String, Option<&str>)> = report
            .nodes
            .iter()
            .map(|n| {
                (
                    n.status.node.clone(),
                    store_condition(n, options.behind_after_ms),
                )
            })
            .collect();
        observed.extend(
            report
                .builders
                .iter()
                .map(|b| (b.node.clone(), builder_condition(b, now, options))),
        );
        for (subject, condition) in observed {
            let alert = book.observe(&subject, condition, |c, p| describe(&subject, c, p))?;
            if let Some(alert) = alert {
                for failure in alerter.send(&alert) {
                    log("alert_failed", serde_json::json!({"error": failure}));
                }
            }
        }
    }
    Ok(report)
}

/// Runs the console: reads and alerts every `options.every` on a thread of its own, and
/// serves the page on `listen` until `shutdown` resolves.
pub async fn run_console(
    listen: &str,
    remote: Remote,
    options: ConsoleOptions,
    mut alerts: Option<(Alerter, AlertBook)>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let console = Arc::new(Console {
        options: options.clone(),
        seen: Mutex::new(Seen::default()),
    });
    let watcher = Arc::clone(&console);
    std::thread::Builder::new()
        .name("cisgate-console".into())
        .spawn(move || {
            loop {
                let looked = look(&remote, &watcher.options, alerts.as_mut());
                {
                    let mut seen = watcher.seen.lock().unwrap_or_else(|e| e.into_inner());
                    seen.read_ms = crate::time::now_ms();
                    match looked {
                        Ok(report) => {
                            seen.report = Some(report);
                            seen.error = None;
                        }
                        Err(e) => {
                            log(
                                "fleet_read_failed",
                                serde_json::json!({"error": e.to_string()}),
                            );
                            seen.error = Some(e.to_string());
                        }
                    }
                }
                std::thread::sleep(watcher.options.every);
            }
        })
        .map_err(|e| ServeError::Refused(format!("cannot start the console thread: {e}")))?;
    let app = Router::new()
        .route("/", get(page))
        .route("/fleet.json", get(json))
        .with_state(console);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Refused(format!("cannot listen on {listen}: {e}")))?;
    log("console", serde_json::json!({"listen": listen}));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| ServeError::Refused(format!("the console stopped: {e}")))
}

async fn json(State(console): State<Arc<Console>>) -> Response {
    let seen = console.seen.lock().unwrap_or_else(|e| e.into_inner());
    let body =
        serde_json::json!({"report": seen.report, "read_ms": seen.read_ms, "error": seen.error});
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn page(State(console): State<Arc<Console>>) -> Response {
    let html = {
        let seen = console.seen.lock().unwrap_or_else(|e| e.into_inner());
        render(&console.options, &seen)
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// Seconds, or minutes past two minutes, for people.
fn span(ms: i64) -> String {
    if ms < 120_000 {
        format!("{:.1} с", ms as f64 / 1000.0)
    } else if ms < 7_200_000 {
        format!("{} мин", ms / 60_000)
    } else {
        format!("{:.1} ч", ms as f64 / 3_600_000.0)
    }
}

fn light(state: NodeState) -> &'static str {
    match state {
        NodeState::Stale | NodeState::Frozen => "red",
        NodeState::Silent | NodeState::Failing => "amber",
        NodeState::Behind | NodeState::Current => "green",
    }
}

fn state_ru(state: NodeState) -> &'static str {
    match state {
        NodeState::Stale => "данные устарели",
        NodeState::Frozen => "указатель истёк",
        NodeState::Silent => "молчит",
        NodeState::Failing => "ошибка обновления",
        NodeState::Behind => "обновляется",
        NodeState::Current => "актуален",
    }
}

/// Reload every this many seconds.
const RELOAD_SECONDS: u32 = 30;

fn render(options: &ConsoleOptions, seen: &Seen) -> String {
    let tz = &options.tz;
    let when = |ms: Option<i64>| ms.map_or_else(|| "—".to_string(), |t| tz.format(t));
    let mut out = String::with_capacity(16 * 1024);
    let (banner, headline) = match (&seen.report, &seen.error) {
        (_, Some(_)) | (None, None) => ("amber", "НЕТ СВЕДЕНИЙ О СЕТИ"),
        (Some(r), None) if r.nodes.iter().any(|n| n.state.needs_attention()) => {
            ("red", "ЕСТЬ МАГАЗИНЫ, ТРЕБУЮЩИЕ ВНИМАНИЯ")
        }
        (Some(_), None) => ("green", "ВСЕ МАГАЗИНЫ В ПОРЯДКЕ"),
    };
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"{RELOAD_SECONDS}\">\n\
         <title>{} — сеть магазинов: {headline}</title>\n<style>{STYLE}main {{ max-width: 90rem; }}\n</style>\n</head>\n\
         <body data-light=\"{banner}\">\n\
         <div class=\"banner {banner}\" role=\"status\" id=\"state\"><strong>{headline}</strong></div>\n\
         <main>\n<h1>{} — сеть магазинов (cisgate {})</h1>\n",
        esc(&options.name),
        esc(&options.name),
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(e) = &seen.error {
        out.push_str(&format!("<p>Не удалось прочитать отчёты: {}</p>\n", esc(e)));
    }
    let Some(r) = &seen.report else {
        out.push_str("</main>\n</body>\n</html>\n");
        return out;
    };
    out.push_str("<section aria-labelledby=\"channel\">\n<h2 id=\"channel\">Канал</h2>\n<dl>\n");
    let row = |out: &mut String, term: &str, value: &str| {
        out.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", esc(term), esc(value)));
    };
    row(&mut out, "Канал", &options.channel);
    row(
        &mut out,
        "Версия данных",
        r.channel_version.as_deref().unwrap_or("—"),
    );
    row(&mut out, "Опубликовано", &when(r.channel_published_ms));
    row(
        &mut out,
        "Изменение поступило",
        &when(r.channel_received_ms),
    );
    let t = &r.time_to_block;
    row(
        &mut out,
        "Время до блокировки (последняя публикация)",
        &match (t.p50_ms, t.p99_ms, t.max_ms) {
            (Some(p50), Some(p99), Some(max)) => format!(
                "p50 {}, p99 {}, макс. {}; применили {}, ждём {}",
                span(p50),
                span(p99),
                span(max),
                t.switched,
                t.pending
            ),
            _ => format!("ещё никто не применил; ждём {}", t.pending),
        },
    );
    for b in &r.builders {
        let s = b.builder.clone().unwrap_or_default();
        row(
            &mut out,
            &format!("Сборщик {}", b.node),
            &format!(
                "последняя публикация {}; последний файл {} ({}); в очереди {}; отклонено {}",
                when(s.last_publish_ms),
                s.last_file.as_deref().unwrap_or("—"),
                when(s.last_file_ms),
                s.queue,
                s.rejected
            ),
        );
    }
    out.push_str("</dl>\n</section>\n");
    out.push_str(
        "<section aria-labelledby=\"stores\">\n<h2 id=\"stores\">Магазины</h2>\n<table>\n\
         <caption>Магазины: сначала требующие внимания</caption>\n<tr>\
         <th scope=\"col\">Магазин</th><th scope=\"col\">Состояние</th><th scope=\"col\">Версия</th>\
         <th scope=\"col\">Возраст данных</th><th scope=\"col\">Последний отчёт</th>\
         <th scope=\"col\">Отставание</th><th scope=\"col\">До блокировки</th>\
         <th scope=\"col\">Проверок сегодня</th><th scope=\"col\">Отказов сегодня</th>\
         <th scope=\"col\">Продаж сегодня</th><th scope=\"col\">Ошибка</th></tr>\n",
    );
    let today = tz.date(seen.read_ms);
    for n in &r.nodes {
        let s = &n.status;
        let day = s.days.iter().find(|d| d.date == today);
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td><span class=\"{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&s.node),
            light(n.state),
            state_ru(n.state),
            esc(s.version.as_deref().unwrap_or("—")),
            n.data_age_hours.map_or_else(|| "—".into(), |h| format!("{h} ч")),
            esc(&tz.format(s.reported_ms)),
            n.lag_ms.map_or_else(|| "—".into(), span),
            n.time_to_block_ms.map_or_else(|| "—".into(), span),
            day.map_or(0, |d| d.checks),
            day.map_or(0, |d| d.refusals),
            day.map_or(0, |d| d.sales),
            esc(s.last_error.as_deref().unwrap_or(""))
        ));
    }
    out.push_str("</table>\n</section>\n");
    out.push_str(&format!(
        "<p class=\"muted\">Прочитано {}; страница обновляется каждые {RELOAD_SECONDS} с. \
         Те же данные: <a href=\"/fleet.json\">/fleet.json</a>.</p>\n</main>\n</body>\n</html>\n",
        esc(&tz.format(seen.read_ms))
    ));
    out
}
