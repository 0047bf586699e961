//! Any JSON a True API host might send for one code: the denial rules never panic, and an
//! entry they accept without denial has every flag the rules need.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let price = data.first().map(|&b| u64::from(b) * 1000);
    let options = cisgate::CheckOptions { price_kopecks: price };
    if let Ok(denials) = cisgate::online::decide::online_denials(&entry, &options, 1_795_428_000_000) {
        if denials.is_empty() {
            for flag in ["valid", "found", "utilised", "verified", "realizable"] {
                assert_eq!(entry[flag], serde_json::Value::Bool(true), "{entry}");
            }
        }
    }
});
