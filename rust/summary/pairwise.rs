//! numpy's pairwise summation (`np.sum` of float64 values), bit for bit, fast.
//!
//! numpy sums a range of at most 128 values (a leaf) with eight accumulators (values
//! `i`, `i + 8`, `i + 16`... in accumulator `i % 8`, the leftovers of a length that is
//! not a multiple of eight added one by one at the end), and splits a longer range in
//! two halves, the first a multiple of eight long, whose sums it adds. The same here,
//! compiled for AVX2 or AVX-512 where the CPU has them (the eight accumulators are one
//! or two vectors, and float16 values convert in vectors): 2-3 times as fast as the
//! baseline x86-64 build, which wheels are.

/// The longest range numpy sums directly.
const LEAF: usize = 128;

/// Where numpy splits a range of `n > LEAF` values.
#[inline(always)]
fn split(n: usize) -> usize {
    let half = n / 2;
    half - half % 8
}

/// numpy's sum of `conv` of every element of `a`. Long ranges sum their halves in
/// parallel (on the current rayon pool); the additions stay the same.
pub fn pairwise<T: Copy + Sync, const CONVERT_FIRST: bool>(
    a: &[T],
    conv: &(impl Fn(T) -> f64 + Sync),
) -> f64 {
    let n = a.len();
    if n >= 1 << 18 {
        let (left, right) = a.split_at(split(n));
        let (l, r) = rayon::join(
            || pairwise::<T, CONVERT_FIRST>(left, conv),
            || pairwise::<T, CONVERT_FIRST>(right, conv),
        );
        return l + r;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { node_avx512::<T, CONVERT_FIRST>(a, conv) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { node_avx2::<T, CONVERT_FIRST>(a, conv) };
        }
    }
    node::<T, CONVERT_FIRST>(a, conv)
}

/// [`node`] compiled for AVX2. The recursion stays inside (a recursive function is not
/// inlined, and a plain one would lose the features).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn node_avx2<T: Copy, const CONVERT_FIRST: bool>(a: &[T], conv: &impl Fn(T) -> f64) -> f64 {
    if a.len() <= LEAF {
        return leaf::<T, CONVERT_FIRST>(a, conv);
    }
    let (left, right) = a.split_at(split(a.len()));
    // SAFETY: this function only runs where the CPU has AVX2.
    unsafe {
        node_avx2::<T, CONVERT_FIRST>(left, conv) + node_avx2::<T, CONVERT_FIRST>(right, conv)
    }
}

/// And for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
unsafe fn node_avx512<T: Copy, const CONVERT_FIRST: bool>(
    a: &[T],
    conv: &impl Fn(T) -> f64,
) -> f64 {
    if a.len() <= LEAF {
        return leaf::<T, CONVERT_FIRST>(a, conv);
    }
    let (left, right) = a.split_at(split(a.len()));
    // SAFETY: this function only runs where the CPU has AVX-512F.
    unsafe {
        node_avx512::<T, CONVERT_FIRST>(left, conv) + node_avx512::<T, CONVERT_FIRST>(right, conv)
    }
}

fn node<T: Copy, const CONVERT_FIRST: bool>(a: &[T], conv: &impl Fn(T) -> f64) -> f64 {
    if a.len() <= LEAF {
        return leaf::<T, CONVERT_FIRST>(a, conv);
    }
    let (left, right) = a.split_at(split(a.len()));
    node::<T, CONVERT_FIRST>(left, conv) + node::<T, CONVERT_FIRST>(right, conv)
}

/// One leaf, as numpy sums it. `CONVERT_FIRST`: convert the leaf in a loop of its own
/// first: merged into the additions, the conversion of float16 values did not
/// vectorize (3 times slower); for other types the extra loop costs more than it saves.
#[inline(always)]
fn leaf<T: Copy, const CONVERT_FIRST: bool>(a: &[T], conv: &impl Fn(T) -> f64) -> f64 {
    if !CONVERT_FIRST || a.len() > LEAF {
        return leaf_direct(a, conv);
    }
    let mut wide = [0.0f64; LEAF];
    for (w, &v) in wide.iter_mut().zip(a) {
        *w = conv(v);
    }
    leaf_direct(&wide[..a.len()], &|w| w)
}

#[inline(always)]
fn leaf_direct<T: Copy>(a: &[T], conv: &impl Fn(T) -> f64) -> f64 {
    if a.len() < 8 {
        let mut res = 0.0;
        for &v in a {
            res += conv(v);
        }
        return res;
    }
    let mut r = [0.0f64; 8];
    for (acc, &v) in r.iter_mut().zip(&a[..8]) {
        *acc = conv(v);
    }
    let whole = a.len() - a.len() % 8;
    for block in a[8..whole].chunks_exact(8) {
        for (acc, &v) in r.iter_mut().zip(block) {
            *acc += conv(v);
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[whole..] {
        res += conv(v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// numpy's algorithm as written in numpy (`pairwise_sum` in loops_utils.h).
    fn numpy_sum(a: &[f64]) -> f64 {
        let n = a.len();
        if n < 8 {
            let mut res = 0.0;
            for &v in a {
                res += v;
            }
            res
        } else if n <= LEAF {
            let mut r = [0.0; 8];
            r.copy_from_slice(&a[..8]);
            let mut i = 8;
            while i < n - n % 8 {
                for j in 0..8 {
                    r[j] += a[i + j];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            while i < n {
                res += a[i];
                i += 1;
            }
            res
        } else {
            let n2 = split(n);
            numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
        }
    }

    #[test]
    fn every_length_sums_bit_for_bit_like_numpy() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        // Magnitudes over many orders, so that the order of additions shows in the bits.
        let values: Vec<f64> = (0..5000)
            .map(|_| (rng.random::<f64>() - 0.5) * 10f64.powi(rng.random_range(-8..9)))
            .collect();
        let wide = |v: f64| v;
        for n in (0..1100).chain([1536, 2047, 4096, 4999]) {
            let a = &values[..n];
            assert_eq!(
                pairwise::<_, false>(a, &wide).to_bits(),
                numpy_sum(a).to_bits(),
                "n = {n}"
            );
            assert_eq!(
                pairwise::<_, true>(a, &wide).to_bits(),
                numpy_sum(a).to_bits(),
                "n = {n}"
            );
            assert_eq!(node::<_, false>(a, &wide).to_bits(), numpy_sum(a).to_bits());
        }
        let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let widened: Vec<f64> = narrow.iter().map(|&v| f64::from(v)).collect();
        for n in [0, 7, 8, 129, 300, 511, 512, 513, 4999] {
            let got = pairwise::<_, true>(&narrow[..n], &f64::from);
            assert_eq!(got.to_bits(), numpy_sum(&widened[..n]).to_bits(), "n = {n}");
        }
    }

    #[test]
    fn large_ranges_split_in_parallel_add_the_same() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let values: Vec<f64> = (0..(1 << 18) + 77)
            .map(|_| (rng.random::<f64>() - 0.5) * 1e6)
            .collect();
        assert_eq!(
            pairwise::<_, false>(&values, &|v: f64| v).to_bits(),
            numpy_sum(&values).to_bits()
        );
    }
}
