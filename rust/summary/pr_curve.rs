//! Precision-recall curves: torch's `compute_curve` (a port of TensorBoard's
//! `pr_curve/summary.py`) computed on the worker, with exactly numpy's arithmetic.
//!
//! torch computes `bucket = int32(floor(prediction * (T - 1)))` in the predictions' own
//! float type, histograms the buckets with `np.histogram(bins=T, range=(0, T - 1))`
//! weighted by `label * w` (true positives) and `(1 - label) * w` (false positives), then
//! takes reverse cumulative sums. numpy sums weights per 65,536-element block and adds
//! each block's sums to the total, so this code does the same to get bit-identical
//! float64 results before the final rounding to float32.

use prost::Message;

use crate::error::FerroError;
use crate::format::proto::plugins::PrCurvePluginData;
use crate::format::proto::{
    summary_value, DataType, SummaryMetadata, SummaryValue, TensorProto, TensorShapeProto,
};
use crate::summary::job::ValueEncoder;
use rayon::prelude::*;

use crate::summary::raw_array::{for_each_f64, DType, RawArray};

/// TensorBoard's limit (torch: "value > 127 breaks protobuf").
pub const MAX_THRESHOLDS: u32 = 127;
/// A bucket outside `0..t`.
const DROPPED: u8 = u8::MAX;
/// numpy's `np.histogram` block size.
const NUMPY_BLOCK: usize = 65_536;
/// torch's `_MINIMUM_COUNT`.
const MINIMUM_COUNT: f64 = 1e-7;

/// Per-element weights of a PR curve.
pub enum Weights {
    /// One weight for every element (torch's default is 1.0).
    Scalar(f64),
    /// One weight per element, same length as the labels.
    PerElement(RawArray),
}

/// `add_pr_curve`: labels and predictions, binned on the worker.
pub struct PrCurveEncoder {
    pub tag: String,
    pub labels: RawArray,
    pub predictions: RawArray,
    pub weights: Weights,
    /// Already capped at [`MAX_THRESHOLDS`] and at least 1.
    pub num_thresholds: u32,
}

/// `add_pr_curve_raw`: the six rows given by the caller.
pub struct PrCurveRawEncoder {
    pub tag: String,
    /// TP, FP, TN, FN, precision, recall; equal lengths.
    pub rows: [RawArray; 6],
    pub num_thresholds: u32,
}

impl PrCurveEncoder {
    /// Checks sizes and the threshold count (the caller's validation).
    pub fn new(
        tag: String,
        labels: RawArray,
        predictions: RawArray,
        weights: Weights,
        num_thresholds: i64,
    ) -> Result<Self, FerroError> {
        if labels.len() != predictions.len() {
            return Err(FerroError::InvalidArgument(format!(
                "labels and predictions must have the same number of elements, got shapes \
                 {:?} and {:?}",
                labels.shape, predictions.shape
            )));
        }
        if let Weights::PerElement(w) = &weights {
            if w.len() != predictions.len() {
                return Err(FerroError::InvalidArgument(format!(
                    "weights must be a scalar or have one element per prediction, got shape \
                     {:?} for predictions of shape {:?}",
                    w.shape, predictions.shape
                )));
            }
        }
        Ok(PrCurveEncoder {
            tag,
            labels,
            predictions,
            weights,
            num_thresholds: cap_thresholds(num_thresholds)?,
        })
    }
}

/// `add_pr_curve_raw`'s six rows, by argument name.
pub const RAW_ROW_NAMES: [&str; 6] = [
    "true_positive_counts",
    "false_positive_counts",
    "true_negative_counts",
    "false_negative_counts",
    "precision",
    "recall",
];

impl PrCurveRawEncoder {
    /// The rows named by [`RAW_ROW_NAMES`], in that order.
    pub fn from_rows(
        tag: String,
        rows: Vec<RawArray>,
        num_thresholds: i64,
    ) -> Result<Self, FerroError> {
        let count = rows.len();
        let rows: [RawArray; 6] = rows.try_into().map_err(|_| {
            FerroError::InvalidArgument(format!("a raw PR curve needs 6 rows, got {count}"))
        })?;
        Self::new(tag, rows, num_thresholds)
    }

