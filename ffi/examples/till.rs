//! A till that embeds the index and shares its store's sold list: one command a line on
//! stdin, one answer a line on stdout. The integration tests drive it as a real process.
//!
//! ```text
//! cargo run -p cisgate-ffi --example till -- INDEX_DIR [http://store:5995 TOKEN]
//! check CODE    → allowed | blocked REASONS | invalid | refused (stale)
//! sell CODE     → ok local|shared|offline KI | error MESSAGE
//! return CODE   → the same
//! state         → connected=… queued=… position=…
//! ```

use std::io::{BufRead, Write};
use std::sync::Arc;

use cisgate::check::Status;
use cisgate::journal::SaleOp;
use cisgate::live::{LiveIndex, LiveOptions, SaleMode};
use cisgate::sold::{SoldAuthority, StoreFollower};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or("usage: till INDEX_DIR [AUTHORITY_URL TOKEN]")?;
    let options = LiveOptions {
        sold_authority: match (args.get(1), args.get(2)) {
            (Some(url), Some(token)) => Some(SoldAuthority::new(url, token)),
            _ => None,
        },
        ..LiveOptions::default()
    };
    let live = Arc::new(LiveIndex::open(dir.as_ref(), options)?);
    let _refresher = live.refresh_every(std::time::Duration::from_secs(1));
    let follower = StoreFollower::start(&live);
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let (command, code) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let answer = match command {
            "check" => match live.check(code, &Default::default()) {
                Ok(v) if v.status() == Status::Allowed => "allowed".to_string(),
                Ok(v) if v.status() == Status::Blocked => format!(
                    "blocked {}",
                    v.reasons()
                        .iter()
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                Ok(_) => "invalid".to_string(),
                Err(e) => format!("refused {e}"),
            },
            "sell" | "return" => {
                let op = if command == "sell" {
                    SaleOp::Sell
                } else {
                    SaleOp::Return
                };
                match live.register(code, op) {
                    Ok(r) => format!(
                        "ok {} {}",
                        match r.mode {
                            SaleMode::Local => "local",
                            SaleMode::Shared => "shared",
                            SaleMode::Offline => "offline",
                        },
                        r.ki
                    ),
                    Err(e) => format!("error {e}"),
                }
            }
            "state" => match &follower {
                Some(f) => {
                    let s = f.state();
                    format!(
                        "connected={} queued={} position={} applied={}",
                        s.connected, s.queued, s.position, s.applied
                    )
                }
                None => "no authority".to_string(),
            },
            _ => format!("error unknown command {command:?}"),
        };
        let mut out = stdout.lock();
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
