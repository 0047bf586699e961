//! The fast reading of the forms scanners send almost always, without heap allocation.
//!
//! [`scan`] reads a code whose normalisation only cuts bytes off its ends — a canonical
//! GS1 string with GS, a `]d2`/`]C1`/`]Q3` prefix, a leading FNC1, the textual `<GS>` or
//! `x1d` at an element boundary, a bare КИ, a 21/29-character tobacco pack — and bracketed
//! AIs, unbracketed on the stack, into an inline [`Reading`]. It runs the same structure
//! rules as [`super::parse`] over the borrowed input, and answers `None` wherever it would
//! have to rewrite the input otherwise (keyboard layout, `[GS]` and the other escaped
//! forms, base64, a restored leading zero) or where the input reads more than one way or
//! not at all: the caller then uses [`super::parse`], which decides every case. It never
//! guesses: whenever it answers, the full parser gives the same single reading and the
//! same repairs (differential tests in `tests/verdicts.rs` hold it to that).

use super::ai;
use super::alphabet::{self, first_non_gs1};
use super::structure::{Code, GS, MAX_INPUT_LEN, Repair, SERIAL_LENGTHS, Structure};

/// Longest КИ: `01` + GTIN-14 + `21` + a 20-character serial.
pub const MAX_KI_LEN: usize = 38;
/// Longest batch (AI 10 holds at most 20 characters).
pub const MAX_BATCH_LEN: usize = 20;

/// One reading of a code, held inline: the КИ, its structure, the batch and a tobacco
/// pack's max retail price. What a lookup needs, with no heap behind it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    ki: [u8; MAX_KI_LEN],
    ki_len: u8,
    batch: [u8; MAX_BATCH_LEN],
    batch_len: u8,
    structure: Structure,
    mrp_kopecks: Option<u32>,
}

impl std::fmt::Debug for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reading")
            .field("ki", &String::from_utf8_lossy(self.ki()))
            .field("structure", &self.structure)
            .field("batch", &self.batch().map(String::from_utf8_lossy))
            .field("mrp_kopecks", &self.mrp_kopecks)
            .finish()
    }
}

impl Default for Reading {
    /// An empty placeholder (what a scratch buffer holds before a reading is written).
    fn default() -> Self {
        Reading {
            ki: [0; MAX_KI_LEN],
            ki_len: 0,
            batch: [0; MAX_BATCH_LEN],
            batch_len: 0,
            structure: Structure::TobaccoPack,
            mrp_kopecks: None,
        }
    }
}

impl Reading {
    /// A reading of `ki` (at most [`MAX_KI_LEN`] bytes, as every structure's КИ is) with
    /// an optional batch (at most [`MAX_BATCH_LEN`] bytes). `None` if either is longer.
    pub fn new(
        ki: &[u8],
        structure: Structure,
        batch: Option<&[u8]>,
        mrp_kopecks: Option<u32>,
    ) -> Option<Reading> {
        let mut reading = Reading::default();
        reading
            .set(ki, structure, batch, mrp_kopecks)
            .then_some(reading)
    }

    /// Makes this the reading of `ki` with its batch, in place (the check path reads
    /// straight into its scratch); the same limits as [`Reading::new`]. Returns `false`,
    /// leaving `self` as it was, when `ki` or `batch` is too long.
    #[inline]
    pub(crate) fn set(
        &mut self,
        ki: &[u8],
        structure: Structure,
        batch: Option<&[u8]>,
        mrp_kopecks: Option<u32>,
    ) -> bool {
        let batch = batch.unwrap_or_default();
        if ki.len() > MAX_KI_LEN || batch.len() > MAX_BATCH_LEN {
            return false;
        }
        // Zero first: the buffers are compared and copied whole.
        self.ki = [0; MAX_KI_LEN];
        self.ki[..ki.len()].copy_from_slice(ki);
        self.ki_len = ki.len() as u8;
        self.batch = [0; MAX_BATCH_LEN];
        self.batch[..batch.len()].copy_from_slice(batch);
        self.batch_len = batch.len() as u8;
        self.structure = structure;
        self.mrp_kopecks = mrp_kopecks;
        true
    }

