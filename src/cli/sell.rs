//! `cisgate sell` and `cisgate return`: durable local sales and returns.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use cisgate::LiveIndex;
use cisgate::journal::SaleOp;

use super::{
    CmdResult, Freshness, SoldShare, for_each_input_batch, sync_sold_list, write_json_line,
};

/// Register sales or returns (codes from arguments, else one per line on stdin).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    #[command(flatten)]
    freshness: Freshness,
    #[command(flatten)]
    sold: SoldShare,
    /// Codes sold (or returned).
    codes: Vec<String>,
}

/// Registers each code (arguments, else stdin lines). Each line of output is printed, and
/// flushed, only after the record is on disk: a printed line is an acknowledged sale. With
/// a sold authority the store takes each sale first, and `mode` says how it was made.
pub fn run(args: Args, returning: bool) -> CmdResult {
    let options = args.sold.apply(args.freshness.options(true))?;
    let live = LiveIndex::open(&args.index, options)?;
    sync_sold_list(&live);
    let op = if returning {
        SaleOp::Return
    } else {
        SaleOp::Sell
    };
    let codes = &args.codes[..];
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0;
    for_each_input_batch(codes, 1, |batch| {
        for input in batch {
            let line = match live.register(input, op) {
                Ok(made) => json!({
                    "input": input,
                    "ki": made.ki,
                    if returning { "returned" } else { "sold" }: true,
                    "mode": made.mode.name(),
                }),
                Err(e) => {
                    failed += 1;
                    json!({"input": input, "error": e.to_string()})
                }
            };
            write_json_line(&mut out, &line)?;
            out.flush()?;
        }
        Ok(())
    })?;
    Ok(if failed == 0 { 0 } else { 1 })
}
