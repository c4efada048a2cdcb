//! The table path of histogram binning (histogram_f32.rs) written for AVX-512, with
//! numpy's pairwise sum computed in the same pass over the values.
//!
//! numpy sums a range as a tree of leaves of at most 128 values (see pairwise.rs). Here
//! the range is walked leaf by leaf: one vector pass over a leaf computes the bucket
//! index of every value (the table entry gathered, added to the key's low half), min,
//! max, the sum of squares and the leaf's numpy sum; a scalar loop then increments the
//! counters. The leaves' sums are added up along numpy's tree at the end. The values are
//! read from memory once, and the out-of-order core overlaps a leaf's addition chain
//! (numpy's eight accumulators are one dependent vector) with the counter increments,
//! where a separate summing pass waited on it.

use std::arch::x86_64::*;
use std::cell::Cell;

use crate::summary::histogram::Partial;
use crate::summary::histogram_f32::{self, Element, F32Table, BF16, COUNTERS, F16};
use crate::summary::raw_array::{ArrayView, DType};

/// The longest range numpy sums directly (pairwise.rs).
const LEAF: usize = 128;
/// Independent counter arrays: consecutive values often share a bucket, and one array
/// would make each increment wait for the previous one. A value's array is its position
/// modulo 4, folded into the bucket index by the vector pass.
const COUNT_LANES: usize = 4;
const ALL_COUNTERS: usize = COUNT_LANES * COUNTERS;
/// How far ahead of the leaf being binned the values are prefetched, in bytes.
const PREFETCH_BYTES: usize = 1024;

/// Bins `values[start..end]` and sums them as numpy sums that range as one node of its
/// tree, when the CPU has AVX-512 and the table path applies; `None` otherwise.
pub(crate) fn bin_and_sum<'a>(
    values: impl Into<ArrayView<'a>>,
    table: &F32Table,
    start: usize,
    end: usize,
) -> Option<(Partial, f64)> {
    let values = values.into();
    if !(is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl"))
    {
        return None;
    }
    if table.edge_count() + 2 > COUNTERS {
        return None;
    }
    // SAFETY: the CPU has the features these functions are compiled for.
    unsafe {
        match values.dtype {
            DType::Float32 => Some(bin_exact(&values.typed::<f32>()[start..end], table)),
            DType::Float16 => Some(bin_exact(&values.typed::<F16>()[start..end], table)),
            DType::BFloat16 => Some(bin_exact(&values.typed::<BF16>()[start..end], table)),
            DType::Float64 => Some(bin_f64(&values.typed::<f64>()[start..end], table)),
            _ => None,
        }
    }
}

/// Where numpy splits a range of `n > LEAF` values.
#[inline(always)]
fn split(n: usize) -> usize {
    let half = n / 2;
    half - half % 8
}

/// The lengths of the leaves of numpy's tree over `n` values, in order. (A node whose
/// halves are both leaves is handled without recursing: the calls cost a few percent.)
fn push_leaves(n: usize, leaves: &mut Vec<u8>) {
    if n <= LEAF {
        leaves.push(n as u8);
        return;
    }
    let s = split(n);
    if n - s <= LEAF {
        // The first half is never the longer one.
        leaves.extend([s as u8, (n - s) as u8]);
        return;
    }
    push_leaves(s, leaves);
    push_leaves(n - s, leaves);
}

/// numpy's sum of `n` values from the sums of its leaves, in order.
fn combine(n: usize, leaf_sums: &mut std::slice::Iter<'_, f64>) -> f64 {
    let mut next = || leaf_sums.next().copied().unwrap_or(0.0);
    if n <= LEAF {
        return next();
    }
    let s = split(n);
    if n - s <= LEAF {
        let left = next();
        return left + next();
    }
    let left = combine(s, leaf_sums);
    let right = combine(n - s, leaf_sums);
    left + right
}

/// numpy's reduction of its eight accumulators.
#[inline(always)]
fn reduce8(r: [f64; 8]) -> f64 {
    ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
}

/// An element that loads 16 at a time as float32 (exactly: every value is a float32).
trait Wide16: Element {
    /// The 16 values from `p`, or only the first `count` (the others 0.0).
    unsafe fn load16(p: *const Self, count: usize) -> __m512;
}

/// A mask of the first `count` of 16 lanes.
#[inline(always)]
fn first16(count: usize) -> __mmask16 {
    ((1u32 << count.min(16)) - 1) as __mmask16
}

impl Wide16 for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32, count: usize) -> __m512 {
        if count >= 16 {
            _mm512_loadu_ps(p)
        } else {
            _mm512_maskz_loadu_ps(first16(count), p)
        }
    }
}