    /// The reading of a parsed code.
    pub fn of_code(code: &Code) -> Option<Reading> {
        Reading::new(
            code.ki.as_bytes(),
            code.structure,
            code.batch.as_deref().map(str::as_bytes),
            code.mrp_kopecks,
        )
    }

    /// The КИ's whole buffer (zeros after the КИ) and its length: a copy of a fixed size,
    /// which the compiler makes with a few moves instead of a call.
    #[inline]
    pub(crate) fn ki_buffer(&self) -> (&[u8; MAX_KI_LEN], u8) {
        (&self.ki, self.ki_len)
    }

    /// The КИ.
    #[inline]
    pub fn ki(&self) -> &[u8] {
        &self.ki[..usize::from(self.ki_len)]
    }

    /// The GTIN-14 inside the КИ.
    #[inline]
    pub fn gtin(&self) -> &[u8] {
        match self.structure {
            Structure::Gs1 { .. } => &self.ki[2..16],
            Structure::TobaccoPack => &self.ki[..14],
        }
    }

    /// The serial inside the КИ.
    pub fn serial(&self) -> &[u8] {
        match self.structure {
            Structure::Gs1 { .. } => &self.ki()[18..],
            Structure::TobaccoPack => &self.ki()[14..],
        }
    }

    /// The batch (AI 10), when the code carries one.
    #[inline]
    pub fn batch(&self) -> Option<&[u8]> {
        (self.batch_len > 0).then(|| &self.batch[..usize::from(self.batch_len)])
    }

    /// The structure.
    pub fn structure(&self) -> Structure {
        self.structure
    }

    /// A tobacco pack's max retail price, kopecks.
    #[inline]
    pub fn mrp_kopecks(&self) -> Option<u32> {
        self.mrp_kopecks
    }

    /// The same reading as an owned [`Code`].
    pub fn to_code(&self) -> Code {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Code {
            ki: text(self.ki()),
            gtin: text(self.gtin()),
            serial: text(self.serial()),
            structure: self.structure,
            mrp_kopecks: self.mrp_kopecks,
            batch: self.batch().map(text),
        }
    }
}

/// The repairs applied to an input, in order, held inline (each repair appears at most
/// once, and there are eight).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Repairs {
    /// Four bits per repair ([`Repair::code`]), the first in the lowest bits.
    packed: u32,
    len: u8,
}

impl std::fmt::Debug for Repairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Repairs {
    /// Appends a repair (ignored when eight are held already, which cannot happen: each
    /// repair is applied at most once).
    pub fn push(&mut self, repair: Repair) {
        if self.len < 8 {
            self.packed |= repair.code() << (4 * u32::from(self.len));
            self.len += 1;
        }
    }

    /// Whether no repair was needed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The repairs in the order they were applied.
    pub fn iter(&self) -> impl Iterator<Item = Repair> + '_ {
        (0..u32::from(self.len)).filter_map(|i| Repair::from_code((self.packed >> (4 * i)) & 0xf))
    }

    /// The repairs of a full parse.
    pub fn of(repairs: &[Repair]) -> Repairs {
        let mut out = Repairs::default();
        for &r in repairs {
            out.push(r);
        }
        out
    }
}

/// What [`scan`] read: the single reading and the repairs it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The one КИ the input reads as.
    pub reading: Reading,
    /// The repairs, in the order [`super::parse`] reports them.
    pub repairs: Repairs,
}

/// Reads the common forms without allocating; `None` means "use [`super::parse`]".
pub fn scan(input: &[u8]) -> Option<Scan> {
    let mut reading = Reading::default();
    let repairs = scan_into(input, &mut reading)?;
    Some(Scan { reading, repairs })
}

