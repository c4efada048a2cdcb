//! One event file into columns: the rows of each kind of summary, with the semantics of
//! TensorBoard's `EventAccumulator` reading that one file (what tbparse returns).
//!
//! - Every value is kept: duplicate steps and steps that go back stay, in file order.
//! - A `SessionLog.START` at step `s` drops the rows of that file read so far whose step is
//!   `s` or more (a restarted run). In files without a `file_version` of 2 or more, a step
//!   lower than the highest so far drops the earlier rows of that event's tags at or above
//!   it instead.
//! - A tensor value whose tag is empty takes the value's `node_name`.
//! - The first metadata seen for a tag names its plugin (later metadata is ignored).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prost::Message;

use crate::format::proto::{
    summary_value::Value, Event, EventWhat, PluginData, SessionLog, SessionStatus, Summary,
    SummaryAudio, SummaryImage, SummaryMetadata, SummaryValue, TensorProto,
};
use crate::reader::scan::{Damage, RecordScanner};

/// Which kinds of rows to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kinds {
    pub scalars: bool,
    pub tensors: bool,
    pub histograms: bool,
    pub images: bool,
    pub audio: bool,
    /// Rows without payloads: step, wall time, tag and plugin name are read, but tensors,
    /// images and audio are left empty, histograms keep their statistics but no buckets,
    /// and plugin contents are empty but the hparams plugin's (a listing's scan: see
    /// `light_event`).
    pub light: bool,
}

/// The plugin whose content a light scan keeps: `ls` prints the hparams of each run.
const HPARAMS_PLUGIN: &str = "hparams";

impl Kinds {
    pub fn all() -> Self {
        Kinds {
            scalars: true,
            tensors: true,
            histograms: true,
            images: true,
            audio: true,
            light: false,
        }
    }
}

/// Rows of one kind: step, wall time, tag id (into `FileData::tags`) and the item.
#[derive(Debug, Default)]
pub struct Rows<T> {
    pub step: Vec<i64>,
    pub wall: Vec<f64>,
    pub tag: Vec<u32>,
    pub item: Vec<T>,
    /// Tag ids in the order they first appeared in this kind (purged or not).
    pub order: Vec<u32>,
    seen: Vec<bool>,
}

impl<T> Rows<T> {
    fn push(&mut self, step: i64, wall: f64, tag: u32, item: T) {
        let t = tag as usize;
        if self.seen.len() <= t {
            self.seen.resize(t + 1, false);
        }
        if !self.seen[t] {
            self.seen[t] = true;
            self.order.push(tag);
        }
        self.step.push(step);
        self.wall.push(wall);
        self.tag.push(tag);
        self.item.push(item);
    }

    pub fn len(&self) -> usize {
        self.step.len()
    }

    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }

    /// Keeps the rows for which `keep(step, tag)` holds.
    fn retain(&mut self, keep: impl Fn(i64, u32) -> bool) {
        let mut w = 0;
        for r in 0..self.step.len() {
            if keep(self.step[r], self.tag[r]) {
                self.step.swap(w, r);
                self.wall.swap(w, r);
                self.tag.swap(w, r);
                self.item.swap(w, r);
                w += 1;
            }
        }
        self.step.truncate(w);
        self.wall.truncate(w);
        self.tag.truncate(w);
        self.item.truncate(w);
    }

    /// Reorders the rows by tag, tags in first-appearance order, rows of one tag in file
    /// order: the order in which tbparse lists one file's rows before sorting.
    fn group_by_tag(&mut self) {
        let mut rank = vec![0u32; self.seen.len()];
        for (i, &t) in self.order.iter().enumerate() {
            rank[t as usize] = i as u32;
        }
        let n = self.step.len();
        let mut start = vec![0usize; self.order.len() + 1];
        for &t in &self.tag {
            start[rank[t as usize] as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        if is_grouped(&self.tag, &rank) {
            return;
        }
        let mut dest = vec![0usize; n];
        for (r, &t) in self.tag.iter().enumerate() {
            let g = rank[t as usize] as usize;
            dest[r] = start[g];
            start[g] += 1;
        }
        permute(&mut self.step, &dest);
        permute(&mut self.wall, &dest);
        permute(&mut self.tag, &dest);
        permute(&mut self.item, &dest);
    }
}

fn is_grouped(tags: &[u32], rank: &[u32]) -> bool {
    tags.windows(2)
        .all(|w| rank[w[0] as usize] <= rank[w[1] as usize])
}

/// Moves element `r` of `v` to `dest[r]`.
fn permute<T>(v: &mut Vec<T>, dest: &[usize]) {
    let mut slots: Vec<Option<T>> = (0..v.len()).map(|_| None).collect();
    for (r, item) in v.drain(..).enumerate() {
        slots[dest[r]] = Some(item);
    }
    v.extend(slots.into_iter().flatten());
}

/// A histogram's statistics; its buckets are `FileData::hist_limits[start..start + len]`
/// and `FileData::hist_counts[start..start + len]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HistRow {
    pub min: f64,
    pub max: f64,
    pub num: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub start: usize,
    pub len: usize,
}

