//! Histogram binning with exactly torch's `make_histogram` output, computed in one pass.
//!
//! torch casts to float64, calls `np.histogram(values, bins)`, optionally merges buckets
//! down to `max_bins`, then trims empty buckets at both ends while keeping one empty
//! bucket on the left (TensorBoard stores right edges only). numpy's bucket rule: value
//! `x` falls in bin `i` when `edges[i] <= x < edges[i+1]`; the last bin is closed on the
//! right; values outside the edges and NaN are not counted.
//!
//! Finding the bin is the hot loop. Instead of a binary search over ~1,549 edges, a
//! 65,537-entry table indexed by the top 16 bits of an order-preserving integer key
//! narrows the search to the few edges that share those bits (at most one for the
//! default exponential edges, whose ratio 1.1 exceeds the 2^(1/16) width of a slot).

use std::sync::OnceLock;

use crate::error::FerroError;
use crate::format::proto::HistogramProto;
use crate::runtime::fallible;
use crate::runtime::pools::in_binning_pool;
use crate::summary::histogram_f32::{self, F32Table};
use crate::summary::histogram_f32::{BF16, F16};
use crate::summary::raw_array::{pairwise_sum_range, with_f64_blocks, ArrayView, DType};

const TABLE_BITS: u32 = 16;
const KEY_SHIFT: u32 = 64 - TABLE_BITS;
/// Arrays at least this long are binned in parallel chunks of this size.
const CHUNK: usize = 1 << 16;
/// Below this many values a table costs more to build than it saves.
const TABLE_MIN_VALUES: usize = 16_384;
/// The same for the float table of explicit edges (the default edges' is built once).
const F32_TABLE_MIN_VALUES: usize = 1 << 18;

/// Which edges to bin with.
#[derive(Clone, Debug)]
pub enum Bins {
    /// torch's default "tensorflow" edges, plus one outer bucket on each side so that
    /// values beyond ±9.92e19 are counted rather than dropped (a documented deviation).
    Default,
    /// Explicit, non-decreasing edges (numpy semantics: out-of-range values dropped).
    Edges(Vec<f64>),
}

impl Bins {
    /// Explicit edges, checked once here: at least two, no NaN, never decreasing.
    pub fn explicit(edges: Vec<f64>) -> Result<Bins, FerroError> {
        let why = if edges.len() < 2 {
            "must have at least 2 edges"
        } else if edges.iter().any(|v| v.is_nan()) {
            "must not contain NaN"
        } else if edges.windows(2).any(|w| w[0] > w[1]) {
            "must increase monotonically"
        } else {
            return Ok(Bins::Edges(edges));
        };
        Err(FerroError::InvalidArgument(format!(
            "bins {why}, got {}",
            preview(&edges)
        )))
    }
}

/// Edges for an error message as Python prints a list of them (`nan`, `inf`),
/// shortened when there are many.
fn preview(edges: &[f64]) -> String {
    let list = |values: &[f64]| {
        let items: Vec<String> = values
            .iter()
            .map(|v| match v {
                v if v.is_nan() => "nan".to_owned(),
                v if v.is_infinite() => if *v > 0.0 { "inf" } else { "-inf" }.to_owned(),
                v => format!("{v:?}"),
            })
            .collect();
        format!("[{}]", items.join(", "))
    };
    if edges.len() <= 20 {
        list(edges)
    } else {
        format!("{} ... ({} edges)", list(&edges[..10]), edges.len())
    }
}

/// `add_histogram_raw`'s proto from `[min, max, num, sum, sum_squares]` and buckets
/// (torch's message when their lengths differ).
pub fn raw_histogram(
    stats: [f64; 5],
    bucket_limits: Vec<f64>,
    bucket_counts: Vec<f64>,
) -> Result<HistogramProto, FerroError> {
    if bucket_limits.len() != bucket_counts.len() {
        return Err(FerroError::InvalidArgument(format!(
            "len(bucket_limits) != len(bucket_counts), see the document: {} != {}",
            bucket_limits.len(),
            bucket_counts.len()
        )));
    }
    let [min, max, num, sum, sum_squares] = stats;
    Ok(HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limit: bucket_limits,
        bucket: bucket_counts,
    })
}

/// torch's default edges: ±1e-12·1.1^k for 1e-12 <= v < 1e20, and 0.
///
/// Built with the same sequence of float64 multiplications as torch's Python loop so
/// that every edge is bit-identical.
pub fn default_edges() -> &'static EdgeIndex {
    match try_default_edges() {
        Ok(index) => index,
        // A few KiB: what an ordinary allocation failing here would do.
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; 1600]>()),
    }
}

/// [`default_edges`], built on first use; an error if memory runs out then (the worker
/// drops that one event and tries again with the next).
pub fn try_default_edges() -> Result<&'static EdgeIndex, FerroError> {
    static EDGES: OnceLock<EdgeIndex> = OnceLock::new();
    if let Some(index) = EDGES.get() {
        return Ok(index);
    }
    let mut positive = Vec::new();
    let mut v = 1e-12f64;
    while v < 1e20 {
        positive.push(v);
        v *= 1.1;
    }
    let mut edges: Vec<f64> = positive.iter().rev().map(|v| -v).collect();
    edges.push(0.0);
    edges.extend_from_slice(&positive);
    let index = EdgeIndex::with_table(edges, true)?;
    // Another thread may have built it meanwhile: the same edges either way.
    Ok(EDGES.get_or_init(|| index))
}

