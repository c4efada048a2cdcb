//! The one size limit a record must respect: protocol buffers cannot parse a message of
//! 2 GiB or more, so such an event would be unreadable — and both TensorBoard readers
//! give up on the rest of a file at the first record they cannot parse.
//!
//! Jobs whose encoded size follows from their inputs are checked on the caller, before
//! they are queued, so the error names the argument; encoders whose output size is only
//! known after encoding (images, audio, ...) are checked by the writer thread, which drops
//! such an event and reports it instead of writing it.

use prost::encoding::encoded_len_varint;
use prost::Message;

use crate::error::FerroError;
use crate::format::proto::EventWhat;
use crate::summary::histogram::Bins;
use crate::summary::job::{Job, JobKind};
use crate::summary::raw_array::{DType, RawArray};

/// Events of this many bytes or more are never written.
pub const MAX_EVENT_BYTES: usize = 1 << 31;

/// Bytes a histogram's edge takes in its event, at most (its limit and its count,
/// packed doubles, with room to spare).
const BYTES_PER_EDGE: usize = 20;

/// Bytes an Event needs beyond its payloads: wall time, step, keys and lengths of the
/// nested messages, plugin metadata of the fixed kinds.
const EVENT_OVERHEAD: usize = 160;

/// Rejects a job whose Event would have `limit` bytes or more, naming the argument that
/// makes it so. Jobs whose size is unknown before encoding pass (the writer checks them).
pub fn check_job(job: &Job, limit: usize) -> Result<(), FerroError> {
    let (size, arg) = match &job.kind {
        JobKind::Scalar { tag, .. } => (tag.len(), "tag"),
        JobKind::Text { tag, text } => (tag.len() + text.len(), "text_string"),
        JobKind::Histogram(h) => {
            let edges = match &h.bins {
                Bins::Default => 1600,
                Bins::Edges(e) => e.len(),
            };
            (
                h.tag
                    .len()
                    .saturating_add(edges.saturating_mul(BYTES_PER_EDGE)),
                "bins",
            )
        }
        JobKind::HistogramRaw(h) => (
            h.0.len()
                .saturating_add(h.1.bucket.len().saturating_mul(18))
                .saturating_add(h.1.bucket_limit.len().saturating_mul(18)),
            "bucket_limits",
        ),
        JobKind::Tensor(t) => (
            t.tag.len().saturating_add(tensor_len(&t.values, limit)),
            "tensor",
        ),
        JobKind::SummaryBytes(b) => (b.len(), "summary"),
        JobKind::EventBytes(b) => (b.len(), "event"),
        JobKind::Event(e) => (
            e.encoded_len(),
            match e.what {
                Some(EventWhat::GraphDef(_)) => "graph",
                _ => "event",
            },
        ),
        JobKind::Values(_) | JobKind::Cancelled => return Ok(()),
    };
    let size = size.saturating_add(EVENT_OVERHEAD);
    if size >= limit {
        return Err(too_large(arg, size, limit));
    }
    Ok(())
}

/// Rejects a PNG image of `width` x `height` pixels of `channels` bytes whose pixels
/// take `limit` bytes or more, naming `arg`, the size and the limit. The PNG of such an
/// image can fit in an event only if it compresses well, which is not known before the
/// work (and the memory: the pixels, then their filtered copy) is spent; PNG's own
/// limit, 2^31 - 1 pixels per side, is far above it.
pub fn check_png_size(
    arg: &str,
    width: usize,
    height: usize,
    channels: usize,
    limit: usize,
) -> Result<(), FerroError> {
    let bytes = width.saturating_mul(height).saturating_mul(channels);
    if bytes < limit {
        return Ok(());
    }
    Err(FerroError::InvalidArgument(format!(
        "{arg}: the image would be {width}×{height} pixels ({bytes} bytes), beyond PNG's \
         limit here of {limit} bytes of pixels (an image event must stay under 2 GiB); \
         nothing was written"
    )))
}

/// Rejects a GIF video of `frames` frames of `width` x `height` whose palette indices
/// (one byte per pixel, before compression) take `limit` bytes or more. GIF's own limit
/// of 65535 pixels per side is checked with the layout.
pub fn check_gif_size(
    arg: &str,
    frames: usize,
    width: usize,
    height: usize,
    limit: usize,
) -> Result<(), FerroError> {
    let bytes = frames.saturating_mul(width).saturating_mul(height);
    if bytes < limit {
        return Ok(());
    }
    Err(FerroError::InvalidArgument(format!(
        "{arg}: the video would be {frames} frames of {width}×{height} pixels ({bytes} \
         bytes of palette indices), beyond GIF's limit here of {limit} bytes (a video \
         event must stay under 2 GiB); nothing was written"
    )))
}

/// Rejects histogram `bins` that make `count` buckets when their event could take
/// `limit` bytes or more (as [`check_job`] counts explicit edges), before any edge is
/// computed.
pub fn check_bucket_count(
    arg: &str,
    count: u128,
    tag_len: usize,
    limit: usize,
) -> Result<(), FerroError> {
    let size = (count + 1)
        .saturating_mul(BYTES_PER_EDGE as u128)
        .saturating_add((tag_len + EVENT_OVERHEAD) as u128);
    if size < limit as u128 {
        return Ok(());
    }
    Err(FerroError::InvalidArgument(format!(
        "{arg}: {count} buckets would make a histogram event of up to {size} bytes, beyond \
         the limit of {limit} bytes for one event (at most {} buckets); nothing was written",
        max_buckets(tag_len, limit)
    )))
}

/// The most buckets a histogram with a tag of `tag_len` bytes may have under `limit`.
pub fn max_buckets(tag_len: usize, limit: usize) -> usize {
    (limit.saturating_sub(tag_len + EVENT_OVERHEAD + 1) / BYTES_PER_EDGE).saturating_sub(1)
}

