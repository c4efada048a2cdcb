//! Work handed from the caller to the worker, and how each job becomes an Event.
//!
//! The caller builds a `Job` from copied, validated inputs (each kind's constructor does
//! the checks); binning, tensor conversion and protobuf serialization run when the job
//! is encoded: on the worker thread, or at once for `ferroboard.summary`
//! ([`SummaryJob::serialize`]).

use prost::Message;

use crate::error::FerroError;
use crate::format::proto::plugins::TextPluginData;
use crate::format::proto::{
    summary_value, DataType, Event, EventWhat, HistogramProto, Summary, SummaryMetadata,
    SummaryValue, TensorProto, TensorShapeProto,
};
use crate::runtime::fallible;
use crate::summary::histogram::{histogram, Bins};
use crate::summary::raw_array::{DType, RawArray};

/// A unit of work with the event's step and wall time fixed at call time.
pub struct Job {
    pub step: Option<i64>,
    pub wall_time: f64,
    pub kind: JobKind,
}

impl Job {
    /// A job at `wall_time` (now when None). The one check of a caller's wall time: an
    /// Event with a NaN or infinite one is a record readers reject.
    pub fn new(
        step: Option<i64>,
        wall_time: Option<f64>,
        kind: JobKind,
    ) -> Result<Job, FerroError> {
        Ok(Job {
            step,
            wall_time: checked_wall_time(wall_time)?,
            kind,
        })
    }
}

/// `wall_time`, or now when None; an error unless it is finite.
pub fn checked_wall_time(wall_time: Option<f64>) -> Result<f64, FerroError> {
    match wall_time {
        None => Ok(crate::format::event_file::now_secs()),
        Some(w) if w.is_finite() => Ok(w),
        Some(w) => {
            // Python's spelling of the value: the caller wrote nan or inf in Python.
            let value = if w.is_nan() {
                "nan"
            } else if w > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            Err(FerroError::InvalidArgument(format!(
                "walltime must be finite, got {value}"
            )))
        }
    }
}

/// Tags up to 24 bytes live inline: the hot path allocates nothing per scalar.
pub type Tag = compact_str::CompactString;

/// Kept small (large payloads are boxed) because every queued job is moved between
/// threads: fewer cache lines per `add_scalar`.
pub enum JobKind {
    Scalar {
        tag: Tag,
        value: f64,
        /// torch's `new_style`: a scalar tensor with the `scalars` plugin.
        new_style: bool,
        double_precision: bool,
    },
    Text {
        tag: String,
        text: String,
    },
    Histogram(Box<HistogramJob>),
    HistogramRaw(Box<(String, HistogramProto)>),
    Tensor(Box<TensorJob>),
    /// A serialized `Summary` from any protobuf library; wrapped in an Event as is.
    SummaryBytes(Vec<u8>),
    /// A serialized `Event`; the job's wall time (and step, if given) override its own.
    EventBytes(Vec<u8>),
    /// An Event built by the core itself (purge_step markers).
    Event(Box<Event>),
    /// Any other summary kind (images, audio, PR curves, ...): each encoder lives in its
    /// own module and implements [`ValueEncoder`], so adding one never touches this file.
    Values(Box<dyn ValueEncoder>),
    /// A reserved slot whose values never came (a device error, a fork, a close before
    /// they arrived; docs/gpu.md): it keeps its place in the count of finished jobs and
    /// writes nothing.
    Cancelled,
}

pub struct TensorJob {
    pub tag: String,
    pub values: RawArray,
    /// `values` holds interleaved (real, imaginary) floats with a trailing axis of 2.
    pub complex: bool,
}

pub struct HistogramJob {
    pub tag: String,
    pub values: RawArray,
    pub bins: Bins,
    pub max_bins: Option<usize>,
}

impl HistogramJob {
    /// The one check that there is something to bin.
    pub fn new(
        tag: String,
        values: RawArray,
        bins: Bins,
        max_bins: Option<usize>,
    ) -> Result<HistogramJob, FerroError> {
        if values.is_empty() {
            return Err(FerroError::InvalidArgument(format!(
                "values: the input has no element (shape {})",
                crate::summary::image::shape_text(&values.shape)
            )));
        }
        Ok(HistogramJob {
            tag,
            values,
            bins,
            max_bins,
        })
    }
}

