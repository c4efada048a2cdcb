//! The first histogram of a large array bins the caller's memory where it lies.
//!
//! `add_histogram` normally snapshots the array (so the caller may change it as soon as
//! the call returns) and bins the copy in the background. The copy is fast into a buffer
//! `snapshot_pool` recycled from an earlier step, but the first step of a process, or
//! one after a long pause, copies into fresh memory: every page faults and the kernel
//! zeroes it first, which made the first all-parameter step of a ResNet-50 cost 3-5
//! times a later one (docs/performance.md, "The first step of a process").
//!
//! So when no cached buffer would take the copy, the array is binned in place instead,
//! while the call blocks, on every core (the caller's is idle meanwhile), and the call
//! queues the finished histogram: reading the array once costs less than faulting in
//! fresh pages for a copy and reading that later. The event is the same either way
//! (`HistogramProto` from the same binning), in the same place in the order, and the
//! array is not read after the call returns. A buffer of the array's size is then
//! mapped in the background (`snapshot_pool::warm`, between calls that bin in place),
//! so that the next step copies into warm memory and returns to the training loop at
//! memory speed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::FerroError;
use crate::format::proto::HistogramProto;
use crate::runtime::{fork, pools, snapshot_pool};
use crate::summary::histogram::{histogram, Bins};
use crate::summary::raw_array::{mapped_words, ArrayView, DType};

/// The histogram of `bytes` (elements of `dtype`), binned where they lie, when
/// [`bins_in_place`] says so; `None` when they are to be copied as usual.
pub fn bin_in_place_if_cold(
    dtype: DType,
    bytes: &[u8],
    bins: &Bins,
    max_bins: Option<usize>,
) -> Result<Option<HistogramProto>, FerroError> {
    let Some(view) = in_place_view(dtype, bytes) else {
        return Ok(None);
    };
    let proto = bin_where_it_lies(view, bins, max_bins)?;
    snapshot_pool::warm(
        bytes.as_ptr() as usize,
        bytes.len().div_ceil(8),
        mapped_when_no_caller_waits,
    );
    Ok(Some(proto))
}

/// Calls binning in place now: the buffers for the next step are mapped between them,
/// not beside them, which would take a core from the binning a caller waits for.
static BINNING_IN_PLACE: AtomicUsize = AtomicUsize::new(0);

/// Counts one call binning in place while it lives.
struct InPlace;

