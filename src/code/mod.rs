//! Parsing and normalisation of marking codes (КМ) into identification codes (КИ).
//!
//! [`parse`] takes whatever a scanner or cash program sends — a GS1 element string with or
//! without GS separators, textual GS forms, bracketed AIs, symbology prefixes, base64, input
//! typed under the Russian keyboard layout, a 29-character tobacco pack code, or a bare КИ —
//! and returns every КИ the input can be read as, with the repairs it needed. Without a GS
//! separator some codes can be read more than one way; the parser never picks one silently.
//!
//! ```
//! let parsed = cisgate::code::parse("]d20104600439931256215abcdEFGH1234\u{1d}93dGVz").unwrap();
//! let code = parsed.single().unwrap();
//! assert_eq!(code.ki, "0104600439931256215abcdEFGH1234");
//! assert_eq!(code.gtin, "04600439931256");
//! ```

mod ai;
pub mod alphabet;
pub mod layout;
mod scan;

mod parse;
mod structure;

pub use alphabet::{first_non_gs1, is_gs1_char, is_valid_gtin};
pub use parse::{normalised_text, parse, validate_ki};
pub use scan::{MAX_BATCH_LEN, MAX_KI_LEN, Reading, Repairs, Scan, scan, scan_into};
pub use structure::{
    Code, GS, MAX_INPUT_LEN, ParseError, Parsed, Repair, RepairContext, SERIAL_LENGTHS, Structure,
};

#[cfg(test)]
mod tests;
