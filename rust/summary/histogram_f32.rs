//! The table path of histogram binning, for float inputs (most parameters and gradients).
//!
//! numpy compares `float64(x)` with float64 edges. For a float32 `x`, `x >= e` holds
//! exactly when `x >= c`, where `c` is the smallest float32 not below `e`, so every edge
//! can be replaced by such a float32 and the search done on 32-bit order keys, without
//! converting values to float64. A 65,536-slot table indexed by the top 16 bits of the
//! key (sign, exponent and 7 mantissa bits: slots 0.8% wide) then holds at most one edge
//! per slot for torch's default edges (10% apart), so a value's bucket is one table load,
//! one add and one shift (see [`F32Table::count_le`]). Edges that crowd two into one slot
//! fall back to the general float64 path.
//!
//! float16 and bfloat16 values are float32 values exactly, so they take the same path
//! after a widening. A float64 value is looked up by the largest float32 `f` not above
//! it; only the next edge can lie between `f` and the value, so one exact float64
//! comparison with that edge puts the value in its exact bucket (see [`slot_f64`]).
//!
//! numpy closes the last bin on the right. The table places a last edge that is a
//! float32 one key higher, and float64 values are compared with the float64 after it,
//! so no value needs moving afterwards. NaN is noticed through the sum of squares (a
//! NaN makes it NaN, nothing else does) and then taken back out of the counts by a
//! second pass, so the hot loop spends nothing on it.

use crate::summary::histogram::Partial;
use crate::summary::raw_array::{bf16_to_f32, f16_to_f32, Plain};

/// Slots of the table: one per value of a key's top 16 bits.
const SLOTS: usize = 1 << 16;

/// Order keys of float32 values: increasing with the value, -0.0 folded into +0.0 (numpy
/// treats them as equal). A NaN gets some key; callers keep NaN out of the counts.
#[inline(always)]
pub fn key32(x: f32) -> u32 {
    // Adding +0.0 turns -0.0 into +0.0 and leaves every other value unchanged.
    let bits = (x + 0.0).to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | (1 << 31)
    }
}

/// The smallest float32 `c` with `float64(c) >= e` (for a float32 `x`: `x >= e` exactly
/// when `x >= c`). Beyond float32's range this is ±infinity, which keeps that true.
fn ceil_f32(e: f64) -> f32 {
    let nearest = e as f32;
    if f64::from(nearest) < e {
        nearest.next_up()
    } else {
        nearest
    }
}

/// Edges as float32 order keys, with the one-load lookup table.
pub struct F32Table {
    /// Per slot, packed: `(edges below the slot's first key) << 16`, plus, when an edge
    /// `c` lies inside the slot, `0x10000 - (key(c) & 0xFFFF)`, so that adding a key's
    /// low 16 bits carries into the upper half exactly when the key is `>= key(c)`. A
    /// fixed-size array, so indexing by 16 bits needs no bounds check.
    slots: Box<[u32; SLOTS]>,
    /// NaN, the edges (the last one replaced by the float64 after it), NaN: `bounds[j]`
    /// is the edge a float64 is checked against when `j - 1` edges' float32 ceilings
    /// are at or below it (every comparison with NaN is false: nothing is at or above
    /// "after the last", infinity included).
    bounds: Box<[f64; COUNTERS]>,
    edge_count: usize,
}