/// The error for an event of `size` bytes (or more) against `limit`.
pub fn too_large(what: &str, size: usize, limit: usize) -> FerroError {
    FerroError::InvalidArgument(format!(
        "{what}: the event would take at least {size} bytes, beyond the limit of \
         {limit} bytes for one event (protocol buffers cannot read messages of 2 GiB or \
         more); nothing was written"
    ))
}

/// Bytes of a tensor's values and shape as `job::tensor_proto` encodes them (complex
/// tensors, floats in pairs, take the same). Exact for fixed-width types; for varint
/// types an upper bound, made exact (one pass over the values) only when the bound
/// reaches `limit`.
pub fn tensor_len(values: &RawArray, limit: usize) -> usize {
    let n = values.len();
    let shape: usize = values
        .shape
        .iter()
        .map(|&d| 4 + encoded_len_varint(d as u64))
        .sum();
    let widest = match values.dtype {
        DType::Float32 => 4,
        DType::Float64 => 8,
        DType::Bool => 1,
        DType::UInt8 => 2,
        DType::Float16 | DType::BFloat16 | DType::UInt16 => 3,
        DType::UInt32 => 5,
        // int32 fields sign-extend negative values to ten bytes.
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 | DType::UInt64 => 10,
    };
    let bound = n.saturating_mul(widest).saturating_add(shape);
    let fixed = matches!(values.dtype, DType::Float32 | DType::Float64 | DType::Bool);
    if fixed || bound < limit {
        return bound;
    }
    let varints: u64 = match values.dtype {
        DType::Int8 => sum_varints(values.typed::<i8>(), |v| i64::from(v) as u64),
        DType::Int16 => sum_varints(values.typed::<i16>(), |v| i64::from(v) as u64),
        DType::Int32 => sum_varints(values.typed::<i32>(), |v| i64::from(v) as u64),
        DType::Int64 => sum_varints(values.typed::<i64>(), |v| v as u64),
        DType::UInt8 => sum_varints(values.typed::<u8>(), u64::from),
        DType::UInt16 | DType::Float16 | DType::BFloat16 => {
            sum_varints(values.typed::<u16>(), u64::from)
        }
        DType::UInt32 => sum_varints(values.typed::<u32>(), u64::from),
        DType::UInt64 => sum_varints(values.typed::<u64>(), |v| v),
        DType::Float32 | DType::Float64 | DType::Bool => 0,
    };
    usize::try_from(varints)
        .unwrap_or(usize::MAX)
        .saturating_add(shape)
}

fn sum_varints<T: Copy>(values: &[T], as_u64: impl Fn(T) -> u64) -> u64 {
    values
        .iter()
        .map(|&v| encoded_len_varint(as_u64(v)) as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::job::Job;

    fn tensor_job(dtype: DType, bytes: &[u8], n: usize) -> Job {
        Job {
            step: Some(1),
            wall_time: 1.0,
            kind: JobKind::Tensor(Box::new(crate::summary::job::TensorJob {
                tag: "t".into(),
                values: RawArray::copy_from(dtype, vec![n as i64], bytes).unwrap(),
                complex: false,
            })),
        }
    }

    #[test]
    fn tensor_length_bounds_the_real_encoding() {
        let ints: Vec<u8> = (0..64i64)
            .flat_map(|v| ((v - 32) * 1_000_000_007).to_le_bytes())
            .collect();
        let cases = [
            (DType::Int64, ints.clone(), 64),
            (DType::Int8, (0..=255u8).collect(), 256),
            (DType::UInt16, ints[..128].to_vec(), 64),
            (DType::Float32, ints[..256].to_vec(), 64),
            (DType::Bool, vec![0, 1, 1, 0], 4),
        ];
        for (dtype, bytes, n) in cases {
            let array = RawArray::copy_from(dtype, vec![n as i64], &bytes).unwrap();
            let job = tensor_job(dtype, &bytes, n);
            let real = job.encode().unwrap().len();
            let bound = tensor_len(&array, usize::MAX) + 1 + EVENT_OVERHEAD;
            let exact = tensor_len(&array, 0) + 1 + EVENT_OVERHEAD;
            assert!(real <= bound, "{dtype:?}: {real} > bound {bound}");
            assert!(real <= exact, "{dtype:?}: {real} > exact {exact}");
            assert!(exact <= bound, "{dtype:?}");
        }
    }

    #[test]
    fn jobs_at_the_limit_are_rejected_with_the_argument_name() {
        let text = |len: usize| Job {
            step: None,
            wall_time: 1.0,
            kind: JobKind::Text {
                tag: "t".into(),
                text: "x".repeat(len),
            },
        };
        let limit = 10_000;
        assert!(check_job(&text(100), limit).is_ok());
        let err = check_job(&text(limit), limit).unwrap_err().to_string();
        assert!(err.starts_with("text_string:"), "{err}");
        assert!(err.contains(&limit.to_string()), "{err}");
        let bytes = Job {
            step: None,
            wall_time: 1.0,
            kind: JobKind::SummaryBytes(vec![0; limit]),
        };
        let err = check_job(&bytes, limit).unwrap_err().to_string();
        assert!(err.starts_with("summary:"), "{err}");
        // Small int8 tensors that could in theory need 10 bytes per value are measured.
        let small: Vec<u8> = vec![1; 2000];
        assert!(check_job(&tensor_job(DType::Int8, &small, 2000), 3000).is_ok());
        let negative: Vec<u8> = vec![0xff; 2000];
        assert!(check_job(&tensor_job(DType::Int8, &negative, 2000), 3000).is_err());
    }
}