/// The plugin that the first metadata of a tag names, and its content.
#[derive(Debug, Clone)]
pub struct PluginTag {
    pub tag: u32,
    pub plugin: String,
    pub content: Vec<u8>,
}

/// Everything read from one event file.
#[derive(Debug, Default)]
pub struct FileData {
    pub path: PathBuf,
    pub tags: Vec<String>,
    pub scalars: Rows<f64>,
    pub tensors: Rows<TensorProto>,
    pub histograms: Rows<HistRow>,
    /// The bucket limits and counts of every histogram row, one flat buffer each (counts
    /// cut or padded with zeros to the number of limits, so that both split alike).
    pub hist_limits: Vec<f64>,
    pub hist_counts: Vec<f64>,
    pub images: Rows<SummaryImage>,
    pub audio: Rows<SummaryAudio>,
    /// Tags in the order their first metadata appeared, with its plugin.
    pub plugins: Vec<PluginTag>,
    pub damage: Vec<Damage>,
    /// Records read (valid ones) and those that did not parse as an `Event`.
    pub records: u64,
    pub undecodable: Vec<u64>,
    pub bytes: u64,
    /// The file could not be read at all.
    pub error: Option<String>,
    pub first_wall: Option<f64>,
    pub last_wall: Option<f64>,
}

struct TagTable {
    ids: HashMap<String, u32>,
}

impl FileData {
    fn tag_id(&mut self, table: &mut TagTable, tag: String) -> u32 {
        // Writers name few tags; most lookups hit one of the last ones.
        if let Some(&id) = table.ids.get(&tag) {
            return id;
        }
        let id = self.tags.len() as u32;
        table.ids.insert(tag.clone(), id);
        self.tags.push(tag);
        id
    }

    /// Appends one histogram: its statistics `[min, max, num, sum, sum_squares]` and buckets.
    fn push_histogram(
        &mut self,
        step: i64,
        wall: f64,
        tag: u32,
        stats: [f64; 5],
        limits: impl Iterator<Item = f64>,
        counts: impl Iterator<Item = f64>,
    ) {
        if self.hist_limits.capacity() == 0 && limits.size_hint().0 > 0 {
            // Every bucket value came from 8 bytes of this file, so this bounds both
            // buffers: they never grow by copying. Only the pages written count towards
            // memory, and the rest is given back when the file is done (`finish`).
            let bound = usize::try_from(self.bytes / 8).unwrap_or(0);
            self.hist_limits.reserve(bound);
            self.hist_counts.reserve(bound);
        }
        let start = self.hist_limits.len();
        self.hist_limits.extend(limits);
        let len = self.hist_limits.len() - start;
        self.hist_counts.extend(counts.take(len));
        self.hist_counts.resize(start + len, 0.0);
        let [min, max, num, sum, sum_squares] = stats;
        let row = HistRow {
            min,
            max,
            num,
            sum,
            sum_squares,
            start,
            len,
        };
        self.histograms.push(step, wall, tag, row);
    }

