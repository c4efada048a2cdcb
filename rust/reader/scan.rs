//! TFRecord framing over a file, streamed through one reused buffer.
//!
//! Every record's length and payload checksums are checked (unless the caller turns that
//! off). Damage does not end the scan: a bad length or checksum is reported with its byte
//! offset and the scanner looks for the next whole, valid record after it; bytes that end
//! inside a record at the end of the file are a torn tail (a live or killed writer's last
//! record) and end the scan.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::format::masked_crc::masked_crc32c;
use crate::format::tf_record::FRAME_OVERHEAD;

/// Bytes read from the file at a time; a record larger than this grows the buffer.
const CHUNK: usize = 1 << 20;

/// What is wrong at an offset of an event file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
    /// The file ends inside a record.
    TornTail,
    /// The checksum of a record's length field does not match.
    BadLengthChecksum,
    /// The checksum of a record's payload does not match.
    BadDataChecksum,
}

impl DamageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DamageKind::TornTail => "torn tail",
            DamageKind::BadLengthChecksum => "bad length checksum",
            DamageKind::BadDataChecksum => "bad data checksum",
        }
    }
}

/// One damaged region: where it starts, what is wrong, and how many bytes were skipped
/// before the next valid record (or the end of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub kind: DamageKind,
    pub skipped: u64,
}

/// Streams the records of one file.
pub struct RecordScanner {
    file: File,
    file_len: u64,
    buf: Vec<u8>,
    /// Bytes `start..end` of `buf` are file bytes `base + start ..`.
    start: usize,
    end: usize,
    base: u64,
    eof: bool,
    check_crc: bool,
    pub damage: Vec<Damage>,
    done: bool,
    /// Bytes read so far, summed over every scanner given the same counter (progress).
    progress: Option<Arc<AtomicU64>>,
}

