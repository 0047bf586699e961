//! What a marking code is made of and what reading one can say: the structures, a
//! code's readings, the repairs the parser applies, and its errors. A leaf of `code`: the
//! full parser and the fast reading both build on it.

use std::fmt;

use serde::Serialize;

/// The GS1 group separator (FNC1 inside a code).
pub const GS: u8 = 0x1d;

/// Serial lengths of the GS1 structures in circulation: 6 (dairy), 7 (beer, tobacco
/// blocks), 13 (clothing, shoes, water, medicines and most others), 20 (some electronics).
pub const SERIAL_LENGTHS: [usize; 4] = [6, 7, 13, 20];

/// Longest input accepted; real codes are under 200 bytes.
pub const MAX_INPUT_LEN: usize = 1024;

/// The shape of an identification code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Structure {
    /// `01` + GTIN-14 + `21` + serial of the given length.
    Gs1 {
        /// Serial length, one of [`SERIAL_LENGTHS`].
        serial_len: u8,
    },
    /// Tobacco / nicotine pack: GTIN-14 + 7-character serial, no AIs (КИ of 21 chars).
    TobaccoPack,
}

impl Structure {
    /// Stable name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Structure::Gs1 { serial_len: 6 } => "gs1_serial6",
            Structure::Gs1 { serial_len: 7 } => "gs1_serial7",
            Structure::Gs1 { serial_len: 13 } => "gs1_serial13",
            Structure::Gs1 { serial_len: 20 } => "gs1_serial20",
            Structure::Gs1 { .. } => "gs1",
            Structure::TobaccoPack => "tobacco_pack",
        }
    }
}

impl Serialize for Structure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One reading of a scanned code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Code {
    /// The identification code: what the offline lists hold and lookups use.
    pub ki: String,
    /// GTIN-14.
    pub gtin: String,
    /// Serial number.
    pub serial: String,
    /// Which structure this reading follows.
    pub structure: Structure,
    /// Max retail price carried by a 29-character tobacco pack code, in kopecks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrp_kopecks: Option<u32>,
    /// Batch / series (AI 10), when the code carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// A normalisation that was applied to the input before it could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Typed under the Russian keyboard layout; mapped back key by key.
    KeyboardLayoutRu,
    /// A `]d2`, `]C1` or `]Q3` symbology identifier was removed.
    SymbologyPrefix,
    /// A leading GS / FNC1 was removed.
    LeadingGs,
    /// A textual GS (`<GS>`, `[GS]`, `{GS}`, `\x1d`, `\u001d`, `\035`, `x1d`) was read as GS.
    TextualGs,
    /// AIs were given in brackets: `(01)…(21)…`.
    BracketedAis,
    /// The whole code arrived base64-encoded.
    Base64,
    /// The leading `0` of AI 01 was missing and was restored.
    RestoredLeadingZero,
    /// No GS followed the serial; its end was found from the structure's fixed lengths.
    GsRecoveredFromStructure,
}

impl Repair {
    /// Every repair.
    pub const ALL: [Repair; 8] = [
        Repair::KeyboardLayoutRu,
        Repair::SymbologyPrefix,
        Repair::LeadingGs,
        Repair::TextualGs,
        Repair::BracketedAis,
        Repair::Base64,
        Repair::RestoredLeadingZero,
        Repair::GsRecoveredFromStructure,
    ];

    /// A small number for compact storage (1..=8; never 0).
    pub fn code(self) -> u32 {
        match self {
            Repair::KeyboardLayoutRu => 1,
            Repair::SymbologyPrefix => 2,
            Repair::LeadingGs => 3,
            Repair::TextualGs => 4,
            Repair::BracketedAis => 5,
            Repair::Base64 => 6,
            Repair::RestoredLeadingZero => 7,
            Repair::GsRecoveredFromStructure => 8,
        }
    }

    /// The repair with this [`code`](Self::code).
    pub fn from_code(code: u32) -> Option<Repair> {
        Repair::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Stable name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Repair::KeyboardLayoutRu => "keyboard_layout_ru",
            Repair::SymbologyPrefix => "symbology_prefix",
            Repair::LeadingGs => "leading_gs",
            Repair::TextualGs => "textual_gs",
            Repair::BracketedAis => "bracketed_ais",
            Repair::Base64 => "base64",
            Repair::RestoredLeadingZero => "restored_leading_zero",
            Repair::GsRecoveredFromStructure => "gs_recovered_from_structure",
        }
    }
}

impl Serialize for Repair {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The result of parsing one input: one or more readings and the repairs applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Every КИ the input can be read as; more than one only when the input lacks the GS
    /// that would decide between structures. Never empty.
    pub candidates: Vec<Code>,
    /// Normalisations applied, in order.
    pub repairs: Vec<Repair>,
}