/// What the buffers of a histogram are called when memory runs out for them: their
/// size follows the number of edges, which `bins` sets.
const BUCKETS: &str = "the histogram's buckets";

/// Edges with their order keys and, optionally, the lookup table.
pub struct EdgeIndex {
    edges: Vec<f64>,
    /// Order keys of the edges, followed by one `u64::MAX` sentinel.
    keys: Vec<u64>,
    table: Option<Vec<u32>>,
    /// Every table slot holds at most one edge, so one comparison finishes the lookup.
    one_edge_per_slot: bool,
    /// The same for float32 values, where the edges allow it.
    f32_table: Option<F32Table>,
}

impl EdgeIndex {
    fn without_table(edges: Vec<f64>) -> Result<Self, FerroError> {
        let mut keys: Vec<u64> = fallible::collect(
            edges.len() + 1,
            edges.iter().map(|&e| order_key(e)),
            BUCKETS,
        )?;
        keys.push(u64::MAX);
        Ok(EdgeIndex {
            edges,
            keys,
            table: None,
            one_edge_per_slot: false,
            f32_table: None,
        })
    }

    fn edge_keys(&self) -> &[u64] {
        &self.keys[..self.edges.len()]
    }

    /// `float32_table`: also build the float32 table (288 KiB, built per call for
    /// explicit edges, so only worth it for large float inputs).
    fn with_table(edges: Vec<f64>, float32_table: bool) -> Result<Self, FerroError> {
        let mut index = Self::without_table(edges)?;
        let slots = (1usize << TABLE_BITS) + 1;
        let mut table = Vec::with_capacity(slots);
        let mut below = 0usize;
        for slot in 0..slots {
            // table[slot] = number of edges whose key is below the slot's first key.
            let slot_start = (slot as u128) << KEY_SHIFT;
            while below < index.edges.len() && (index.keys[below] as u128) < slot_start {
                below += 1;
            }
            table.push(below as u32);
        }
        index.one_edge_per_slot = table.windows(2).all(|w| w[1] - w[0] <= 1);
        index.table = Some(table);
        if float32_table {
            index.f32_table = F32Table::build(&index.edges);
        }
        Ok(index)
    }

    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Number of edges `<= x`, where `x` is given as its order key.
    #[inline(always)]
    fn count_le(&self, key: u64) -> usize {
        match &self.table {
            Some(table) if self.one_edge_per_slot => {
                // Branch-free: the slot's only candidate edge is keys[lo] (the sentinel
                // u64::MAX when no edge is left), and the key is counted when <= it.
                let lo = table[(key >> KEY_SHIFT) as usize] as usize;
                lo + usize::from(self.keys[lo] <= key)
            }
            Some(table) => {
                let slot = (key >> KEY_SHIFT) as usize;
                let (lo, hi) = (table[slot] as usize, table[slot + 1] as usize);
                lo + self.keys[lo..hi].partition_point(|&k| k <= key)
            }
            None => self.edge_keys().partition_point(|&k| k <= key),
        }
    }
}

/// A total order on non-NaN floats as unsigned integers (-0.0 is folded into +0.0,
/// because numpy treats them as equal).
#[inline(always)]
fn order_key(x: f64) -> u64 {
    // Adding +0.0 turns -0.0 into +0.0 and leaves every other value unchanged.
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Per-chunk accumulators. `slots[0]` counts values below the first edge, `slots[j]`
/// (1 <= j < m) bin `j-1`, and `slots[m]` values above the last edge.
pub(crate) struct Partial {
    pub(crate) slots: Vec<u64>,
    /// Of the non-NaN values (infinities when there are none).
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) sum_squares: f64,
    pub(crate) saw_nan: bool,
}

impl Partial {
    fn new(edge_count: usize) -> Result<Self, FerroError> {
        Ok(Partial {
            slots: fallible::zeroed(edge_count + 1, BUCKETS)?,
            ..Partial::EMPTY
        })
    }

    /// Nothing counted yet, and no slots allocated (merging takes the other's).
    const EMPTY: Partial = Partial {
        slots: Vec::new(),
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        sum_squares: 0.0,
        saw_nan: false,
    };

    fn merge(mut self, mut other: Partial) -> Partial {
        if self.slots.is_empty() {
            std::mem::swap(&mut self.slots, &mut other.slots);
        }
        for (a, b) in self.slots.iter_mut().zip(other.slots) {
            *a += b;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum_squares += other.sum_squares;
        self.saw_nan |= other.saw_nan;
        self
    }
}

/// Running statistics of one accumulator lane.
#[derive(Clone, Copy)]
struct Stats {
    sum_squares: f64,
    min: f64,
    max: f64,
    saw_nan: bool,
}

impl Stats {
    const EMPTY: Stats = Stats {
        sum_squares: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        saw_nan: false,
    };

