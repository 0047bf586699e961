//! The status page a shop's staff open on the store server (`/`), and the same facts for
//! monitoring (`/status.json`): can the tills sell, how old is the data and how long until
//! offline sales are refused, which generation is served, what the lists hold, the last
//! pull and its error, sales, recent refusals, request rates. Plain HTML and CSS written
//! here, no script and no external asset; it reloads itself every 10 seconds.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::LmError;
use super::metrics::{Day, Refusal, Totals};
use super::state::AppState;
use crate::index::{PULL_STATUS, Table};
use crate::time::TimeZone;

/// The page reloads itself this often, seconds.
const RELOAD_SECONDS: u32 = 10;
/// Amber when fewer hours than this are left before offline sales are refused.
const AMBER_HOURS_LEFT: f64 = 12.0;

/// How the store stands, at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Light {
    /// Tills can sell offline; nothing needs doing.
    Green,
    /// Tills can sell, but someone should look (little time left, the last pull failed).
    Amber,
    /// Offline sales are refused (the data is too old).
    Red,
}

/// Every fact the page shows.
#[derive(Serialize)]
pub(crate) struct StatusFacts {
    light: Light,
    /// One sentence: why this light.
    summary: String,
    can_sell_offline: bool,
    now: String,
    #[serde(skip)]
    now_ms: i64,
    /// Offline checks, refusals and sales per day (the shop's local dates), oldest first.
    days: Vec<Day>,
    data: DataFacts,
    last_pull: Option<serde_json::Value>,
    sold: usize,
    service: Totals,
    software_version: &'static str,
    recent_refusals: Vec<Refusal>,
    /// Embedded nodes that follow this store's sold list, as last seen.
    nodes: Vec<NodeFacts>,
    /// Sales made at two tills during a partition (both kept), newest last.
    conflicts: Vec<crate::sold::Conflict>,
}

#[derive(Serialize)]
struct NodeFacts {
    name: String,
    /// When it last asked for the feed, RFC 3339.
    last_seen: Option<String>,
    #[serde(skip)]
    last_seen_ms: i64,
    /// Seconds since.
    silent_seconds: Option<f64>,
    /// Bytes of the store's journal it had not read then (0: up to date).
    behind_bytes: u64,
    registered: u64,
}

#[derive(Serialize)]
struct DataFacts {
    version: String,
    generation: u64,
    as_of: String,
    #[serde(skip)]
    as_of_ms: i64,
    age_hours: f64,
    /// The limit, hours (`None`: never refused).
    max_age_hours: Option<f64>,
    /// Hours left before offline sales are refused (negative: refused since).
    hours_left: Option<f64>,
    refused_from: Option<String>,
    #[serde(skip)]
    refused_from_ms: Option<i64>,
    layers: usize,
    counts: Vec<(String, u64)>,
}

fn hours(ms: i64) -> f64 {
    (ms as f64 / 360_000.0).round() / 10.0
}