    /// Once the file is read: the histogram buffers without the buckets of purged rows
    /// (rows keep their order) and without spare capacity.
    fn finish_histograms(&mut self) {
        let kept: usize = self.histograms.item.iter().map(|h| h.len).sum();
        if kept < self.hist_limits.len() {
            let mut at = 0;
            for h in self.histograms.item.iter_mut() {
                self.hist_limits.copy_within(h.start..h.start + h.len, at);
                self.hist_counts.copy_within(h.start..h.start + h.len, at);
                h.start = at;
                at += h.len;
            }
            self.hist_limits.truncate(at);
            self.hist_counts.truncate(at);
        }
        self.hist_limits.shrink_to_fit();
        self.hist_counts.shrink_to_fit();
    }

    fn purge(&mut self, step: i64, tags: Option<&[u32]>) {
        match tags {
            None => {
                let keep = |s: i64, _t: u32| s < step;
                self.scalars.retain(keep);
                self.tensors.retain(keep);
                self.histograms.retain(keep);
                self.images.retain(keep);
                self.audio.retain(keep);
            }
            Some(tags) => {
                let keep = |s: i64, t: u32| s < step || !tags.contains(&t);
                self.scalars.retain(keep);
                self.tensors.retain(keep);
                self.histograms.retain(keep);
                self.images.retain(keep);
                self.audio.retain(keep);
            }
        }
    }
}

/// `"brain.Event:2"` → 2.0, as TensorBoard parses it.
fn file_version(s: &str) -> Option<f64> {
    s.rsplit_once(':').and_then(|(_, v)| v.trim().parse().ok())
}

/// Files at least this large are framed and decoded on two threads.
const PIPELINE_BYTES: u64 = 8 << 20;
/// Bytes of payloads handed from the framing thread to the decoding one at a time.
const BATCH_BYTES: usize = 4 << 20;

/// The state of reading one file: what is kept so far and what the semantics need.
struct Accumulator {
    data: FileData,
    kinds: Kinds,
    table: TagTable,
    version: Option<f64>,
    most_recent_step: i64,
    plugin_seen: Vec<bool>,
    event_tags: Vec<u32>,
}

