//! The КИ block layout: its loader never panics on any bytes (mode 0), and a segment built
//! from any set of codes answers exactly for that set (mode 1). In mode 1 the input is read
//! as codes: GS1 КИ over a few GTINs with the fuzzer's serials, tobacco packs, and raw keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

const PROBES: [&[u8]; 5] = [
    b"0104600439931256215abcdEFGH1234",
    b"04647297654361!%C5UGb",
    b"010460043993125621ab",
    b"",
    b"\xff\xff",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        cisgate::fuzzing::open_blocks(rest, &PROBES);
        return;
    }
    // Codes: each chunk picks a shape by its first byte; the rest is the serial.
    let gtins: [&[u8]; 3] = [b"04600439931256", b"04647297654361", b"04607034170059"];
    let mut kis: Vec<Vec<u8>> = Vec::new();
    for chunk in rest.split(|&b| b == b'\n') {
        let Some((&shape, serial)) = chunk.split_first() else { continue };
        let gtin = gtins[usize::from(shape) % gtins.len()];
        let ki = match shape % 4 {
            0 | 1 => [b"01", gtin, b"21", serial].concat(),
            2 => [gtin, &serial[..serial.len().min(7)]].concat(),
            _ => serial.to_vec(),
        };
        // Many codes of one product make real blocks, not only the overflow part.
        for n in 0..u8::from(shape & 0x80 != 0) * 12 {
            let mut more = ki.clone();
            if let Some(last) = more.last_mut() {
                *last = b"0123456789abcdefg"[usize::from(n)];
            }
            kis.push(more);
        }
        kis.push(ki);
    }
    let refs: Vec<&[u8]> = kis.iter().map(|k| k.as_slice()).collect();
    let absent: Vec<Vec<u8>> = kis
        .iter()
        .map(|k| {
            let mut a = k.clone();
            if let Some(last) = a.last_mut() {
                *last ^= 1;
            }
            a
        })
        .collect();
    let absent: Vec<&[u8]> = absent.iter().map(|k| k.as_slice()).collect();
    cisgate::fuzzing::round_trip(&refs, &absent);
});
