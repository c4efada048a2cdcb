//! CRC-32C (Castagnoli) with the TFRecord mask.
//!
//! The `crc32c` crate uses SSE4.2 / ARMv8 CRC instructions when the CPU has them and a
//! table-driven fallback otherwise, so framing costs nothing next to encoding.

/// Added after the rotation; the constant every TFRecord reader expects.
const MASK_DELTA: u32 = 0xA282_EAD8;

/// Plain CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// The TFRecord masked CRC: rotate right by 15 bits, then add `MASK_DELTA`.
///
/// The mask exists so that a CRC stored inside data that is itself CRC'd does not
/// produce degenerate checksums.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    mask(crc32c(data))
}

pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published CRC-32C check values (RFC 3720 appendix B.4 and the "123456789" check).
    #[test]
    fn published_vectors() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
        assert_eq!(crc32c(b""), 0);
    }

    // Spelled as the TFRecord specification writes it, on purpose.
    #[allow(clippy::manual_rotate)]
    #[test]
    fn mask_matches_reference_formula() {
        for crc in [0u32, 1, 0xE306_9283, u32::MAX, 0x8000_0000] {
            let expected = (((crc >> 15) | (crc << 17)) as u64 + 0xA282_EAD8u64) as u32;
            assert_eq!(mask(crc), expected);
        }
    }

    #[test]
    fn masked_crc_of_empty_length_header() {
        // The length header of an empty record is eight zero bytes; its masked CRC is a
        // fixed value any TFRecord implementation computes identically.
        let header = 0u64.to_le_bytes();
        assert_eq!(masked_crc32c(&header), mask(crc32c(&header)));
    }
}