impl Wide16 for F16 {
    #[inline(always)]
    unsafe fn load16(p: *const F16, count: usize) -> __m512 {
        let bits = if count >= 16 {
            _mm256_loadu_si256(p.cast())
        } else {
            _mm256_maskz_loadu_epi16(first16(count), p.cast())
        };
        // Exact; a signalling NaN comes out quiet, in the same (outermost) slot.
        _mm512_cvtph_ps(bits)
    }
}

impl Wide16 for BF16 {
    #[inline(always)]
    unsafe fn load16(p: *const BF16, count: usize) -> __m512 {
        let bits = if count >= 16 {
            _mm256_loadu_si256(p.cast())
        } else {
            _mm256_maskz_loadu_epi16(first16(count), p.cast())
        };
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bits)))
    }
}

thread_local! {
    /// Each binning thread's counters, all zero between ranges: allocating and zeroing
    /// 64 KiB for every range of 65,536 values cost a few percent.
    static SPARE: Cell<Option<Box<[u32; ALL_COUNTERS]>>> = const { Cell::new(None) };
}

/// Counters, one array per lane; the vector pass adds a value's lane offset to its
/// bucket index.
struct Counters {
    counts: Option<Box<[u32; ALL_COUNTERS]>>,
    /// The distance between lanes: the slots in use, rounded up to whole cache lines,
    /// so that the counters in use lie together (in L1).
    stride: usize,
}

impl Counters {
    fn new(m: usize) -> Counters {
        let counts = SPARE
            .with(Cell::take)
            .unwrap_or_else(|| Box::new([0; ALL_COUNTERS]));
        Counters {
            counts: Some(counts),
            stride: (m + 1).next_multiple_of(16),
        }
    }

    /// The offset of the lane of the value at `position` (lanes 0, 1, 2, 3, 0, 1...).
    fn lane_offset(&self, position: usize) -> i32 {
        ((position % COUNT_LANES) * self.stride) as i32
    }

    #[inline(always)]
    fn add(&mut self, indices: &[u32]) {
        if let Some(counts) = self.counts.as_deref_mut() {
            for &i in indices {
                // The mask proves the index in bounds to the compiler (it always is:
                // the vector pass makes indices below `COUNT_LANES * stride`).
                counts[i as usize & (ALL_COUNTERS - 1)] += 1;
            }
        }
    }

    /// Per slot, the sum over the lanes (`Partial::slots`' layout). Zeroes the
    /// counters (every index the vector pass makes) and keeps them for the next range.
    fn slots(mut self, m: usize) -> Vec<u64> {
        let Some(mut counts) = self.counts.take() else {
            return vec![0; m + 1];
        };
        let stride = self.stride;
        let slots = (0..=m)
            .map(|s| {
                (0..COUNT_LANES)
                    .map(|lane| u64::from(std::mem::take(&mut counts[lane * stride + s])))
                    .sum()
            })
            .collect();
        SPARE.with(|spare| spare.set(Some(counts)));
        slots
    }
}

