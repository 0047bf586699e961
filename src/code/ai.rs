//! The GS1 application identifiers that follow the serial in a Честный ЗНАК code.
//!
//! Only what is needed to find where the serial ends when the GS separator is missing and
//! to pick out the batch (AI 10, checked against banned medicine series).

use super::alphabet::{all_digits, all_gs1};
use super::structure::GS;

/// What a parse of the elements after the serial found. Borrows the parsed text, so that
/// a parse without textual separators allocates nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras<'a> {
    /// AI 10: batch / series.
    pub batch: Option<&'a [u8]>,
    /// Textual separators (`<GS>`, `x1d`) read at element boundaries, as (bytes left in
    /// the parsed text where the separator starts, its length): every text parsed is a
    /// suffix of the first, so this locates them without knowing where parsing began.
    /// Recorded only by [`separators_exact`]; the other parses leave it empty.
    pub textual_separators: Vec<(usize, usize)>,
}

/// How the value of one AI is shaped.
#[derive(Clone, Copy)]
enum Value {
    /// Exactly `len` digits.
    Digits(usize),
    /// Exactly `len` GS1 characters.
    Chars(usize),
    /// AI 91: 4 characters, and AI 92 must follow.
    KeyId,
    /// AI 92: 44 or 88 GS1 characters.
    Crypto,
    /// 1..=max GS1 characters up to the next GS or the end.
    Variable(usize),
}

/// Recognises the AI at the start of `s`: its length and the shape of its value.
fn match_ai(s: &[u8]) -> Option<(usize, Value)> {
    let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    if s.starts_with(b"8005") {
        return Some((4, Value::Digits(6)));
    }
    if s.starts_with(b"7003") {
        return Some((4, Value::Digits(10)));
    }
    // 310n–369n: measures (weight 3103, volume 335n, …), six digits.
    if s.first() == Some(&b'3') && matches!(s.get(1), Some(b'1'..=b'6')) && digit(2) && digit(3) {
        return Some((4, Value::Digits(6)));
    }
    if s.starts_with(b"240") {
        return Some((3, Value::Variable(30)));
    }
    let two = s.get(..2)?;
    Some(match two {
        b"91" => (2, Value::KeyId),
        b"92" => (2, Value::Crypto),
        b"93" => (2, Value::Chars(4)),
        b"10" => (2, Value::Variable(20)),
        b"11" | b"13" | b"15" | b"16" | b"17" => (2, Value::Digits(6)),
        _ => return None,
    })
}

/// Whether `ai` (digits only) is one of the AIs this parser knows after the serial.
pub fn is_known_ai(ai: &[u8]) -> bool {
    match_ai(ai).is_some_and(|(n, _)| n == ai.len())
}

/// Turns bracketed AIs, `(01)…(21)…(93)…`, into the element string `01…21…<GS>93…`,
/// written into `out`, which must hold `text.len()` bytes (the element string is never
/// longer: each tag loses its two brackets and gains at most a GS). A tag is `(` + a known
/// AI + `)`; serials may hold brackets, so only known AIs count; GS bytes between elements
/// are dropped. Returns the length written, or the position where a tag should start and
/// none does. Both the full parser and the fast reading unbracket through this one
/// function, so they cannot disagree on where an element ends.
pub(crate) fn unbracket_into(text: &[u8], out: &mut [u8]) -> Result<usize, usize> {
    fn tag_at(text: &[u8], i: usize) -> Option<(usize, &[u8])> {
        if text.get(i) != Some(&b'(') {
            return None;
        }
        let close = i + 1 + text[i + 1..].iter().take(5).position(|&b| b == b')')?;
        let ai = &text[i + 1..close];
        let known = matches!(ai, b"01" | b"21") || is_known_ai(ai);
        known.then_some((close + 1, ai))
    }
    let mut written = 0;
    let mut put = |bytes: &[u8]| {
        out[written..written + bytes.len()].copy_from_slice(bytes);
        written += bytes.len();
    };
    let mut i = 0;
    let mut first = true;
    while i < text.len() {
        if text[i] == GS {
            i += 1;
            continue;
        }
        let (value_start, ai) = tag_at(text, i).ok_or(i)?;
        let mut end = value_start;
        while end < text.len() && text[end] != GS && tag_at(text, end).is_none() {
            end += 1;
        }
        if !first && ai != b"21" {
            put(&[GS]);
        }
        first = false;
        put(ai);
        put(&text[value_start..end]);
        i = end;
    }
    Ok(written)
}

/// Length of the separator at the start of `s`, if any: a real GS, or one of the textual
/// forms `<GS>` and `x1d`, which are made of ordinary GS1 characters and so are only taken
/// as separators where the structure puts an element boundary.
pub fn separator_len(s: &[u8]) -> Option<usize> {
    if s.first() == Some(&GS) {
        Some(1)
    } else if s.len() >= 4 && s[..4].eq_ignore_ascii_case(b"<GS>") {
        Some(4)
    } else if s.len() >= 3 && s[..3].eq_ignore_ascii_case(b"x1d") {
        Some(3)
    } else {
        None
    }
}

/// How a parse goes: tolerating unknown trailing data or not, recording where textual
/// separators stand or not (only the normalised text needs them; lookups do not).
#[derive(Clone, Copy)]
struct Mode {
    lenient: bool,
    record: bool,
}