    #[inline(always)]
    fn add(&mut self, x: f64) {
        self.sum_squares += x * x;
        self.saw_nan |= x.is_nan();
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
}

/// The bucket slot of a non-NaN `x` (see `Partial::slots`).
#[inline(always)]
fn slot_of(x: f64, index: &EdgeIndex, last_key: u64) -> usize {
    let key = order_key(x);
    let m = index.edges.len();
    let slot = index.count_le(key);
    // numpy closes the last bin on the right.
    slot - usize::from(slot == m && key == last_key)
}

/// Bins one block with two interleaved lanes. Statistics live in locals (registers)
/// for the whole block: kept in a struct behind a pointer, every counter store could
/// alias them and force a reload per value.
fn bin_block(
    block: &[f64],
    index: &EdgeIndex,
    last_key: u64,
    lanes: &mut [Stats; 2],
    counts_a: &mut [u32],
    counts_b: &mut [u32],
) {
    let (mut a, mut b) = (lanes[0], lanes[1]);
    let mut pairs = block.chunks_exact(2);
    for pair in &mut pairs {
        let (x, y) = (pair[0], pair[1]);
        a.add(x);
        b.add(y);
        // NaN is counted in no bucket; min/max ignore it and `saw_nan` reports it.
        if !x.is_nan() {
            if let Some(c) = counts_a.get_mut(slot_of(x, index, last_key)) {
                *c += 1;
            }
        }
        if !y.is_nan() {
            if let Some(c) = counts_b.get_mut(slot_of(y, index, last_key)) {
                *c += 1;
            }
        }
    }
    for &x in pairs.remainder() {
        a.add(x);
        if !x.is_nan() {
            if let Some(c) = counts_a.get_mut(slot_of(x, index, last_key)) {
                *c += 1;
            }
        }
    }
    *lanes = [a, b];
}

/// Whether the float table path (histogram_f32.rs) reads this dtype.
fn table_dtype(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::Float32 | DType::Float16 | DType::BFloat16 | DType::Float64
    )
}

fn bin_range(
    values: ArrayView<'_>,
    index: &EdgeIndex,
    start: usize,
    end: usize,
) -> Result<Partial, FerroError> {
    if let Some(table) = &index.f32_table {
        let partial = match values.dtype {
            DType::Float32 => histogram_f32::bin(&values.typed::<f32>()[start..end], table),
            DType::Float64 => histogram_f32::bin(&values.typed::<f64>()[start..end], table),
            DType::Float16 => histogram_f32::bin(&values.typed::<F16>()[start..end], table),
            DType::BFloat16 => histogram_f32::bin(&values.typed::<BF16>()[start..end], table),
            _ => None,
        };
        if let Some(partial) = partial {
            return Ok(partial);
        }
    }
    let m = index.edges.len();
    let last_key = index.edge_keys().last().copied().unwrap_or(0);
    // u32 counters suffice: a range holds at most CHUNK values.
    // Per parallel chunk: many edges cost memory on every binning thread at once.
    let mut counts_a = fallible::zeroed::<u32>(m + 1, BUCKETS)?;
    let mut counts_b = fallible::zeroed::<u32>(m + 1, BUCKETS)?;
    let mut lanes = [Stats::EMPTY; 2];
    with_f64_blocks(values, start, end, |block| {
        bin_block(
            block,
            index,
            last_key,
            &mut lanes,
            &mut counts_a,
            &mut counts_b,
        );
    });
    let mut p = Partial::new(m)?;
    for (total, (&ca, &cb)) in p.slots.iter_mut().zip(counts_a.iter().zip(&counts_b)) {
        *total = u64::from(ca) + u64::from(cb);
    }
    let [a, b] = lanes;
    p.sum_squares = a.sum_squares + b.sum_squares;
    // f64::min/max skip NaN, so these are the minimum and maximum of the other values.
    p.min = a.min.min(b.min);
    p.max = a.max.max(b.max);
    p.saw_nan = a.saw_nan || b.saw_nan;
    Ok(p)
}

/// Bins `len` values from `start`, and sums them as numpy does, in one visit of memory.
///
/// numpy's sum splits a range in two halves (the first a multiple of 8 long) until a
/// range is at most 128 long, and adds the halves' sums. This recursion follows the same
/// splits down to ranges of at most `CHUNK` values, bins each such range and sums it
/// right away, while it is still in cache: the sums combine exactly as numpy's do, and
/// the halves run in parallel.
fn bin_tree(
    values: ArrayView<'_>,
    index: &EdgeIndex,
    start: usize,
    len: usize,
) -> Result<(Partial, f64), FerroError> {
    if len <= CHUNK {
        #[cfg(target_arch = "x86_64")]
        if let Some(table) = &index.f32_table {
            let fused =
                crate::summary::histogram_avx512::bin_and_sum(values, table, start, start + len);
            if let Some(done) = fused {
                return Ok(done);
            }
        }
        let partial = bin_range(values, index, start, start + len)?;
        return Ok((partial, pairwise_sum_range(values, start, start + len)));
    }
    let half = len / 2;
    let split = half - half % 8;
    let (left, right) = rayon::join(
        || bin_tree(values, index, start, split),
        || bin_tree(values, index, start + split, len - split),
    );
    let ((left, left_sum), (right, right_sum)) = (left?, right?);
    Ok((left.merge(right), left_sum + right_sum))
}

fn bin_all(values: ArrayView<'_>, index: &EdgeIndex) -> Result<(Partial, f64), FerroError> {
    let n = values.len();
    if n <= CHUNK {
        // One range: no thread to hand over to.
        return bin_tree(values, index, 0, n);
    }
    in_binning_pool(|| bin_tree(values, index, 0, n))
}

/// torch's `max_bins` merge: groups of `num_bins // max_bins` adjacent buckets, the tail
/// zero-padded, left edges of each group kept plus the final right edge.
fn merge_to_max_bins(counts: Vec<f64>, limits: Vec<f64>, max_bins: usize) -> (Vec<f64>, Vec<f64>) {
    let num_bins = counts.len();
    if max_bins == 0 || num_bins <= max_bins {
        return (counts, limits);
    }
    let group = num_bins / max_bins;
    let merged: Vec<f64> = counts.chunks(group).map(|c| c.iter().sum()).collect();
    let mut new_limits: Vec<f64> = limits[..limits.len() - 1]
        .iter()
        .step_by(group)
        .copied()
        .collect();
    new_limits.truncate(merged.len());
    if let Some(&last) = limits.last() {
        new_limits.push(last);
    }
    (merged, new_limits)
}

/// torch's trimming: keep from one bucket before the first non-empty one (a zero bucket
/// is invented when that is the very first) to the last non-empty one; `limits` holds
/// the edges (one more than `counts`) and the result pairs each count with its right edge.
fn trim(counts: &[f64], limits: &[f64]) -> Result<(Vec<f64>, Vec<f64>), FerroError> {
    let first = counts.iter().position(|&c| c > 0.0);
    let last = counts.iter().rposition(|&c| c > 0.0);
    let (Some(start), Some(last)) = (first, last) else {
        if counts.len() == 1 {
            // torch's slicing still yields the single empty bucket here.
            return Ok((limits[1..2].to_vec(), vec![0.0]));
        }
        // Nothing counted (every value NaN or outside explicit edges): torch raises;
        // we keep the event, with one empty bucket at DBL_MAX as TensorFlow's own
        // encoder writes (a documented deviation), which readers accept.
        return Ok((vec![f64::MAX], vec![0.0]));
    };
    let end = last + 1;
    let kept_counts = if start > 0 {
        fallible::to_vec(&counts[start - 1..end], BUCKETS)?
    } else {
        let mut c = fallible::with_capacity(end + 1, BUCKETS)?;
        c.push(0.0);
        c.extend_from_slice(&counts[..end]);
        c
    };
    Ok((
        fallible::to_vec(&limits[start..end + 1], BUCKETS)?,
        kept_counts,
    ))
}

/// Bins `values` (not empty: `HistogramJob::new` checks it) and returns torch's
/// `HistogramProto`.
pub fn histogram<'a>(
    values: impl Into<ArrayView<'a>>,
    bins: &Bins,
    max_bins: Option<usize>,
) -> Result<HistogramProto, FerroError> {
    let values = values.into();
    let owned_index;
    let index: &EdgeIndex = match bins {
        Bins::Default => try_default_edges()?,
        Bins::Edges(edges) => {
            if edges.len() < 2 {
                return Err(FerroError::InvalidArgument(format!(
                    "bins: need at least 2 edges, got {}",
                    edges.len()
                )));
            }
            owned_index = if values.len() >= TABLE_MIN_VALUES {
                let f32_pays = table_dtype(values.dtype) && values.len() >= F32_TABLE_MIN_VALUES;
                EdgeIndex::with_table(fallible::to_vec(edges, BUCKETS)?, f32_pays)?
            } else {
                EdgeIndex::without_table(fallible::to_vec(edges, BUCKETS)?)?
            };
            &owned_index
        }
    };
    // torch's `sum` comes from numpy's pairwise summation, reproduced exactly by bin_all.
    let (p, sum) = bin_all(values, index)?;
    finish(p, values.len() as f64, sum, index.edges(), bins, max_bins)
}