    pub fn new(tag: String, rows: [RawArray; 6], num_thresholds: i64) -> Result<Self, FerroError> {
        let n = rows[0].len();
        if let Some(bad) = rows.iter().find(|r| r.len() != n) {
            return Err(FerroError::InvalidArgument(format!(
                "the six PR-curve arrays must have the same length, got {n} and {} (shape {:?})",
                bad.len(),
                bad.shape
            )));
        }
        Ok(PrCurveRawEncoder {
            tag,
            rows,
            num_thresholds: cap_thresholds(num_thresholds)?,
        })
    }
}

/// torch's `min(num_thresholds, 127)`. One threshold is a curve of one point (torch
/// and tensorboardX accept it); zero makes none (numpy's histogram raises there).
pub fn cap_thresholds(num_thresholds: i64) -> Result<u32, FerroError> {
    if num_thresholds < 1 {
        return Err(FerroError::InvalidArgument(format!(
            "num_thresholds must be at least 1, got {num_thresholds}"
        )));
    }
    Ok(num_thresholds.min(i64::from(MAX_THRESHOLDS)) as u32)
}

/// torch's `compute_curve`: rows TP, FP, TN, FN, precision, recall, each `t` long.
pub fn compute_curve(
    labels: &RawArray,
    predictions: &RawArray,
    weights: &Weights,
    num_thresholds: u32,
) -> Vec<f64> {
    let t = num_thresholds as usize;
    let bin_of = bucket_bins(t);
    if matches!(weights, Weights::Scalar(w) if *w == 1.0) {
        if let Some((tp, fp)) = integer_counts(labels, predictions, &bin_of) {
            return curve_from_buckets(&tp, &fp);
        }
    }
    let labels = as_f64(labels);
    let per_element = match weights {
        Weights::Scalar(_) => None,
        Weights::PerElement(w) => Some(as_f64(w)),
    };
    let scalar = match weights {
        Weights::Scalar(w) => *w,
        Weights::PerElement(_) => 1.0,
    };
    let (mut tp_buckets, mut fp_buckets) = (vec![0f64; t], vec![0f64; t]);
    let (mut tp_block, mut fp_block) = (vec![0f64; t], vec![0f64; t]);
    let mut buckets = vec![0u8; NUMPY_BLOCK.min(labels.len())];
    for start in (0..labels.len()).step_by(NUMPY_BLOCK) {
        let end = (start + NUMPY_BLOCK).min(labels.len());
        let buckets = &mut buckets[..end - start];
        fill_buckets(predictions, start, buckets, t);
        tp_block.fill(0.0);
        fp_block.fill(0.0);
        for (j, &k) in buckets.iter().enumerate() {
            if k == DROPPED {
                continue;
            }
            let bin = bin_of[k as usize];
            let i = start + j;
            let w = match &per_element {
                Some(w) => w[i],
                None => scalar,
            };
            let label = labels[i];
            tp_block[bin] += label * w;
            fp_block[bin] += (1.0 - label) * w;
        }
        for b in 0..t {
            tp_buckets[b] += tp_block[b];
            fp_buckets[b] += fp_block[b];
        }
    }
    curve_from_buckets(&tp_buckets, &fp_buckets)
}

/// Elements per task of the integer path (buckets computed into a buffer this size).
const COUNT_CHUNK: usize = 1 << 15;
/// Below this many elements the integer path runs on the worker thread alone.
const PARALLEL_MIN: usize = 1 << 18;

/// One element of label `x` in a packed counter: count 1 in the low half, `x` added
/// (modulo 2^32) to the high half.
#[inline(always)]
fn pack(x: i64) -> u64 {
    ((x as u64) << 32).wrapping_add(1)
}