/// Gathers the facts now.
pub(crate) fn facts(state: &AppState) -> StatusFacts {
    let live = &state.live;
    let now = crate::time::now_ms();
    let generation = live.generation();
    let manifest = generation.index().manifest();
    let max_age = live.options().max_age_ms;
    let age = now - manifest.as_of_ms;
    let left = max_age.map(|m| m - age);
    let last_pull: Option<serde_json::Value> = std::fs::read(live.dir().join(PULL_STATUS))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let pull_error = last_pull
        .as_ref()
        .and_then(|p| p.get("last_error"))
        .and_then(|e| e.as_str())
        .map(str::to_string);
    let can_sell = left.is_none_or(|l| l > 0);
    let (light, summary) = if !can_sell {
        (
            Light::Red,
            format!(
                "Офлайн-продажи запрещены: данные устарели ({} ч, предел {} ч). Обновите списки. / Offline sales refused: the data is too old.",
                hours(age),
                max_age.map_or(0.0, hours)
            ),
        )
    } else if left.is_some_and(|l| hours(l) < AMBER_HOURS_LEFT) {
        (
            Light::Amber,
            format!(
                "Продавать можно, но до запрета офлайн-продаж осталось {} ч. / Sales allowed; {} h left before offline sales are refused.",
                left.map_or(0.0, hours),
                left.map_or(0.0, hours)
            ),
        )
    } else if let Some(e) = &pull_error {
        (
            Light::Amber,
            format!("Продавать можно; последнее обновление не удалось: {e}"),
        )
    } else {
        (
            Light::Green,
            "Продавать можно: данные свежие. / Tills can sell: the data is fresh.".to_string(),
        )
    };
    let counts = Table::ALL
        .iter()
        .map(|t| {
            (
                t.name().to_string(),
                manifest.counts.get(t).copied().unwrap_or(0),
            )
        })
        .collect();
    StatusFacts {
        light,
        summary,
        can_sell_offline: can_sell,
        now: crate::time::format_rfc3339(now),
        now_ms: now,
        days: state.metrics.days(),
        data: DataFacts {
            version: manifest.version.clone(),
            generation: manifest.generation,
            as_of: crate::time::format_rfc3339(manifest.as_of_ms),
            as_of_ms: manifest.as_of_ms,
            age_hours: hours(age),
            max_age_hours: max_age.map(hours),
            hours_left: left.map(hours),
            refused_from: max_age.map(|m| crate::time::format_rfc3339(manifest.as_of_ms + m)),
            refused_from_ms: max_age.map(|m| manifest.as_of_ms + m),
            layers: generation.index().layer_count(),
            counts,
        },
        last_pull,
        sold: live.sold_kis().len(),
        service: state.metrics.totals(),
        software_version: env!("CARGO_PKG_VERSION"),
        recent_refusals: state.metrics.recent_refusals(),
        nodes: node_facts(state, now),
        conflicts: state
            .sold
            .conflicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect(),
    }
}

/// The configured nodes, each as last seen.
fn node_facts(state: &AppState, now: i64) -> Vec<NodeFacts> {
    let seen = state.sold.nodes.lock().unwrap_or_else(|e| e.into_inner());
    state
        .config
        .nodes
        .iter()
        .map(|n| {
            let s = seen.get(&n.name);
            NodeFacts {
                name: n.name.clone(),
                last_seen: s.map(|s| crate::time::format_rfc3339(s.last_ms)),
                last_seen_ms: s.map_or(0, |s| s.last_ms),
                silent_seconds: s.map(|s| (now - s.last_ms) as f64 / 1000.0),
                behind_bytes: s.map_or(0, |s| s.behind_bytes),
                registered: s.map_or(0, |s| s.registered),
            }
        })
        .collect()
}

/// `GET /status.json`.
pub async fn status_json(State(state): State<Arc<AppState>>) -> Response {
    let facts = tokio::task::spawn_blocking(move || facts(&state)).await;
    match facts {
        Ok(facts) => axum::Json(facts).into_response(),
        Err(e) => LmError::internal(format!("status task failed: {e}")).into_response(),
    }
}

/// `GET /`: the page.
pub async fn page(State(state): State<Arc<AppState>>) -> Response {
    let name = state.config.name.clone();
    let tz = state.tz.clone();
    let facts = tokio::task::spawn_blocking(move || facts(&state)).await;
    match facts {
        Ok(facts) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            render(&name, &facts, &tz),
        )
            .into_response(),
        Err(e) => LmError::internal(format!("status task failed: {e}")).into_response(),
    }
}