impl F32Table {
    /// The table for `edges` (non-decreasing, no NaN), or `None` when two edges share
    /// a slot or there are more edges than the counters hold.
    pub fn build(edges: &[f64]) -> Option<F32Table> {
        if edges.is_empty() || edges.len() + 2 > COUNTERS {
            return None;
        }
        let mut keys: Vec<u32> = edges.iter().map(|&e| key32(ceil_f32(e))).collect();
        let last = *edges.last()?;
        // numpy closes the last bin on the right, so a float32 equal to the last edge is
        // in the last bin: the table places that edge one key higher (a float32 `x` is
        // above the last edge `c` exactly when `x >= next_up(c)`).
        if f64::from(last as f32) == last {
            *keys.last_mut()? += 1;
        }
        if keys.windows(2).any(|w| w[0] >> 16 >= w[1] >> 16) {
            return None;
        }
        let mut slots: Box<[u32; SLOTS]> = vec![0u32; SLOTS].into_boxed_slice().try_into().ok()?;
        let mut below = 0usize;
        for (slot, entry) in slots.iter_mut().enumerate() {
            while below < keys.len() && ((keys[below] >> 16) as usize) < slot {
                below += 1;
            }
            let base = u32::try_from(below).ok()?;
            *entry = base << 16;
            if below < keys.len() && (keys[below] >> 16) as usize == slot {
                *entry = match keys[below] & 0xFFFF {
                    0 => (base + 1) << 16, // the whole slot is at or above the edge
                    low => (base << 16) + (0x1_0000 - low),
                };
            }
        }
        let mut bounds: Box<[f64; COUNTERS]> = vec![f64::NAN; COUNTERS]
            .into_boxed_slice()
            .try_into()
            .ok()?;
        bounds[1..=edges.len()].copy_from_slice(edges);
        // numpy closes the last bin on the right: a float64 is above the last edge when
        // at or above the float64 after it.
        // (Nothing is above an infinite last edge, and NaN compares false.)
        bounds[edges.len()] = if last == f64::INFINITY {
            f64::NAN
        } else {
            last.next_up()
        };
        Some(F32Table {
            slots,
            bounds,
            edge_count: edges.len(),
        })
    }

    /// The number of edges `<=` the float32 value of `key`.
    #[inline(always)]
    pub(crate) fn count_le(&self, key: u32) -> usize {
        ((self.slots[(key >> 16) as usize] + (key & 0xFFFF)) >> 16) as usize
    }

    /// The number of edges.
    pub(crate) fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// The packed slots (see `slots`) as the 32-bit integers a vector gather reads.
    pub(crate) fn slots_ptr(&self) -> *const i32 {
        self.slots.as_ptr().cast()
    }

    /// `bounds`, `COUNTERS` of them, for a vector gather.
    pub(crate) fn bounds_ptr(&self) -> *const f64 {
        self.bounds.as_ptr()
    }

    /// The slot of a non-NaN float32 value's key: 0 below the first edge, `j` in bin
    /// `j - 1`, `edge_count` above the last edge (`histogram::Partial::slots`' layout).
    #[cfg(test)]
    fn slot_of(&self, key: u32) -> usize {
        self.count_le(key)
    }
}

/// An element type the table path reads.
pub(crate) trait Element: Copy {
    /// Every value is a float32 exactly (no float64 correction needed).
    const EXACT: bool;
    fn to_f32(self) -> f32;
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const EXACT: bool = true;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

/// float16 bits.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F16(pub u16);

impl Element for F16 {
    const EXACT: bool = true;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16_to_f32(self.0)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(f16_to_f32(self.0))
    }
}

// SAFETY: both are `repr(transparent)` over u16: alignment 2, any bit pattern valid.
unsafe impl Plain for F16 {}
unsafe impl Plain for BF16 {}

/// bfloat16 bits: the upper half of a float32.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct BF16(pub u16);

impl Element for BF16 {
    const EXACT: bool = true;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        bf16_to_f32(self.0)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self.to_f32())
    }
}