/// The common case, integer (or boolean) labels with unit weights: every weight numpy
/// adds is an integer, so its float64 sums are exact while they stay below 2^53 and
/// equal these integer counts, which can be summed in any order (in parallel). None
/// when the labels are floats or too large for that to hold.
fn integer_counts(
    labels: &RawArray,
    predictions: &RawArray,
    bin_of: &[usize],
) -> Option<(Vec<f64>, Vec<f64>)> {
    /// Per bucket: number of elements and sum of labels. Slot 255 collects the dropped
    /// elements, so the loop has no branch and no bounds check. Also the OR of every
    /// |label| (at least the largest |label|, at most twice it).
    type Counts = (Box<[[i64; 256]; 2]>, u64);

    fn go<L: Copy + Sync>(
        labels: &[L],
        predictions: &RawArray,
        t: usize,
        conv: impl Fn(L) -> i64 + Sync,
    ) -> Counts {
        let chunk = |c: usize| -> Counts {
            let start = c * COUNT_CHUNK;
            let end = (start + COUNT_CHUNK).min(labels.len());
            let mut buckets = vec![0u8; end - start];
            fill_buckets(predictions, start, &mut buckets, t);
            let labels = &labels[start..end];
            let mut acc = Box::new([[0i64; 256]; 2]);
            // Fast form: one packed counter per bucket, the element count in the low 32
            // bits and the label sum in the high 32, two lanes so that neighbours in
            // the same bucket do not wait on each other. Exact while every |label| is
            // below 2^16 (a chunk of 2^15 then sums to less than 2^31 in magnitude);
            // otherwise the chunk is counted again the wide way.
            let mut packed = [[0u64; 256]; 2];
            let mut magnitude = 0u64;
            let mut pairs = buckets.chunks_exact(2).zip(labels.chunks_exact(2));
            for (k, l) in &mut pairs {
                let (x, y) = (conv(l[0]), conv(l[1]));
                packed[0][k[0] as usize] = packed[0][k[0] as usize].wrapping_add(pack(x));
                packed[1][k[1] as usize] = packed[1][k[1] as usize].wrapping_add(pack(y));
                magnitude |= ((x ^ (x >> 63)) | (y ^ (y >> 63))) as u64;
            }
            if buckets.len() % 2 == 1 {
                let (k, x) = (buckets[buckets.len() - 1], conv(labels[labels.len() - 1]));
                packed[0][k as usize] = packed[0][k as usize].wrapping_add(pack(x));
                magnitude |= (x ^ (x >> 63)) as u64;
            }
            let [count, sum] = &mut *acc;
            if magnitude < 1 << 16 {
                for k in 0..256 {
                    let (a, b) = (packed[0][k], packed[1][k]);
                    count[k] = i64::from(a as u32) + i64::from(b as u32);
                    sum[k] =
                        i64::from((a >> 32) as u32 as i32) + i64::from((b >> 32) as u32 as i32);
                }
            } else {
                for (&k, &l) in buckets.iter().zip(labels) {
                    let x = conv(l);
                    count[k as usize] += 1;
                    sum[k as usize] = sum[k as usize].wrapping_add(x);
                }
            }
            (acc, magnitude)
        };
        let merge = |(mut a, ma): Counts, (b, mb): Counts| -> Counts {
            for (x, y) in a.iter_mut().zip(b.iter()) {
                for (u, v) in x.iter_mut().zip(y) {
                    *u = u.wrapping_add(*v);
                }
            }
            (a, ma | mb)
        };
        let chunks = labels.len().div_ceil(COUNT_CHUNK);
        let empty = || -> Counts { (Box::new([[0i64; 256]; 2]), 0) };
        // Large inputs in parallel; smaller ones too when a caller blocked in flush() or
        // close() leaves its core free (the pools module picks the threads).
        let parallel = labels.len() >= PARALLEL_MIN
            || (crate::runtime::pools::caller_waiting() && labels.len() >= 2 * COUNT_CHUNK);
        if parallel {
            crate::runtime::pools::in_binning_pool(|| {
                (0..chunks).into_par_iter().map(chunk).reduce(empty, merge)
            })
        } else {
            (0..chunks).map(chunk).fold(empty(), merge)
        }
    }
    let t = bin_of.len();
    let (acc, magnitude) = match labels.dtype {
        DType::Bool | DType::UInt8 => go(labels.typed::<u8>(), predictions, t, i64::from),
        DType::Int8 => go(labels.typed::<i8>(), predictions, t, i64::from),
        DType::Int16 => go(labels.typed::<i16>(), predictions, t, i64::from),
        DType::UInt16 => go(labels.typed::<u16>(), predictions, t, i64::from),
        DType::Int32 => go(labels.typed::<i32>(), predictions, t, i64::from),
        DType::UInt32 => go(labels.typed::<u32>(), predictions, t, i64::from),
        DType::Int64 => go(labels.typed::<i64>(), predictions, t, |v| v),
        // Clamped: labels that large fail the magnitude check below anyway.
        DType::UInt64 => go(labels.typed::<u64>(), predictions, t, |v| {
            v.min(1 << 62) as i64
        }),
        _ => return None,
    };
    // numpy's partial sums are at most (n + 1) * (max |label| + 1) in magnitude.
    if (magnitude as f64 + 2.0) * (labels.len() as f64 + 1.0) >= 2f64.powi(53) {
        return None;
    }
    // TP weights are the labels; FP weights are 1 - label, which sum to count - sum.
    let (mut tp, mut fp) = (vec![0f64; t], vec![0f64; t]);
    for (k, &bin) in bin_of.iter().enumerate() {
        let (count, sum) = (acc[0][k], acc[1][k]);
        tp[bin] += sum as f64;
        fp[bin] += (count - sum) as f64;
    }
    Some((tp, fp))
}