impl Accumulator {
    /// One valid record at `offset`.
    fn record(&mut self, offset: u64, payload: &[u8]) {
        let kinds = self.kinds;
        self.data.records += 1;
        if let Some((wall, step, tag, value)) = plain_value(payload) {
            self.data.first_wall.get_or_insert(wall);
            self.data.last_wall = Some(wall);
            let old_style = !self.version.is_some_and(|v| v >= 2.0);
            if old_style {
                if step < self.most_recent_step {
                    if let Some(&id) = self.table.ids.get(tag) {
                        self.data.purge(step, Some(&[id]));
                    } else if tag.is_empty() {
                        self.data.purge(step, None);
                    }
                } else {
                    self.most_recent_step = step;
                }
            }
            let wanted = match value {
                Plain::Scalar(_) => kinds.scalars,
                Plain::Histogram(_) => kinds.histograms,
            };
            if wanted {
                let id = match self.table.ids.get(tag) {
                    Some(&id) => id,
                    None => self.data.tag_id(&mut self.table, tag.to_owned()),
                };
                match value {
                    Plain::Scalar(x) => self.data.scalars.push(step, wall, id, f64::from(x)),
                    Plain::Histogram(h) if kinds.light => {
                        let none = || f64s_of(&[]);
                        self.data
                            .push_histogram(step, wall, id, h.stats, none(), none());
                    }
                    Plain::Histogram(h) => self.data.push_histogram(
                        step,
                        wall,
                        id,
                        h.stats,
                        f64s_of(h.limits),
                        f64s_of(h.counts),
                    ),
                }
            }
            return;
        }
        let light = if kinds.light {
            light_event(payload)
        } else {
            None
        };
        let event = match light.map_or_else(|| Event::decode(payload).ok(), Some) {
            Some(e) => e,
            None => {
                self.data.undecodable.push(offset);
                return;
            }
        };
        if self.data.first_wall.is_none() {
            self.data.first_wall = Some(event.wall_time);
        }
        self.data.last_wall = Some(event.wall_time);
        let (step, wall) = (event.step, event.wall_time);
        if let Some(EventWhat::FileVersion(v)) = &event.what {
            if let Some(v) = file_version(v) {
                self.version = Some(v);
            }
        }
        let summary = match event.what {
            Some(EventWhat::Summary(s)) => Some(s),
            Some(EventWhat::SessionLog(log)) => {
                if self.version.is_some_and(|v| v >= 2.0)
                    && log.status == SessionStatus::Start as i32
                {
                    self.data.purge(step, None);
                }
                None
            }
            _ => None,
        };
        let old_style = !self.version.is_some_and(|v| v >= 2.0);
        if old_style && !(step < self.most_recent_step && summary.is_some()) {
            self.most_recent_step = step;
        }
        let Some(summary) = summary else { return };
        if old_style && step < self.most_recent_step {
            self.event_tags.clear();
            let mut all = false;
            for v in &summary.value {
                if v.tag.is_empty() {
                    all = true;
                } else if let Some(&id) = self.table.ids.get(&v.tag) {
                    self.event_tags.push(id);
                }
            }
            let tags = std::mem::take(&mut self.event_tags);
            self.data.purge(step, if all { None } else { Some(&tags) });
            self.event_tags = tags;
        }
        for v in summary.value {
            if let Some(meta) = v.metadata {
                let id = self.data.tag_id(&mut self.table, v.tag.clone()) as usize;
                if self.plugin_seen.len() <= id {
                    self.plugin_seen.resize(id + 1, false);
                }
                if !self.plugin_seen[id] {
                    self.plugin_seen[id] = true;
                    if let Some(p) = meta.plugin_data {
                        if !p.plugin_name.is_empty() {
                            self.data.plugins.push(PluginTag {
                                tag: id as u32,
                                plugin: p.plugin_name,
                                content: p.content,
                            });
                        }
                    }
                }
            }
            match v.value {
                Some(Value::SimpleValue(x)) if kinds.scalars => {
                    let id = self.data.tag_id(&mut self.table, v.tag);
                    self.data.scalars.push(step, wall, id, f64::from(x));
                }
                Some(Value::Histo(h)) if kinds.histograms => {
                    let id = self.data.tag_id(&mut self.table, v.tag);
                    let stats = [h.min, h.max, h.num, h.sum, h.sum_squares];
                    self.data.push_histogram(
                        step,
                        wall,
                        id,
                        stats,
                        h.bucket_limit.into_iter(),
                        h.bucket.into_iter(),
                    );
                }
                Some(Value::Image(img)) if kinds.images => {
                    let id = self.data.tag_id(&mut self.table, v.tag);
                    self.data.images.push(step, wall, id, img);
                }
                Some(Value::Audio(a)) if kinds.audio => {
                    let id = self.data.tag_id(&mut self.table, v.tag);
                    self.data.audio.push(step, wall, id, a);
                }
                Some(Value::Tensor(t)) if kinds.tensors => {
                    let tag = if v.tag.is_empty() { v.node_name } else { v.tag };
                    let id = self.data.tag_id(&mut self.table, tag);
                    self.data.tensors.push(step, wall, id, t);
                }
                _ => {}
            }
        }
    }
}

/// Payloads copied out of the scanner's buffer, for the decoding thread.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<(u64, usize, usize)>,
}

/// Reads one event file. Never fails: a file that cannot be opened or read has `error` set.
pub fn read_file(
    path: &Path,
    kinds: Kinds,
    check_crc: bool,
    progress: Option<Arc<AtomicU64>>,
) -> FileData {
    read_file_with(path, kinds, check_crc, progress, PIPELINE_BYTES)
}