impl Element for f64 {
    const EXACT: bool = false;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Values per block: keys are computed for a block (vectorized), then counted.
const BLOCK: usize = 512;
/// Independent accumulators for the statistics: 16 float32 lanes fill a 512-bit
/// vector, and the sum of squares gets two independent float64 vectors, so that the
/// latency of one addition does not bound the loop.
const STAT_LANES: usize = 16;
/// Independent counters: consecutive values often land in the same bucket, and one
/// counter would make each increment wait for the previous one.
const COUNT_LANES: usize = 4;
/// Counters per lane (a power of two, so a mask replaces the bounds check); tables with
/// more edges than fit take the float64 path.
pub(crate) const COUNTERS: usize = 4096;
const MASK: usize = COUNTERS - 1;

/// Per-lane statistics of the values seen so far.
#[derive(Clone, Copy)]
struct Stats {
    /// min/max of float32-exact inputs, in float32 (half the vector width of float64).
    min: [f32; STAT_LANES],
    max: [f32; STAT_LANES],
    /// min/max of float64 inputs.
    min64: [f64; STAT_LANES],
    max64: [f64; STAT_LANES],
    /// Also how NaN is noticed: a NaN makes its lane's sum NaN, and nothing else does
    /// (squares are never negative, so infinities never cancel into NaN).
    squares: [f64; STAT_LANES],
}

impl Stats {
    /// Computes the keys of `values` into `keys` (for float64: the key of the largest
    /// float32 not above the value) and updates the statistics.
    #[inline(always)]
    fn keys_of<E: Element>(&mut self, values: &[E], keys: &mut [u32]) {
        // In a local for the loop, so that the accumulators stay in registers: through
        // `self`, the compiler stored every one of them back on every iteration.
        let mut local = *self;
        let mut groups = values.chunks_exact(STAT_LANES);
        let mut outs = keys.chunks_exact_mut(STAT_LANES);
        for (group, out) in (&mut groups).zip(&mut outs) {
            for lane in 0..STAT_LANES {
                local.add(lane, group[lane], &mut out[lane]);
            }
        }
        let rest = groups.remainder();
        for (i, (&x, out)) in rest.iter().zip(outs.into_remainder()).enumerate() {
            local.add(i, x, out);
        }
        *self = local;
    }

    #[inline(always)]
    fn add<E: Element>(&mut self, lane: usize, value: E, key: &mut u32) {
        // Comparisons with NaN are false, so NaN changes neither min nor max.
        if E::EXACT {
            let x = value.to_f32();
            *key = key32_branch_free(x);
            self.min[lane] = if x < self.min[lane] {
                x
            } else {
                self.min[lane]
            };
            self.max[lane] = if x > self.max[lane] {
                x
            } else {
                self.max[lane]
            };
            let wide = f64::from(x);
            self.squares[lane] += wide * wide;
        } else {
            let wide = value.to_f64();
            *key = floor_key(wide);
            self.min64[lane] = if wide < self.min64[lane] {
                wide
            } else {
                self.min64[lane]
            };
            self.max64[lane] = if wide > self.max64[lane] {
                wide
            } else {
                self.max64[lane]
            };
            self.squares[lane] += wide * wide;
        }
    }
}

/// [`key32`] without branches (so that loops of it vectorize).
#[inline(always)]
fn key32_branch_free(x: f32) -> u32 {
    // Flip every bit of negatives, only the sign of the rest.
    let bits = (x + 0.0).to_bits();
    bits ^ ((((bits as i32) >> 31) as u32) | (1 << 31))
}

/// For a float64 `x`: the key of the largest float32 `f <= x` (one below the nearest
/// float32's key when rounding went up). -0.0's unfolded key (one below +0.0's) then
/// stands for values in (-2^-149, 0), and compares with the edges' keys as they do.
#[inline(always)]
fn floor_key(x: f64) -> u32 {
    let nearest = x as f32;
    key32_branch_free(nearest).wrapping_sub(u32::from(f64::from(nearest) > x))
}

/// The bucket slot of a float64 from its [`floor_key`] (`histogram::Partial::slots`'
/// layout, NaN aside): the edges at or below `f`, plus the next edge if `x` is at or
/// above it. No other edge can be: the next edge's float32 ceiling `c` is above `f`,
/// every edge after it is above `c`, and `x` is below the float32 after `f`, so `x`
/// reaches those edges no more than `f` does.
#[inline(always)]
fn slot_f64(table: &F32Table, key: u32, x: f64) -> usize {
    let below = table.count_le(key);
    below + usize::from(x >= table.bounds[(below + 1) & MASK])
}

/// Bins `values` (fewer than `u32::MAX` of them), or `None` when the table has more
/// edges than the counters hold.
pub(crate) fn bin<E: Element>(values: &[E], table: &F32Table) -> Option<Partial> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has these features.
            return unsafe { bin_avx512(values, table) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { bin_avx2(values, table) };
        }
    }
    bin_portable(values, table)
}