impl RecordScanner {
    pub fn open(path: &Path, check_crc: bool) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        Ok(RecordScanner {
            file,
            file_len,
            buf: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            check_crc,
            damage: Vec::new(),
            done: false,
            progress: None,
        })
    }

    /// Adds the bytes this scanner reads to `counter` as it goes.
    pub fn with_progress(mut self, counter: Option<Arc<AtomicU64>>) -> Self {
        self.progress = counter;
        self
    }

    /// Bytes of the file, as its size was when it was opened.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Makes at least `need` bytes available from `start`, unless the file ends first;
    /// returns how many are available.
    fn fill(&mut self, need: usize) -> std::io::Result<usize> {
        while self.end - self.start < need && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += self.start as u64;
                self.end -= self.start;
                self.start = 0;
            }
            let want = need.max(CHUNK);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let n = self.file.read(&mut self.buf[self.end..])?;
            if n == 0 {
                self.eof = true;
            }
            if let Some(p) = &self.progress {
                p.fetch_add(n as u64, Ordering::Relaxed);
            }
            self.end += n;
        }
        Ok(self.end - self.start)
    }

    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Checks for a whole, valid record at `start`: `Ok(Some(len))` when there is one,
    /// `Ok(None)` when what is there is not a record, `Err` on a read error. `torn` is
    /// set when the bytes end inside what could be a record.
    fn record_at(&mut self, torn: &mut Option<DamageKind>) -> std::io::Result<Option<usize>> {
        let have = self.fill(12)?;
        if have < 12 {
            *torn = Some(DamageKind::TornTail);
            return Ok(None);
        }
        let h = &self.buf[self.start..self.start + 12];
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&h[..8]);
        let stored = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if self.check_crc && masked_crc32c(&len_bytes) != stored {
            *torn = Some(DamageKind::BadLengthChecksum);
            return Ok(None);
        }
        let len = u64::from_le_bytes(len_bytes);
        let remaining = self.file_len.saturating_sub(self.offset());
        if len > remaining.saturating_sub(FRAME_OVERHEAD as u64) {
            // Without checksums a garbage length looks like a torn tail too; with them,
            // the length is known to be what the writer meant.
            *torn = Some(DamageKind::TornTail);
            return Ok(None);
        }
        let len = len as usize;
        let have = self.fill(len + FRAME_OVERHEAD)?;
        if have < len + FRAME_OVERHEAD {
            *torn = Some(DamageKind::TornTail);
            return Ok(None);
        }
        if self.check_crc {
            let p = &self.buf[self.start + 12..self.start + 12 + len];
            let c = &self.buf[self.start + 12 + len..self.start + 16 + len];
            if masked_crc32c(p) != u32::from_le_bytes([c[0], c[1], c[2], c[3]]) {
                *torn = Some(DamageKind::BadDataChecksum);
                return Ok(None);
            }
        }
        Ok(Some(len))
    }

    /// The next valid record as `(offset, payload)`, or `None` at the end of the file.
    pub fn next_record(&mut self) -> std::io::Result<Option<(u64, &[u8])>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if self.fill(1)? == 0 {
                self.done = true;
                return Ok(None);
            }
            let mut what = None;
            if let Some(len) = self.record_at(&mut what)? {
                let offset = self.offset();
                let at = self.start;
                self.start += len + FRAME_OVERHEAD;
                return Ok(Some((offset, &self.buf[at + 12..at + 12 + len])));
            }
            let kind = what.unwrap_or(DamageKind::TornTail);
            let offset = self.offset();
            if kind == DamageKind::TornTail {
                self.damage.push(Damage {
                    offset,
                    kind,
                    skipped: self.file_len.saturating_sub(offset),
                });
                self.done = true;
                return Ok(None);
            }
            // Look for the next whole, valid record after the damaged one.
            let resumed = self.resync()?;
            let skipped = self.offset() - offset;
            self.damage.push(Damage {
                offset,
                kind,
                skipped,
            });
            if !resumed {
                self.done = true;
                return Ok(None);
            }
        }
    }

    /// Moves `start` byte by byte to the next offset holding a whole record whose two
    /// checksums match; false (at the end of the file) when there is none.
    fn resync(&mut self) -> std::io::Result<bool> {
        loop {
            self.start += 1;
            if self.fill(12)? < 12 {
                self.start = self.end;
                return Ok(false);
            }
            let mut what = None;
            if self.record_at(&mut what)?.is_some() {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tf_record::framed;

    fn scan(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, Vec<Damage>) {
        let dir = std::env::temp_dir().join(format!(
            "ferroboard-scan-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::write(&dir, bytes).unwrap();
        let mut s = RecordScanner::open(&dir, true).unwrap();
        let mut out = Vec::new();
        while let Some((off, p)) = s.next_record().unwrap() {
            out.push((off, p.to_vec()));
        }
        std::fs::remove_file(&dir).unwrap();
        (out, s.damage.clone())
    }

    #[test]
    fn clean_file_gives_every_record_with_offsets() {
        let big = vec![3u8; 3 * CHUNK];
        let data = framed(&[b"one", &big, b"three"]);
        let (recs, damage) = scan(&data);
        assert!(damage.is_empty());
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0], (0, b"one".to_vec()));
        assert_eq!(recs[1].0, 19);
        assert_eq!(recs[1].1.len(), big.len());
        assert_eq!(recs[2].1, b"three".to_vec());
    }

    #[test]
    fn torn_tail_is_reported_and_whole_records_kept() {
        let data = framed(&[b"one", b"two"]);
        for cut in 20..data.len() {
            let (recs, damage) = scan(&data[..cut]);
            assert_eq!(recs.len(), 1, "cut {cut}");
            assert_eq!(
                damage,
                vec![Damage {
                    offset: 19,
                    kind: DamageKind::TornTail,
                    skipped: (cut - 19) as u64
                }]
            );
        }
    }

    #[test]
    fn bad_checksum_is_skipped_and_later_records_kept() {
        let mut data = framed(&[b"one", b"two!", b"three"]);
        data[19 + 13] ^= 1; // a payload byte of the second record
        let (recs, damage) = scan(&data);
        let payloads: Vec<_> = recs.iter().map(|r| r.1.clone()).collect();
        assert_eq!(payloads, vec![b"one".to_vec(), b"three".to_vec()]);
        assert_eq!(damage.len(), 1);
        assert_eq!(damage[0].offset, 19);
        assert_eq!(damage[0].kind, DamageKind::BadDataChecksum);
        assert_eq!(damage[0].skipped, 20);

        let mut data = framed(&[b"one", b"two!", b"three"]);
        data[19 + 2] ^= 1; // the second record's length
        let (recs, damage) = scan(&data);
        assert_eq!(recs.len(), 2);
        assert_eq!(damage[0].kind, DamageKind::BadLengthChecksum);
        assert_eq!(damage[0].offset, 19);
    }
}
