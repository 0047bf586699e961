//! The full normaliser: every form a scanner or cash program sends, ambiguity, and errors
//! with positions. The fast reading (`scan`) takes the common forms and hands the rest here.

use base64::Engine as _;

use super::ai;
use super::alphabet::{self, first_non_gs1};
use super::layout;
use super::structure::{
    Code, GS, MAX_INPUT_LEN, ParseError, Parsed, Repair, RepairContext, SERIAL_LENGTHS, Structure,
};

/// Parses and normalises one scanned or typed code.
///
/// Returns every КИ the input can be read as, or an error that says what is wrong and where.
pub fn parse(input: &str) -> Result<Parsed, ParseError> {
    match parse_text(input) {
        Ok(parsed) => Ok(parsed),
        Err(err) => {
            // Some cash software sends the whole code base64-encoded. Only tried when the
            // plain reading fails, and only accepted if the decoded text is a valid code.
            if let Some(Ok(mut parsed)) = decode_base64(input.trim()).map(|d| parse_text(&d)) {
                parsed.repairs.insert(0, Repair::Base64);
                return Ok(parsed);
            }
            Err(err)
        }
    }
}

/// The scanned code as the online service wants it: the full marking code (КМ) after the
/// same normalisation [`parse`] applies (keyboard layout, symbology identifier, textual and
/// leading GS, bracketed AIs, base64), with real GS bytes between elements.
///
/// ```
/// let text = cisgate::code::normalised_text("]d20104600439931256215abcdEFGH1234<GS>93dGVz")?;
/// assert_eq!(text, "0104600439931256215abcdEFGH1234\u{1d}93dGVz");
/// # Ok::<(), cisgate::code::ParseError>(())
/// ```
pub fn normalised_text(input: &str) -> Result<String, ParseError> {
    fn plain(input: &str, parsed: &Parsed) -> Result<String, ParseError> {
        let mut repairs = Vec::new();
        let mut text = normalise(input, &mut repairs)?;
        if text.first() == Some(&b'(') {
            text = unbracket(&text, &RepairContext(repairs))?;
        }
        // `<GS>` and `x1d` are ordinary characters except at element boundaries after the
        // serial, which only the structure tells: replace exactly the ones the AIs read.
        // Tobacco-pack codes have no AIs: their `<`, `>` and `x` are data.
        let gs1 = |c: &&Code| matches!(c.structure, Structure::Gs1 { .. });
        let single = parsed.single().filter(gs1);
        if let Some(code) = single.filter(|c| text.starts_with(c.ki.as_bytes())) {
            let tail_start = code.ki.len();
            let tail_len = text.len() - tail_start;
            // Only a tail that is wholly AIs says for sure where its boundaries are.
            let extras = ai::separators_exact(&text[tail_start..]).unwrap_or_default();
            let mut spans = extras.textual_separators;
            spans.sort_unstable();
            // Smallest remaining length = rightmost: replacing right to left keeps the
            // offsets of the others valid.
            for (left, len) in spans {
                let at = tail_start + (tail_len - left);
                text.splice(at..at + len, [GS]);
            }
        }
        // Normalised text is ASCII plus GS, so this never replaces anything.
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
    // Same order as `parse`: base64 only when the plain reading is not a code.
    let parsed = parse(input)?;
    if parsed.repairs.first() == Some(&Repair::Base64)
        && let Some(decoded) = decode_base64(input.trim())
    {
        return plain(&decoded, &parsed);
    }
    plain(input, &parsed)
}

fn decode_base64(s: &str) -> Option<String> {
    if s.len() < 24
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
    {
        return None;
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    // Decoded codes are printable ASCII plus GS.
    text.bytes()
        .all(|b| b == GS || (0x20..0x7f).contains(&b))
        .then_some(text)
}

fn parse_text(input: &str) -> Result<Parsed, ParseError> {
    let mut repairs = Vec::new();
    let text = normalise(input, &mut repairs)?;
    let mut candidates = read_structures(&text, &mut repairs)?;
    // Readings are few (at most a handful): a quadratic scan beats hashing, and the
    // common single reading costs nothing.
    let mut i = 1;
    while i < candidates.len() {
        if candidates[..i].iter().any(|c| c.ki == candidates[i].ki) {
            candidates.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(Parsed {
        candidates,
        repairs,
    })
}

/// Undoes keyboard layout, symbology identifiers, textual and leading GS.
fn normalise(input: &str, repairs: &mut Vec<Repair>) -> Result<Vec<u8>, ParseError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(ParseError::TooLong { len: input.len() });
    }
    let trimmed = input.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut text = if trimmed.is_ascii() {
        trimmed.as_bytes().to_vec()
    } else {
        repairs.push(Repair::KeyboardLayoutRu);
        repair_russian_layout(trimmed)?
    };

    if text.first() == Some(&b']') {
        let prefix = &text[..text.len().min(3)];
        match prefix {
            b"]d2" | b"]C1" | b"]Q3" => {
                text.drain(..3);
                repairs.push(Repair::SymbologyPrefix);
            }
            b"]d1" => return Err(ParseError::NonGs1DataMatrix),
            _ => {
                return Err(ParseError::UnknownSymbology {
                    prefix: String::from_utf8_lossy(prefix).into_owned(),
                });
            }
        }
    }

    if replace_unambiguous_textual_gs(&mut text) {
        repairs.push(Repair::TextualGs);
    }

    // A code never starts with a separator: a leading GS is FNC1, a leading `<GS>` or `x1d`
    // its textual form.
    let mut leading = 0;
    while let Some(n) = ai::separator_len(&text[leading..]) {
        if text[leading] != GS && !repairs.contains(&Repair::TextualGs) {
            repairs.push(Repair::TextualGs);
        }
        leading += n;
    }
    if leading > 0 {
        text.drain(..leading);
        repairs.push(Repair::LeadingGs);
    }
    while text.last() == Some(&GS) {
        text.pop();
    }
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

fn repair_russian_layout(s: &str) -> Result<Vec<u8>, ParseError> {
    let latin = s.chars().enumerate().find(|(_, c)| c.is_ascii_alphabetic());
    let mut out = Vec::with_capacity(s.len());
    for (pos, ch) in s.chars().enumerate() {
        let us = layout::ru_to_us(ch).ok_or(ParseError::ForeignChar { ch, pos })?;
        if let (Some((latin_pos, latin)), false) = (latin, ch.is_ascii()) {
            return Err(ParseError::MixedLayout {
                latin,
                latin_pos,
                cyrillic: ch,
                cyrillic_pos: pos,
            });
        }
        out.push(us as u8);
    }
    Ok(out)
}

/// Replaces the textual GS forms that contain characters outside the GS1 set and so can
/// never be serial data. Returns whether any was found.
fn replace_unambiguous_textual_gs(text: &mut Vec<u8>) -> bool {
    const FORMS: [&[u8]; 5] = [b"[GS]", b"{GS}", b"\\x1d", b"\\u001d", b"\\035"];
    if !text.iter().any(|b| matches!(b, b'[' | b'{' | b'\\')) {
        return false;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let mut found = false;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(form) = FORMS
            .iter()
            .find(|f| rest.len() >= f.len() && rest[..f.len()].eq_ignore_ascii_case(f))
        {
            out.push(GS);
            i += form.len();
            found = true;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    *text = out;
    found
}

/// Tries every structure the normalised text could follow.
fn read_structures(text: &[u8], repairs: &mut Vec<Repair>) -> Result<Vec<Code>, ParseError> {
    let context = RepairContext(repairs.clone());
    let ctx = || context.clone();
    if text.first() == Some(&b'(') {
        let elements = unbracket(text, &ctx())?;
        repairs.push(Repair::BracketedAis);
        let (codes, _) = read_gs1(&elements, &RepairContext(repairs.clone()))?;
        return Ok(codes);
    }

    let mut codes = Vec::new();
    let mut first_error = None;
    let mut recovered = false;
    let mut textual = false;
    if text.starts_with(b"01") {
        match read_gs1(text, &ctx()) {
            Ok((found, end)) => {
                recovered |= end == SerialEnd::Structure;
                textual |= end == SerialEnd::TextualGs;
                codes.extend(found);
            }
            Err(e) => first_error = Some(e),
        }
    }
    if (text.len() == 21 || text.len() == 29) && !text.contains(&GS) {
        match read_tobacco_pack(text, &ctx()) {
            Ok(code) => codes.push(code),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if codes.is_empty() && text.first() == Some(&b'1') {
        let mut restored = Vec::with_capacity(text.len() + 1);
        restored.push(b'0');
        restored.extend_from_slice(text);
        if let Ok((found, end)) = read_gs1(&restored, &ctx()) {
            repairs.push(Repair::RestoredLeadingZero);
            recovered |= end == SerialEnd::Structure;
            textual |= end == SerialEnd::TextualGs;
            codes.extend(found);
        }
    }
    if recovered {
        repairs.push(Repair::GsRecoveredFromStructure);
    }
    if textual && !repairs.contains(&Repair::TextualGs) {
        repairs.push(Repair::TextualGs);
    }
    if !codes.is_empty() {
        return Ok(codes);
    }
    Err(first_error.unwrap_or_else(|| ParseError::NotACode {
        len: text.len(),
        start: String::from_utf8_lossy(&text[..text.len().min(16)]).into_owned(),
        context: ctx(),
    }))
}

/// What ended the serial of a GS1 reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SerialEnd {
    /// A GS byte (or the end of the input).
    Gs,
    /// A textual GS that may also be serial characters (`<GS>`): the structure's lengths
    /// confirmed it, so it is reported as the textual GS it is.
    TextualGs,
    /// Nothing: the end was found from the structure's fixed lengths.
    Structure,
}

/// Reads `01` + GTIN + `21` + serial + optional AIs. Returns the readings and what ended
/// the serial.
fn read_gs1(text: &[u8], ctx: &RepairContext) -> Result<(Vec<Code>, SerialEnd), ParseError> {
    if !text.starts_with(b"01") {
        return Err(ParseError::NotACode {
            len: text.len(),
            start: lossy(&text[..text.len().min(16)]),
            context: ctx.clone(),
        });
    }
    let gtin = read_gtin(text, 2, ctx)?;
    if text.get(16..18) != Some(b"21") {
        return Err(ParseError::MissingSerialAi {
            pos: 16,
            found: lossy(&text[16.min(text.len())..18.min(text.len())]),
            context: ctx.clone(),
        });
    }
    let tail = &text[18..];
    let make = |serial_len: usize, extras: ai::Extras| Code {
        ki: lossy(&text[..18 + serial_len]),
        gtin: gtin.clone(),
        serial: lossy(&tail[..serial_len]),
        structure: Structure::Gs1 {
            serial_len: serial_len as u8,
        },
        mrp_kopecks: None,
        batch: extras.batch.map(lossy),
    };

    let gs_at = tail.iter().position(|&b| b == GS);
    let segment = &tail[..gs_at.unwrap_or(tail.len())];
    let after_gs = gs_at.map_or(&[][..], |p| &tail[p + 1..]);

    // A GS right after a serial of a valid length settles it.
    if gs_at.is_some()
        && SERIAL_LENGTHS.contains(&segment.len())
        && first_non_gs1(segment).is_none()
    {
        return Ok((
            vec![make(segment.len(), ai::parse_lenient(after_gs))],
            SerialEnd::Gs,
        ));
    }

    // Otherwise the serial's end must come from the structure: every serial length whose
    // remainder reads as known AIs is a candidate.
    let mut codes = Vec::new();
    let mut textual_end = false;
    for &len in &SERIAL_LENGTHS {
        if len > segment.len() || first_non_gs1(&segment[..len]).is_some() {
            continue;
        }
        let rest = &segment[len..];
        let Some(mut extras) = ai::parse_exact(rest) else {
            continue;
        };
        // A textual separator at `rest`'s start ends the serial.
        textual_end = ai::separator_len(rest).is_some_and(|n| n > 1);
        if extras.batch.is_none() {
            extras.batch = ai::parse_lenient(after_gs).batch;
        }
        codes.push(make(len, extras));
    }
    if !codes.is_empty() {
        let end = if codes.len() == 1 && codes[0].serial.len() == segment.len() {
            SerialEnd::Gs
        } else if codes.len() == 1 && textual_end {
            SerialEnd::TextualGs
        } else {
            SerialEnd::Structure
        };
        return Ok((codes, end));
    }

    let serial_pos = 18;
    if let Some(bad) = first_non_gs1(segment).filter(|&p| p < 20) {
        return Err(ParseError::BadChar {
            ch: char_at(segment, bad),
            pos: serial_pos + bad,
            field: "serial",
            context: ctx.clone(),
        });
    }
    if segment.len() <= 20 {
        return Err(ParseError::SerialLength {
            serial: lossy(segment),
            len: segment.len(),
            context: ctx.clone(),
        });
    }
    Err(ParseError::NoSerialEnd {
        tail: lossy(tail),
        context: ctx.clone(),
    })
}

/// Reads and validates the GTIN-14 at `text[at..at + 14]`.
fn read_gtin(text: &[u8], at: usize, ctx: &RepairContext) -> Result<String, ParseError> {
    check_gtin(text, at, ctx).map(lossy)
}

/// Checks the GTIN at `at` (14 digits, valid check digit) without copying it.
fn check_gtin<'a>(text: &'a [u8], at: usize, ctx: &RepairContext) -> Result<&'a [u8], ParseError> {
    let gtin = &text[at.min(text.len())..(at + 14).min(text.len())];
    if gtin.len() != 14 || !gtin.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::GtinNotDigits {
            gtin: lossy(gtin),
            pos: at,
            context: ctx.clone(),
        });
    }
    let expected = alphabet::gtin_check_digit(&gtin[..13]);
    if expected != gtin[13] {
        return Err(ParseError::GtinCheckDigit {
            gtin: lossy(gtin),
            expected: expected as char,
            context: ctx.clone(),
        });
    }
    Ok(gtin)
}

/// The character starting at byte `pos` (a multi-byte UTF-8 one whole, so that a
/// Cyrillic letter is named as itself), or U+FFFD for a byte that starts none.
fn char_at(text: &[u8], pos: usize) -> char {
    let rest = &text[pos.min(text.len())..];
    let end = rest.len().min(4);
    (1..=end)
        .find_map(|n| std::str::from_utf8(&rest[..n]).ok())
        .and_then(|s| s.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Reads the tobacco pack format: GTIN-14 + serial 7 [+ price 4 + check 4].
fn read_tobacco_pack(text: &[u8], ctx: &RepairContext) -> Result<Code, ParseError> {
    let gtin = read_gtin(text, 0, ctx)?;
    let bad_char = |pos: usize, field| ParseError::BadChar {
        ch: char_at(text, pos),
        pos,
        field,
        context: ctx.clone(),
    };
    if let Some(p) = first_non_gs1(&text[14..21]) {
        return Err(bad_char(14 + p, "serial"));
    }
    let mut mrp_kopecks = None;
    if text.len() == 29 {
        let mut value = 0u32;
        for (pos, &ch) in text.iter().enumerate().take(25).skip(21) {
            let digit = alphabet::base80_digit(ch).ok_or(ParseError::BadPrice {
                ch: char_at(text, pos),
                pos,
                context: ctx.clone(),
            })?;
            value = value * 80 + digit;
        }
        if let Some(p) = first_non_gs1(&text[25..29]) {
            return Err(bad_char(25 + p, "check code"));
        }
        mrp_kopecks = Some(value);
    }
    Ok(Code {
        ki: lossy(&text[..21]),
        gtin,
        serial: lossy(&text[14..21]),
        structure: Structure::TobaccoPack,
        mrp_kopecks,
        batch: None,
    })
}

/// Turns `(01)…(21)…(93)…` into the element string `01…21…<GS>93…`.
fn unbracket(text: &[u8], ctx: &RepairContext) -> Result<Vec<u8>, ParseError> {
    let mut out = vec![0; text.len()];
    match ai::unbracket_into(text, &mut out) {
        Ok(len) => {
            out.truncate(len);
            Ok(out)
        }
        Err(pos) => Err(ParseError::BadChar {
            ch: char_at(text, pos),
            pos,
            field: "bracketed AI tag",
            context: ctx.clone(),
        }),
    }
}

/// Checks that `bytes` is exactly one canonical КИ (no repairs, no extra data), as list
/// files must hold. Returns its structure.
pub fn validate_ki(bytes: &[u8]) -> Result<Structure, ParseError> {
    let ctx = RepairContext::default();
    // `01` + GTIN + `21` leaves no room for a serial in 21 bytes: those are tobacco packs.
    if bytes.len() == 21 {
        check_gtin(bytes, 0, &ctx)?;
        if first_non_gs1(&bytes[14..21]).is_none() {
            return Ok(Structure::TobaccoPack);
        }
        return read_tobacco_pack(bytes, &ctx).map(|c| c.structure);
    }
    if !bytes.starts_with(b"01") {
        return Err(ParseError::NotACode {
            len: bytes.len(),
            start: lossy(&bytes[..bytes.len().min(16)]),
            context: ctx,
        });
    }
    check_gtin(bytes, 2, &ctx)?;
    if bytes.get(16..18) != Some(b"21") {
        return Err(ParseError::MissingSerialAi {
            pos: 16,
            found: lossy(&bytes[16.min(bytes.len())..18.min(bytes.len())]),
            context: ctx,
        });
    }
    let serial = &bytes[18..];
    if let Some(p) = first_non_gs1(serial) {
        return Err(ParseError::BadChar {
            ch: char_at(serial, p),
            pos: 18 + p,
            field: "serial",
            context: ctx,
        });
    }
    if !SERIAL_LENGTHS.contains(&serial.len()) {
        return Err(ParseError::SerialLength {
            serial: lossy(serial),
            len: serial.len(),
            context: ctx,
        });
    }
    Ok(Structure::Gs1 {
        serial_len: serial.len() as u8,
    })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
