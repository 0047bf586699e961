//! The fast reading of the check path never panics, and whenever it answers, the full
//! parser gives the same single reading and the same repairs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(fast) = cisgate::code::scan(data) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("the fast reading takes ASCII only");
    let full = cisgate::code::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: read fast as {fast:?}, the full parser says {e}"));
    assert_eq!(full.candidates, [fast.reading.to_code()], "{text:?}");
    assert_eq!(full.repairs, fast.repairs.iter().collect::<Vec<_>>(), "{text:?}");
});
