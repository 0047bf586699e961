//! The code parser never panics, every КИ it returns is canonical, and the text sent to the
//! online service reads as the same КИ again. Percent-decoding of LM requests never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = cisgate::serve::decode_cis(&text);
    let normalised = cisgate::code::normalised_text(&text);
    if let Ok(parsed) = cisgate::code::parse(&text) {
        assert!(!parsed.candidates.is_empty());
        for c in &parsed.candidates {
            assert!(cisgate::code::validate_ki(c.ki.as_bytes()).is_ok(), "{text:?} -> {:?}", c.ki);
        }
        let normalised = normalised.unwrap_or_else(|e| panic!("{text:?} parses but does not normalise: {e}"));
        let again = cisgate::code::parse(&normalised)
            .unwrap_or_else(|e| panic!("{text:?} -> {normalised:?} does not parse: {e}"));
        let kis = |p: &cisgate::code::Parsed| p.candidates.iter().map(|c| c.ki.clone()).collect::<Vec<_>>();
        assert_eq!(kis(&parsed), kis(&again), "{text:?} -> {normalised:?}");
    }
});