/// Asks for `bytes` bytes from `from` bytes into `values` to be brought into the cache.
#[inline(always)]
fn prefetch<E>(values: &[E], from: usize, bytes: usize) {
    let base = values.as_ptr().cast::<u8>();
    let total = std::mem::size_of_val(values);
    for offset in (from..(from + bytes).min(total)).step_by(64) {
        // SAFETY: `offset < total`: inside `values`; a prefetch never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(offset).cast()) };
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn bin_exact<E: Wide16>(values: &[E], table: &F32Table) -> (Partial, f64) {
    let m = table.edge_count();
    let slots_ptr = table.slots_ptr();
    let mut counts = Counters::new(m);
    let mut leaves = Vec::with_capacity(values.len() / 64 + 2);
    push_leaves(values.len(), &mut leaves);
    // Written in place: a call in the loop (a push that may grow) would make the
    // compiler keep the vector accumulators on the stack.
    let mut leaf_sums = vec![0.0f64; leaves.len()];
    // Room for a whole last group of 16 past the leaf's end.
    let mut indices = [0u32; LEAF + 16];
    let lane_offsets = _mm512_loadu_si512(
        std::array::from_fn::<i32, 16, _>(|i| counts.lane_offset(i))
            .as_ptr()
            .cast(),
    );
    let sign = _mm512_set1_epi32(i32::MIN);
    let low_half = _mm512_set1_epi32(0xFFFF);
    let zero = _mm512_setzero_ps();
    let (mut min, mut max) = (
        _mm512_set1_ps(f32::INFINITY),
        _mm512_set1_ps(f32::NEG_INFINITY),
    );
    let (mut sq_lo, mut sq_hi) = (_mm512_setzero_pd(), _mm512_setzero_pd());
    let element = std::mem::size_of::<E>();
    let mut start = 0usize;
    for (&len, leaf_sum) in leaves.iter().zip(leaf_sums.iter_mut()) {
        let len = usize::from(len);
        prefetch(
            values,
            (start + len) * element + PREFETCH_BYTES,
            len * element,
        );
        let leaf = values.as_ptr().add(start);
        // -0.0 is the identity of addition (0.0 + -0.0 would be 0.0): numpy starts its
        // accumulators from the first values themselves.
        let mut acc = _mm512_set1_pd(-0.0);
        let mut tail = [0.0f64; 16];
        let mut i = 0;
        while i < len {
            let count = len - i;
            let x = E::load16(leaf.add(i), count);
            // Order keys: -0.0 folded into +0.0, negatives' bits flipped, others' sign.
            let bits = _mm512_castps_si512(_mm512_add_ps(x, zero));
            let key = _mm512_xor_si512(bits, _mm512_or_si512(_mm512_srai_epi32::<31>(bits), sign));
            // SAFETY: `key >> 16` indexes the table's 65,536 slots.
            let entry = _mm512_i32gather_epi32::<4>(_mm512_srli_epi32::<16>(key), slots_ptr);
            let below =
                _mm512_srli_epi32::<16>(_mm512_add_epi32(entry, _mm512_and_si512(key, low_half)));
            _mm512_storeu_si512(
                indices.as_mut_ptr().add(i).cast(),
                _mm512_add_epi32(below, lane_offsets),
            );
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(x),
            )));
            if count >= 16 {
                // min(x, acc) is acc when x is NaN: NaN changes neither.
                min = _mm512_min_ps(x, min);
                max = _mm512_max_ps(x, max);
                sq_lo = _mm512_fmadd_pd(lo, lo, sq_lo);
                sq_hi = _mm512_fmadd_pd(hi, hi, sq_hi);
                acc = _mm512_add_pd(acc, lo);
                acc = _mm512_add_pd(acc, hi);
            } else {
                // The leaf's end (masked lanes are 0.0: no effect on the squares).
                let k = first16(count);
                min = _mm512_mask_min_ps(min, k, x, min);
                max = _mm512_mask_max_ps(max, k, x, max);
                sq_lo = _mm512_fmadd_pd(lo, lo, sq_lo);
                sq_hi = _mm512_fmadd_pd(hi, hi, sq_hi);
                _mm512_storeu_pd(tail.as_mut_ptr(), lo);
                _mm512_storeu_pd(tail.as_mut_ptr().add(8), hi);
                if count >= 8 {
                    acc = _mm512_add_pd(acc, lo);
                }
            }
            i += 16;
        }
        counts.add(&indices[..len]);
        let rem = len % 16;
        let sum = if len < 8 {
            // numpy adds fewer than eight values one by one from 0.0.
            tail[..len].iter().fold(0.0, |s, &v| s + v)
        } else {
            let mut r = [0.0f64; 8];
            _mm512_storeu_pd(r.as_mut_ptr(), acc);
            let leftovers = if rem >= 8 {
                &tail[8..rem]
            } else if rem > 0 {
                &tail[..rem]
            } else {
                &[][..]
            };
            leftovers.iter().fold(reduce8(r), |s, &v| s + v)
        };
        *leaf_sum = sum;
        start += len;
    }
    let sum = combine(values.len(), &mut leaf_sums.iter());
    let mut lanes = [0.0f64; 16];
    _mm512_storeu_pd(lanes.as_mut_ptr(), sq_lo);
    _mm512_storeu_pd(lanes.as_mut_ptr().add(8), sq_hi);
    let sum_squares = lanes.iter().sum::<f64>();
    let (mut mins, mut maxs) = ([0.0f32; 16], [0.0f32; 16]);
    _mm512_storeu_ps(mins.as_mut_ptr(), min);
    _mm512_storeu_ps(maxs.as_mut_ptr(), max);
    let min = f64::from(mins.into_iter().fold(f32::INFINITY, f32::min));
    let max = f64::from(maxs.into_iter().fold(f32::NEG_INFINITY, f32::max));
    let partial =
        histogram_f32::finish_partial(values, table, counts.slots(m), min, max, sum_squares);
    (partial, sum)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn bin_f64(values: &[f64], table: &F32Table) -> (Partial, f64) {
    let m = table.edge_count();
    let slots_ptr = table.slots_ptr();
    let bounds_ptr = table.bounds_ptr();
    let mut counts = Counters::new(m);
    let mut leaves = Vec::with_capacity(values.len() / 64 + 2);
    push_leaves(values.len(), &mut leaves);
    let mut leaf_sums = vec![0.0f64; leaves.len()];
    let mut indices = [0u32; LEAF + 8];
    let lane_offsets = _mm256_loadu_si256(
        std::array::from_fn::<i32, 8, _>(|i| counts.lane_offset(i))
            .as_ptr()
            .cast(),
    );
    let sign = _mm256_set1_epi32(i32::MIN);
    let low_half = _mm256_set1_epi32(0xFFFF);
    let one = _mm256_set1_epi32(1);
    let last_bound = _mm256_set1_epi32(COUNTERS as i32 - 1);
    let zero = _mm256_setzero_ps();
    let (mut min, mut max) = (
        _mm512_set1_pd(f64::INFINITY),
        _mm512_set1_pd(f64::NEG_INFINITY),
    );
    let (mut sq_a, mut sq_b) = (_mm512_setzero_pd(), _mm512_setzero_pd());
    let mut start = 0usize;
    for (&len, leaf_sum) in leaves.iter().zip(leaf_sums.iter_mut()) {
        let len = usize::from(len);
        prefetch(values, (start + len) * 8 + PREFETCH_BYTES, len * 8);
        let leaf = values.as_ptr().add(start);
        let mut acc = _mm512_set1_pd(-0.0);
        let mut tail = [0.0f64; 8];
        let mut i = 0;
        while i < len {
            let count = len - i;
            let k = ((1u32 << count.min(8)) - 1) as __mmask8;
            let x = if count >= 8 {
                _mm512_loadu_pd(leaf.add(i))
            } else {
                _mm512_maskz_loadu_pd(k, leaf.add(i))
            };
            // The key of the largest float32 not above x: the nearest float32's, one
            // lower when rounding went up (histogram_f32::floor_key).
            let nearest = _mm512_cvtpd_ps(x);
            let went_up = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(_mm512_cvtps_pd(nearest), x);
            let bits = _mm256_castps_si256(_mm256_add_ps(nearest, zero));
            let key = _mm256_xor_si256(bits, _mm256_or_si256(_mm256_srai_epi32::<31>(bits), sign));
            let key = _mm256_mask_sub_epi32(key, went_up, key, one);
            // SAFETY: `key >> 16` indexes the table's 65,536 slots.
            let entry = _mm256_i32gather_epi32::<4>(slots_ptr, _mm256_srli_epi32::<16>(key));
            let below =
                _mm256_srli_epi32::<16>(_mm256_add_epi32(entry, _mm256_and_si256(key, low_half)));
            // Only the next edge can lie between that float32 and x (slot_f64). The
            // clamp keeps the gather inside `bounds` whatever the table holds.
            let next = _mm256_min_epu32(_mm256_add_epi32(below, one), last_bound);
            let bound = _mm512_i32gather_pd::<8>(next, bounds_ptr);
            let reached = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x, bound);
            let slot = _mm256_mask_add_epi32(below, reached, below, one);
            _mm256_storeu_si256(
                indices.as_mut_ptr().add(i).cast(),
                _mm256_add_epi32(slot, lane_offsets),
            );
            if count >= 8 {
                min = _mm512_min_pd(x, min);
                max = _mm512_max_pd(x, max);
                if i % 16 == 0 {
                    sq_a = _mm512_fmadd_pd(x, x, sq_a);
                } else {
                    sq_b = _mm512_fmadd_pd(x, x, sq_b);
                }
                acc = _mm512_add_pd(acc, x);
            } else {
                min = _mm512_mask_min_pd(min, k, x, min);
                max = _mm512_mask_max_pd(max, k, x, max);
                sq_a = _mm512_fmadd_pd(x, x, sq_a);
                _mm512_storeu_pd(tail.as_mut_ptr(), x);
            }
            i += 8;
        }
        counts.add(&indices[..len]);
        let rem = len % 8;
        let sum = if len < 8 {
            tail[..len].iter().fold(0.0, |s, &v| s + v)
        } else {
            let mut r = [0.0f64; 8];
            _mm512_storeu_pd(r.as_mut_ptr(), acc);
            tail[..rem].iter().fold(reduce8(r), |s, &v| s + v)
        };
        *leaf_sum = sum;
        start += len;
    }
    let sum = combine(values.len(), &mut leaf_sums.iter());
    let mut lanes = [0.0f64; 16];
    _mm512_storeu_pd(lanes.as_mut_ptr(), sq_a);
    _mm512_storeu_pd(lanes.as_mut_ptr().add(8), sq_b);
    let sum_squares = lanes.iter().sum::<f64>();
    let (mut mins, mut maxs) = ([0.0f64; 8], [0.0f64; 8]);
    _mm512_storeu_pd(mins.as_mut_ptr(), min);
    _mm512_storeu_pd(maxs.as_mut_ptr(), max);
    let min = mins.into_iter().fold(f64::INFINITY, f64::min);
    let max = maxs.into_iter().fold(f64::NEG_INFINITY, f64::max);
    let partial =
        histogram_f32::finish_partial(values, table, counts.slots(m), min, max, sum_squares);
    (partial, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::raw_array::{pairwise_sum_range, RawArray};
    use rand::{Rng, SeedableRng};

    fn has_avx512() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
    }

    fn raw(dtype: DType, bytes: Vec<u8>) -> RawArray {
        let n = (bytes.len() / dtype.item_size()) as i64;
        RawArray::copy_from(dtype, vec![n], &bytes).unwrap()
    }

    fn edge_sets() -> Vec<Vec<f64>> {
        vec![
            crate::summary::histogram::default_edges().edges().to_vec(),
            vec![-2.0, -0.1, 0.0, 1.0 / 3.0, 0.75, 4.0, 1e300],
            vec![-1e-30, 1e-45, 0.1, 0.5, 4.0],
            vec![f64::NEG_INFINITY, -1.0, 1.5, f64::INFINITY],
            vec![-3.0, 0.0, 0.1f32 as f64 - 1e-17],
        ]
    }

    /// The fused kernel against the portable table path (itself tested against a
    /// search) and numpy's sum, on every prefix-free range split of `array`.
    fn assert_like_portable(array: &RawArray, table: &F32Table) {
        let n = array.len();
        let (fused, sum) = bin_and_sum(array, table, 0, n).unwrap();
        let reference = match array.dtype {
            DType::Float32 => histogram_f32::bin(array.typed::<f32>(), table),
            DType::Float16 => histogram_f32::bin(array.typed::<F16>(), table),
            DType::BFloat16 => histogram_f32::bin(array.typed::<BF16>(), table),
            _ => histogram_f32::bin(array.typed::<f64>(), table),
        }
        .unwrap();
        assert_eq!(fused.slots, reference.slots, "{:?}", array.dtype);
        assert_eq!(fused.saw_nan, reference.saw_nan);
        if !fused.saw_nan {
            assert_eq!(fused.min.to_bits(), reference.min.to_bits());
            assert_eq!(fused.max.to_bits(), reference.max.to_bits());
            // Summed in another order: equal to rounding (or both infinite).
            let (got, want) = (fused.sum_squares, reference.sum_squares);
            assert!(
                got == want || (got - want).abs() <= 1e-12 * want,
                "{got:e} {want:e}"
            );
        }
        let numpy = pairwise_sum_range(array.view(), 0, n);
        assert!(
            sum.to_bits() == numpy.to_bits() || (sum.is_nan() && numpy.is_nan()),
            "sum of {n} {:?}: {sum:e} != {numpy:e}",
            array.dtype
        );
    }

    #[test]
    fn every_float16_and_bfloat16_bins_like_the_portable_path() {
        if !has_avx512() {
            return;
        }
        let bits: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_ne_bytes).collect();
        // Without NaN too, so that min, max and the sum of squares are compared.
        let no_nan = |is_nan: fn(u16) -> bool| -> Vec<u8> {
            (0..=u16::MAX)
                .filter(|&b| !is_nan(b))
                .flat_map(u16::to_ne_bytes)
                .collect()
        };
        let f16_nan = |b: u16| b & 0x7C00 == 0x7C00 && b & 0x3FF != 0;
        let bf16_nan = |b: u16| b & 0x7F80 == 0x7F80 && b & 0x7F != 0;
        for edges in edge_sets() {
            let table = F32Table::build(&edges).unwrap();
            assert_like_portable(&raw(DType::Float16, bits.clone()), &table);
            assert_like_portable(&raw(DType::BFloat16, bits.clone()), &table);
            assert_like_portable(&raw(DType::Float16, no_nan(f16_nan)), &table);
            assert_like_portable(&raw(DType::BFloat16, no_nan(bf16_nan)), &table);
        }
    }

    #[test]
    fn float32_and_float64_straddling_edges_bin_like_the_portable_path() {
        if !has_avx512() {
            return;
        }
        for edges in edge_sets() {
            let table = F32Table::build(&edges).unwrap();
            let mut wide = vec![0.0, -0.0, 1e-50, -1e-50, 1e39, -1e39, f64::MAX, f64::MIN];
            wide.extend([f64::INFINITY, f64::NEG_INFINITY, f64::from(f32::MAX)]);
            for &e in &edges {
                let c = e as f32;
                wide.extend([e, e.next_up(), e.next_down(), -e]);
                for f in [c, c.next_up(), c.next_down()] {
                    let f = f64::from(f);
                    wide.extend([f, f.next_up(), f.next_down()]);
                }
                let (lo, hi) = (f64::from(c.next_down()), f64::from(c.next_up()));
                wide.extend([(lo + f64::from(c)) / 2.0, (hi + f64::from(c)) / 2.0]);
            }
            let narrow: Vec<f32> = wide.iter().map(|&v| v as f32).collect();
            let f64_bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_ne_bytes()).collect();
            let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_ne_bytes()).collect();
            assert_like_portable(&raw(DType::Float64, f64_bytes(&wide)), &table);
            assert_like_portable(&raw(DType::Float32, f32_bytes(&narrow)), &table);
            wide.extend([f64::NAN, -f64::NAN]);
            let narrow: Vec<f32> = wide.iter().map(|&v| v as f32).collect();
            assert_like_portable(&raw(DType::Float64, f64_bytes(&wide)), &table);
            assert_like_portable(&raw(DType::Float32, f32_bytes(&narrow)), &table);
        }
    }

    #[test]
    fn every_length_sums_bit_for_bit_like_numpy() {
        if !has_avx512() {
            return;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        // Magnitudes over many orders, so that the order of additions shows in the bits.
        let values: Vec<f64> = (0..70_000)
            .map(|_| (rng.random::<f64>() - 0.5) * 10f64.powi(rng.random_range(-8..9)))
            .collect();
        let table = F32Table::build(crate::summary::histogram::default_edges().edges()).unwrap();
        let lengths = (0..600).chain([1000, 1023, 1029, 4095, 4099, 65_536, 65_535, 69_999]);
        for n in lengths {
            let wide: Vec<u8> = values[..n].iter().flat_map(|v| v.to_ne_bytes()).collect();
            let narrow: Vec<u8> = values[..n]
                .iter()
                .flat_map(|&v| (v as f32).to_ne_bytes())
                .collect();
            let halves: Vec<u8> = values[..n]
                .iter()
                .flat_map(|&v| half::f16::from_f64(v * 1e3).to_bits().to_ne_bytes())
                .collect();
            let brains: Vec<u8> = values[..n]
                .iter()
                .flat_map(|&v| half::bf16::from_f64(v).to_bits().to_ne_bytes())
                .collect();
            assert_like_portable(&raw(DType::Float64, wide), &table);
            assert_like_portable(&raw(DType::Float32, narrow), &table);
            assert_like_portable(&raw(DType::Float16, halves), &table);
            assert_like_portable(&raw(DType::BFloat16, brains), &table);
        }
    }

    #[test]
    fn negative_zeros_sum_to_negative_zero_like_numpy() {
        if !has_avx512() {
            return;
        }
        let table = F32Table::build(crate::summary::histogram::default_edges().edges()).unwrap();
        // numpy's leaves start from their first values (a sum of -0.0s is -0.0), except
        // that fewer than eight values are added to 0.0.
        for n in [3, 8, 20, 128, 300] {
            let bytes: Vec<u8> = (0..n).flat_map(|_| (-0.0f32).to_ne_bytes()).collect();
            let (_, sum) = bin_and_sum(&raw(DType::Float32, bytes), &table, 0, n).unwrap();
            assert_eq!(sum.is_sign_negative(), n >= 8, "n = {n}");
        }
    }
}
