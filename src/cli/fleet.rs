//! `cisgate fleet`: which stores run which generation, and which need attention.

use std::path::PathBuf;
use std::time::Duration;

use cisgate::distribute::alert::{AlertBook, AlertConfig, Alerter};
use cisgate::serve::console::{ConsoleOptions, look, run_console};
use cisgate::time::TimeZone;

use super::CmdResult;
use super::remote::RemoteArgs;

/// Show every node that reports to a store: its data version and age, its last pull, and
/// whether it is stale, frozen, silent, failing, behind or current. Exits 3 when any node
/// is stale, frozen, silent or failing (for monitoring), 0 otherwise.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store nodes pull from: s3://bucket/prefix.
    #[arg(long, env = "CISGATE_CHAIN")]
    from: String,
    /// A node whose data is older than this is stale (its tills refuse offline sales at
    /// 72 h; 240 for pharmacies).
    #[arg(long, default_value_t = 72.0)]
    max_age_hours: f64,
    /// A node that has not reported for this long is silent.
    #[arg(long, default_value_t = 24.0)]
    silent_hours: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep watching and serve the fleet page here (host:port), with /fleet.json.
    #[arg(long, value_name = "ADDRESS")]
    serve: Option<String>,
    /// With --serve, read the reports every this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    every: u64,
    /// Send alerts to the webhooks of this JSON file (docs/DISTRIBUTION.md), one per
    /// change of a store's or builder's condition and one when it clears.
    #[arg(long, value_name = "FILE", env = "CISGATE_ALERTS")]
    alerts: Option<PathBuf>,
    /// Where the conditions already alerted are kept (so that a restart neither repeats
    /// nor misses one).
    #[arg(long, value_name = "FILE", default_value = "fleet-alerts.json")]
    alert_state: PathBuf,
    /// Alert for a store that stays behind the channel for longer than this.
    #[arg(long, value_name = "MINUTES", default_value_t = 15.0)]
    behind_minutes: f64,
    /// Alert for a builder whose last publish is older than this (it renews at half the
    /// pointer's validity).
    #[arg(long, value_name = "HOURS", default_value_t = 96.0)]
    publish_stall_hours: f64,
    /// The chain's time zone for the page: МСК, МСК+N, UTC or an offset such as +05:00.
    #[arg(long, default_value = "МСК")]
    timezone: String,
    /// The page's title.
    #[arg(long, default_value = "cisgate")]
    name: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Prints the fleet and exits 3 when any node needs attention; with --serve, watches it.
pub fn run(args: Args) -> CmdResult {
    let remote = args.remote.remote(&args.from)?;
    let hours = |h: f64| (h * 3_600_000.0) as i64;
    let options = ConsoleOptions {
        channel: args.remote.channel.clone(),
        every: Duration::from_secs(args.every.max(1)),
        max_age_ms: hours(args.max_age_hours),
        silent_after_ms: hours(args.silent_hours),
        behind_after_ms: (args.behind_minutes * 60_000.0) as i64,
        publish_stall_ms: hours(args.publish_stall_hours),
        tz: TimeZone::parse(&args.timezone).ok_or_else(|| {
            format!(
                "--timezone {:?}: give МСК, МСК+N, UTC or +05:00",
                args.timezone
            )
        })?,
        name: args.name.clone(),
    };
    let mut alerts = match args.alerts.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        Some(path) => Some((
            Alerter::new(&AlertConfig::from_file(path)?)?,
            AlertBook::open(&args.alert_state)?,
        )),
        None => None,
    };
    if let Some(listen) = &args.serve {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run_console(listen, remote, options, alerts, async {
            let _ = tokio::signal::ctrl_c().await;
        }))?;
        return Ok(0);
    }
    let report = look(&remote, &options, alerts.as_mut())?;
    let attention = report
        .nodes
        .iter()
        .filter(|n| n.state.needs_attention())
        .count();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "channel {} points at version {}; {} nodes, {attention} need attention",
            args.remote.channel,
            report.channel_version.as_deref().unwrap_or("(none)"),
            report.nodes.len()
        );
        let t = &report.time_to_block;
        let secs = |ms: Option<i64>| {
            ms.map_or_else(|| "-".into(), |m| format!("{:.1} s", m as f64 / 1000.0))
        };
        outln!(
            "last publish's time to block: p50 {}, p99 {}, max {} ({} switched, {} pending)",
            secs(t.p50_ms),
            secs(t.p99_ms),
            secs(t.max_ms),
            t.switched,
            t.pending
        );
        for b in &report.builders {
            let s = b.builder.clone().unwrap_or_default();
            outln!(
                "builder {}: last publish {}, last file {}, queue {}, rejected {}",
                b.node,
                s.last_publish_ms
                    .map_or_else(|| "-".into(), cisgate::time::format_rfc3339),
                s.last_file.as_deref().unwrap_or("-"),
                s.queue,
                s.rejected
            );
        }
        outln!(
            "{:<9} {:<38} {:<24} {:>9} {:>10} {:>9} {:>9}  last error",
            "state",
            "node",
            "version",
            "data age",
            "reported",
            "lag",
            "to block"
        );
        for n in &report.nodes {
            let s = &n.status;
            outln!(
                "{:<9} {:<38} {:<24} {:>9} {:>10} {:>9} {:>9}  {}",
                n.state.name(),
                s.node,
                s.version.as_deref().unwrap_or("-"),
                n.data_age_hours
                    .map_or_else(|| "-".to_string(), |h| format!("{h:.1} h")),
                format!("{:.1} h ago", n.silent_hours),
                secs(n.lag_ms),
                secs(n.time_to_block_ms),
                s.last_error.as_deref().unwrap_or("")
            );
        }
        for (key, why) in &report.unreadable {
            outln!("unreadable report {key}: {why}");
        }
    }
    Ok(if attention > 0 { 3 } else { 0 })
}