/// Work that becomes one or more `Summary.Value`s on the worker thread.
pub trait ValueEncoder: Send {
    /// Bytes held by the job (for the writer's memory budget).
    fn cost(&self) -> usize;
    /// The tag the caller gave (named when the event is dropped).
    fn tag(&self) -> &str;
    /// Runs the heavy work (binning, encoding) and returns the values of one Event.
    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError>;
}

impl JobKind {
    /// The tag the caller gave, for reports about this job.
    pub fn tag(&self) -> &str {
        match self {
            JobKind::Scalar { tag, .. } => tag,
            JobKind::Text { tag, .. } => tag,
            JobKind::Histogram(h) => &h.tag,
            JobKind::HistogramRaw(h) => &h.0,
            JobKind::Tensor(t) => &t.tag,
            JobKind::SummaryBytes(_) => "(a serialized summary)",
            JobKind::EventBytes(_) | JobKind::Event(_) => "(an event)",
            JobKind::Values(encoder) => encoder.tag(),
            JobKind::Cancelled => "(a cancelled event)",
        }
    }
}

impl Job {
    /// Bytes this job holds, for the writer's memory budget.
    pub fn cost(&self) -> usize {
        64 + match &self.kind {
            JobKind::Scalar { tag, .. } => tag.len(),
            JobKind::Text { tag, text } => tag.len() + text.len(),
            JobKind::Histogram(h) => h.tag.len() + h.values.nbytes(),
            JobKind::Tensor(t) => t.tag.len() + t.values.nbytes(),
            JobKind::HistogramRaw(h) => h.0.len() + 16 * h.1.bucket.len(),
            JobKind::SummaryBytes(b) | JobKind::EventBytes(b) => b.len(),
            JobKind::Event(e) => e.encoded_len(),
            JobKind::Values(encoder) => encoder.cost(),
            JobKind::Cancelled => 0,
        }
    }

    /// The tag the caller gave, for reports about this job.
    pub fn tag(&self) -> &str {
        self.kind.tag()
    }

    /// Whether this job writes no record at all (a cancelled slot).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, JobKind::Cancelled)
    }

    /// Serializes the job's Event.
    pub fn encode(self) -> Result<Vec<u8>, FerroError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the job's serialized Event to `out` (no intermediate buffers). On error
    /// `out` may hold a partial event; the caller truncates it away.
    ///
    /// Room for the whole event (and the record's trailing checksum) is reserved in
    /// `out` before anything is written, fallibly: `out` holds a batch of records, and
    /// growing it for a large event must not abort the process when memory is short.
    pub fn encode_into(self, out: &mut Vec<u8>) -> Result<(), FerroError> {
        let step = self.step.unwrap_or(0);
        let values = match self.kind {
            JobKind::Scalar {
                tag,
                value,
                new_style: false,
                ..
            } => {
                reserve_event(out, tag.len() + 40)?;
                encode_simple_scalar_event(out, self.wall_time, step, &tag, value as f32);
                return Ok(());
            }
            JobKind::SummaryBytes(summary) => {
                reserve_event(out, summary.len() + 32)?;
                wrap_summary_bytes(out, self.wall_time, step, &summary);
                return Ok(());
            }
            JobKind::EventBytes(bytes) => {
                reserve_event(out, bytes.len() + 24)?;
                // Later fields win when a protobuf message is parsed, so appending the
                // overrides is the same as setting them, and keeps unknown fields intact.
                out.extend_from_slice(&bytes);
                prost::encoding::double::encode(1, &self.wall_time, out);
                if let Some(step) = self.step {
                    prost::encoding::int64::encode(2, &step, out);
                }
                return Ok(());
            }
            JobKind::Event(mut event) => {
                event.wall_time = self.wall_time;
                reserve_event(out, event.encoded_len())?;
                event.encode_raw(out);
                return Ok(());
            }
            JobKind::Cancelled => return Ok(()),
            kind => kind.into_values()?,
        };
        summary_event(out, self.wall_time, step, values)
    }
}