impl InPlace {
    fn start() -> InPlace {
        BINNING_IN_PLACE.fetch_add(1, Ordering::Relaxed);
        InPlace
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        BINNING_IN_PLACE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `mapped_words`, once no call is binning in place.
fn mapped_when_no_caller_waits(words: usize) -> Option<Vec<u64>> {
    while BINNING_IN_PLACE.load(Ordering::Relaxed) > 0 {
        std::thread::sleep(Duration::from_micros(200));
    }
    mapped_words(words)
}

fn bin_where_it_lies(
    view: ArrayView<'_>,
    bins: &Bins,
    max_bins: Option<usize>,
) -> Result<HistogramProto, FerroError> {
    let _counted = InPlace::start();
    // The caller waits: every core, at normal priority, as for a flush.
    pools::with_caller_waiting(true, || histogram(view, bins, max_bins))
}

/// Whether `bytes` would be binned in place now: their copy would go into fresh memory
/// (no cached buffer fits, and the array is large enough for the pool to keep one), they
/// are 8-byte aligned, and this is not a forked child (whose pools are not the
/// parent's; it keeps to the one path). Callers release the GIL first when it is so.
pub fn bins_in_place(dtype: DType, bytes: &[u8]) -> bool {
    in_place_view(dtype, bytes).is_some()
}

fn in_place_view(dtype: DType, bytes: &[u8]) -> Option<ArrayView<'_>> {
    if bytes.len() < snapshot_pool::MIN_POOLED_BYTES
        || fork::forked()
        || snapshot_pool::has_buffer_for(bytes.len().div_ceil(8))
    {
        return None;
    }
    ArrayView::borrowed(dtype, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::raw_array::RawArray;
    use prost::Message;
    use rand::{Rng, SeedableRng};
    use std::time::{Duration, Instant};

    /// `count` float32 values, mostly small, some huge, in 8-byte-aligned storage.
    fn f32_words(count: usize, seed: u64) -> Vec<u64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let values: Vec<f32> = (0..count)
            .map(|i| {
                let x: f32 = rng.random_range(-1.0..1.0);
                if i % 97 == 0 {
                    x * 1e6
                } else {
                    x * x * x * 0.02
                }
            })
            .collect();
        values
            .chunks(2)
            .map(|p| {
                let lo = u64::from(p[0].to_bits());
                let hi = p.get(1).map_or(0, |v| u64::from(v.to_bits()));
                lo | (hi << 32)
            })
            .collect()
    }

    fn as_bytes(words: &[u64], len: usize) -> &[u8] {
        assert!(len <= words.len() * 8);
        // SAFETY: `len` is at most the words' size in bytes; u8 has alignment 1.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) }
    }

    #[test]
    fn binning_where_the_values_lie_gives_the_histogram_of_their_copy() {
        let words = f32_words(1_000_000, 5);
        let bytes = as_bytes(&words, 4_000_000);
        let explicit = Bins::explicit(vec![-1.0, -0.01, 0.0, 1e-4, 0.5, 2e6]).expect("edges");
        // The same bits read as each dtype (NaN, infinities and subnormals among the
        // float64 and float16 values), on every kind of bins.
        for dtype in [DType::Float32, DType::Float64, DType::Float16, DType::Int32] {
            let n = (bytes.len() / dtype.item_size()) as i64;
            let copy = RawArray::copy_from(dtype, vec![n], bytes).expect("the copy fits");
            for (bins, max_bins) in [
                (&Bins::Default, None),
                (&explicit, None),
                (&Bins::Default, Some(40)),
            ] {
                let view = ArrayView::borrowed(dtype, bytes).expect("aligned");
                // Compared encoded: bit for bit, NaN statistics included.
                assert_eq!(
                    bin_where_it_lies(view, bins, max_bins)
                        .expect("binned")
                        .encode_to_vec(),
                    histogram(&copy, bins, max_bins)
                        .expect("binned")
                        .encode_to_vec(),
                    "{dtype:?} {bins:?} {max_bins:?}"
                );
            }
        }
    }

    #[test]
    fn a_cold_array_is_binned_in_place_then_a_buffer_is_warmed_for_its_next_copy() {
        // 6.4 MB: no other test snapshots an array this size, so the snapshot pool
        // (shared by the tests running in parallel) has no buffer for it.
        let count = 1_600_000;
        let words = f32_words(count, 11);
        let bytes = as_bytes(&words, count * 4);
        assert!(
            bins_in_place(DType::Float32, bytes),
            "no cached buffer fits"
        );
        let binned = bin_in_place_if_cold(DType::Float32, bytes, &Bins::Default, None)
            .expect("binned")
            .expect("a cold array is binned in place");
        assert_eq!(binned.num, count as f64);
        // A buffer of its size is mapped in the background; from then on it is copied.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !snapshot_pool::has_buffer_for(count / 2) {
            assert!(
                Instant::now() < deadline,
                "no buffer was warmed for the next step"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!bins_in_place(DType::Float32, bytes));
        let next = bin_in_place_if_cold(DType::Float32, bytes, &Bins::Default, None);
        assert!(
            next.expect("no error").is_none(),
            "a warm buffer fits: copied"
        );
    }

    #[test]
    fn small_and_unaligned_arrays_are_copied() {
        let words = f32_words(1_700_000, 3);
        let small = as_bytes(&words, snapshot_pool::MIN_POOLED_BYTES - 4);
        let unaligned = &as_bytes(&words, 6_800_000)[4..];
        for bytes in [small, unaligned] {
            assert!(!bins_in_place(DType::Float32, bytes));
            let result = bin_in_place_if_cold(DType::Float32, bytes, &Bins::Default, None);
            assert!(result.expect("no error").is_none(), "{} bytes", bytes.len());
        }
    }
}