/// Statistics of values counted elsewhere (on a GPU), for [`histogram_from_counts`].
#[derive(Clone, Copy, Debug)]
pub struct CountedStats {
    pub min: f64,
    pub max: f64,
    pub num: f64,
    pub sum: f64,
    pub sum_squares: f64,
    /// How many values were NaN (counted in the last slot by the device's search).
    pub nan_count: u64,
}

/// torch's `HistogramProto` from slot counts made elsewhere: `slots[j]` counts the
/// values with exactly `j` edges at or below them, except that values equal to the last
/// edge count in the last bucket (numpy's closed last bucket) and NaN counts in the last
/// slot. The finishing (outer buckets, `max_bins`, trimming) is the one of [`histogram`].
pub fn histogram_from_counts(
    slots: &[u64],
    stats: CountedStats,
    bins: &Bins,
    max_bins: Option<usize>,
) -> Result<HistogramProto, FerroError> {
    let edges: &[f64] = match bins {
        Bins::Default => try_default_edges()?.edges(),
        Bins::Edges(edges) => edges,
    };
    if edges.len() < 2 || slots.len() != edges.len() + 1 {
        return Err(FerroError::InvalidArgument(format!(
            "counts: {} slots for {} edges (expected one more than the edges, and at \
             least 2 edges)",
            slots.len(),
            edges.len()
        )));
    }
    let mut counts = fallible::to_vec(slots, BUCKETS)?;
    let m = edges.len();
    counts[m] = counts[m].saturating_sub(stats.nan_count);
    let saw_nan = stats.nan_count > 0 || stats.min.is_nan() || stats.max.is_nan();
    let p = Partial {
        slots: counts,
        min: stats.min,
        max: stats.max,
        sum_squares: stats.sum_squares,
        saw_nan,
    };
    finish(p, stats.num, stats.sum, edges, bins, max_bins)
}