/// [`scan`] writing the reading into `out` (the check path's scratch) and answering the
/// repairs; after `None`, what `out` holds is unspecified.
pub fn scan_into(input: &[u8], out: &mut Reading) -> Option<Repairs> {
    if input.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut repairs = Repairs::default();
    let mut text = trim(input);
    // Non-ASCII (keyboard layout) and `[GS]`, `{GS}` and the backslash forms are
    // rewritten by the full normaliser.
    if text.is_empty() || needs_rewriting(text) {
        return None;
    }
    if text[0] == b']' {
        match text.get(..3) {
            Some(b"]d2" | b"]C1" | b"]Q3") => {
                text = &text[3..];
                repairs.push(Repair::SymbologyPrefix);
            }
            _ => return None,
        }
    }
    let leading = text.iter().take_while(|&&b| b == GS).count();
    if leading > 0 {
        text = &text[leading..];
        if ai::separator_len(text).is_some() {
            return None; // a textual separator after the FNC1: the full normaliser's case
        }
        repairs.push(Repair::LeadingGs);
    } else if matches!(text.first(), Some(b'<' | b'x' | b'X')) && ai::separator_len(text).is_some()
    {
        return None; // (a code starts with a digit: the first byte settles it almost always)
    }
    while let [rest @ .., GS] = text {
        text = rest;
    }
    if text.is_empty() {
        return None;
    }
    if text[0] == b'(' {
        return bracketed(text, repairs, out);
    }
    let tobacco_length = (text.len() == 21 || text.len() == 29) && !text.contains(&GS);
    if text.starts_with(b"01") {
        if tobacco_length {
            return None; // might also be a tobacco pack: let the full parser weigh both
        }
        gs1(text, &mut repairs, out)?;
    } else if tobacco_length {
        tobacco_pack(text, out)?;
    } else {
        return None;
    }
    Some(repairs)
}

/// Bracketed AIs, `(01)…(21)…(93)…`: unbracketed on the stack as the full parser does
/// (through the same [`ai::unbracket_into`]), then read as the element string it is. The
/// full parser reads only the GS1 structure there and reports no repair of its own
/// reading, so the fast reading answers only when its own reading needed none.
#[inline(never)]
fn bracketed(text: &[u8], mut repairs: Repairs, out: &mut Reading) -> Option<Repairs> {
    let mut elements = [0u8; MAX_INPUT_LEN];
    let len = ai::unbracket_into(text, &mut elements).ok()?;
    let elements = &elements[..len];
    if !elements.starts_with(b"01") {
        return None;
    }
    let mut own = Repairs::default();
    gs1(elements, &mut own, out)?;
    if !own.is_empty() {
        return None;
    }
    repairs.push(Repair::BracketedAis);
    Some(repairs)
}

/// Whether `text` holds a byte the full normaliser rewrites: non-ASCII, `[`, `{` or `\`.
/// Every byte of a code is looked at, so this is written for the compiler to test many
/// bytes at once (no early exit).
#[inline]
fn needs_rewriting(text: &[u8]) -> bool {
    fn any(bytes: &[u8]) -> bool {
        bytes.iter().fold(false, |found, &b| {
            found | (b >= 0x80) | (b == b'[') | (b == b'{') | (b == b'\\')
        })
    }
    // Whole sixteens, then the last sixteen again (overlapping): no byte-by-byte tail,
    // which for a 31-byte КИ cost more than the vector part.
    match text.last_chunk::<16>() {
        Some(last) => any(&text[..text.len() / 16 * 16]) | any(last),
        None => any(text),
    }
}

/// Position of the first GS in `bytes`, eight bytes at a time.
#[inline]
fn find_gs(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bytes equal to GS become zero; the lowest byte flagged is exactly the first zero
    // (a false flag needs a borrow, and borrows only run upward from a true one).
    let first_in = |word: &[u8; 8]| {
        let t = u64::from_le_bytes(*word) ^ (u64::from(GS) * ONES);
        let zero = t.wrapping_sub(ONES) & !t & (0x80 * ONES);
        (zero != 0).then(|| zero.trailing_zeros() as usize / 8)
    };
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        if let Some(i) = <&[u8; 8]>::try_from(word).ok().and_then(first_in) {
            return Some(at + i);
        }
        at += 8;
    }
    if words.remainder().is_empty() {
        return None;
    }
    match bytes.last_chunk::<8>() {
        // The last eight bytes again: those before `at` hold no GS.
        Some(last) => first_in(last).map(|i| bytes.len() - 8 + i),
        None => bytes.iter().position(|&b| b == GS),
    }
}