/// HTML-escapes text.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's style: each light's text and background pass WCAG AA contrast (4.5:1; the
/// page test computes it from these declarations).
pub(crate) const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #ffffff; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; }
.banner { padding: 1.2rem 1.5rem; font-size: 1.3rem; font-weight: 600; }
.green { color: #ffffff; background: #1b6e2b; }
.amber { color: #1a1a1a; background: #f2b705; }
.red { color: #ffffff; background: #a4161a; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .2rem .8rem .2rem 0; border-bottom: 1px solid #cccccc; }
.muted { color: #4d4d4d; background: #ffffff; }
";

/// `YYYY-MM-DD` as the staff read a date: `DD.MM.YYYY`.
fn local_date(date: &str) -> String {
    match (date.get(..4), date.get(5..7), date.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y}"),
        _ => date.to_string(),
    }
}

fn row(out: &mut String, term: &str, value: &str) {
    out.push_str(&format!("<dt>{}</dt><dd>{}</dd>\n", esc(term), esc(value)));
}

/// The page for `facts`, times in the shop's zone `tz`.
pub(crate) fn render(name: &str, f: &StatusFacts, tz: &TimeZone) -> String {
    let light = match f.light {
        Light::Green => "green",
        Light::Amber => "amber",
        Light::Red => "red",
    };
    let headline = match f.light {
        Light::Green => "МОЖНО ПРОДАВАТЬ",
        Light::Amber => "МОЖНО ПРОДАВАТЬ — ТРЕБУЕТСЯ ВНИМАНИЕ",
        Light::Red => "ОФЛАЙН-ПРОДАЖИ ЗАПРЕЩЕНЫ",
    };
    let d = &f.data;
    let mut out = String::with_capacity(8192);
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"{RELOAD_SECONDS}\">\n\
         <title>{} — cisgate: {}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body data-light=\"{light}\">\n\
         <div class=\"banner {light}\" role=\"status\" id=\"state\"><strong>{headline}</strong><br>{}</div>\n\
         <main>\n<h1>{} — локальный модуль проверки кодов (cisgate {})</h1>\n",
        esc(name),
        headline,
        esc(&f.summary),
        esc(name),
        f.software_version
    ));
    out.push_str("<section aria-labelledby=\"data\">\n<h2 id=\"data\">Данные</h2>\n<dl>\n");
    row(&mut out, "Версия данных", &d.version);
    row(&mut out, "Поколение", &d.generation.to_string());
    row(&mut out, "Актуальны на", &tz.format(d.as_of_ms));
    row(&mut out, "Возраст данных", &format!("{} ч", d.age_hours));
    match (
        d.max_age_hours,
        d.hours_left,
        d.refused_from_ms.map(|t| tz.format(t)),
    ) {
        (Some(max), Some(left), Some(from)) => {
            row(&mut out, "Предел", &format!("{max} ч"));
            row(
                &mut out,
                "До запрета офлайн-продаж",
                &if left > 0.0 {
                    format!("{left} ч (с {from})")
                } else {
                    format!("запрещены с {from}")
                },
            );
        }
        _ => row(
            &mut out,
            "Предел",
            "не задан: офлайн-продажи не запрещаются",
        ),
    }
    row(&mut out, "Слоёв поверх базы", &d.layers.to_string());
    row(&mut out, "Продано здесь (в журнале)", &f.sold.to_string());
    out.push_str("</dl>\n<table>\n<caption>Списки</caption>\n<tr><th scope=\"col\">Список</th><th scope=\"col\">Записей</th></tr>\n");
    for (table, n) in &d.counts {
        out.push_str(&format!("<tr><td>{}</td><td>{n}</td></tr>\n", esc(table)));
    }
    out.push_str("</table>\n</section>\n");
    out.push_str("<section aria-labelledby=\"pull\">\n<h2 id=\"pull\">Последнее обновление</h2>\n");
    match &f.last_pull {
        None => out.push_str(
            "<p class=\"muted\">Этот узел не получает данные командой pull (списки собираются здесь).</p>\n",
        ),
        Some(p) => {
            let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let time = |k: &str| {
                p.get(k)
                    .and_then(|v| v.as_i64())
                    .map(|t| tz.format(t))
                    .unwrap_or_else(|| "—".into())
            };
            out.push_str("<dl>\n");
            row(&mut out, "Последняя попытка", &time("reported_ms"));
            row(&mut out, "Последняя успешная", &time("last_success_ms"));
            row(
                &mut out,
                "Ошибка",
                &text("last_error").unwrap_or_else(|| "нет".into()),
            );
            out.push_str("</dl>\n");
        }
    }
    out.push_str("</section>\n");
    let s = &f.service;
    out.push_str("<section aria-labelledby=\"service\">\n<h2 id=\"service\">Служба</h2>\n<dl>\n");
    row(&mut out, "Запущена", &tz.format(s.started_ms));
    row(
        &mut out,
        "Запросов",
        &format!("{} (за минуту {})", s.requests, s.requests_last_minute),
    );
    row(
        &mut out,
        "Проверено кодов",
        &format!("{} (за минуту {})", s.codes_checked, s.codes_last_minute),
    );
    out.push_str("</dl>\n");
    if !f.days.is_empty() {
        out.push_str("<table>\n<caption>По дням</caption>\n<tr><th scope=\"col\">День</th><th scope=\"col\">Проверок офлайн</th><th scope=\"col\">Отказов</th><th scope=\"col\">Продаж</th></tr>\n");
        for day in f.days.iter().rev() {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&local_date(&day.date)),
                day.checks,
                day.refusals,
                day.sales
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
    if !f.nodes.is_empty() {
        out.push_str("<section aria-labelledby=\"nodes\">\n<h2 id=\"nodes\">Кассы с общим списком проданных</h2>\n<table>\n<tr><th scope=\"col\">Касса</th><th scope=\"col\">Последний запрос</th><th scope=\"col\">Отставание</th><th scope=\"col\">Продаж и возвратов</th></tr>\n");
        for n in &f.nodes {
            let lag = match n.silent_seconds {
                None => "не подключалась".to_string(),
                Some(_) if n.behind_bytes == 0 => "нет".to_string(),
                Some(_) => format!("{} байт журнала", n.behind_bytes),
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&n.name),
                if n.last_seen_ms > 0 {
                    tz.format(n.last_seen_ms)
                } else {
                    "—".into()
                },
                esc(&lag),
                n.registered
            ));
        }
        out.push_str("</table>\n");
        if f.conflicts.is_empty() {
            out.push_str("<p class=\"muted\">Двойных продаж не было.</p>\n");
        } else {
            out.push_str("<table>\n<caption>Двойные продажи (код продан на двух кассах при обрыве связи; обе продажи сохранены)</caption>\n<tr><th scope=\"col\">Код</th><th scope=\"col\">Продан здесь</th><th scope=\"col\">Второй раз</th><th scope=\"col\">Касса</th></tr>\n");
            for c in f.conflicts.iter().rev() {
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    esc(&c.ki),
                    tz.format(c.kept_time),
                    tz.format(c.other_time),
                    esc(&c.node)
                ));
            }
            out.push_str("</table>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str(
        "<section aria-labelledby=\"refusals\">\n<h2 id=\"refusals\">Последние отказы</h2>\n",
    );
    if f.recent_refusals.is_empty() {
        out.push_str("<p class=\"muted\">Отказов не было.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th scope=\"col\">Время</th><th scope=\"col\">Код</th><th scope=\"col\">Ответ</th><th scope=\"col\">Причины</th></tr>\n");
        for r in &f.recent_refusals {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&tz.format(r.at_ms)),
                esc(&r.code),
                r.status,
                esc(&r.reasons.join(", "))
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "</section>\n<p class=\"muted\">Обновлено {}; страница обновляется каждые {RELOAD_SECONDS} с. \
         Те же данные: <a href=\"/status.json\">/status.json</a>.</p>\n</main>\n</body>\n</html>\n",
        esc(&tz.format(f.now_ms))
    ));
    out
}