/// The proto from the counted slots: `max_bins` merge, outer buckets for the default
/// edges, trimming, NaN statistics.
fn finish(
    p: Partial,
    num: f64,
    sum: f64,
    edges: &[f64],
    bins: &Bins,
    max_bins: Option<usize>,
) -> Result<HistogramProto, FerroError> {
    let m = edges.len();
    let regular: Vec<f64> = fallible::collect(m, p.slots[1..m].iter().map(|&c| c as f64), BUCKETS)?;
    let limits = fallible::to_vec(edges, BUCKETS)?;
    let (regular, limits) = merge_to_max_bins(regular, limits, max_bins.unwrap_or(0));
    let (limits, counts) = match bins {
        Bins::Default => {
            let mut counts = Vec::with_capacity(regular.len() + 2);
            counts.push(p.slots[0] as f64);
            counts.extend_from_slice(&regular);
            counts.push(p.slots[m] as f64);
            let mut edges = Vec::with_capacity(limits.len() + 2);
            edges.push(-f64::MAX);
            edges.extend_from_slice(&limits);
            edges.push(f64::MAX);
            trim(&counts, &edges)?
        }
        Bins::Edges(_) => trim(&regular, &limits)?,
    };
    let (min, max) = if p.saw_nan {
        (f64::NAN, f64::NAN)
    } else {
        (p.min, p.max)
    };
    Ok(HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares: p.sum_squares,
        bucket_limit: limits,
        bucket: counts,
    })
}

/// A histogram counted elsewhere (on a GPU), finished on the worker thread.
pub struct CountsJob {
    pub tag: String,
    pub slots: Vec<u64>,
    pub stats: CountedStats,
    pub bins: Bins,
    pub max_bins: Option<usize>,
}

impl CountsJob {
    /// Checks the counts (whole, non-negative, one more than the edges) and the
    /// statistics `[min, max, num, sum, sum_squares, nan_count]`.
    pub fn new(
        tag: String,
        counts: &[f64],
        stats: [f64; 6],
        bins: Bins,
        max_bins: Option<usize>,
    ) -> Result<CountsJob, FerroError> {
        let edge_count = match &bins {
            Bins::Default => try_default_edges()?.edges().len(),
            Bins::Edges(edges) => edges.len(),
        };
        if counts.len() != edge_count + 1 {
            return Err(FerroError::InvalidArgument(format!(
                "counts: {} slots for {edge_count} edges (expected one more than the edges)",
                counts.len()
            )));
        }
        let slots = fallible::collect(counts.len(), counts.iter().map(|&c| whole(c)), BUCKETS)?
            .into_iter()
            .collect::<Result<Vec<u64>, FerroError>>()?;
        let [min, max, num, sum, sum_squares, nan_count] = stats;
        let stats = CountedStats {
            min,
            max,
            num,
            sum,
            sum_squares,
            nan_count: whole(nan_count)?,
        };
        Ok(CountsJob {
            tag,
            slots,
            stats,
            bins,
            max_bins,
        })
    }
}

/// A count given as a float: a whole number from 0 to 2**64.
fn whole(c: f64) -> Result<u64, FerroError> {
    if c >= 0.0 && c.fract() == 0.0 && c < 18_446_744_073_709_551_616.0 {
        Ok(c as u64)
    } else {
        Err(FerroError::InvalidArgument(format!(
            "counts must be whole non-negative numbers, got {c}"
        )))
    }
}