impl JobKind {
    /// The `Summary.Value`s of a summary kind, encoded now (binning, conversion): what the
    /// worker wraps in an Event, and what [`SummaryJob::serialize`] returns. The kinds
    /// that carry whole protos (serialized summaries, events) have no values of their own.
    fn into_values(self) -> Result<Vec<SummaryValue>, FerroError> {
        let value = match self {
            JobKind::Values(encoder) => return encoder.encode(),
            JobKind::Scalar {
                tag,
                value,
                new_style,
                double_precision,
            } => scalar_value(tag.into_string(), value, new_style, double_precision),
            JobKind::Text { tag, text } => text_value(tag, text),
            JobKind::Histogram(h) => SummaryValue {
                value: Some(summary_value::Value::Histo(histogram(
                    &h.values, &h.bins, h.max_bins,
                )?)),
                tag: h.tag,
                ..Default::default()
            },
            JobKind::HistogramRaw(h) => {
                let (tag, proto) = *h;
                SummaryValue {
                    tag,
                    value: Some(summary_value::Value::Histo(proto)),
                    ..Default::default()
                }
            }
            JobKind::Tensor(t) => SummaryValue {
                metadata: Some(SummaryMetadata::for_plugin("tensor", Vec::new())),
                value: Some(summary_value::Value::Tensor(tensor_proto(
                    &t.values, t.complex,
                )?)),
                tag: t.tag,
                ..Default::default()
            },
            JobKind::SummaryBytes(_)
            | JobKind::EventBytes(_)
            | JobKind::Event(_)
            | JobKind::Cancelled => return Ok(Vec::new()),
        };
        Ok(vec![value])
    }
}

/// One summary, validated and copied by its kind's constructor, not encoded yet. It has
/// exactly two ways out: [`SummaryJob::into_kind`], queued on a writer (the worker
/// encodes it into an Event), or [`SummaryJob::serialize`], the `Summary` bytes that
/// `ferroboard.summary`'s functions return. Both run the same encoder.
pub struct SummaryJob(JobKind);

impl SummaryJob {
    pub fn scalar(tag: Tag, value: f64, new_style: bool, double_precision: bool) -> SummaryJob {
        SummaryJob(JobKind::Scalar {
            tag,
            value,
            new_style,
            double_precision,
        })
    }

    pub fn text(tag: String, text: String) -> SummaryJob {
        SummaryJob(JobKind::Text { tag, text })
    }

    pub fn histogram(job: HistogramJob) -> SummaryJob {
        SummaryJob(JobKind::Histogram(Box::new(job)))
    }

    pub fn histogram_raw(tag: String, proto: HistogramProto) -> SummaryJob {
        SummaryJob(JobKind::HistogramRaw(Box::new((tag, proto))))
    }

    pub fn tensor(job: TensorJob) -> SummaryJob {
        SummaryJob(JobKind::Tensor(Box::new(job)))
    }

    /// Any kind with its own encoder module (images, audio, PR curves, ...).
    pub fn values(encoder: Box<dyn ValueEncoder>) -> SummaryJob {
        SummaryJob(JobKind::Values(encoder))
    }

    /// What a writer queues.
    pub fn into_kind(self) -> JobKind {
        self.0
    }

    /// The tag the caller gave.
    pub fn tag(&self) -> &str {
        self.0.tag()
    }

    /// The serialized `Summary` (or `part` of its first value), encoded now on this
    /// thread.
    pub fn serialize(self, part: SummaryPart) -> Result<Vec<u8>, FerroError> {
        let mut values = self.0.into_values()?;
        let first = || FerroError::InvalidArgument(format!("the summary holds no {}", part.name()));
        Ok(match part {
            SummaryPart::Summary => Summary { value: values }.encode_to_vec(),
            SummaryPart::Image => match values.drain(..).next().and_then(|v| v.value) {
                Some(summary_value::Value::Image(image)) => image.encode_to_vec(),
                _ => return Err(first()),
            },
            SummaryPart::Histogram => match values.drain(..).next().and_then(|v| v.value) {
                Some(summary_value::Value::Histo(histo)) => histo.encode_to_vec(),
                _ => return Err(first()),
            },
        })
    }
}