/// Whether `pair` occurs in `bytes` (no early exit, for the same reason).
#[inline]
fn has_pair(bytes: &[u8], pair: [u8; 2]) -> bool {
    let next = bytes.get(1..).unwrap_or_default();
    bytes.iter().zip(next).fold(false, |found, (&a, &b)| {
        found | ((a == pair[0]) & (b == pair[1]))
    })
}

/// The batch [`ai::parse_lenient`] finds in `after_gs`, the elements after the serial's
/// GS, without walking the common tails for nothing. Only an element `10` holds a batch: a
/// tail without those two bytes has none. The two common shapes `91` + 4 + GS + `92` + 44
/// (whose crypto tail often holds the bytes `10`) and `93` + 4 hold none whatever their
/// characters: the parser stops at the first character outside the GS1 set, and otherwise
/// the text ends with them. The medicine tail, the first shape + GS + elements, is taken
/// apart directly: the parser would try the crypto tail as 44 and as 88 characters and
/// parse what follows twice, exactly and then leniently, to the same batch.
fn batch_after(after_gs: &[u8]) -> Option<&[u8]> {
    let crypto_tail = after_gs.len() >= 53
        && after_gs.starts_with(b"91")
        && after_gs[6] == GS
        && &after_gs[7..9] == b"92";
    let short_tail = after_gs.len() == 6 && after_gs.starts_with(b"93");
    if (crypto_tail && after_gs.len() == 53) || short_tail || !has_pair(after_gs, *b"10") {
        return None;
    }
    if crypto_tail && after_gs.len() > 54 && after_gs[53] == GS {
        // A key id or crypto tail with a character outside the GS1 set ends the parse
        // before any batch; otherwise the parse goes on after the crypto tail's GS (an
        // 88-character tail cannot be: its 45th character is that GS).
        if !alphabet::all_gs1(&after_gs[2..6]) || !alphabet::all_gs1(&after_gs[9..53]) {
            return None;
        }
        return ai::parse_lenient(&after_gs[53..]).batch;
    }
    ai::parse_lenient(after_gs).batch
}

/// The input without the blanks [`super::parse`] trims.
fn trim(input: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = input.iter().position(|b| !blank(b)).unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |e| e + 1);
    &input[start..end]
}

fn valid_gtin(gtin: &[u8]) -> bool {
    alphabet::is_valid_gtin(gtin)
}

/// `01` + GTIN + `21` + serial + AIs, with exactly one reading.
fn gs1(text: &[u8], repairs: &mut Repairs, out: &mut Reading) -> Option<()> {
    if !valid_gtin(text.get(2..16)?) || text.get(16..18)? != b"21" {
        return None;
    }
    let tail = &text[18..];
    let gs_at = find_gs(tail);
    let segment = &tail[..gs_at.unwrap_or(tail.len())];
    let after_gs = gs_at.map_or(&[][..], |p| &tail[p + 1..]);
    let mut reading = |serial_len: usize, batch: Option<&[u8]>| {
        let structure = Structure::Gs1 {
            serial_len: serial_len as u8,
        };
        out.set(&text[..18 + serial_len], structure, batch, None)
            .then_some(())
    };
    // A GS right after a serial of a valid length settles it.
    if gs_at.is_some()
        && SERIAL_LENGTHS.contains(&segment.len())
        && first_non_gs1(segment).is_none()
    {
        return reading(segment.len(), batch_after(after_gs));
    }
    // Otherwise the structure decides, as in the full parser: it must leave one reading.
    // A serial of `len` is all GS1 characters exactly when `len` is within this prefix.
    let gs1_prefix = first_non_gs1(segment).unwrap_or(segment.len());
    let mut found = None;
    for &len in &SERIAL_LENGTHS {
        if len > gs1_prefix {
            continue;
        }
        let rest = &segment[len..];
        let Some(extras) = ai::parse_exact(rest) else {
            continue;
        };
        if found.is_some() {
            return None;
        }
        let batch = extras.batch.or_else(|| ai::parse_lenient(after_gs).batch);
        let textual_end = ai::separator_len(rest).is_some_and(|n| n > 1);
        found = Some((len, batch, textual_end));
    }
    let (len, batch, textual_end) = found?;
    if len != segment.len() {
        repairs.push(if textual_end {
            Repair::TextualGs
        } else {
            Repair::GsRecoveredFromStructure
        });
    }
    reading(len, batch)
}

