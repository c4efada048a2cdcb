//! The worker's side of a remote writer: which staging segment records go to, when a
//! segment is published, and when it is sealed for the next one.
//!
//! Rules (docs/storage.md):
//! * a publish is one whole-object PUT of the segment's complete records; nothing new
//!   means no publish, so an idle writer makes no requests;
//! * a segment is sealed, and the next batch starts a new one, once it was published
//!   `K` times, would grow beyond `S` bytes, or once one more publish could make the
//!   bytes uploaded for it exceed (K+1)/2 times its length; so only the newest object
//!   ever changes, and the bytes uploaded stay within (K+1)/2 of the bytes logged;
//! * a single record larger than `S` gets a segment of its own, uploaded once in parts.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::staging::{self, segment_name};
use super::uploader::{self, Publish, Source, Target};
use super::RemoteConfig;
use crate::error::FerroError;
use crate::format::event_file::{self, EventFile};
use crate::format::tf_record::FRAME_OVERHEAD;
use crate::runtime::faults::Faults;

/// Publishes of one segment before it is sealed.
pub const PUBLISHES_PER_SEGMENT: u64 = 8;
/// Size above which a segment is sealed (and a single larger record uploaded in parts).
pub const SEGMENT_BYTES: u64 = 32 << 20;

/// Why writing a batch failed: the error and the file it concerns.
pub type WriteError = (std::io::Error, PathBuf);

pub struct Segments {
    target: Arc<Target>,
    /// `events.out.tfevents.{secs}.{host}.{pid}.{n}`: the fixed part of the names.
    base: String,
    suffix: String,
    /// Index of the current segment.
    index: u32,
    /// A read handle on the current segment, for the uploader.
    reader: Arc<File>,
    /// Publishes of the current segment, and the bytes they uploaded.
    publishes: u64,
    uploaded: u64,
    /// The current segment's length at its last publish.
    published_len: u64,
    /// Events in earlier segments, and in the current one.
    events_before: u64,
    events: u64,
    /// The next batch must start a new segment.
    sealed: bool,
    /// A `flush()` asked for a publish.
    wanted: bool,
    last_publish: Option<Instant>,
    /// When the current segment first held data not yet published.
    dirty_since: Option<Instant>,
    /// The publish interval (the writer's `flush_secs`): new data is published this long
    /// after it was written, and a `flush()` publishes no sooner than this long after
    /// the previous publish, so a writer makes at most one PUT per interval.
    interval: Duration,
    limit: u64,
}

impl Segments {
    /// Checks the store's configuration (no network I/O), creates the staging directory
    /// with its sidecar, and segment 0 with its header.
    pub fn open(
        remote: &RemoteConfig,
        suffix: &str,
        flush_secs: f64,
        faults: &mut Faults,
    ) -> Result<(EventFile, Segments), FerroError> {
        let store = remote.dir.build_store()?;
        let secs = event_file::now_secs() as u64;
        let host = event_file::host_name();
        let pid = std::process::id();
        let n = event_file::next_file_number();
        let base = format!("events.out.tfevents.{secs:010}.{host}.{pid}.{n}");
        let root = staging::root();
        let dir =
            staging::create_writer_dir(&root, &format!("{host}.{pid}.{n}.{secs}"), &remote.dir.url)
                .map_err(|e| FerroError::Io {
                    path: root.clone(),
                    lost: 0,
                    source: e,
                })?;
        let file =
            EventFile::create_named_with_header(&dir, &segment_name(&base, 0, suffix), faults)
                .map_err(|(e, path)| FerroError::Io {
                    path,
                    lost: 0,
                    source: e,
                })?;
        let target = Target::new(remote.dir.clone(), dir, store);
        let interval = Duration::from_secs_f64(flush_secs.clamp(0.001, 1e9));
        let segments =
            Segments::new(target, base, suffix.to_owned(), &file, interval).map_err(|e| {
                FerroError::Io {
                    path: file.path().to_owned(),
                    lost: 0,
                    source: e,
                }
            })?;
        Ok((file, segments))
    }

    /// `file` is segment 0, already created (with its header) under
    /// `segment_name(base, 0, suffix)`.
    pub fn new(
        target: Arc<Target>,
        base: String,
        suffix: String,
        file: &EventFile,
        interval: Duration,
    ) -> std::io::Result<Segments> {
        Ok(Segments {
            target,
            base,
            suffix,
            index: 0,
            reader: Arc::new(File::open(file.path())?),
            publishes: 0,
            uploaded: 0,
            published_len: 0,
            events_before: 0,
            events: 0,
            sealed: false,
            wanted: false,
            last_publish: None,
            dirty_since: None,
            interval,
            limit: SEGMENT_BYTES,
        })
    }

