//! `cisgate fleet`: which stores run which generation, and which need attention.

use cisgate::distribute::{TransferPolicy, fleet};

use super::CmdResult;
use super::remote::RemoteArgs;

/// Show every node that reports to a store: its data version and age, its last pull, and
/// whether it is stale, frozen, silent, failing, behind or current. Exits 3 when any node
/// is stale, frozen, silent or failing (for monitoring), 0 otherwise.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store nodes pull from: s3://bucket/prefix.
    #[arg(long)]
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
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Prints the fleet and exits 3 when any node needs attention.
pub fn run(args: Args) -> CmdResult {
    let remote = args.remote.remote(&args.from)?;
    let hours = |h: f64| (h * 3_600_000.0) as i64;
    let report = fleet(
        &remote,
        &args.remote.channel,
        &TransferPolicy::default(),
        cisgate::time::now_ms(),
        hours(args.max_age_hours),
        hours(args.silent_hours),
    )?;
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
        outln!(
            "{:<9} {:<38} {:<24} {:>9} {:>10}  last error",
            "state",
            "node",
            "version",
            "data age",
            "reported"
        );
        for n in &report.nodes {
            let s = &n.status;
            outln!(
                "{:<9} {:<38} {:<24} {:>9} {:>10}  {}",
                n.state.name(),
                s.node,
                s.version.as_deref().unwrap_or("-"),
                n.data_age_hours
                    .map_or_else(|| "-".to_string(), |h| format!("{h:.1} h")),
                format!("{:.1} h ago", n.silent_hours),
                s.last_error.as_deref().unwrap_or("")
            );
        }
        for (key, why) in &report.unreadable {
            outln!("unreadable report {key}: {why}");
        }
    }
    Ok(if attention > 0 { 3 } else { 0 })
}
