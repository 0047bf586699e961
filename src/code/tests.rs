use super::*;

const GTIN: &str = "04600439931256";
const KI13: &str = "0104600439931256215abcdEFGH1234";
const CRYPTO44: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=abcde";

fn one(input: &str) -> Code {
    let parsed = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(
        parsed.candidates.len(),
        1,
        "{input:?}: {:?}",
        parsed.candidates
    );
    parsed.candidates[0].clone()
}

fn repairs(input: &str) -> Vec<Repair> {
    parse(input).unwrap().repairs
}

fn err(input: &str) -> ParseError {
    parse(input).expect_err(input)
}

/// Types `s` as a wedge scanner would with the Russian layout active.
fn type_russian(s: &str) -> String {
    s.chars().map(|c| layout::us_to_ru(c).unwrap()).collect()
}

#[test]
fn bare_ki_every_gs1_structure() {
    for (ki, len) in [
        (KI13, 13),
        ("0104607034170059215Ab!%8", 6),
        ("0104607034170059215Ab!%8C", 7),
        ("0104600439931256215abcdEFGH12345678901", 20),
    ] {
        let code = one(ki);
        assert_eq!(code.ki, ki);
        assert_eq!(code.structure, Structure::Gs1 { serial_len: len });
        assert_eq!(validate_ki(ki.as_bytes()), Ok(code.structure));
    }
    let code = one(KI13);
    assert_eq!(code.gtin, GTIN);
    assert_eq!(code.serial, "5abcdEFGH1234");
    assert!(repairs(KI13).is_empty());
}

#[test]
fn full_codes_with_gs() {
    assert_eq!(one(&format!("{KI13}\u{1d}93dGVz")).ki, KI13);
    let long = format!("{KI13}\u{1d}91EE06\u{1d}92{CRYPTO44}");
    assert_eq!(one(&long).ki, KI13);
    let dairy = "0104607034170059215Ab!%8\u{1d}93xYz1\u{1d}3103000350\u{1d}17261231";
    let code = one(dairy);
    assert_eq!(code.ki, "0104607034170059215Ab!%8");
    let beer = "0104607034170059215Ab!%8C\u{1d}93xYz1";
    assert_eq!(one(beer).structure, Structure::Gs1 { serial_len: 7 });
    let block = "0104607034170059215Ab!%8C\u{1d}8005012345\u{1d}93xYz1";
    assert_eq!(one(block).ki, "0104607034170059215Ab!%8C");
    // Medicines with a batch: AI 10 is picked up for the series check.
    let medicine = format!("{KI13}\u{1d}91EE06\u{1d}92{CRYPTO44}\u{1d}10LOT-42");
    assert_eq!(one(&medicine).batch.as_deref(), Some("LOT-42"));
}

#[test]
fn domain_examples() {
    let code = one("01048657365749062155esJWe\u{1d}93dGVz");
    assert_eq!(code.ki, "01048657365749062155esJWe");
    let pack = one("04647297654361!%C5UGbACW.abcd");
    assert_eq!(pack.ki, "04647297654361!%C5UGb");
    assert_eq!(pack.structure, Structure::TobaccoPack);
    assert_eq!(pack.mrp_kopecks, Some(14630));
    let bare = one("04647297654361!%C5UGb");
    assert_eq!(bare.mrp_kopecks, None);
    assert_eq!(
        validate_ki(b"04647297654361!%C5UGb"),
        Ok(Structure::TobaccoPack)
    );
}

#[test]
fn serial_characters_are_byte_exact() {
    for serial in ["%'\"+;<=>?/", "abc<GS>defg", "(x)yz.,:*_-&!"] {
        let padded = format!("{serial:A<13}");
        let ki = format!("01{GTIN}21{padded}");
        assert_eq!(one(&format!("{ki}\u{1d}93dGVz")).serial, padded);
    }
}

#[test]
fn symbology_prefixes_and_leading_gs() {
    for prefix in ["]d2", "]C1", "]Q3", "\u{1d}", "]d2\u{1d}"] {
        let code = one(&format!("{prefix}{KI13}\u{1d}93dGVz"));
        assert_eq!(code.ki, KI13, "{prefix:?}");
    }
    assert_eq!(
        repairs(&format!("]d2{KI13}")),
        vec![Repair::SymbologyPrefix]
    );
    assert_eq!(err(&format!("]d1{KI13}")), ParseError::NonGs1DataMatrix);
    assert!(matches!(
        err(&format!("]e0{KI13}")),
        ParseError::UnknownSymbology { .. }
    ));
}