impl crate::summary::job::ValueEncoder for CountsJob {
    fn cost(&self) -> usize {
        self.tag.len() + 8 * self.slots.len()
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn encode(self: Box<Self>) -> Result<Vec<crate::format::proto::SummaryValue>, FerroError> {
        use crate::format::proto::{summary_value, SummaryValue};
        let proto = histogram_from_counts(&self.slots, self.stats, &self.bins, self.max_bins)?;
        Ok(vec![SummaryValue {
            tag: self.tag,
            value: Some(summary_value::Value::Histo(proto)),
            ..Default::default()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::raw_array::{DType, RawArray};
    use rand::{Rng, SeedableRng};

    fn f64_array(values: &[f64]) -> RawArray {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        RawArray::copy_from(DType::Float64, vec![values.len() as i64], &bytes).unwrap()
    }

    /// numpy's rule, written the slow obvious way.
    fn brute_force_counts(values: &[f64], edges: &[f64]) -> Vec<f64> {
        let m = edges.len();
        let mut counts = vec![0.0; m - 1];
        for &x in values {
            if x.is_nan() {
                continue;
            }
            for i in 0..m - 1 {
                let last = i == m - 2;
                if edges[i] <= x && (x < edges[i + 1] || (last && x == edges[i + 1])) {
                    counts[i] += 1.0;
                    break;
                }
            }
        }
        counts
    }

    /// numpy's rule by binary search: the same counts, fast enough for large inputs.
    fn search_counts(values: &[f64], edges: &[f64]) -> Vec<f64> {
        let m = edges.len();
        let mut counts = vec![0.0; m - 1];
        for &x in values.iter().filter(|x| !x.is_nan()) {
            let count = edges.partition_point(|&e| e <= x);
            if count == m && x == edges[m - 1] {
                counts[m - 2] += 1.0;
            } else if count > 0 && count < m {
                counts[count - 1] += 1.0;
            }
        }
        counts
    }

    fn brute_force(values: &[f64], edges: &[f64], outer: bool) -> (Vec<f64>, Vec<f64>) {
        let regular = if values.len() > 10_000 {
            search_counts(values, edges)
        } else {
            brute_force_counts(values, edges)
        };
        if !outer {
            return trim(&regular, edges).unwrap();
        }
        let below = values.iter().filter(|&&x| x < edges[0]).count() as f64;
        let above = values
            .iter()
            .filter(|&&x| x > edges[edges.len() - 1])
            .count() as f64;
        let mut counts = vec![below];
        counts.extend(regular);
        counts.push(above);
        let mut e = vec![-f64::MAX];
        e.extend_from_slice(edges);
        e.push(f64::MAX);
        trim(&counts, &e).unwrap()
    }

    fn check_default(values: &[f64]) {
        let h = histogram(&f64_array(values), &Bins::Default, None).unwrap();
        let (limits, counts) = brute_force(values, default_edges().edges(), true);
        assert_eq!(h.bucket_limit, limits, "limits for {values:?}");
        assert_eq!(h.bucket, counts, "counts for {values:?}");
        assert_eq!(h.num, values.len() as f64);
    }

    #[test]
    fn default_edges_match_torch_construction() {
        let e = default_edges().edges();
        assert_eq!(e.len(), 1549);
        assert_eq!(e[774], 0.0);
        assert_eq!(e[775], 1e-12);
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        assert!((e[1548] - 9.9208e19).abs() / 9.9208e19 < 1e-4);
    }

    #[test]
    fn matches_brute_force_on_random_and_edge_inputs() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let random: Vec<f64> = (0..5000)
            .map(|_| rng.random::<f64>() * 20.0 - 10.0)
            .collect();
        check_default(&random);
        let wide: Vec<f64> = (0..5000)
            .map(|_| {
                let e: i32 = rng.random_range(-15..25);
                let s = if rng.random::<bool>() { 1.0 } else { -1.0 };
                s * rng.random::<f64>() * 10f64.powi(e)
            })
            .collect();
        check_default(&wide);
        check_default(&[0.0; 10]);
        check_default(&[-0.0, 0.0]);
        check_default(&[3.5]);
        check_default(&[1e-13, -1e-13, 1e-300]);
        check_default(&[1e25, -1e25, 1.0]);
        check_default(&[f64::INFINITY, f64::NEG_INFINITY, 2.0]);
        check_default(&[1.0, 2.0, 3.0, 4.0, 100.0, -7.0]);
        // Exactly on edges, including the outermost.
        let e = default_edges().edges();
        check_default(&[e[0], e[1], e[800], e[1548]]);
    }

    #[test]
    fn integer_and_half_inputs_bin_like_their_float64_values() {
        let ints: Vec<i64> = vec![-5, 0, 0, 3, 1 << 40, -(1 << 62), 7];
        let bytes: Vec<u8> = ints.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let as_ints = RawArray::copy_from(DType::Int64, vec![ints.len() as i64], &bytes).unwrap();
        let as_f64: Vec<f64> = ints.iter().map(|&v| v as f64).collect();
        let h = histogram(&as_ints, &Bins::Default, None).unwrap();
        let (limits, counts) = brute_force(&as_f64, default_edges().edges(), true);
        assert_eq!((h.bucket_limit, h.bucket), (limits, counts));
        assert_eq!(h.sum, as_f64.iter().sum::<f64>());

        let halfs: Vec<half::f16> = [0.5f32, -0.0, 65504.0, 6e-8, f32::INFINITY, -3.25]
            .iter()
            .map(|&v| half::f16::from_f32(v))
            .collect();
        let bytes: Vec<u8> = halfs
            .iter()
            .flat_map(|v| v.to_bits().to_ne_bytes())
            .collect();
        let as_half =
            RawArray::copy_from(DType::Float16, vec![halfs.len() as i64], &bytes).unwrap();
        let as_f64: Vec<f64> = halfs.iter().map(|v| v.to_f64()).collect();
        let h = histogram(&as_half, &Bins::Default, None).unwrap();
        let (limits, counts) = brute_force(&as_f64, default_edges().edges(), true);
        assert_eq!((h.bucket_limit, h.bucket), (limits, counts));
        assert_eq!((h.min, h.max), (-3.25, f64::INFINITY));
    }

    #[test]
    fn float32_fast_path_equals_the_float64_path() {
        // Large enough for several parallel chunks; every edge (as float32) and its
        // neighbours, NaN, infinities and both zeros mixed into random values.
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let edges = default_edges().edges();
        let mut values: Vec<f32> = (0..F32_TABLE_MIN_VALUES + 17)
            .map(|_| (rng.random::<f64>() - 0.5) as f32 * 10f32.powi(rng.random_range(-14..22)))
            .collect();
        for &e in edges.iter().step_by(7) {
            let c = e as f32;
            values.extend([c, c.next_up(), c.next_down()]);
        }
        values.extend([
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
        ]);
        let explicit = vec![-1.0, -0.25, 0.0, 1e-3, 0.5, 2.0];
        // Every explicit edge, the last one (a float32, closing the last bin) included.
        values.extend(explicit.iter().map(|&e| e as f32));
        for bins in [Bins::Default, Bins::Edges(explicit)] {
            for with_specials in [false, true] {
                let kept: Vec<f32> = values
                    .iter()
                    .copied()
                    .filter(|v| with_specials || v.is_finite())
                    .collect();
                let bytes: Vec<u8> = kept.iter().flat_map(|v| v.to_ne_bytes()).collect();
                let as_f32 =
                    RawArray::copy_from(DType::Float32, vec![kept.len() as i64], &bytes).unwrap();
                let wide: Vec<f64> = kept.iter().map(|&v| f64::from(v)).collect();
                let fast = histogram(&as_f32, &bins, None).unwrap();
                let reference = histogram(&f64_array(&wide), &bins, None).unwrap();
                // Both went through the table; the search is the independent reference.
                let (edges, outer) = match &bins {
                    Bins::Default => (default_edges().edges().to_vec(), true),
                    Bins::Edges(e) => (e.clone(), false),
                };
                let (limits, counts) = brute_force(&wide, &edges, outer);
                assert_eq!(fast.bucket_limit, limits);
                assert_eq!(fast.bucket, counts);
                assert_eq!(reference.bucket_limit, limits);
                assert_eq!(reference.bucket, counts);
                assert_eq!(fast.num, reference.num);
                if with_specials {
                    // NaN, whose sign and payload neither numpy nor the compiler (free to
                    // swap the operands of an addition) keeps.
                    assert!(fast.sum.is_nan() && reference.sum.is_nan());
                } else {
                    assert_eq!(fast.sum.to_bits(), reference.sum.to_bits());
                }
                if with_specials {
                    assert!(fast.min.is_nan() && fast.max.is_nan());
                    assert!(fast.sum_squares.is_nan());
                } else {
                    assert_eq!((fast.min, fast.max), (reference.min, reference.max));
                    let error = (fast.sum_squares - reference.sum_squares).abs();
                    assert!(error <= 1e-12 * reference.sum_squares, "{fast:?}");
                }
            }
        }
    }

    #[test]
    fn table_and_search_agree_with_brute_force_for_explicit_edges() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let values: Vec<f64> = (0..40_000)
            .map(|_| rng.random::<f64>() * 3.0 - 1.0)
            .collect();
        let edges: Vec<f64> = (0..=30).map(|i| i as f64 / 15.0 - 0.5).collect();
        let h = histogram(&f64_array(&values), &Bins::Edges(edges.clone()), None).unwrap();
        let (limits, counts) = brute_force(&values, &edges, false);
        assert_eq!(h.bucket_limit, limits);
        assert_eq!(h.bucket, counts);
        let small = &values[..100];
        let h = histogram(&f64_array(small), &Bins::Edges(edges.clone()), None).unwrap();
        let (limits, counts) = brute_force(small, &edges, false);
        assert_eq!(h.bucket_limit, limits);
        assert_eq!(h.bucket, counts);
    }

    #[test]
    fn stats_follow_numpy() {
        let h = histogram(&f64_array(&[1.0, -2.0, 3.0]), &Bins::Default, None).unwrap();
        assert_eq!((h.min, h.max, h.sum, h.sum_squares), (-2.0, 3.0, 2.0, 14.0));
        // numpy's summation order: (-MAX + MAX) + 1, not -MAX + (MAX + 1).
        let h = histogram(
            &f64_array(&[-f64::MAX, f64::MAX, 1.0]),
            &Bins::Default,
            None,
        )
        .unwrap();
        assert_eq!(h.sum, 1.0);
        let h = histogram(&f64_array(&[1.0, f64::NAN]), &Bins::Default, None).unwrap();
        assert!(h.min.is_nan() && h.max.is_nan() && h.sum.is_nan());
        assert_eq!(h.bucket.iter().sum::<f64>(), 1.0, "NaN is not counted");
        let h = histogram(&f64_array(&[f64::NAN]), &Bins::Default, None).unwrap();
        assert_eq!(h.bucket_limit, vec![f64::MAX]);
        let one_bucket = Bins::Edges(vec![0.0, 1.0]);
        let h = histogram(&f64_array(&[5.0, 6.0]), &one_bucket, None).unwrap();
        assert_eq!((h.bucket_limit, h.bucket), (vec![1.0], vec![0.0]));
    }

    #[test]
    fn parallel_chunks_equal_sequential() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let values: Vec<f64> = (0..300_000).map(|_| rng.random::<f64>() - 0.5).collect();
        let whole = histogram(&f64_array(&values), &Bins::Default, None).unwrap();
        let (limits, counts) = brute_force(&values, default_edges().edges(), true);
        assert_eq!(whole.bucket_limit, limits);
        assert_eq!(whole.bucket, counts);
    }

    #[test]
    fn max_bins_merges_like_torch() {
        // 10 counts merged to at most 3 bins: group of 3, padded to 12.
        let counts: Vec<f64> = (1..=10).map(|v| v as f64).collect();
        let limits: Vec<f64> = (0..=10).map(|v| v as f64).collect();
        let (c, l) = merge_to_max_bins(counts, limits, 3);
        assert_eq!(c, vec![6.0, 15.0, 24.0, 10.0]);
        assert_eq!(l, vec![0.0, 3.0, 6.0, 9.0, 10.0]);
    }

    #[test]
    fn explicit_edges_are_checked() {
        assert!(Bins::explicit(vec![0.0, 1.0, 1.0, 2.0]).is_ok());
        for bad in [vec![], vec![1.0], vec![0.0, f64::NAN], vec![2.0, 1.0]] {
            assert!(Bins::explicit(bad).is_err());
        }
    }

    /// Slot counts as a device computes them: edges at or below each value, the last
    /// edge closed, NaN in the last slot.
    fn device_slots(values: &[f64], edges: &[f64]) -> Vec<u64> {
        let m = edges.len();
        let mut slots = vec![0u64; m + 1];
        for &x in values {
            let mut j = if x.is_nan() {
                m
            } else {
                edges.iter().filter(|&&e| e <= x).count()
            };
            if j == m && x == edges[m - 1] {
                j -= 1;
            }
            slots[j] += 1;
        }
        slots
    }

    #[test]
    fn counts_from_elsewhere_give_the_same_proto_as_binning_here() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut values: Vec<f64> = (0..3000)
            .map(|_| rng.random_range(-3.0..3.0f64).powi(11))
            .collect();
        values.extend([0.0, -0.0, 1e21, -1e25, f64::INFINITY, 2.0, -2.0, 1.5]);
        let edges = vec![-2.0, -1.0, 0.0, 0.5, 1.5, 2.0];
        for with_nan in [false, true] {
            let mut values = values.clone();
            if with_nan {
                values.push(f64::NAN);
            }
            let array = f64_array(&values);
            for bins in [Bins::Default, Bins::Edges(edges.clone())] {
                for max_bins in [None, Some(7)] {
                    let here = histogram(&array, &bins, max_bins).unwrap();
                    let e = match &bins {
                        Bins::Default => default_edges().edges().to_vec(),
                        Bins::Edges(e) => e.clone(),
                    };
                    let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
                    let stats = CountedStats {
                        min: finite.iter().copied().fold(f64::INFINITY, f64::min),
                        max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        num: values.len() as f64,
                        sum: here.sum,
                        sum_squares: here.sum_squares,
                        nan_count: u64::from(with_nan),
                    };
                    let slots = device_slots(&values, &e);
                    let there = histogram_from_counts(&slots, stats, &bins, max_bins).unwrap();
                    assert_eq!(
                        there.bucket, here.bucket,
                        "{bins:?} {max_bins:?} nan {with_nan}"
                    );
                    assert_eq!(there.bucket_limit, here.bucket_limit);
                    assert_eq!(there.min.is_nan(), with_nan);
                    if !with_nan {
                        assert_eq!((there.min, there.max), (here.min, here.max));
                    }
                }
            }
        }
        let short = histogram_from_counts(
            &[1, 2],
            CountedStats {
                min: 0.0,
                max: 0.0,
                num: 3.0,
                sum: 0.0,
                sum_squares: 0.0,
                nan_count: 0,
            },
            &Bins::Edges(vec![0.0, 1.0]),
            None,
        );
        assert!(short
            .unwrap_err()
            .to_string()
            .contains("2 slots for 2 edges"));
    }
}