/// Reverse cumulative sums, then TN, FN, precision and recall (numpy's order of
/// operations), as six rows of `t` values.
fn curve_from_buckets(tp_buckets: &[f64], fp_buckets: &[f64]) -> Vec<f64> {
    let t = tp_buckets.len();
    let mut tp = vec![0f64; t];
    let mut fp = vec![0f64; t];
    let (mut acc_tp, mut acc_fp) = (0f64, 0f64);
    for i in (0..t).rev() {
        // np.cumsum starts from the first element itself, not from 0 + element.
        acc_tp = if i == t - 1 {
            tp_buckets[i]
        } else {
            acc_tp + tp_buckets[i]
        };
        acc_fp = if i == t - 1 {
            fp_buckets[i]
        } else {
            acc_fp + fp_buckets[i]
        };
        tp[i] = acc_tp;
        fp[i] = acc_fp;
    }
    let mut out = Vec::with_capacity(6 * t);
    out.extend_from_slice(&tp);
    out.extend_from_slice(&fp);
    out.extend(fp.iter().map(|&v| fp[0] - v));
    out.extend(tp.iter().map(|&v| tp[0] - v));
    out.extend((0..t).map(|i| tp[i] / np_maximum(MINIMUM_COUNT, tp[i] + fp[i])));
    out.extend((0..t).map(|i| tp[i] / np_maximum(MINIMUM_COUNT, tp[i] + (tp[0] - tp[i]))));
    out
}

/// `np.maximum`: NaN wins (unlike `f64::max`).
fn np_maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// For each integer bucket `k` in `0..t`, the bin `np.histogram(bins=t, range=(0, t-1))`
/// puts it in, computed with numpy's own formulas (linspace edges, scaled index, then
/// the correction against the edges).
fn bucket_bins(t: usize) -> Vec<usize> {
    if t == 1 {
        // range=(0, 0): numpy widens it to (-0.5, 0.5), one bin holding bucket 0.
        return vec![0];
    }
    let last = (t - 1) as f64;
    let step = last / t as f64;
    let edges: Vec<f64> = (0..=t)
        .map(|i| if i == t { last } else { i as f64 * step })
        .collect();
    (0..t)
        .map(|k| {
            let x = k as f64;
            let mut idx = ((x / last) * t as f64) as usize;
            if idx == t {
                idx -= 1;
            }
            if x < edges[idx] {
                idx -= 1;
            }
            if x >= edges[idx + 1] && idx != t - 1 {
                idx += 1;
            }
            idx
        })
        .collect()
}

