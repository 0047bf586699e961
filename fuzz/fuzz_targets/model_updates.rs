//! The model machine of `tests/model.rs` at length: fuzzer bytes become sequences of delta
//! applies, sales, returns, compactions, refreshes and reopenings, each answer compared with
//! a plain in-memory model.
#![no_main]

#[path = "../../tests/model_machine/mod.rs"]
mod model_machine;

use cisgate::list::ListKind;
use libfuzzer_sys::fuzz_target;
use model_machine::{DeltaSpec, KEYS, Step, run, value_for};

fn decode(data: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let mut next = || bytes.next().unwrap_or(0) as usize;
        let step = match op % 8 {
            0..=2 => {
                let kind = ListKind::ALL[next() % 4];
                let adds = (0..next() % 6).map(|_| (next() % KEYS, value_for(kind, 1 + next() as u64 % 3))).collect::<Vec<_>>();
                let removes = (0..next() % 4).map(|_| next() % KEYS).filter(|r| !adds.iter().any(|a| a.0 == *r)).collect();
                Step::Apply(vec![DeltaSpec { kind, adds, removes }])
            }
            3 => Step::Sell(next() % KEYS),
            4 => Step::Return(next() % KEYS),
            5 => Step::Compact,
            6 => Step::Refresh,
            _ => Step::Reopen,
        };
        steps.push(step);
        if steps.len() == 24 {
            break;
        }
    }
    steps
}

fuzz_target!(|data: &[u8]| {
    let steps = decode(data);
    if !steps.is_empty() {
        run(steps);
    }
});
