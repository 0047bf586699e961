//! Opening an FST safely: its own checksum checked with the CPU's CRC32C first, because
//! the fst crate may panic on a damaged FST.

use crate::index::format::MappedBytes;

/// Reads an FST and checks its own checksum, whatever the container's check was: a
/// damaged FST can make the fst crate panic on lookup (found by fuzzing; see
/// tests/regressions.rs), and a payload that passed the container's checksum only because
/// it was written with a matching one is still no FST.
pub(crate) fn open_fst(
    bytes: MappedBytes,
    what: &str,
) -> Result<fst::raw::Fst<MappedBytes>, String> {
    let fst = fst::raw::Fst::new(bytes).map_err(|e| format!("{what}: not a valid FST: {e}"))?;
    check_fst_checksum(fst.as_bytes()).map_err(|e| format!("{what} checksum: {e}"))?;
    Ok(fst)
}

/// The check of `fst::raw::Fst::verify` (CRC32C of all but the last 4 bytes, masked as
/// Snappy masks it, against those 4 bytes) with the CPU's CRC32C instruction where there
/// is one: the fst crate's table-driven CRC was most of the open time of an index whose
/// overflow FST is several MB (2.7 ms for 7.6 MB of FSTs).
pub(crate) fn check_fst_checksum(fst: &[u8]) -> Result<(), String> {
    // Format 3 (every FST the fst crate 0.4 writes) is the first with a checksum.
    let version = fst
        .get(..8)
        .and_then(|v| v.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    if version < 3 || fst.len() < 4 {
        return Err(format!("FST format {version} has no checksum"));
    }
    let (body, tail) = fst.split_at(fst.len() - 4);
    let expected = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let got = crc32c::crc32c(body)
        .rotate_right(15)
        .wrapping_add(0xA282_EAD8);
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: expected {expected:#010x}, got {got:#010x}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_fst_checksum;

    /// The hardware CRC check decides exactly as the fst crate's own `verify`, on an intact
    /// FST and with any one byte changed.
    #[test]
    fn fst_checksum_agrees_with_the_fst_crate() {
        let keys: Vec<String> = (0..500)
            .map(|i| format!("0104600439931256215{i:013}"))
            .collect();
        let bytes = fst::Set::from_iter(keys.iter())
            .expect("sorted keys")
            .into_fst()
            .into_inner();
        assert!(check_fst_checksum(&bytes).is_ok());
        let mut checked = 0;
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5A;
            let Ok(fst) = fst::raw::Fst::new(damaged.clone()) else {
                continue;
            };
            assert_eq!(
                fst.verify().is_ok(),
                check_fst_checksum(&damaged).is_ok(),
                "byte {at} of {}",
                bytes.len()
            );
            assert!(check_fst_checksum(&damaged).is_err(), "byte {at}");
            checked += 1;
        }
        assert!(checked > bytes.len() / 2);
        assert!(check_fst_checksum(&bytes[..3]).is_err());
        let mut old_format = bytes.clone();
        old_format[0] = 2;
        assert!(check_fst_checksum(&old_format).is_err());
    }
}