/// Buckets of `predictions[start..start + out.len()]`: `int32(floor(p * (t - 1)))` in
/// the predictions' own precision, or [`DROPPED`] outside `0..t` (numpy's histogram
/// drops those; NaN and values too large for int32 become INT_MIN there, dropped too).
fn fill_buckets(predictions: &RawArray, start: usize, out: &mut [u8], t: usize) {
    // floor(v) is in 0..t exactly when 0 <= v < t, and then it is v truncated (a cast:
    // `floor` itself is a libm call on baseline x86-64). NaN fails both comparisons.
    let (limit64, limit32) = (t as f64, t as f32);
    let (s64, s32) = ((t - 1) as f64, (t - 1) as f32);
    let keep32 = |v: f32| -> u8 {
        let inside = v >= 0.0 && v < limit32;
        let v = if inside { v } else { 0.0 };
        // SAFETY: v is finite and in [0, t), which fits an i32 (branch-free, so that the
        // loop vectorizes).
        let i = unsafe { v.to_int_unchecked::<i32>() } as u8;
        if inside {
            i
        } else {
            DROPPED
        }
    };
    let keep64 = |v: f64| -> u8 {
        let inside = v >= 0.0 && v < limit64;
        let v = if inside { v } else { 0.0 };
        // SAFETY: as above.
        let i = unsafe { v.to_int_unchecked::<i32>() } as u8;
        if inside {
            i
        } else {
            DROPPED
        }
    };
    let end = start + out.len();
    match predictions.dtype {
        DType::Float32 => {
            for (o, &p) in out.iter_mut().zip(&predictions.typed::<f32>()[start..end]) {
                *o = keep32(p * s32);
            }
        }
        DType::Float16 => {
            for (o, &bits) in out.iter_mut().zip(&predictions.typed::<u16>()[start..end]) {
                let product = half::f16::from_f32(half::f16::from_bits(bits).to_f32() * s32);
                *o = keep32(product.to_f32());
            }
        }
        // numpy has no bfloat16 (torch goes through float16); float32 holds it exactly.
        DType::BFloat16 => {
            for (o, &bits) in out.iter_mut().zip(&predictions.typed::<u16>()[start..end]) {
                *o = keep32(crate::summary::raw_array::bf16_to_f32(bits) * s32);
            }
        }
        DType::Float64 => {
            for (o, &p) in out.iter_mut().zip(&predictions.typed::<f64>()[start..end]) {
                *o = keep64(p * s64);
            }
        }
        // Integers and booleans (numpy multiplies those as int64, whose floor is a
        // float64: the same values for any sensible prediction).
        _ => {
            let mut i = 0;
            crate::summary::raw_array::with_f64_chunks(predictions, start, end, |p| {
                out[i] = keep64(p * s64);
                i += 1;
            });
        }
    }
}

fn as_f64(array: &RawArray) -> Vec<f64> {
    let mut out = Vec::with_capacity(array.len());
    for_each_f64(array, |v| out.push(v));
    out
}

/// The `pr_curves` summary value of a `[6, t]` curve.
fn pr_curve_value(tag: String, rows: Vec<f32>, num_thresholds: u32) -> SummaryValue {
    let width = (rows.len() / 6) as i64;
    let content = PrCurvePluginData {
        version: 0,
        num_thresholds,
    }
    .encode_to_vec();
    SummaryValue {
        tag,
        metadata: Some(SummaryMetadata::for_plugin("pr_curves", content)),
        value: Some(summary_value::Value::Tensor(TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(TensorShapeProto::from_dims(&[6, width])),
            float_val: rows,
            ..Default::default()
        })),
        ..Default::default()
    }
}

impl ValueEncoder for PrCurveEncoder {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len()
            + self.labels.nbytes()
            + self.predictions.nbytes()
            + match &self.weights {
                Weights::Scalar(_) => 0,
                Weights::PerElement(w) => w.nbytes(),
            }
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let curve = compute_curve(
            &self.labels,
            &self.predictions,
            &self.weights,
            self.num_thresholds,
        );
        let rows = curve.iter().map(|&v| v as f32).collect();
        Ok(vec![pr_curve_value(self.tag, rows, self.num_thresholds)])
    }
}