/// The same code compiled for AVX2, which wheels built for baseline x86-64 lack: the
/// key and statistics pass runs twice as fast with 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bin_avx2<E: Element>(values: &[E], table: &F32Table) -> Option<Partial> {
    bin_portable(values, table)
}

/// And for AVX-512, where present.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn bin_avx512<E: Element>(values: &[E], table: &F32Table) -> Option<Partial> {
    bin_portable(values, table)
}

#[inline(always)]
fn bin_portable<E: Element>(values: &[E], table: &F32Table) -> Option<Partial> {
    let m = table.edge_count;
    if m + 2 > COUNTERS {
        return None;
    }
    // Fixed sizes throughout, so that the hot loop has no bounds check.
    let mut counts = Box::new([[0u32; COUNTERS]; COUNT_LANES]);
    let mut stats = Stats {
        min: [f32::INFINITY; STAT_LANES],
        max: [f32::NEG_INFINITY; STAT_LANES],
        min64: [f64::INFINITY; STAT_LANES],
        max64: [f64::NEG_INFINITY; STAT_LANES],
        squares: [0.0; STAT_LANES],
    };
    let mut keys = [0u32; BLOCK];
    for (index, block) in values.chunks(BLOCK).enumerate() {
        prefetch(values, (index + 1) * BLOCK);
        let keys = &mut keys[..block.len()];
        stats.keys_of(block, keys);
        // Then the increments, the only scalar part: one table load per value (two
        // for float64, usually in the same cache line).
        let mut groups = keys.chunks_exact(COUNT_LANES);
        if E::EXACT {
            for group in &mut groups {
                for (lane, &key) in group.iter().enumerate() {
                    counts[lane][table.count_le(key) & MASK] += 1;
                }
            }
            for &key in groups.remainder() {
                counts[0][table.count_le(key) & MASK] += 1;
            }
        } else {
            let mut values = block.chunks_exact(COUNT_LANES);
            for (group, values) in (&mut groups).zip(&mut values) {
                for lane in 0..COUNT_LANES {
                    let slot = slot_f64(table, group[lane], values[lane].to_f64());
                    counts[lane][slot & MASK] += 1;
                }
            }
            let rest = groups.remainder().iter().zip(values.remainder());
            for (&key, value) in rest {
                counts[0][slot_f64(table, key, value.to_f64()) & MASK] += 1;
            }
        }
    }
    let slots: Vec<u64> = (0..=m)
        .map(|s| counts.iter().map(|lane| u64::from(lane[s])).sum())
        .collect();
    let squares = stats.squares;
    let sum_squares = squares
        .chunks_exact(2)
        .fold(0.0, |acc, pair| acc + (pair[0] + pair[1]));
    let (min, max) = if E::EXACT {
        (
            f64::from(stats.min.into_iter().fold(f32::INFINITY, f32::min)),
            f64::from(stats.max.into_iter().fold(f32::NEG_INFINITY, f32::max)),
        )
    } else {
        (
            stats.min64.into_iter().fold(f64::INFINITY, f64::min),
            stats.max64.into_iter().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    Some(finish_partial(values, table, slots, min, max, sum_squares))
}

/// The partial result of binning `values` into `slots` (NaN counted wherever its key
/// fell), with the statistics of the non-NaN values.
pub(crate) fn finish_partial<E: Element>(
    values: &[E],
    table: &F32Table,
    mut slots: Vec<u64>,
    min: f64,
    max: f64,
    sum_squares: f64,
) -> Partial {
    let m = table.edge_count;
    let saw_nan = sum_squares.is_nan();
    if saw_nan {
        // Rare: NaNs were counted wherever their keys fell; take them back out. (A
        // NaN's key, whatever its payload or a conversion's quieting, is below every
        // edge's or at or above the last one's: slot 0 or m either way.)
        for &value in values {
            if value.to_f64().is_nan() {
                let slot = if E::EXACT {
                    table.count_le(key32_branch_free(value.to_f32()))
                } else {
                    slot_f64(table, floor_key(value.to_f64()), value.to_f64())
                };
                slots[slot.min(m)] -= 1;
            }
        }
    }
    Partial {
        slots,
        min,
        max,
        sum_squares,
        saw_nan,
    }
}

/// Asks for the `BLOCK` values from `start` to be brought into the cache while the
/// current block is counted: the counting loop leaves the memory stream idle, and the
/// hardware prefetchers alone do not keep up (binning was measurably faster with it).
#[inline(always)]
fn prefetch<E>(values: &[E], start: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let base = values.as_ptr().cast::<u8>();
        let bytes = std::mem::size_of_val(values);
        let from = start * std::mem::size_of::<E>();
        let to = (from + BLOCK * std::mem::size_of::<E>()).min(bytes);
        for offset in (from..to).step_by(64) {
            // SAFETY: `offset < bytes`, so the address is inside `values`; a prefetch
            // reads nothing into the program and never faults.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.add(offset).cast(),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (values, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's rule on float64, the slow obvious way, in `F32Table::slot_of`'s layout.
    fn slot_by_search(x: f32, edges: &[f64]) -> usize {
        let x = f64::from(x);
        let count = edges.iter().filter(|&&e| e <= x).count();
        count - usize::from(count == edges.len() && x == edges[edges.len() - 1])
    }

    fn interesting_values(edges: &[f64]) -> Vec<f32> {
        let mut values = vec![
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.0,
            -1.0,
        ];
        // Every edge and its float32 neighbours on both sides.
        for &e in edges {
            let c = e as f32;
            values.extend([c, c.next_up(), c.next_down(), c.next_up().next_up()]);
        }
        values
    }

    #[test]
    fn keys_follow_the_order_of_values() {
        let mut values: Vec<f32> = interesting_values(&[0.5, 1e-12, -3.0, 1e20]);
        values.sort_by(f32::total_cmp);
        for pair in values.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a == b {
                assert_eq!(key32(a), key32(b), "{a} and {b}");
            } else {
                assert!(key32(a) < key32(b), "{a} < {b}");
            }
        }
    }

    #[test]
    fn default_edges_bin_every_float32_neighbour_like_numpy() {
        let edges = crate::summary::histogram::default_edges().edges().to_vec();
        let table = F32Table::build(&edges).expect("one default edge per slot");
        for x in interesting_values(&edges) {
            assert_eq!(
                table.slot_of(key32(x)),
                slot_by_search(x, &edges),
                "x = {x:e}"
            );
        }
    }

    #[test]
    fn explicit_edges_including_ones_exactly_representable() {
        let edges = [-2.0, -0.1, 0.0, 1.0 / 3.0, 0.75, 4.0];
        let table = F32Table::build(&edges).expect("far apart");
        for x in interesting_values(&edges) {
            assert_eq!(
                table.slot_of(key32(x)),
                slot_by_search(x, &edges),
                "x = {x:e}"
            );
        }
        // 4.0 is a float32: a value equal to it is in the last bin (slot m - 1).
        assert_eq!(table.slot_of(key32(4.0)), edges.len() - 1);
    }

    #[test]
    fn crowded_or_repeated_edges_fall_back() {
        assert!(F32Table::build(&[1.0, 1.001]).is_none());
        assert!(F32Table::build(&[0.0, 1.0, 1.0, 2.0]).is_none());
    }

    #[test]
    fn bin_counts_and_statistics() {
        let edges = crate::summary::histogram::default_edges().edges().to_vec();
        let table = F32Table::build(&edges).unwrap();
        let mut values = interesting_values(&edges[..50]);
        values.extend([f32::NAN, 2.5, -7.0]);
        let p = bin(&values, &table).unwrap();
        let mut expected = vec![0u64; edges.len() + 1];
        for &x in values.iter().filter(|x| !x.is_nan()) {
            expected[slot_by_search(x, &edges)] += 1;
        }
        assert_eq!(p.slots, expected);
        assert!(p.saw_nan);
        assert_eq!((p.min, p.max), (f64::NEG_INFINITY, f64::INFINITY));
        assert!(p.sum_squares.is_nan(), "NaN squared is NaN");
        let p = bin(&[0.5, -1.5, 3.0], &table).unwrap();
        assert_eq!((p.min, p.max, p.sum_squares), (-1.5, 3.0, 11.5));
        assert!(!p.saw_nan);
    }

    /// Bins `values` through the table and checks every count against the search.
    fn assert_bins_like_numpy<E: Element>(values: &[E], edges: &[f64]) {
        let table = F32Table::build(edges).expect("one edge per slot");
        let p = bin(values, &table).expect("few edges");
        let mut expected = vec![0u64; edges.len() + 1];
        let mut nan = false;
        for &v in values {
            let x = v.to_f64();
            if x.is_nan() {
                nan = true;
                continue;
            }
            let count = edges.iter().filter(|&&e| e <= x).count();
            let last = count == edges.len() && x == edges[edges.len() - 1];
            expected[count - usize::from(last)] += 1;
        }
        for (slot, (got, want)) in p.slots.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "slot {slot} of {edges:?}");
        }
        assert_eq!(p.saw_nan, nan);
    }

    const EXPLICIT: [f64; 7] = [-2.0, -0.1, 0.0, 1.0 / 3.0, 0.75, 4.0, 1e300];
    /// The last edge a float32 (the table closes the last bin itself), or infinite.
    const FLOAT32_LAST: [f64; 5] = [-1e-30, 1e-45, 0.1, 0.5, 4.0];
    const INFINITE_ENDS: [f64; 4] = [f64::NEG_INFINITY, -1.0, 1.5, f64::INFINITY];
    /// The last edge just below a float32, and the float64 after that one.
    const NEAR_FLOAT32_LAST: [f64; 3] = [-3.0, 0.0, 0.1f32 as f64 - 1e-17];

    /// The edge sets every exhaustive test runs against: the default edges, and the
    /// explicit ones that exercise the table's ends.
    fn edge_sets() -> [Vec<f64>; 5] {
        [
            crate::summary::histogram::default_edges().edges().to_vec(),
            EXPLICIT.to_vec(),
            FLOAT32_LAST.to_vec(),
            INFINITE_ENDS.to_vec(),
            NEAR_FLOAT32_LAST.to_vec(),
        ]
    }

    #[test]
    fn every_float16_and_bfloat16_bins_like_numpy() {
        let f16s: Vec<F16> = (0..=u16::MAX).map(F16).collect();
        let bf16s: Vec<BF16> = (0..=u16::MAX).map(BF16).collect();
        for edges in edge_sets() {
            assert_bins_like_numpy(&f16s, &edges);
            assert_bins_like_numpy(&bf16s, &edges);
        }
    }

    #[test]
    fn float64_values_straddling_edges_bin_like_numpy() {
        // Every edge, its float64 and float32 neighbours (the rounding to float32 moves
        // these across the edge), values rounding to float32 zero, infinity and the
        // largest float32, and NaN of both signs.
        for edges in edge_sets() {
            let edges = &edges[..];
            let mut values = vec![
                0.0,
                -0.0,
                1e-50,
                -1e-50,
                f64::MIN_POSITIVE,
                f64::from(f32::MAX),
                f64::from(f32::MAX) * 1.000_000_1,
                -f64::from(f32::MAX) * 1.000_000_1,
                1e39,
                -1e39,
                f64::MAX,
                f64::MIN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
            ];
            for &e in edges {
                let c = e as f32;
                values.extend([e, e.next_up(), e.next_down(), -e]);
                for f in [c, c.next_up(), c.next_down()] {
                    let f = f64::from(f);
                    values.extend([f, f.next_up(), f.next_down()]);
                }
                // Halfway between an edge's float32 neighbours: ties of the rounding.
                let (lo, hi) = (f64::from(c.next_down()), f64::from(c.next_up()));
                values.extend([(lo + f64::from(c)) / 2.0, (hi + f64::from(c)) / 2.0]);
            }
            assert_bins_like_numpy(&values, edges);
            let no_nan: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            assert_bins_like_numpy(&no_nan, edges);
        }
    }

    #[test]
    fn float32_values_straddling_edges_bin_like_numpy() {
        for edges in edge_sets() {
            let edges = &edges[..];
            let values = interesting_values(edges);
            assert_bins_like_numpy(&values, edges);
        }
    }
}
