//! The float32 fast path of histogram binning (most parameters and gradients).
//!
//! numpy compares `float64(x)` with float64 edges. For a float32 `x`, `x >= e` holds
//! exactly when `x >= c`, where `c` is the smallest float32 not below `e`, so every edge
//! can be replaced by such a float32 and the search done on 32-bit order keys, without
//! converting values to float64. A 65,536-slot table indexed by the top 16 bits of the
//! key (sign, exponent and 7 mantissa bits: slots 0.8% wide) then holds at most one edge
//! per slot for torch's default edges (10% apart), so a value's bucket is one table
//! load and one comparison: `base[slot] + (key >= step[slot])`. Edges that crowd two
//! into one slot fall back to the general float64 path.

/// Slots of the table: one per value of a key's top 16 bits.
const SLOTS: usize = 1 << 16;

use crate::summary::histogram::Partial;

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

/// Edges as float32 order keys, with the one-comparison lookup table.
pub struct F32Table {
    /// Per slot: the number of edges below the slot's first key, and the key from which
    /// one more edge is `<=` the value (`u32::MAX`: none in this slot; only a NaN has
    /// that key). A fixed-size array, so indexing by 16 bits needs no bounds check.
    slots: Box<[(u32, u32); SLOTS]>,
    /// The key of the last edge when a float32 equals it: numpy closes the last bin on
    /// the right, so such a value is in the last bin, not above it.
    last_key: Option<u32>,
    edge_count: usize,
}

impl F32Table {
    /// The table for `edges` (non-decreasing, no NaN), or `None` when two edges share
    /// a slot.
    pub fn build(edges: &[f64]) -> Option<F32Table> {
        let keys: Vec<u32> = edges.iter().map(|&e| key32(ceil_f32(e))).collect();
        if keys.windows(2).any(|w| w[0] >> 16 >= w[1] >> 16) {
            return None;
        }
        let mut slots: Box<[(u32, u32); SLOTS]> = vec![(0, u32::MAX); SLOTS]
            .into_boxed_slice()
            .try_into()
            .ok()?;
        let mut below = 0usize;
        for (slot, entry) in slots.iter_mut().enumerate() {
            while below < keys.len() && ((keys[below] >> 16) as usize) < slot {
                below += 1;
            }
            entry.0 = u32::try_from(below).ok()?;
            if below < keys.len() && (keys[below] >> 16) as usize == slot {
                entry.1 = keys[below];
            }
        }
        let last = *edges.last()?;
        let last_f32 = last as f32;
        Some(F32Table {
            slots,
            last_key: (f64::from(last_f32) == last).then(|| key32(last_f32)),
            edge_count: edges.len(),
        })
    }

    /// The number of edges `<=` the value of `key`.
    #[inline(always)]
    fn count_le(&self, key: u32) -> usize {
        let (base, step) = self.slots[(key >> 16) as usize];
        base as usize + usize::from(key >= step)
    }

    /// The slot of a non-NaN value's key: 0 below the first edge, `j` in bin `j - 1`,
    /// `edge_count` above the last edge (`histogram::Partial::slots`' layout).
    #[cfg(test)]
    fn slot_of(&self, key: u32) -> usize {
        let count = self.count_le(key);
        count - usize::from(count == self.edge_count && Some(key) == self.last_key)
    }
}

/// Values per block: keys are computed for a block (vectorized), then counted.
const BLOCK: usize = 512;
/// Independent accumulators for the statistics (so that they vectorize).
const STAT_LANES: usize = 8;
/// Independent counters: consecutive values often land in the same bucket, and one
/// counter would make each increment wait for the previous one.
const COUNT_LANES: usize = 4;
/// Counters per lane (a power of two, so a mask replaces the bounds check); tables with
/// more edges than fit take the float64 path.
const COUNTERS: usize = 4096;

/// Per-lane statistics of the values seen so far.
struct Stats {
    min: [f32; STAT_LANES],
    max: [f32; STAT_LANES],
    squares: [f64; STAT_LANES],
    /// NaNs with the sign bit clear and set: their keys fall above the last edge and
    /// below the first one, where they are counted and then taken back out.
    nan_above: [u32; STAT_LANES],
    nan_below: [u32; STAT_LANES],
    /// Values equal to the last edge: counted above it, then moved into the last bin.
    at_last: [u32; STAT_LANES],
    /// The key of the last edge (`u32::MAX`, a NaN's, when no float32 equals it).
    last_key: u32,
}

