//! `cisgate sell` and `cisgate return`: durable local sales and returns.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use cisgate::LiveIndex;

use super::{CmdResult, Freshness, for_each_input_batch, write_json_line};

/// Register sales or returns (codes from arguments, else one per line on stdin).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory.
    #[arg(long)]
    index: PathBuf,
    #[command(flatten)]
    freshness: Freshness,
    /// Codes sold (or returned).
    codes: Vec<String>,
}

/// Registers each code (arguments, else stdin lines). Each line of output is printed, and
/// flushed, only after the record is on disk: a printed line is an acknowledged sale.
pub fn run(args: Args, returning: bool) -> CmdResult {
    let live = LiveIndex::open(&args.index, args.freshness.options(true))?;
    let codes = &args.codes[..];
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0;
    for_each_input_batch(codes, 1, |batch| {
        for input in batch {
            let result = if returning {
                live.return_sale(input)
            } else {
                live.sell(input)
            };
            let line = match result {
                Ok(ki) => {
                    json!({"input": input, "ki": ki, if returning { "returned" } else { "sold" }: true})
                }
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