#[test]
fn textual_gs_forms() {
    for gs in [
        "<GS>", "[GS]", "{GS}", "\\x1d", "\\x1D", "\\u001d", "\\u001D", "\\035", "x1d",
    ] {
        let input = format!("{KI13}{gs}91EE06{gs}92{CRYPTO44}");
        let parsed = parse(&input).unwrap_or_else(|e| panic!("{gs}: {e}"));
        assert_eq!(parsed.candidates.len(), 1, "{gs}");
        assert_eq!(parsed.candidates[0].ki, KI13, "{gs}");
        let leading = one(&format!("{gs}{KI13}{gs}93dGVz"));
        assert_eq!(leading.ki, KI13, "leading {gs}");
    }
    assert!(repairs(&format!("{KI13}[GS]93dGVz")).contains(&Repair::TextualGs));
    // Every textual form reports the same repair, whether or not its characters could
    // also belong to a serial (`<GS>` and `x1d` can).
    for gs in ["<GS>", "[GS]", "{GS}", "\\x1d", "x1d"] {
        assert_eq!(
            repairs(&format!("{KI13}{gs}93dGVz")),
            [Repair::TextualGs],
            "{gs}"
        );
    }
}

#[test]
fn missing_gs_recovered_from_structure() {
    let code = one(&format!("{KI13}91EE0692{CRYPTO44}"));
    assert_eq!(code.ki, KI13);
    assert!(
        repairs(&format!("{KI13}91EE0692{CRYPTO44}")).contains(&Repair::GsRecoveredFromStructure)
    );
    assert_eq!(one(&format!("{KI13}93dGVz")).ki, KI13);
    let dairy = one("0104607034170059215Ab!%893xYz1");
    assert_eq!(dairy.ki, "0104607034170059215Ab!%8");
    // With a weight too, a 13-char serial + AI 10 also fits: both readings are listed.
    let parsed = parse("0104607034170059215Ab!%893xYz13103000350").unwrap();
    assert!(parsed.is_ambiguous());
    assert!(
        parsed
            .candidates
            .iter()
            .any(|c| c.ki == "0104607034170059215Ab!%8")
    );
}

#[test]
fn ambiguity_is_reported_not_guessed() {
    // A 13-character tail: a 13-char serial, or a 7-char serial + 93 + 4 crypto chars.
    let input = "0104600439931256215abcdEF93GH12";
    let parsed = parse(input).unwrap();
    assert!(parsed.is_ambiguous());
    let kis: Vec<&str> = parsed.candidates.iter().map(|c| c.ki.as_str()).collect();
    assert!(kis.contains(&"0104600439931256215abcdEF93GH12"));
    assert!(kis.contains(&"0104600439931256215abcdEF"));
    assert_eq!(parsed.single(), None);
    // The same with a GS is not ambiguous.
    assert_eq!(one("0104600439931256215abcdEF\u{1d}93GH12").serial.len(), 7);
}

#[test]
fn bracketed_ais() {
    let code = one(&format!("(01){GTIN}(21)5abcdEFGH1234(93)dGVz"));
    assert_eq!(code.ki, KI13);
    assert!(repairs(&format!("(01){GTIN}(21)5abcdEFGH1234")).contains(&Repair::BracketedAis));
    let with_brackets = one(&format!(
        "(01){GTIN}(21)5a(b)dEFGH123(91)EE06(92){CRYPTO44}"
    ));
    assert_eq!(with_brackets.serial, "5a(b)dEFGH123");
    // Found by the property test: brackets that do not start with AI 01.
    assert!(matches!(
        err(&format!("(21){GTIN}(21)000000")),
        ParseError::NotACode { .. }
    ));
    assert!(matches!(
        err(&format!("(01){GTIN}(21)5abc(93)dGVz")),
        ParseError::SerialLength { len: 4, .. }
    ));
}

#[test]
fn base64_whole_code() {
    use base64::Engine as _;
    let raw = format!("{KI13}\u{1d}93dGVz");
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ] {
        let parsed = parse(&engine.encode(&raw)).unwrap();
        assert_eq!(parsed.single().unwrap().ki, KI13);
        assert_eq!(parsed.repairs[0], Repair::Base64);
    }
}

#[test]
fn lost_leading_zero() {
    let parsed = parse(&KI13[1..]).unwrap();
    assert_eq!(parsed.single().unwrap().ki, KI13);
    assert!(parsed.repairs.contains(&Repair::RestoredLeadingZero));
}

