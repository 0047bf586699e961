//! `cisgate parse`: normalise codes and print what they are.

use std::io::Write;

use serde::Serialize;

use cisgate::code::{self, Code, Repair};

use super::{CmdResult, for_each_input_batch, write_json_line};

#[derive(Serialize)]
struct Output<'a> {
    input: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    code: Option<&'a Code>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<&'a Code>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    repaired: &'a [Repair],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Normalise codes (arguments, else one per line on stdin) and print them as JSON.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print only the КИ, one line per input (readings of an ambiguous input separated
    /// by spaces, an empty line for an input that is not a code).
    #[arg(long)]
    ki: bool,
    /// Codes to parse.
    codes: Vec<String>,
}

/// Prints one JSON object per input: the КИ and its parts, every candidate when the input
/// is ambiguous, or the error.
pub fn run(args: Args) -> CmdResult {
    let (codes, ki_only) = (&args.codes[..], args.ki);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for_each_input_batch(codes, 4096, |batch| {
        for input in batch {
            if ki_only {
                let kis = code::parse(input)
                    .map(|p| {
                        p.candidates
                            .iter()
                            .map(|c| c.ki.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                writeln!(out, "{kis}")?;
                continue;
            }
            let line = match code::parse(input) {
                Ok(parsed) => {
                    let single = parsed.single();
                    let candidates = if single.is_some() {
                        Vec::new()
                    } else {
                        parsed.candidates.iter().collect()
                    };
                    write_json_line(
                        &mut out,
                        &Output {
                            input,
                            code: single,
                            candidates,
                            repaired: &parsed.repairs,
                            error: None,
                        },
                    )
                }
                Err(e) => write_json_line(
                    &mut out,
                    &Output {
                        input,
                        code: None,
                        candidates: Vec::new(),
                        repaired: &[],
                        error: Some(e.to_string()),
                    },
                ),
            };
            line?;
        }
        out.flush()
    })?;
    out.flush()?;
    Ok(0)
}