    /// Test builds: a smaller segment limit (`FERROBOARD_FAULTS=segment_bytes:N`).
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit.max(1);
    }

    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// Appends whole framed `records`, starting new segments as the rules say.
    pub fn write(
        &mut self,
        file: &mut EventFile,
        records: &[u8],
        faults: &mut Faults,
    ) -> Result<(), WriteError> {
        for run in runs(records, self.limit) {
            let bytes = &records[run.start..run.end];
            let len = bytes.len() as u64;
            if run.oversized || self.sealed || self.must_seal(file.len(), len) {
                self.next_segment(file, faults)?;
            }
            file.write(bytes, faults)
                .map_err(|e| (e, file.path().to_owned()))?;
            self.events += run.events;
            self.target.set_staged(self.events_before + self.events);
            self.dirty_since.get_or_insert_with(Instant::now);
            if run.oversized {
                self.publish(file, true)
                    .map_err(|e| (e, file.path().to_owned()))?;
                self.sealed = true;
            }
        }
        Ok(())
    }

    /// Whether appending `add` bytes to a segment of `len` must go to a new segment.
    fn must_seal(&self, len: u64, add: u64) -> bool {
        if self.events == 0 {
            return false;
        }
        let grown = len + add;
        // With U bytes uploaded for this segment so far, its next publish (of at least
        // `grown` bytes) keeps U + grown <= (K+1)/2 * grown as long as
        // 2U <= (K-1) * grown.
        self.publishes >= PUBLISHES_PER_SEGMENT
            || grown > self.limit
            || 2 * self.uploaded > (PUBLISHES_PER_SEGMENT - 1) * grown
    }

    /// Seals the current segment (publishing what it holds beyond its last publish) and
    /// continues in a new one, or keeps the current one if it holds no event yet.
    fn next_segment(
        &mut self,
        file: &mut EventFile,
        faults: &mut Faults,
    ) -> Result<(), WriteError> {
        self.sealed = false;
        if self.events == 0 {
            return Ok(());
        }
        // The sealed segment is durable before later records are (a flush fsyncs only
        // the current segment).
        file.sync(faults).map_err(|e| (e, file.path().to_owned()))?;
        if file.len() > self.published_len {
            self.publish(file, false)
                .map_err(|e| (e, file.path().to_owned()))?;
        }
        let index = self.index + 1;
        let name = segment_name(&self.base, index, &self.suffix);
        let dir = self.target.staging.clone();
        let next = EventFile::create_named_with_header(&dir, &name, faults)?;
        self.reader = Arc::new(File::open(next.path()).map_err(|e| (e, next.path().to_owned()))?);
        *file = next;
        self.index = index;
        self.events_before += self.events;
        self.events = 0;
        self.publishes = 0;
        self.uploaded = 0;
        self.published_len = 0;
        self.dirty_since = None;
        Ok(())
    }

    /// A `flush()`: publish as soon as the interval since the last publish allows.
    pub fn request(&mut self) {
        self.wanted = true;
    }

    /// How long until a publish is due; None when there is nothing to publish.
    pub fn until_due(&self) -> Option<Duration> {
        let dirty = self.dirty_since?;
        let due = match (self.wanted, self.last_publish) {
            (true, Some(last)) => (last + self.interval).max(dirty),
            (true, None) => dirty,
            (false, _) => dirty + self.interval,
        };
        Some(due.saturating_duration_since(Instant::now()))
    }

    /// Publishes the current segment if a publish is due.
    pub fn publish_if_due(&mut self, file: &EventFile) -> std::io::Result<()> {
        match self.until_due() {
            Some(wait) if wait.is_zero() => self.publish(file, false),
            _ => Ok(()),
        }
    }

    /// The last publish, at close: everything written goes to the store.
    pub fn finish(&mut self, file: &EventFile) -> std::io::Result<()> {
        if self.dirty_since.is_some() {
            self.publish(file, false)?;
        }
        Ok(())
    }

    fn publish(&mut self, file: &EventFile, multipart: bool) -> std::io::Result<()> {
        let len = file.len();
        uploader::submit(Publish {
            target: Arc::clone(&self.target),
            source: Source::Segment {
                file: Arc::clone(&self.reader),
                len,
            },
            name: segment_name(&self.base, self.index, &self.suffix),
            events_through: self.events_before + self.events,
            multipart,
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.publishes += 1;
        self.uploaded += len;
        self.published_len = len;
        self.last_publish = Some(Instant::now());
        self.dirty_since = None;
        self.wanted = false;
        Ok(())
    }
}

/// A stretch of whole records that goes to one segment.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    start: usize,
    end: usize,
    events: u64,
    /// One record larger than the segment limit.
    oversized: bool,
}

/// Splits framed records into runs of at most `limit` bytes (a larger record alone).
fn runs(records: &[u8], limit: u64) -> Vec<Run> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut offset = 0usize;
    let mut events = 0u64;
    while offset + 8 <= records.len() {
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&records[offset..offset + 8]);
        let size = u64::from_le_bytes(len_bytes) as usize + FRAME_OVERHEAD;
        let end = (offset + size).min(records.len());
        if size as u64 > limit {
            if events > 0 {
                out.push(Run {
                    start,
                    end: offset,
                    events,
                    oversized: false,
                });
            }
            out.push(Run {
                start: offset,
                end,
                events: 1,
                oversized: true,
            });
            start = end;
            events = 0;
        } else if events > 0 && (end - start) as u64 > limit {
            out.push(Run {
                start,
                end: offset,
                events,
                oversized: false,
            });
            start = offset;
            events = 1;
        } else {
            events += 1;
        }
        offset = end;
    }
    if events > 0 {
        out.push(Run {
            start,
            end: records.len(),
            events,
            oversized: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tf_record::append_record;

    fn framed(sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for &s in sizes {
            append_record(&mut out, &vec![7u8; s]);
        }
        out
    }

    #[test]
    fn runs_keep_records_whole_and_isolate_oversized_ones() {
        let data = framed(&[10, 10, 100, 10]);
        let r = runs(&data, 60);
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!((r[0].events, r[0].oversized), (2, false));
        assert_eq!(
            (r[1].events, r[1].oversized, r[1].end - r[1].start),
            (1, true, 116)
        );
        assert_eq!((r[2].events, r[2].end), (1, data.len()));
        // Runs of small records are cut at the limit, at record boundaries.
        let data = framed(&[20; 10]);
        let r = runs(&data, 80);
        assert!(
            r.iter().all(|x| x.end - x.start <= 80 && !x.oversized),
            "{r:?}"
        );
        assert_eq!(r.iter().map(|x| x.events).sum::<u64>(), 10);
        assert_eq!(r.last().map(|x| x.end), Some(data.len()));
    }
}