fn read_file_with(
    path: &Path,
    kinds: Kinds,
    check_crc: bool,
    progress: Option<Arc<AtomicU64>>,
    pipeline_bytes: u64,
) -> FileData {
    let mut acc = Accumulator {
        data: FileData {
            path: path.to_path_buf(),
            ..Default::default()
        },
        kinds,
        table: TagTable {
            ids: HashMap::new(),
        },
        version: None,
        most_recent_step: -1,
        plugin_seen: Vec::new(),
        event_tags: Vec::new(),
    };
    let mut scanner = match RecordScanner::open(path, check_crc) {
        Ok(s) => s.with_progress(progress),
        Err(e) => {
            acc.data.error = Some(e.to_string());
            return acc.data;
        }
    };
    acc.data.bytes = scanner.file_len();
    let (scanner, error) = if scanner.file_len() >= pipeline_bytes {
        pipelined(scanner, &mut acc)
    } else {
        let mut error = None;
        loop {
            match scanner.next_record() {
                Ok(Some((offset, payload))) => acc.record(offset, payload),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        (Some(scanner), error)
    };
    let mut data = acc.data;
    if error.is_some() {
        data.error = error;
    }
    if let Some(mut scanner) = scanner {
        data.damage = std::mem::take(&mut scanner.damage);
    }
    data.finish_histograms();
    data.scalars.group_by_tag();
    data.tensors.group_by_tag();
    data.histograms.group_by_tag();
    data.images.group_by_tag();
    data.audio.group_by_tag();
    data
}

/// Frames (and checks) on a second thread while this one decodes: a large file is read
/// in about the time of the slower half instead of the sum.
fn pipelined(
    mut scanner: RecordScanner,
    acc: &mut Accumulator,
) -> (Option<RecordScanner>, Option<String>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
    std::thread::scope(|s| {
        let framing = s.spawn(move || {
            crate::runtime::signals::block_async_signals();
            let mut batch = Batch::default();
            let mut error = None;
            loop {
                match scanner.next_record() {
                    Ok(Some((offset, payload))) => {
                        let at = batch.bytes.len();
                        batch.bytes.extend_from_slice(payload);
                        batch.records.push((offset, at, at + payload.len()));
                        if batch.bytes.len() >= BATCH_BYTES
                            && tx.send(std::mem::take(&mut batch)).is_err()
                        {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            if !batch.records.is_empty() {
                let _ = tx.send(batch);
            }
            (scanner, error)
        });
        for batch in rx {
            for &(offset, a, b) in &batch.records {
                acc.record(offset, &batch.bytes[a..b]);
            }
        }
        match framing.join() {
            Ok((scanner, error)) => (Some(scanner), error),
            Err(_) => (None, Some("the framing thread failed".to_owned())),
        }
    })
}

/// The value of a `plain_value` event.
#[derive(Debug, PartialEq)]
pub enum Plain<'a> {
    Scalar(f32),
    Histogram(PlainHistogram<'a>),
}

/// A histogram as it lies in the payload: `[min, max, num, sum, sum_squares]` and the
/// packed little-endian doubles of the bucket limits and counts.
#[derive(Debug, PartialEq)]
pub struct PlainHistogram<'a> {
    pub stats: [f64; 5],
    pub limits: &'a [u8],
    pub counts: &'a [u8],
}

/// Packed little-endian doubles.
fn f64s_of(b: &[u8]) -> impl Iterator<Item = f64> + '_ {
    b.chunks_exact(8).map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        f64::from_le_bytes(a)
    })
}

/// The common events of a scalar or histogram log, `Event{wall_time, step,
/// summary{value{tag, simple_value | histo}}}`, read without allocating: `(wall_time,
/// step, tag, value)`. `None` for anything else (other fields, metadata, several values,
/// unpacked buckets), which the full decode reads.
pub fn plain_value(payload: &[u8]) -> Option<(f64, i64, &str, Plain<'_>)> {
    let (mut wall, mut step, mut summary) = (0.0f64, 0i64, None);
    let mut p = Wire::new(payload);
    while !p.done() {
        match p.key()? {
            (1, 1) => wall = f64::from_le_bytes(p.fixed::<8>()?),
            (2, 0) => step = p.varint()? as i64,
            (5, 2) => summary = Some(p.bytes()?),
            _ => return None,
        }
    }
    let mut s = Wire::new(summary?);
    let mut value = None;
    while !s.done() {
        match s.key()? {
            (1, 2) if value.is_none() => value = Some(s.bytes()?),
            _ => return None,
        }
    }
    let mut v = Wire::new(value?);
    let (mut tag, mut x) = (&[][..], None);
    while !v.done() {
        match v.key()? {
            (1, 2) => tag = v.bytes()?,
            (2, 5) if x.is_none() => x = Some(Plain::Scalar(f32::from_le_bytes(v.fixed::<4>()?))),
            (5, 2) if x.is_none() => x = Some(Plain::Histogram(plain_histogram(v.bytes()?)?)),
            _ => return None,
        }
    }
    Some((wall, step, std::str::from_utf8(tag).ok()?, x?))
}

fn plain_histogram(b: &[u8]) -> Option<PlainHistogram<'_>> {
    let mut h = Wire::new(b);
    let mut stats = [0.0f64; 5];
    let (mut limits, mut counts) = (None, None);
    while !h.done() {
        match h.key()? {
            (f @ 1..=5, 1) => stats[f as usize - 1] = f64::from_le_bytes(h.fixed::<8>()?),
            (6, 2) if limits.is_none() => limits = Some(h.bytes()?),
            (7, 2) if counts.is_none() => counts = Some(h.bytes()?),
            _ => return None,
        }
    }
    let (limits, counts) = (limits.unwrap_or(&[]), counts.unwrap_or(&[]));
    if limits.len() % 8 != 0 || counts.len() % 8 != 0 {
        return None;
    }
    Some(PlainHistogram {
        stats,
        limits,
        counts,
    })
}

/// An event as the full decode reads it, but with every payload left out: summary values
/// keep their tag, node name, plugin name (not its content) and which kind of value they
/// hold (a scalar keeps its value; the others are empty); session logs keep their status,
/// other events only their kind. Walks the wire format without decoding or copying the
/// payloads. `None` for what it does not expect (a message field given twice, which the
/// full decode merges, or an unknown field), which the full decode then reads.
pub fn light_event(payload: &[u8]) -> Option<Event> {
    let mut ev = Event::default();
    let mut p = Wire::new(payload);
    while !p.done() {
        let (field, wire) = p.key()?;
        match (field, wire) {
            (1, 1) => ev.wall_time = f64::from_le_bytes(p.fixed::<8>()?),
            (2, 0) => ev.step = p.varint()? as i64,
            (3, 2) => {
                let v = std::str::from_utf8(p.bytes()?).ok()?;
                ev.what = Some(EventWhat::FileVersion(v.to_owned()));
            }
            (5, 2) if !matches!(ev.what, Some(EventWhat::Summary(_))) => {
                ev.what = Some(EventWhat::Summary(light_summary(p.bytes()?)?));
            }
            (7, 2) if !matches!(ev.what, Some(EventWhat::SessionLog(_))) => {
                let mut s = Wire::new(p.bytes()?);
                let mut log = SessionLog::default();
                while !s.done() {
                    match s.key()? {
                        (1, 0) => log.status = s.varint()? as i32,
                        (_, w) => s.skip(w)?,
                    }
                }
                ev.what = Some(EventWhat::SessionLog(log));
            }
            (4, 2) => {
                p.bytes()?;
                ev.what = Some(EventWhat::GraphDef(Vec::new()));
            }
            (9, 2) => {
                p.bytes()?;
                ev.what = Some(EventWhat::MetaGraphDef(Vec::new()));
            }
            (6, 2) => {
                p.bytes()?;
                ev.what = Some(EventWhat::LogMessage(Default::default()));
            }
            (8, 2) => {
                p.bytes()?;
                ev.what = Some(EventWhat::TaggedRunMetadata(Default::default()));
            }
            (10, 2) => {
                p.bytes()?;
            }
            _ => return None,
        }
    }
    Some(ev)
}

fn light_summary(b: &[u8]) -> Option<Summary> {
    let mut s = Wire::new(b);
    let mut out = Summary::default();
    while !s.done() {
        match s.key()? {
            (1, 2) => out.value.push(light_value(s.bytes()?)?),
            _ => return None,
        }
    }
    Some(out)
}

fn light_value(b: &[u8]) -> Option<SummaryValue> {
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    let mut v = Wire::new(b);
    let mut out = SummaryValue::default();
    while !v.done() {
        match v.key()? {
            (1, 2) => out.tag = text(v.bytes()?)?,
            (7, 2) => out.node_name = text(v.bytes()?)?,
            (9, 2) if out.metadata.is_none() => {
                let mut m = Wire::new(v.bytes()?);
                let mut meta = SummaryMetadata::default();
                while !m.done() {
                    match m.key()? {
                        (1, 2) if meta.plugin_data.is_none() => {
                            let mut d = Wire::new(m.bytes()?);
                            let mut plugin = PluginData::default();
                            let mut content: &[u8] = &[];
                            while !d.done() {
                                match d.key()? {
                                    (1, 2) => plugin.plugin_name = text(d.bytes()?)?,
                                    (2, 2) => content = d.bytes()?,
                                    _ => return None,
                                }
                            }
                            // A listing prints the hparams (a few dozen bytes a run); every
                            // other plugin's content stays unread.
                            if plugin.plugin_name == HPARAMS_PLUGIN {
                                plugin.content = content.to_vec();
                            }
                            meta.plugin_data = Some(plugin);
                        }
                        (2..=4, w) => m.skip(w)?,
                        _ => return None,
                    }
                }
                out.metadata = Some(meta);
            }
            (2, 5) => out.value = Some(Value::SimpleValue(f32::from_le_bytes(v.fixed::<4>()?))),
            (3, 2) => {
                v.bytes()?;
                out.value = Some(Value::ObsoleteOldStyleHistogram(Vec::new()));
            }
            (f @ (4 | 5 | 6 | 8), 2) => {
                v.bytes()?;
                out.value = Some(match f {
                    4 => Value::Image(Default::default()),
                    5 => Value::Histo(Default::default()),
                    6 => Value::Audio(Default::default()),
                    _ => Value::Tensor(Default::default()),
                });
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A protobuf wire-format cursor (only what `plain_value` and `light_event` need).
struct Wire<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Wire<'a> {
    fn new(b: &'a [u8]) -> Self {
        Wire { b, i: 0 }
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn varint(&mut self) -> Option<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            out |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(out);
            }
        }
        None
    }
    fn key(&mut self) -> Option<(u64, u64)> {
        let k = self.varint()?;
        Some((k >> 3, k & 7))
    }
    fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.b.get(self.i..self.i + N)?;
        self.i += N;
        s.try_into().ok()
    }
    /// Skips a field's value of wire type `wire`.
    fn skip(&mut self, wire: u64) -> Option<()> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed::<8>().map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed::<4>().map(drop),
            _ => None,
        }
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::proto::HistogramProto;

    fn event(value: SummaryValue) -> Vec<u8> {
        Event {
            wall_time: 12.5,
            step: -3,
            what: Some(EventWhat::Summary(Summary { value: vec![value] })),
            source_metadata: None,
        }
        .encode_to_vec()
    }

    #[test]
    fn plain_value_reads_what_prost_reads_and_declines_the_rest() {
        let plain = event(SummaryValue {
            tag: "loss/ü".into(),
            value: Some(Value::SimpleValue(0.25)),
            ..Default::default()
        });
        assert_eq!(
            plain_value(&plain),
            Some((12.5, -3, "loss/ü", Plain::Scalar(0.25)))
        );
        let with_meta = event(SummaryValue {
            tag: "x".into(),
            metadata: Some(SummaryMetadata::for_plugin("scalars", vec![])),
            value: Some(Value::SimpleValue(1.0)),
            ..Default::default()
        });
        assert_eq!(plain_value(&with_meta), None);
        assert_eq!(plain_value(&plain[..plain.len() - 1]), None);
        let histo = HistogramProto {
            min: -1.5,
            max: 2.0,
            num: 3.0,
            sum: 0.5,
            sum_squares: 6.25,
            bucket_limit: vec![-1.0, 0.0, 2.0],
            bucket: vec![1.0, 0.0, 2.0],
        };
        let h = event(SummaryValue {
            tag: "w".into(),
            value: Some(Value::Histo(histo.clone())),
            ..Default::default()
        });
        let Some((12.5, -3, "w", Plain::Histogram(p))) = plain_value(&h) else {
            panic!("not read as a plain histogram: {:?}", plain_value(&h));
        };
        assert_eq!(p.stats, [-1.5, 2.0, 3.0, 0.5, 6.25]);
        assert_eq!(f64s_of(p.limits).collect::<Vec<_>>(), histo.bucket_limit);
        assert_eq!(f64s_of(p.counts).collect::<Vec<_>>(), histo.bucket);
    }

    #[test]
    fn histogram_buckets_share_flat_buffers_and_purged_ones_are_dropped() {
        let mut bytes = Vec::new();
        crate::format::tf_record::append_record(
            &mut bytes,
            &Event {
                what: Some(EventWhat::FileVersion("brain.Event:2".into())),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        let histogram = |step: i64, n: usize, meta: bool| {
            let mut ev = Event::decode(
                event(SummaryValue {
                    tag: format!("h{}", step % 2),
                    metadata: meta.then(|| SummaryMetadata::for_plugin("histograms", vec![])),
                    value: Some(Value::Histo(HistogramProto {
                        num: step as f64,
                        bucket_limit: (0..n).map(|k| k as f64).collect(),
                        // One count short: padded with a zero.
                        bucket: (1..n).map(|k| (step * 100) as f64 + k as f64).collect(),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .as_slice(),
            )
            .unwrap();
            ev.step = step;
            ev.encode_to_vec()
        };
        for step in 0..6 {
            crate::format::tf_record::append_record(
                &mut bytes,
                &histogram(step, 3 + step as usize, step == 1),
            );
        }
        // A restart at step 4 drops steps 4 and 5.
        crate::format::tf_record::append_record(
            &mut bytes,
            &Event {
                step: 4,
                what: Some(EventWhat::SessionLog(crate::format::proto::SessionLog {
                    status: SessionStatus::Start as i32,
                    ..Default::default()
                })),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        crate::format::tf_record::append_record(&mut bytes, &histogram(4, 2, false));
        let path = std::env::temp_dir().join(format!("ferroboard-histo-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let d = read_file(&path, Kinds::all(), true, None);
        std::fs::remove_file(&path).unwrap();
        // Grouped by tag: h0 (steps 0, 2, 4 of the restart), then h1 (steps 1, 3).
        assert_eq!(d.histograms.step, vec![0, 2, 4, 1, 3]);
        let lens: Vec<usize> = d.histograms.item.iter().map(|h| h.len).collect();
        assert_eq!(lens, vec![3, 5, 2, 4, 6]);
        assert_eq!(d.hist_limits.len(), 3 + 5 + 2 + 4 + 6);
        assert_eq!(d.hist_counts.len(), d.hist_limits.len());
        for (h, step) in d.histograms.item.iter().zip(&d.histograms.step) {
            assert_eq!(h.num, *step as f64);
            let limits = &d.hist_limits[h.start..h.start + h.len];
            let counts = &d.hist_counts[h.start..h.start + h.len];
            assert_eq!(limits, (0..h.len).map(|k| k as f64).collect::<Vec<_>>());
            let mut want: Vec<f64> = (1..h.len).map(|k| (step * 100) as f64 + k as f64).collect();
            want.push(0.0);
            assert_eq!(counts, want);
        }
    }

    #[test]
    fn two_threads_read_what_one_reads_damage_included() {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for step in 0..200_000i64 {
            offsets.push(bytes.len());
            let tag = format!("tag{}", step % 7);
            let value = if step == 150_000 {
                // A value with metadata takes the full decode.
                SummaryValue {
                    tag: tag.clone(),
                    metadata: Some(SummaryMetadata::for_plugin("scalars", vec![])),
                    value: Some(Value::SimpleValue(step as f32)),
                    ..Default::default()
                }
            } else {
                SummaryValue {
                    tag,
                    value: Some(Value::SimpleValue(step as f32)),
                    ..Default::default()
                }
            };
            let mut ev = Event::decode(event(value).as_slice()).unwrap();
            ev.step = step;
            crate::format::tf_record::append_record(&mut bytes, &ev.encode_to_vec());
        }
        bytes[offsets[100_000] + 14] ^= 1;
        bytes.truncate(bytes.len() - 3);
        let path = std::env::temp_dir().join(format!("ferroboard-pipe-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let one = read_file_with(&path, Kinds::all(), true, None, u64::MAX);
        let two = read_file_with(&path, Kinds::all(), true, None, 0);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(one.scalars.len(), 200_000 - 2);
        assert_eq!(one.scalars.step, two.scalars.step);
        assert_eq!(one.scalars.item, two.scalars.item);
        assert_eq!(one.scalars.tag, two.scalars.tag);
        assert_eq!(one.tags, two.tags);
        assert_eq!(one.damage, two.damage);
        assert_eq!(one.damage.len(), 2);
        assert_eq!(one.damage[0].offset, offsets[100_000] as u64);
        assert_eq!(one.damage[1].offset, offsets[199_999] as u64);
        assert_eq!(one.records, two.records);
        assert_eq!(one.plugins.len(), 1);
    }
}
