//! The code parser never panics, and every КИ it returns is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = cisgate::code::parse(&text) {
        assert!(!parsed.candidates.is_empty());
        for c in &parsed.candidates {
            assert!(cisgate::code::validate_ki(c.ki.as_bytes()).is_ok(), "{text:?} -> {:?}", c.ki);
        }
    }
});