impl Stats {
    /// Computes the keys of `values` into `keys` and updates the statistics.
    #[inline(always)]
    fn keys_of(&mut self, values: &[f32], keys: &mut [u32]) {
        let mut groups = values.chunks_exact(STAT_LANES);
        let mut outs = keys.chunks_exact_mut(STAT_LANES);
        for (group, out) in (&mut groups).zip(&mut outs) {
            for lane in 0..STAT_LANES {
                self.add(lane, group[lane], &mut out[lane]);
            }
        }
        let rest = groups.remainder();
        for (i, (&x, out)) in rest.iter().zip(outs.into_remainder()).enumerate() {
            self.add(i, x, out);
        }
    }

    #[inline(always)]
    fn add(&mut self, lane: usize, x: f32, key: &mut u32) {
        // key32, branch-free: flip every bit of negatives, only the sign of the rest.
        let bits = (x + 0.0).to_bits();
        *key = bits ^ ((((bits as i32) >> 31) as u32) | (1 << 31));
        // Comparisons with NaN are false, so NaN changes neither.
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
        let nan = u32::from(x.is_nan());
        let negative = bits >> 31;
        self.nan_above[lane] += nan & (negative ^ 1);
        self.nan_below[lane] += nan & negative;
        self.at_last[lane] += u32::from(*key == self.last_key) & (nan ^ 1);
    }
}

/// Bins `values` (fewer than `u32::MAX` of them), or `None` when the table has more
/// edges than the counters hold.
pub(crate) fn bin(values: &[f32], table: &F32Table) -> Option<Partial> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { bin_avx2(values, table) };
    }
    bin_portable(values, table)
}

/// The same code compiled for AVX2, which wheels built for baseline x86-64 lack: the
/// key and statistics pass runs twice as fast with 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bin_avx2(values: &[f32], table: &F32Table) -> Option<Partial> {
    bin_portable(values, table)
}

#[inline(always)]
fn bin_portable(values: &[f32], table: &F32Table) -> Option<Partial> {
    let m = table.edge_count;
    if m + 1 > COUNTERS {
        return None;
    }
    // Fixed sizes throughout, so that the hot loop has no bounds check.
    let mut counts = Box::new([[0u32; COUNTERS]; COUNT_LANES]);
    let mut stats = Stats {
        min: [f32::INFINITY; STAT_LANES],
        max: [f32::NEG_INFINITY; STAT_LANES],
        squares: [0.0; STAT_LANES],
        nan_above: [0; STAT_LANES],
        nan_below: [0; STAT_LANES],
        at_last: [0; STAT_LANES],
        last_key: table.last_key.unwrap_or(u32::MAX),
    };
    let mut keys = [0u32; BLOCK];
    for block in values.chunks(BLOCK) {
        let keys = &mut keys[..block.len()];
        stats.keys_of(block, keys);
        let mut groups = keys.chunks_exact(COUNT_LANES);
        for group in &mut groups {
            for (lane, &key) in group.iter().enumerate() {
                counts[lane][table.count_le(key) & (COUNTERS - 1)] += 1;
            }
        }
        for &key in groups.remainder() {
            counts[0][table.count_le(key) & (COUNTERS - 1)] += 1;
        }
    }
    let mut slots: Vec<u64> = (0..=m)
        .map(|s| counts.iter().map(|lane| u64::from(lane[s])).sum())
        .collect();
    let nan_above: u64 = stats.nan_above.iter().map(|&n| u64::from(n)).sum();
    let nan_below: u64 = stats.nan_below.iter().map(|&n| u64::from(n)).sum();
    let at_last: u64 = stats.at_last.iter().map(|&n| u64::from(n)).sum();
    slots[m] -= nan_above + at_last;
    slots[0] -= nan_below;
    // numpy closes the last bin on the right.
    slots[m - 1] += at_last;
    let squares = stats.squares;
    Some(Partial {
        slots,
        min: f64::from(stats.min.into_iter().fold(f32::INFINITY, f32::min)),
        max: f64::from(stats.max.into_iter().fold(f32::NEG_INFINITY, f32::max)),
        sum_squares: ((squares[0] + squares[1]) + (squares[2] + squares[3]))
            + ((squares[4] + squares[5]) + (squares[6] + squares[7])),
        saw_nan: nan_above + nan_below > 0,
    })
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
}
