//! Repair of input typed by a keyboard-wedge scanner while the Russian (ЙЦУКЕН) layout
//! was active.
//!
//! The scanner presses the keys of the US layout; the operating system turns each key into
//! the character the Russian layout puts there. Undoing it is a per-character map from the
//! Russian character back to the US one. Once any Cyrillic character shows that the Russian
//! layout was active, *every* character of the input was typed under it, so the ASCII
//! punctuation that the Russian layout moves (`.` is the US `/` key, `"` is Shift+2, …) must
//! be mapped back too.

/// Maps one character typed under the Russian layout to the US-layout character of the
/// same key, or `None` when no key of the Russian layout produces it.
pub fn ru_to_us(c: char) -> Option<char> {
    const LOWER: [(char, char); 33] = [
        ('й', 'q'),
        ('ц', 'w'),
        ('у', 'e'),
        ('к', 'r'),
        ('е', 't'),
        ('н', 'y'),
        ('г', 'u'),
        ('ш', 'i'),
        ('щ', 'o'),
        ('з', 'p'),
        ('х', '['),
        ('ъ', ']'),
        ('ф', 'a'),
        ('ы', 's'),
        ('в', 'd'),
        ('а', 'f'),
        ('п', 'g'),
        ('р', 'h'),
        ('о', 'j'),
        ('л', 'k'),
        ('д', 'l'),
        ('ж', ';'),
        ('э', '\''),
        ('я', 'z'),
        ('ч', 'x'),
        ('с', 'c'),
        ('м', 'v'),
        ('и', 'b'),
        ('т', 'n'),
        ('ь', 'm'),
        ('б', ','),
        ('ю', '.'),
        ('ё', '`'),
    ];
    const UPPER_PUNCT: [(char, char); 8] = [
        ('Х', '{'),
        ('Ъ', '}'),
        ('Ж', ':'),
        ('Э', '"'),
        ('Б', '<'),
        ('Ю', '>'),
        ('Ё', '~'),
        ('№', '#'),
    ];
    // ASCII characters that sit on a different key in the Russian layout.
    const MOVED_ASCII: [(char, char); 8] = [
        ('"', '@'),
        (';', '$'),
        (':', '^'),
        ('?', '&'),
        ('.', '/'),
        (',', '?'),
        ('/', '|'),
        ('\u{1d}', '\u{1d}'),
    ];
    if c.is_ascii() {
        return Some(
            MOVED_ASCII
                .iter()
                .find(|(ru, _)| *ru == c)
                .map_or(c, |&(_, us)| us),
        );
    }
    if let Some(&(_, us)) = UPPER_PUNCT.iter().find(|(ru, _)| *ru == c) {
        return Some(us);
    }
    let lower = c.to_lowercase().next()?;
    let &(_, us) = LOWER.iter().find(|(ru, _)| *ru == lower)?;
    if lower == c {
        Some(us)
    } else if us.is_ascii_alphabetic() {
        Some(us.to_ascii_uppercase())
    } else {
        None
    }
}

/// The character the Russian layout produces on the key that types `us` in the US layout
/// (the inverse of [`ru_to_us`]), for simulating scanners; `None` for non-ASCII input.
pub fn us_to_ru(us: char) -> Option<char> {
    if !us.is_ascii() {
        return None;
    }
    let cyrillic = ('а'..='я').chain('А'..='Я').chain(['ё', 'Ё', '№']);
    cyrillic
        .chain((' '..='~').filter(|c| !c.is_ascii_alphabetic()))
        .chain(['\u{1d}'])
        .find(|&k| ru_to_us(k) == Some(us))
}

/// Whether `c` is a character that only the Russian layout produces.
pub fn is_russian_layout_char(c: char) -> bool {
    !c.is_ascii() && ru_to_us(c).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repair(s: &str) -> String {
        s.chars().map(|c| ru_to_us(c).unwrap()).collect()
    }

    #[test]
    fn letters_and_punctuation() {
        assert_eq!(repair("ЙЦУКЕНйцукен"), "QWERTYqwerty");
        assert_eq!(repair("жэбю"), ";',.");
        assert_eq!(repair("ЖЭБЮ"), ":\"<>");
        assert_eq!(repair("ъв2"), "]d2");
        assert_eq!(repair("\"№;:?.,/"), "@#$^&/?|");
        assert_eq!(repair("0123456789!%*()_+-="), "0123456789!%*()_+-=");
        assert_eq!(repair("БПЫЮ"), "<GS>");
    }

    #[test]
    fn every_latin_letter_has_a_cyrillic_key() {
        let all: String = "фисвуапршолдьтщзйкыегмцчня".chars().collect();
        let mut got: Vec<char> = repair(&all).chars().collect();
        got.sort();
        assert_eq!(
            got.into_iter().collect::<String>(),
            "abcdefghijklmnopqrstuvwxyz"
        );
    }

    #[test]
    fn every_printable_ascii_character_can_be_typed() {
        for us in ' '..='~' {
            let ru = us_to_ru(us).unwrap_or_else(|| panic!("{us:?}"));
            assert_eq!(ru_to_us(ru), Some(us));
        }
        assert_eq!(us_to_ru('a'), Some('ф'));
        assert_eq!(us_to_ru(';'), Some('ж'));
        assert_eq!(us_to_ru('/'), Some('.'));
    }

    #[test]
    fn foreign_characters_are_not_mapped() {
        assert_eq!(ru_to_us('é'), None);
        assert_eq!(ru_to_us('中'), None);
        assert!(!is_russian_layout_char('a'));
        assert!(is_russian_layout_char('ж'));
    }
}