/// What [`SummaryJob::serialize`] returns: the whole `Summary`, or the `Summary.Image`
/// or `HistogramProto` of its first value (torch's `make_image`, `make_histogram`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryPart {
    Summary,
    Image,
    Histogram,
}

impl SummaryPart {
    /// `"summary"`, `"image"` or `"histogram"`.
    pub fn from_name(name: &str) -> Result<SummaryPart, FerroError> {
        Ok(match name {
            "summary" => SummaryPart::Summary,
            "image" => SummaryPart::Image,
            "histogram" => SummaryPart::Histogram,
            other => {
                return Err(FerroError::InvalidArgument(format!(
                    "part must be 'summary', 'image' or 'histogram', got {other:?}"
                )))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SummaryPart::Summary => "summary",
            SummaryPart::Image => "image",
            SummaryPart::Histogram => "histogram",
        }
    }
}

/// Bytes of a record's frame that follow its payload (the payload's checksum).
const RECORD_TAIL: usize = 4;

/// Room in `out` for an event of `len` bytes and the rest of its record.
fn reserve_event(out: &mut Vec<u8>, len: usize) -> Result<(), FerroError> {
    fallible::reserve(out, len.saturating_add(RECORD_TAIL), "the event's record")
}

/// Appends a serialized Event carrying `values` as its Summary.
pub fn summary_event(
    out: &mut Vec<u8>,
    wall_time: f64,
    step: i64,
    values: Vec<SummaryValue>,
) -> Result<(), FerroError> {
    let event = Event {
        wall_time,
        step,
        what: Some(EventWhat::Summary(Summary { value: values })),
        source_metadata: None,
    };
    reserve_event(out, event.encoded_len())?;
    event.encode_raw(out);
    Ok(())
}

/// `Event{wall_time, step, summary{value{tag, simple_value}}}` written field by field:
/// the most common event, encoded without building any message.
fn encode_simple_scalar_event(out: &mut Vec<u8>, wall_time: f64, step: i64, tag: &str, value: f32) {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    let value_len = 1 + encoded_len_varint(tag.len() as u64) + tag.len() + 5;
    let summary_len = 1 + encoded_len_varint(value_len as u64) + value_len;
    if wall_time != 0.0 {
        prost::encoding::double::encode(1, &wall_time, out);
    }
    if step != 0 {
        prost::encoding::int64::encode(2, &step, out);
    }
    encode_key(5, WireType::LengthDelimited, out); // Event.summary
    encode_varint(summary_len as u64, out);
    encode_key(1, WireType::LengthDelimited, out); // Summary.value
    encode_varint(value_len as u64, out);
    encode_key(1, WireType::LengthDelimited, out); // Value.tag
    encode_varint(tag.len() as u64, out);
    out.extend_from_slice(tag.as_bytes());
    encode_key(2, WireType::ThirtyTwoBit, out); // Value.simple_value
    out.extend_from_slice(&value.to_le_bytes());
}

fn wrap_summary_bytes(out: &mut Vec<u8>, wall_time: f64, step: i64, summary: &[u8]) {
    prost::encoding::double::encode(1, &wall_time, out);
    if step != 0 {
        prost::encoding::int64::encode(2, &step, out);
    }
    prost::encoding::encode_key(5, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(summary.len() as u64, out);
    out.extend_from_slice(summary);
}

fn scalar_value(tag: String, value: f64, new_style: bool, double_precision: bool) -> SummaryValue {
    if !new_style {
        return SummaryValue {
            tag,
            value: Some(summary_value::Value::SimpleValue(value as f32)),
            ..Default::default()
        };
    }
    let tensor = if double_precision {
        TensorProto {
            dtype: DataType::DtDouble as i32,
            double_val: vec![value],
            ..Default::default()
        }
    } else {
        TensorProto {
            dtype: DataType::DtFloat as i32,
            float_val: vec![value as f32],
            ..Default::default()
        }
    };
    SummaryValue {
        tag,
        metadata: Some(SummaryMetadata::for_plugin("scalars", Vec::new())),
        value: Some(summary_value::Value::Tensor(tensor)),
        ..Default::default()
    }
}

fn text_value(tag: String, text: String) -> SummaryValue {
    SummaryValue {
        tag: tag + "/text_summary",
        metadata: Some(SummaryMetadata::for_plugin(
            "text",
            TextPluginData { version: 0 }.encode_to_vec(),
        )),
        value: Some(summary_value::Value::Tensor(TensorProto {
            dtype: DataType::DtString as i32,
            tensor_shape: Some(TensorShapeProto::from_dims(&[1])),
            string_val: vec![text.into_bytes()],
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// torch's `tensor_proto`: dtype and value field chosen by element type, shape kept.
/// Half and bfloat16 store their own 16-bit patterns in `half_val`, as TensorFlow
/// defines it (torch stores float32 bit patterns there: a documented deviation).
/// The values are copied into the proto fallibly (a tensor may be most of 2 GiB).
fn tensor_proto(values: &RawArray, complex: bool) -> Result<TensorProto, FerroError> {
    const WHAT: &str = "the tensor's values";
    let n = values.len();
    if complex {
        // torch's view_as_real(t).flatten(): the interleaved layout memory already has.
        let dims = &values.shape[..values.shape.len().saturating_sub(1)];
        let mut t = TensorProto {
            tensor_shape: Some(TensorShapeProto::from_dims(dims)),
            ..Default::default()
        };
        if values.dtype == DType::Float64 {
            t.dtype = DataType::DtComplex128 as i32;
            t.dcomplex_val = fallible::to_vec(values.typed::<f64>(), WHAT)?;
        } else {
            t.dtype = DataType::DtComplex64 as i32;
            t.scomplex_val = fallible::to_vec(values.typed::<f32>(), WHAT)?;
        }
        return Ok(t);
    }
    let mut t = TensorProto {
        tensor_shape: Some(TensorShapeProto::from_dims(&values.shape)),
        ..Default::default()
    };
    let (dtype, ()) = match values.dtype {
        DType::Float32 => (
            DataType::DtFloat,
            t.float_val = fallible::to_vec(values.typed::<f32>(), WHAT)?,
        ),
        DType::Float64 => (
            DataType::DtDouble,
            t.double_val = fallible::to_vec(values.typed::<f64>(), WHAT)?,
        ),
        DType::Float16 => (DataType::DtHalf, t.half_val = halfs(values)?),
        DType::BFloat16 => (DataType::DtBfloat16, t.half_val = halfs(values)?),
        DType::Int8 => (
            DataType::DtInt8,
            t.int_val = fallible::collect(n, values.typed::<i8>().iter().map(|&v| v.into()), WHAT)?,
        ),
        DType::Int16 => (
            DataType::DtInt16,
            t.int_val =
                fallible::collect(n, values.typed::<i16>().iter().map(|&v| v.into()), WHAT)?,
        ),
        DType::Int32 => (
            DataType::DtInt32,
            t.int_val = fallible::to_vec(values.typed::<i32>(), WHAT)?,
        ),
        DType::Int64 => (
            DataType::DtInt64,
            t.int64_val = fallible::to_vec(values.typed::<i64>(), WHAT)?,
        ),
        DType::UInt8 => (
            DataType::DtUint8,
            t.uint32_val =
                fallible::collect(n, values.typed::<u8>().iter().map(|&v| v.into()), WHAT)?,
        ),
        DType::UInt16 => (
            DataType::DtUint16,
            t.int_val =
                fallible::collect(n, values.typed::<u16>().iter().map(|&v| v.into()), WHAT)?,
        ),
        DType::UInt32 => (
            DataType::DtUint32,
            t.uint32_val = fallible::to_vec(values.typed::<u32>(), WHAT)?,
        ),
        DType::UInt64 => (
            DataType::DtUint64,
            t.uint64_val = fallible::to_vec(values.typed::<u64>(), WHAT)?,
        ),
        DType::Bool => (
            DataType::DtBool,
            t.bool_val = fallible::collect(n, values.typed::<u8>().iter().map(|&v| v != 0), WHAT)?,
        ),
    };
    t.dtype = dtype as i32;
    Ok(t)
}

fn halfs(values: &RawArray) -> Result<Vec<i32>, FerroError> {
    let words = values.typed::<u16>();
    fallible::collect(
        words.len(),
        words.iter().map(|&v| i32::from(v)),
        "the tensor's values",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_input_is_an_error() {
        let empty = RawArray::copy_from(DType::Float64, vec![0], &[]).unwrap();
        let err = HistogramJob::new("h".into(), empty, Bins::Default, None).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(message, "values: the input has no element (shape (0,))");
    }

    #[test]
    fn summary_job_serializes_what_the_writer_wraps() {
        let job = || SummaryJob::text("t".into(), "hello".into());
        let summary = Summary::decode(job().serialize(SummaryPart::Summary).unwrap().as_slice());
        let event = decode(
            &Job::new(Some(1), Some(2.0), job().into_kind())
                .unwrap()
                .encode()
                .unwrap(),
        );
        assert_eq!(event.what, Some(EventWhat::Summary(summary.unwrap())));
        assert!(job().serialize(SummaryPart::Image).is_err());
    }

    #[test]
    fn wall_time_must_be_finite() {
        for bad in [f64::NAN, f64::INFINITY] {
            assert!(Job::new(
                None,
                Some(bad),
                JobKind::Text {
                    tag: "t".into(),
                    text: "x".into()
                }
            )
            .is_err());
        }
    }

    fn decode(bytes: &[u8]) -> Event {
        Event::decode(bytes).unwrap()
    }

    #[test]
    fn scalar_event_has_simple_value_and_step() {
        let job = Job {
            step: Some(7),
            wall_time: 12.5,
            kind: JobKind::Scalar {
                tag: "loss".into(),
                value: 0.25,
                new_style: false,
                double_precision: false,
            },
        };
        let e = decode(&job.encode().unwrap());
        assert_eq!((e.step, e.wall_time), (7, 12.5));
        let Some(EventWhat::Summary(s)) = e.what else {
            panic!("no summary")
        };
        assert_eq!(s.value[0].tag, "loss");
        assert_eq!(
            s.value[0].value,
            Some(summary_value::Value::SimpleValue(0.25))
        );
    }

    #[test]
    fn direct_scalar_encoding_equals_prost() {
        for (step, tag, value) in [
            (0i64, "a", 0.0f32),
            (5, "loss/train", -1.5),
            (1 << 40, "ü", f32::NAN),
        ] {
            let mut direct = Vec::new();
            encode_simple_scalar_event(&mut direct, 3.25, step, tag, value);
            let via_prost = Event {
                wall_time: 3.25,
                step,
                what: Some(EventWhat::Summary(Summary {
                    value: vec![SummaryValue {
                        tag: tag.into(),
                        value: Some(summary_value::Value::SimpleValue(value)),
                        ..Default::default()
                    }],
                })),
                source_metadata: None,
            }
            .encode_to_vec();
            assert_eq!(direct, via_prost, "step {step} tag {tag}");
        }
        let long_tag = "t".repeat(300);
        let mut direct = Vec::new();
        encode_simple_scalar_event(&mut direct, 1.0, 1, &long_tag, 2.0);
        let e = decode(&direct);
        let Some(EventWhat::Summary(s)) = e.what else {
            panic!("no summary")
        };
        assert_eq!(s.value[0].tag, long_tag);
    }

    #[test]
    fn summary_bytes_are_wrapped_unchanged() {
        let summary = Summary {
            value: vec![text_value("t".into(), "hello".into())],
        };
        let bytes = summary.encode_to_vec();
        let job = Job {
            step: Some(3),
            wall_time: 1.0,
            kind: JobKind::SummaryBytes(bytes),
        };
        let e = decode(&job.encode().unwrap());
        assert_eq!(e.step, 3);
        assert_eq!(e.what, Some(EventWhat::Summary(summary)));
    }

    #[test]
    fn event_bytes_get_wall_time_and_step_overridden() {
        let original = Event {
            wall_time: 5.0,
            step: 1,
            what: Some(EventWhat::FileVersion("x".into())),
            source_metadata: None,
        };
        let job = Job {
            step: Some(9),
            wall_time: 6.0,
            kind: JobKind::EventBytes(original.encode_to_vec()),
        };
        let e = decode(&job.encode().unwrap());
        assert_eq!((e.wall_time, e.step), (6.0, 9));
        assert_eq!(e.what, original.what);
    }
}