/// GTIN-14 + serial 7 [+ price 4 + check 4].
fn tobacco_pack(text: &[u8], out: &mut Reading) -> Option<()> {
    if !valid_gtin(&text[..14]) || first_non_gs1(&text[14..21]).is_some() {
        return None;
    }
    let mut mrp_kopecks = None;
    if text.len() == 29 {
        let mut value = 0u32;
        for &ch in &text[21..25] {
            value = value * 80 + alphabet::base80_digit(ch)?;
        }
        if first_non_gs1(&text[25..29]).is_some() {
            return None;
        }
        mrp_kopecks = Some(value);
    }
    out.set(&text[..21], Structure::TobaccoPack, None, mrp_kopecks)
        .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whenever the fast reading answers, the full parser gives the same reading and
    /// repairs; on these common forms it must answer.
    #[test]
    fn common_forms_agree_with_the_full_parser() {
        let crypto = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=abcde";
        let inputs = [
            "0104600439931256215abcdEFGH1234\u{1d}93dGVz".to_string(),
            "]d20104600439931256215abcdEFGH1234\u{1d}93dGVz".to_string(),
            "\u{1d}0104600439931256215abcdEFGH1234\u{1d}93dGVz\u{1d}".to_string(),
            "0104600439931256215abcdEFGH1234<GS>93dGVz".to_string(),
            "0104600439931256215abcdEFGH1234".to_string(),
            format!("0104600439931256215abcdEFGH1234\u{1d}91EE06\u{1d}92{crypto}"),
            format!("0104600439931256215abcdEFGH1234\u{1d}91EE06\u{1d}92{crypto}\u{1d}10SER1"),
            "04647297654361!%C5UGbACW.abcd".to_string(),
            "04647297654361!%C5UGb".to_string(),
            "0104600439931256215abcdEFGH123493dGVz".to_string(),
            "(01)04600439931256(21)5abcdEFGH1234(93)dGVz".to_string(),
            "]d2(01)04600439931256(21)5abcdEFGH1234\u{1d}(93)dGVz".to_string(),
            format!("(01)04600439931256(21)5abcdEFGH1234(91)EE06(92){crypto}(10)SER1"),
            "(01)04600439931256(21)5abcdEFGH1234".to_string(),
        ];
        for input in &inputs {
            let fast = scan(input.as_bytes()).unwrap_or_else(|| panic!("{input:?} not read"));
            let full = super::super::parse(input).unwrap();
            assert_eq!(full.candidates, [fast.reading.to_code()], "{input:?}");
            assert_eq!(full.repairs, fast.repairs.iter().collect::<Vec<_>>());
        }
        let with_batch = scan(inputs[6].as_bytes()).unwrap();
        assert_eq!(with_batch.reading.batch(), Some(&b"SER1"[..]));
    }

    #[test]
    fn rewritten_or_ambiguous_forms_are_left_to_the_full_parser() {
        assert!(
            super::super::parse("0104600439931256215abcdEF93dGVz")
                .unwrap()
                .is_ambiguous()
        );
        for input in [
            "0104600439931256215abcdEFGH1234[GS]93dGVz",
            "104600439931256215abcdEFGH1234\u{1d}93dGVz",
            "0104600439931256215abcdEF93dGVz",
            "(01)04600439931256(21)5abcdEF93dGVz",
            "(01)04600439931256(2)5abcdEFGH1234",
            "(01)04600439931256(21)5abcdEFGH12",
            "]d1whatever",
            "",
            "   ",
        ] {
            assert_eq!(scan(input.as_bytes()), None, "{input:?}");
        }
    }

    #[test]
    fn rewriting_is_noticed_in_every_position() {
        let code = b"0104600439931256215abcdEFGH1234\x1d93dGVz";
        assert!(!needs_rewriting(code));
        for at in 0..code.len() {
            for b in [b'[', b'{', b'\\', 0x80, 0xd0, 0xff] {
                let mut t = code.to_vec();
                t[at] = b;
                assert!(needs_rewriting(&t), "{b} at {at}");
                assert!(needs_rewriting(&t[at..]), "{b} first");
            }
        }
        for b in 0..0x80u8 {
            assert_eq!(
                needs_rewriting(&[b]),
                matches!(b, b'[' | b'{' | b'\\'),
                "{b}"
            );
        }
    }

    #[test]
    fn the_shapes_without_a_batch_hold_none() {
        let crypto = "AbCdEf10IjKlMnOpQrStUvWxYz0123456789+/=abcde";
        let with_ten = format!("91EE06\u{1d}92{crypto}");
        for tail in [with_ten.as_bytes(), b"93dG10", b"93dGVz"] {
            assert_eq!(batch_after(tail), None, "{tail:?}");
            assert_eq!(ai::parse_lenient(tail).batch, None, "{tail:?}");
        }
        // A batch after the crypto, or on its own: found.
        let batch = format!("91EE06\u{1d}92{crypto}\u{1d}10SER1");
        assert_eq!(batch_after(batch.as_bytes()), Some(&b"SER1"[..]));
        assert_eq!(batch_after(b"10SER1"), Some(&b"SER1"[..]));
    }

    #[test]
    fn the_medicine_tail_gives_the_parsers_batch() {
        let crypto = "AbCdEf10IjKlMnOpQrStUvWxYz0123456789+/=abcde";
        let mut tails = vec![
            format!("91EE06\u{1d}92{crypto}\u{1d}10SER1"),
            format!("91EE06\u{1d}92{crypto}\u{1d}17250101\u{1d}10SER1"),
            format!("91EE06\u{1d}92{crypto}\u{1d}10SER1\u{1d}17250101"),
            format!("91EE06\u{1d}92{crypto}\u{1d}10"),
            format!("91EE06\u{1d}92{crypto}\u{1d}\u{1d}10SER1"),
            format!("91EE06\u{1d}92{crypto}\u{1d}ZZ10SER1"),
            format!("91E\u{1d}06\u{1d}92{crypto}\u{1d}10SER1"),
            format!(
                "91EE06\u{1d}92{}\u{1d}10SER1",
                crypto.replace('f', "\u{1d}")
            ),
            format!("91EE06\u{1d}92{}\u{1d}10SER1", crypto.replace('f', "[")),
            format!("91EE06\u{1d}92{crypto}\u{1d}10{}", "S".repeat(21)),
        ];
        tails.push(format!("91EE06\u{1d}92{crypto}{crypto}\u{1d}10SER1"));
        for tail in &tails {
            assert_eq!(
                batch_after(tail.as_bytes()),
                ai::parse_lenient(tail.as_bytes()).batch,
                "{tail:?}"
            );
        }
        assert_eq!(batch_after(tails[0].as_bytes()), Some(&b"SER1"[..]));
    }

    #[test]
    fn the_first_gs_is_found_as_a_byte_search_finds_it() {
        for len in 0..40 {
            let plain: Vec<u8> = (0..len).map(|i| b"0aZ%\x1c\x1e\x9d"[i % 7]).collect();
            assert_eq!(find_gs(&plain), None, "{len}");
            for first in 0..len {
                for second in first..len {
                    let mut t = plain.clone();
                    t[first] = GS;
                    t[second] = GS;
                    assert_eq!(find_gs(&t), Some(first), "{first}, {second} of {len}");
                }
            }
        }
    }

    #[test]
    fn pairs_are_found_anywhere() {
        assert!(has_pair(b"10", *b"10"));
        assert!(has_pair(b"xx9210", *b"10"));
        assert!(!has_pair(b"1x0", *b"10"));
        assert!(!has_pair(b"1", *b"10"));
        assert!(!has_pair(b"", *b"10"));
    }

    #[test]
    fn repairs_keep_their_order() {
        let r = Repairs::of(&[
            Repair::SymbologyPrefix,
            Repair::LeadingGs,
            Repair::TextualGs,
        ]);
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            [
                Repair::SymbologyPrefix,
                Repair::LeadingGs,
                Repair::TextualGs
            ]
        );
        assert!(Repairs::default().is_empty());
    }
}