impl ValueEncoder for PrCurveRawEncoder {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len() + self.rows.iter().map(RawArray::nbytes).sum::<usize>()
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let mut rows = Vec::with_capacity(6 * self.rows[0].len());
        for row in &self.rows {
            for_each_f64(row, |v| rows.push(v as f32));
        }
        Ok(vec![pr_curve_value(self.tag, rows, self.num_thresholds)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_array(values: &[f32]) -> RawArray {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        RawArray::copy_from(DType::Float32, vec![values.len() as i64], &bytes).unwrap()
    }

    fn bool_array(values: &[bool]) -> RawArray {
        let bytes: Vec<u8> = values.iter().map(|&v| u8::from(v)).collect();
        RawArray::copy_from(DType::Bool, vec![values.len() as i64], &bytes).unwrap()
    }

    #[test]
    fn integer_buckets_land_in_their_own_bin() {
        for t in 2usize..=127 {
            let bins = bucket_bins(t);
            assert_eq!(bins, (0..t).collect::<Vec<_>>(), "t = {t}");
        }
    }

    #[test]
    fn small_curve_by_hand() {
        // Thresholds 0, 0.5, 1 (t = 3): buckets floor(p * 2).
        let labels = bool_array(&[true, false, true, false]);
        let predictions = f32_array(&[0.9, 0.8, 0.3, 0.1]);
        let c = compute_curve(&labels, &predictions, &Weights::Scalar(1.0), 3);
        // tp buckets [1, 1, 0] -> tp [2, 1, 0]; fp buckets [1, 1, 0] -> fp [2, 1, 0].
        assert_eq!(&c[0..3], &[2.0, 1.0, 0.0]);
        assert_eq!(&c[3..6], &[2.0, 1.0, 0.0]);
        assert_eq!(&c[6..9], &[0.0, 1.0, 2.0]); // tn = fp[0] - fp
        assert_eq!(&c[9..12], &[0.0, 1.0, 2.0]); // fn = tp[0] - tp
        assert_eq!(&c[12..15], &[0.5, 0.5, 0.0]); // precision
        assert_eq!(&c[15..18], &[1.0, 0.5, 0.0]); // recall
    }

    #[test]
    fn out_of_range_and_nan_predictions_are_dropped() {
        let labels = bool_array(&[true, true, true, true]);
        let predictions = f32_array(&[f32::NAN, -0.1, 1.5, 1.0]);
        let c = compute_curve(&labels, &predictions, &Weights::Scalar(1.0), 3);
        assert_eq!(&c[0..3], &[1.0, 1.0, 1.0]); // only the 1.0 (bucket 2) counts
    }

    #[test]
    fn integer_path_equals_float_path() {
        let n = 70_000usize;
        let preds: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1013) as f32 / 1000.0)
            .collect();
        let predictions = f32_array(&preds);
        let ints: Vec<i64> = (0..n).map(|i| [0, 1, 1, 3, -2][i % 5]).collect();
        let bytes: Vec<u8> = ints.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let labels = RawArray::copy_from(DType::Int64, vec![n as i64], &bytes).unwrap();
        let floats: Vec<u8> = ints
            .iter()
            .flat_map(|&v| (v as f64).to_ne_bytes())
            .collect();
        let float_labels = RawArray::copy_from(DType::Float64, vec![n as i64], &floats).unwrap();
        let bins = bucket_bins(127);
        assert!(integer_counts(&labels, &predictions, &bins).is_some());
        let a = compute_curve(&labels, &predictions, &Weights::Scalar(1.0), 127);
        let b = compute_curve(&float_labels, &predictions, &Weights::Scalar(1.0), 127);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // Labels so large that float64 sums would round: the exact float path is used.
        let huge: Vec<u8> = (0..4u64)
            .flat_map(|i| (u64::MAX - i).to_ne_bytes())
            .collect();
        let huge = RawArray::copy_from(DType::UInt64, vec![4], &huge).unwrap();
        assert!(integer_counts(&huge, &f32_array(&[0.1, 0.2, 0.3, 0.4]), &bins).is_none());
    }

    #[test]
    fn thresholds_are_capped() {
        assert_eq!(cap_thresholds(1000).unwrap(), 127);
        assert_eq!(cap_thresholds(2).unwrap(), 2);
        assert_eq!(cap_thresholds(1).unwrap(), 1);
        assert!(cap_thresholds(0).is_err());
        assert!(cap_thresholds(-3).is_err());
    }

    #[test]
    fn one_threshold_counts_every_finite_prediction() {
        // floor(p * 0) is 0 for every finite p, even outside [0, 1] (as in numpy);
        // NaN and inf give NaN, which falls outside the bin.
        let labels = bool_array(&[true, false, true, true, false]);
        let predictions = f32_array(&[0.9, -0.5, 3.0, f32::NAN, f32::INFINITY]);
        let c = compute_curve(&labels, &predictions, &Weights::Scalar(1.0), 1);
        assert_eq!(c, vec![2.0, 1.0, 0.0, 0.0, 2.0 / 3.0, 1.0]);
        let float_labels = RawArray::copy_from(
            DType::Float64,
            vec![5],
            &[1.0f64, 0.0, 1.0, 1.0, 0.0]
                .iter()
                .flat_map(|v| v.to_ne_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let weighted = compute_curve(&float_labels, &predictions, &Weights::Scalar(0.5), 1);
        assert_eq!(weighted, vec![1.0, 0.5, 0.0, 0.0, 2.0 / 3.0, 1.0]);
    }
}