fn skip_separators<'a>(mut s: &'a [u8], extras: &mut Extras<'_>, mode: Mode) -> &'a [u8] {
    while let Some(n) = separator_len(s) {
        if n > 1 && mode.record {
            extras.textual_separators.push((s.len(), n));
        }
        s = &s[n..];
    }
    s
}

/// Parses the whole of `s` as a sequence of known AIs. `None` if any part does not fit.
#[inline]
pub fn parse_exact(s: &[u8]) -> Option<Extras<'_>> {
    // Every known AI starts with a digit and every separator with GS, `<` or `x`: other
    // text is settled by its first byte (the structure tries each serial length, and
    // serial characters mostly are such text).
    if let Some(&first) = s.first()
        && !(first.is_ascii_digit() || matches!(first, GS | b'<' | b'x' | b'X'))
    {
        return None;
    }
    parse_from(
        s,
        Extras::default(),
        Mode {
            lenient: false,
            record: false,
        },
    )
}

/// [`parse_exact`], also recording where textual separators stand.
pub fn separators_exact(s: &[u8]) -> Option<Extras<'_>> {
    parse_from(
        s,
        Extras::default(),
        Mode {
            lenient: false,
            record: true,
        },
    )
}

/// Parses as many known AIs from `s` as fit and keeps what they hold; unknown trailing data
/// is tolerated because the КИ, which is all a lookup needs, ends before it.
pub fn parse_lenient(s: &[u8]) -> Extras<'_> {
    parse_from(
        s,
        Extras::default(),
        Mode {
            lenient: true,
            record: false,
        },
    )
    .unwrap_or_default()
}

fn parse_from<'a>(s: &'a [u8], mut extras: Extras<'a>, mode: Mode) -> Option<Extras<'a>> {
    let s = skip_separators(s, &mut extras, mode);
    if s.is_empty() {
        return Some(extras);
    }
    let give_up = |extras: Extras<'a>| if mode.lenient { Some(extras) } else { None };
    let Some((ai_len, shape)) = match_ai(s) else {
        return give_up(extras);
    };
    let body = &s[ai_len..];
    let fixed = |n: usize, all: fn(&[u8]) -> bool| body.len() >= n && all(&body[..n]);
    match shape {
        Value::Digits(n) | Value::Chars(n) => {
            let all = if matches!(shape, Value::Digits(_)) {
                all_digits
            } else {
                all_gs1
            };
            if !fixed(n, all) {
                return give_up(extras);
            }
            parse_from(&body[n..], extras, mode)
        }
        Value::KeyId => {
            if !fixed(4, all_gs1) {
                return give_up(extras);
            }
            let after = skip_separators(&body[4..], &mut extras, mode);
            if !after.starts_with(b"92") {
                return give_up(extras);
            }
            parse_from(after, extras, mode)
        }
        Value::Crypto => {
            let exact = Mode {
                lenient: false,
                ..mode
            };
            for n in [44, 88] {
                if !fixed(n, all_gs1) {
                    continue;
                }
                if let Some(found) = parse_from(&body[n..], extras.clone(), exact) {
                    return Some(found);
                }
            }
            if mode.lenient && fixed(44, all_gs1) {
                return parse_from(&body[44..], extras, mode);
            }
            give_up(extras)
        }
        Value::Variable(max) => {
            let end = body.iter().position(|&b| b == GS).unwrap_or(body.len());
            let value = &body[..end];
            if value.is_empty() || value.len() > max || !all_gs1(value) {
                return give_up(extras);
            }
            if &s[..ai_len] == b"10" {
                extras.batch = Some(value);
            }
            parse_from(&body[end..], extras, mode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRYPTO44: &[u8] = b"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=abcde";

    #[test]
    fn the_first_byte_shortcut_of_the_exact_parse_changes_no_answer() {
        let exact = Mode {
            lenient: false,
            record: false,
        };
        for first in 0..=u8::MAX {
            for tail in [
                &b""[..],
                b"0dGVz",
                b"3dGVz",
                b"1d\x1d93dGVz",
                b"GS>93dGVz",
                b"003000350",
            ] {
                let s = [&[first][..], tail].concat();
                assert_eq!(
                    parse_exact(&s),
                    parse_from(&s, Extras::default(), exact),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn short_crypto_and_measures() {
        assert!(parse_exact(b"93dGVz").is_some());
        assert!(parse_exact(b"93dGVz3103000350").is_some());
        assert!(parse_exact(b"93dGV").is_none());
        assert!(parse_exact(b"8005012345\x1d93abcd").is_some());
    }

    #[test]
    fn key_id_needs_crypto() {
        let mut full = b"91EE06\x1d92".to_vec();
        full.extend_from_slice(CRYPTO44);
        assert_eq!(CRYPTO44.len(), 44);
        assert!(parse_exact(&full).is_some());
        assert!(parse_exact(b"91EE06").is_none());
    }

    #[test]
    fn batch_is_kept_across_textual_separators() {
        let x = separators_exact(b"93abcd<GS>10SER1").unwrap();
        assert_eq!(x.batch, Some(&b"SER1"[..]));
        assert_eq!(x.textual_separators, [(10, 4)]);
        assert!(
            parse_exact(b"93abcd<GS>10SER1")
                .unwrap()
                .textual_separators
                .is_empty()
        );
    }

    #[test]
    fn lenient_keeps_what_it_found() {
        let x = parse_lenient(b"10LOT7\x1dZZunknown");
        assert_eq!(x.batch, Some(&b"LOT7"[..]));
    }
}