impl Parsed {
    /// The only reading, or `None` when the input is ambiguous.
    pub fn single(&self) -> Option<&Code> {
        match self.candidates.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Whether more than one КИ fits the input.
    pub fn is_ambiguous(&self) -> bool {
        self.candidates.len() > 1
    }
}

/// Why an input is not a usable marking code. Positions count bytes of the input after the
/// repairs listed in the message's context (for plain ASCII input, the input itself).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but white space.
    #[error("empty input")]
    Empty,
    /// Longer than any marking code.
    #[error("input is {len} bytes long; a marking code is at most {MAX_INPUT_LEN}")]
    TooLong {
        /// Input length in bytes.
        len: usize,
    },
    /// `]d1`: a DataMatrix that is not GS1.
    #[error("symbology identifier ]d1 marks a non-GS1 DataMatrix: not a marking code")]
    NonGs1DataMatrix,
    /// A `]xx` symbology identifier other than `]d2`, `]C1`, `]Q3`.
    #[error("unknown symbology identifier {prefix:?}: expected ]d2, ]C1 or ]Q3")]
    UnknownSymbology {
        /// The identifier as received.
        prefix: String,
    },
    /// Latin and Cyrillic letters in one input.
    #[error(
        "mixed Latin {latin:?} (char {latin_pos}) and Cyrillic {cyrillic:?} (char {cyrillic_pos}): cannot tell which keyboard layout typed this"
    )]
    MixedLayout {
        /// First Latin letter.
        latin: char,
        /// Its char index.
        latin_pos: usize,
        /// First Cyrillic character.
        cyrillic: char,
        /// Its char index.
        cyrillic_pos: usize,
    },
    /// A non-ASCII character that no Russian-layout key produces.
    #[error("character {ch:?} (U+{code:04X}) at char {pos} cannot come from a scanner", code = u32::from(*ch))]
    ForeignChar {
        /// The character.
        ch: char,
        /// Its char index in the input.
        pos: usize,
    },
    /// A character outside the set allowed in that part of the code.
    #[error("character {ch:?} at byte {pos} is not allowed in the {field}{context}")]
    BadChar {
        /// The character.
        ch: char,
        /// Its byte position.
        pos: usize,
        /// Which part of the code.
        field: &'static str,
        /// Repairs applied before, for locating the position.
        context: RepairContext,
    },
    /// The 14 characters after AI 01 are not digits.
    #[error("GTIN {gtin:?} at byte {pos} is not 14 digits{context}")]
    GtinNotDigits {
        /// The characters where the GTIN should be.
        gtin: String,
        /// Byte position.
        pos: usize,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// The GTIN's mod-10 check digit is wrong.
    #[error("GTIN {gtin} fails its check digit (expected {expected}){context}")]
    GtinCheckDigit {
        /// The GTIN.
        gtin: String,
        /// The correct last digit.
        expected: char,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// AI 21 does not follow the GTIN.
    #[error("expected AI 21 (serial) at byte {pos}, found {found:?}{context}")]
    MissingSerialAi {
        /// Byte position.
        pos: usize,
        /// What is there instead.
        found: String,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// The serial has a length no structure uses.
    #[error("serial {serial:?} is {len} characters; structures use 6, 7, 13 or 20{context}")]
    SerialLength {
        /// The serial.
        serial: String,
        /// Its length.
        len: usize,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// No GS ends the serial and no structure's fixed lengths fit the rest.
    #[error(
        "cannot find where the serial ends in {tail:?}: no GS separator, and no structure (serial of 6, 7, 13 or 20 + known AIs) fits{context}"
    )]
    NoSerialEnd {
        /// Everything after AI 21.
        tail: String,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// A tobacco pack's price digit is not base-80.
    #[error("max retail price character {ch:?} at byte {pos} is not a base-80 digit{context}")]
    BadPrice {
        /// The character.
        ch: char,
        /// Byte position.
        pos: usize,
        /// Repairs applied before.
        context: RepairContext,
    },
    /// The input fits no structure at all.
    #[error(
        "not a marking code: expected 01 + GTIN-14 + 21 + serial, or a 21/29-character tobacco code; got {len} characters starting {start:?}{context}"
    )]
    NotACode {
        /// Length after normalisation.
        len: usize,
        /// The first characters.
        start: String,
        /// Repairs applied before.
        context: RepairContext,
    },
}

/// The repairs applied before an error was found, shown so that a position can be
/// located in the normalised text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairContext(pub Vec<Repair>);

impl fmt::Display for RepairContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.0.iter().map(|r| r.name()).collect();
        write!(f, " (after repairs: {})", names.join(", "))
    }
}