#[test]
fn russian_layout_is_repaired() {
    let typed = type_russian(&format!("]d2{KI13}\u{1d}93dGVz"));
    assert!(typed.contains('ф') && typed.contains('ъ'), "{typed}");
    let parsed = parse(&typed).unwrap();
    assert_eq!(parsed.single().unwrap().ki, KI13);
    assert!(parsed.repairs.contains(&Repair::KeyboardLayoutRu));

    // Punctuation that lives on letter keys in the Russian layout.
    let ki = format!("01{GTIN}21ab;c'd,e.f:G\"");
    assert_eq!(one(&ki).serial.len(), 13);
    let typed = type_russian(&ki);
    assert!(
        typed.contains('ж') && typed.contains('э') && typed.contains('б') && typed.contains('ю')
    );
    assert_eq!(one(&typed).ki, ki);

    let textual = type_russian(&format!("{KI13}<GS>93dGVz"));
    assert!(textual.contains("БПЫЮ"));
    assert_eq!(one(&textual).ki, KI13);
}

#[test]
fn russian_layout_errors() {
    assert!(matches!(
        err("0104600439931256215abcdЕFGH1234"),
        ParseError::MixedLayout { .. }
    ));
    assert!(matches!(
        err("0104600439931256215abcdé"),
        ParseError::ForeignChar { ch: 'é', .. }
    ));
}

#[test]
fn invalid_inputs_name_the_problem() {
    assert_eq!(err(""), ParseError::Empty);
    assert_eq!(err("  \r\n"), ParseError::Empty);
    assert!(matches!(
        err(&"0".repeat(2000)),
        ParseError::TooLong { len: 2000 }
    ));
    let bad_check = "0104600439931257215abcdEFGH1234";
    match err(bad_check) {
        ParseError::GtinCheckDigit { gtin, expected, .. } => {
            assert_eq!(gtin, "04600439931257");
            assert_eq!(expected, '6');
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        err("0104600A39931256215abcdEFGH1234"),
        ParseError::GtinNotDigits { pos: 2, .. }
    ));
    assert!(matches!(
        err("0104600439931256225abcdEFGH1234"),
        ParseError::MissingSerialAi { pos: 16, .. }
    ));
    assert!(matches!(
        err("0104600439931256215abc"),
        ParseError::SerialLength { len: 4, .. }
    ));
    match err("0104600439931256215abc dEFGH123") {
        ParseError::BadChar {
            ch: ' ', pos: 22, ..
        } => {}
        other => panic!("{other}"),
    }
    assert!(matches!(
        err("0104600439931256215abcdEFGH1234567890ABCDEFGHIJKL"),
        ParseError::NoSerialEnd { .. }
    ));
    assert!(matches!(err("hello world"), ParseError::NotACode { .. }));
    assert!(matches!(
        err("04647297654361!%C5UGbAC~.abcd"),
        ParseError::BadPrice { pos: 23, .. }
    ));
    let message = err("0104600439931257215abcdEFGH1234").to_string();
    assert!(
        message.contains("04600439931257") && message.contains("expected 6"),
        "{message}"
    );
}

#[test]
fn validate_ki_is_strict() {
    assert!(validate_ki(format!("{KI13}\u{1d}93dGVz").as_bytes()).is_err());
    assert!(validate_ki(format!("]d2{KI13}").as_bytes()).is_err());
    assert!(validate_ki(b"0104600439931257215abcdEFGH1234").is_err());
    assert!(validate_ki(b"04647297654361!%C5UG~").is_err());
    assert!(validate_ki(b"").is_err());
}

#[test]
fn trailing_whitespace_and_crlf_are_ignored() {
    assert_eq!(one(&format!("  {KI13}\r\n")).ki, KI13);
}

#[test]
fn normalised_text_for_the_online_service() {
    let gs = "\u{1d}";
    let want = format!("{KI13}{gs}91EE06{gs}92{CRYPTO44}");
    for input in [
        want.clone(),
        format!("]d2{KI13}<GS>91EE06<GS>92{CRYPTO44}"),
        format!("{KI13}x1d91EE06x1d92{CRYPTO44}"),
        format!("(01){GTIN}(21)5abcdEFGH1234(91)EE06(92){CRYPTO44}"),
    ] {
        assert_eq!(normalised_text(&input).unwrap(), want, "{input:?}");
    }
    // `x1d` inside the serial is data, not a separator.
    let serial_x1d = format!("010460043993125621abx1dEFGH1234{gs}93dGVz");
    assert_eq!(normalised_text(&serial_x1d).unwrap(), serial_x1d);
    let textual = "010460043993125621abx1dEFGH1234x1d93dGVz";
    assert_eq!(normalised_text(textual).unwrap(), serial_x1d);
    assert!(normalised_text("hello").is_err());
}

#[test]
fn normalised_text_leaves_tobacco_data_alone() {
    let pack = "55555555555555555555_<GS>*GS>";
    let out = normalised_text(pack).unwrap();
    assert_eq!(out, pack);
}
