//! A snapshot of a caller's array: dtype, shape and an aligned copy of its bytes.
//!
//! The caller thread only copies; every interpretation of the bytes happens on the worker.

use crate::error::FerroError;
use crate::runtime::{fallible, parallel_copy, snapshot_pool};

/// Element types the core understands. `Float16`/`BFloat16` travel as raw 16-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float16,
    BFloat16,
    Float32,
    Float64,
}

impl DType {
    pub fn item_size(self) -> usize {
        match self {
            DType::Bool | DType::Int8 | DType::UInt8 => 1,
            DType::Int16 | DType::UInt16 | DType::Float16 | DType::BFloat16 => 2,
            DType::Int32 | DType::UInt32 | DType::Float32 => 4,
            DType::Int64 | DType::UInt64 | DType::Float64 => 8,
        }
    }
}

/// A bfloat16's value from its 16-bit pattern (torch's bfloat16 arrives as its words):
/// the one place the core decodes bfloat16. Exact in f32, hence in f64.
#[inline]
pub fn bf16_to_f32(bits: u16) -> f32 {
    half::bf16::from_bits(bits).to_f32()
}

/// [`bf16_to_f32`] widened to f64 (exact).
#[inline]
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(bf16_to_f32(bits))
}

/// An owned, 8-byte-aligned copy of native-endian array data.
pub struct RawArray {
    pub dtype: DType,
    pub shape: Vec<i64>,
    words: Vec<u64>,
    len: usize,
}

impl RawArray {
    /// Copies `bytes` (the caller's buffer) into aligned storage.
    pub fn copy_from(dtype: DType, shape: Vec<i64>, bytes: &[u8]) -> Result<RawArray, FerroError> {
        check_size(dtype, &shape, bytes)?;
        let words = copy_to_words(bytes)?;
        Ok(RawArray {
            dtype,
            shape,
            words,
            len: bytes.len() / dtype.item_size(),
        })
    }

    /// A snapshot of `bytes` as int8 when every element is an integer from -128 to
    /// 127 (and no float is -0.0 or NaN), else `None`. PR-curve labels are 0 and 1
    /// whatever their dtype: kept as int8, int64 labels take an eighth of the memory to
    /// store and to read back, and every value is the same.
    pub fn narrowed_to_i8(
        dtype: DType,
        shape: Vec<i64>,
        bytes: &[u8],
    ) -> Result<Option<RawArray>, FerroError> {
        check_size(dtype, &shape, bytes)?;
        let len = bytes.len() / dtype.item_size();
        let mut words = alloc_words(len.div_ceil(8))?;
        // Within the capacity just reserved: no reallocation.
        words.resize(len.div_ceil(8), 0);
        let mut narrowed = RawArray {
            dtype: DType::Int8,
            shape,
            words,
            len,
        };
        let out = &mut words_as_bytes_mut(&mut narrowed.words)[..len];
        let fits = match dtype {
            DType::Int16 => narrow::<2>(bytes, out, |b| int_to_i8(i16::from_ne_bytes(b).into())),
            DType::UInt16 => narrow::<2>(bytes, out, |b| int_to_i8(u16::from_ne_bytes(b).into())),
            DType::Int32 => narrow::<4>(bytes, out, |b| int_to_i8(i32::from_ne_bytes(b).into())),
            DType::UInt32 => narrow::<4>(bytes, out, |b| int_to_i8(u32::from_ne_bytes(b).into())),
            DType::Int64 => narrow::<8>(bytes, out, |b| int_to_i8(i64::from_ne_bytes(b))),
            DType::UInt64 => narrow::<8>(bytes, out, |b| {
                int_to_i8(u64::from_ne_bytes(b).min(1 << 32) as i64)
            }),
            DType::Float32 => {
                narrow::<4>(bytes, out, |b| float_to_i8(f32::from_ne_bytes(b).into()))
            }
            DType::Float64 => narrow::<8>(bytes, out, |b| float_to_i8(f64::from_ne_bytes(b))),
            // One byte already, or half floats (rare as labels): nothing to gain.
            _ => false,
        };
        Ok(fits.then_some(narrowed))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (for the writer's memory budget).
    pub fn nbytes(&self) -> usize {
        self.words.len() * 8
    }

    pub fn bytes(&self) -> &[u8] {
        let all = words_as_bytes(&self.words);
        &all[..self.len * self.dtype.item_size()]
    }

    /// The elements as a typed slice; `T` must match `dtype`'s width.
    pub fn typed<T: Plain>(&self) -> &[T] {
        self.view().typed()
    }

    /// The elements, borrowed (what the histogram and conversion loops read).
    pub fn view(&self) -> ArrayView<'_> {
        ArrayView {
            dtype: self.dtype,
            bytes: self.bytes(),
        }
    }
}

/// Elements read where they lie: a `RawArray`'s, or a caller's buffer borrowed for the
/// length of a call that blocks (see `runtime::cold_binning`). Always 8-byte aligned, so
/// that every `Plain` type can be read from it.
#[derive(Clone, Copy)]
pub struct ArrayView<'a> {
    pub dtype: DType,
    bytes: &'a [u8],
}

impl<'a> ArrayView<'a> {
    /// `bytes` read as elements of `dtype`, or `None` when they are not 8-byte aligned
    /// or not a whole number of elements.
    pub fn borrowed(dtype: DType, bytes: &'a [u8]) -> Option<ArrayView<'a>> {
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(8);
        (aligned && bytes.len().is_multiple_of(dtype.item_size()))
            .then_some(ArrayView { dtype, bytes })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.dtype.item_size()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The elements as a typed slice; `T` must match `dtype`'s width.
    pub fn typed<T: Plain>(&self) -> &'a [T] {
        let n = self.bytes.len() / std::mem::size_of::<T>();
        // SAFETY: `bytes` is 8-byte aligned (a `RawArray`'s words, or checked in
        // `borrowed`), every `Plain` type has alignment <= 8 and accepts any bit pattern,
        // and `n * size_of::<T>()` bytes are initialized.
        unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<T>(), n) }
    }
}

impl<'a> From<&'a RawArray> for ArrayView<'a> {
    fn from(array: &'a RawArray) -> ArrayView<'a> {
        array.view()
    }
}

pub fn check_size(dtype: DType, shape: &[i64], bytes: &[u8]) -> Result<(), FerroError> {
    let elements: i64 = shape.iter().product();
    let expected = (elements.max(0) as usize) * dtype.item_size();
    if bytes.len() != expected {
        return Err(FerroError::InvalidArgument(format!(
            "array of shape {shape:?} and dtype {dtype:?} needs {expected} bytes, got {}",
            bytes.len()
        )));
    }
    Ok(())
}

/// Writes each `W`-byte element of `src`, converted, to one byte of `dst`; returns
/// whether every conversion was exact. No early exit, so that the loop vectorizes.
fn narrow<const W: usize>(
    src: &[u8],
    dst: &mut [u8],
    convert: impl Fn([u8; W]) -> (i8, bool),
) -> bool {
    let mut exact = true;
    for (out, &element) in dst.iter_mut().zip(src.as_chunks::<W>().0) {
        let (value, ok) = convert(element);
        *out = value as u8;
        exact &= ok;
    }
    exact
}

#[inline(always)]
fn int_to_i8(v: i64) -> (i8, bool) {
    (v as i8, i64::from(v as i8) == v)
}

#[inline(always)]
fn float_to_i8(v: f64) -> (i8, bool) {
    // `as` saturates (NaN gives 0), so the round trip fails for anything not an
    // integer in range; -0.0 would round-trip to +0.0 and is refused by its bits.
    let small = v as i8;
    (
        small,
        f64::from(small) == v && v.to_bits() != (-0.0f64).to_bits(),
    )
}

/// Types for which every bit pattern is a valid value (so bytes can be viewed as them).
///
/// # Safety
/// Implementors must be plain old data with alignment at most 8.
pub unsafe trait Plain: Copy {}
unsafe impl Plain for u8 {}
unsafe impl Plain for i8 {}
unsafe impl Plain for u16 {}
unsafe impl Plain for i16 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for i32 {}
unsafe impl Plain for u64 {}
unsafe impl Plain for i64 {}
unsafe impl Plain for f32 {}
unsafe impl Plain for f64 {}

fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u8 has alignment 1 and the byte length is exactly the words' size.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

fn words_as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as above; the borrow of `words` is exclusive.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) }
}

/// What a failed snapshot allocation is called (the bindings name the argument).
pub const SNAPSHOT: &str = "the snapshot of the array";

/// An empty buffer with room for `count` words: a recycled one when the pool has one,
/// else fresh (see `snapshot_pool`). When memory runs out, the pool's idle buffers are
/// freed and the allocation tried once more before the error is returned.
fn alloc_words(count: usize) -> Result<Vec<u64>, FerroError> {
    if let Some(recycled) = snapshot_pool::take(count) {
        return Ok(recycled);
    }
    let mut fresh: Vec<u64> = match fallible::with_capacity(count, SNAPSHOT) {
        Ok(fresh) => fresh,
        Err(_) => {
            snapshot_pool::release_all();
            fallible::with_capacity(count, SNAPSHOT)?
        }
    };
    advise_huge_pages(fresh.as_mut_ptr().cast::<u8>(), count * 8);
    Ok(fresh)
}

/// A fresh, empty buffer with room for `count` words whose pages are all mapped (the
/// kernel has faulted them in and zeroed them): a snapshot copied into it later runs at
/// memory speed. `None` when memory is short (it was only meant to save time).
pub fn mapped_words(count: usize) -> Option<Vec<u64>> {
    let mut fresh: Vec<u64> = fallible::with_capacity(count, SNAPSHOT).ok()?;
    let start = fresh.as_mut_ptr().cast::<u8>();
    let len = count * 8;
    advise_huge_pages(start, len);
    const PAGE: usize = 4096;
    for offset in (0..len).step_by(PAGE) {
        // SAFETY: `offset < len`, inside the capacity just reserved; the buffer stays
        // empty (length 0), so these bytes are never read as elements.
        unsafe { start.add(offset).write_volatile(0) };
    }
    Some(fresh)
}

impl Drop for RawArray {
    fn drop(&mut self) {
        // The next snapshot of a similar size reuses the memory (see `snapshot_pool`).
        snapshot_pool::give_back(std::mem::take(&mut self.words));
    }
}

/// Copies `bytes` into 8-byte words (recycled or fresh) without zero-filling them first (one pass
/// over the memory instead of two: this copy is most of `add_histogram`'s caller time).
fn copy_to_words(bytes: &[u8]) -> Result<Vec<u64>, FerroError> {
    let count = bytes.len().div_ceil(8);
    let mut words = alloc_words(count)?;
    // SAFETY: the capacity holds `count * 8 >= bytes.len()` bytes; the tail of the last
    // word is zeroed before `set_len`, so every word is initialized; the buffers are
    // distinct allocations and cannot overlap.
    unsafe {
        let dst = words.as_mut_ptr().cast::<u8>();
        parallel_copy::copy(bytes, dst);
        std::ptr::write_bytes(dst.add(bytes.len()), 0, count * 8 - bytes.len());
        words.set_len(count);
    }
    Ok(words)
}

/// Asks Linux to back a large fresh buffer with 2 MiB pages before it is first touched,
/// as numpy does for its arrays: the copy then takes ~500x fewer page faults, which is
/// most of its cost. Merely advice: ignored where unsupported.
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + len) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside the caller's live allocation; madvise
            // with MADV_HUGEPAGE changes no contents, only how pages are backed.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Calls `f` with every element converted to f64, as numpy's `astype(float)` would.
pub fn for_each_f64<'a>(array: impl Into<ArrayView<'a>>, f: impl FnMut(f64)) {
    let array = array.into();
    with_f64_chunks(array, 0, array.len(), f)
}

/// Like [`for_each_f64`] over elements `start..end` only (for parallel chunks).
pub fn with_f64_chunks<'a>(
    array: impl Into<ArrayView<'a>>,
    start: usize,
    end: usize,
    mut f: impl FnMut(f64),
) {
    let array = array.into();
    macro_rules! each {
        ($t:ty, $conv:expr) => {{
            for &v in &array.typed::<$t>()[start..end] {
                f($conv(v));
            }
        }};
    }
    match array.dtype {
        DType::Bool => each!(u8, |v: u8| if v != 0 { 1.0 } else { 0.0 }),
        DType::Int8 => each!(i8, f64::from),
        DType::Int16 => each!(i16, f64::from),
        DType::Int32 => each!(i32, f64::from),
        DType::Int64 => each!(i64, |v: i64| v as f64),
        DType::UInt8 => each!(u8, f64::from),
        DType::UInt16 => each!(u16, f64::from),
        DType::UInt32 => each!(u32, f64::from),
        DType::UInt64 => each!(u64, |v: u64| v as f64),
        DType::Float16 => each!(u16, |v: u16| half::f16::from_bits(v).to_f64()),
        DType::BFloat16 => each!(u16, bf16_to_f64),
        DType::Float32 => each!(f32, f64::from),
        DType::Float64 => each!(f64, |v: f64| v),
    }
}

/// Calls `f` with consecutive blocks of elements `start..end` converted to f64 (as
/// numpy's `astype(float)`), so hot loops run over plain `&[f64]` slices.
pub fn with_f64_blocks(array: ArrayView<'_>, start: usize, end: usize, mut f: impl FnMut(&[f64])) {
    const BLOCK: usize = 1024;
    if array.dtype == DType::Float64 {
        for block in array.typed::<f64>()[start..end].chunks(BLOCK) {
            f(block);
        }
        return;
    }
    let mut buffer = [0.0f64; BLOCK];
    let mut at = start;
    while at < end {
        let stop = (at + BLOCK).min(end);
        let mut filled = 0;
        with_f64_chunks(array, at, stop, |v| {
            buffer[filled] = v;
            filled += 1;
        });
        f(&buffer[..filled]);
        at = stop;
    }
}

/// A float16 (given by its bits) as the float32 of the same value, branch-free so that a
/// loop of them vectorizes (`half`'s conversion branches unless the crate is built with
/// F16C enabled).
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7FFF;
    // Normal: rebias the exponent (15 -> 127). Inf/NaN: all-ones exponent, same payload.
    // Subnormal and zero: magnitude * 2^-24, exact in float32.
    let normal = (magnitude << 13) + (112 << 23);
    let special = (magnitude << 13) | 0x7F80_0000;
    // Through i32 (exact: below 2^15): a signed conversion vectorizes without AVX-512.
    let tiny = ((magnitude as i32) as f32 * (1.0 / 16_777_216.0)).to_bits();
    let bits = if magnitude >= 0x7C00 {
        special
    } else if magnitude < 0x400 {
        tiny
    } else {
        normal
    };
    f32::from_bits(bits | sign)
}

/// numpy's `np.sum` of the elements as float64, bit for bit: numpy adds with this exact
/// pairwise scheme (eight accumulators up to 128 values, halves rounded to a multiple of
/// eight above), so torch's histogram `sum` is reproduced exactly, even when large
/// values cancel. Large halves run in parallel; the additions stay the same.
pub fn pairwise_sum(array: &RawArray) -> f64 {
    pairwise_sum_range(array.view(), 0, array.len())
}

/// [`pairwise_sum`] of elements `start..end`: numpy's sum of an array whose pairwise tree
/// has that range as one node (see `histogram::bin_tree`), computed as that node is.
pub fn pairwise_sum_range(array: ArrayView<'_>, start: usize, end: usize) -> f64 {
    use crate::summary::pairwise::pairwise;
    macro_rules! sum {
        ($t:ty, $conv:expr) => {
            pairwise::<$t, false>(&array.typed::<$t>()[start..end], &$conv)
        };
    }
    match array.dtype {
        DType::Bool => sum!(u8, |v: u8| if v != 0 { 1.0 } else { 0.0 }),
        DType::Int8 => sum!(i8, f64::from),
        DType::Int16 => sum!(i16, f64::from),
        DType::Int32 => sum!(i32, f64::from),
        DType::Int64 => sum!(i64, |v: i64| v as f64),
        DType::UInt8 => sum!(u8, f64::from),
        DType::UInt16 => sum!(u16, f64::from),
        DType::UInt32 => sum!(u32, f64::from),
        DType::UInt64 => sum!(u64, |v: u64| v as f64),
        DType::Float16 => pairwise::<u16, true>(&array.typed::<u16>()[start..end], &|v: u16| {
            f64::from(f16_to_f32(v))
        }),
        DType::BFloat16 => sum!(u16, bf16_to_f64),
        DType::Float32 => sum!(f32, f64::from),
        DType::Float64 => sum!(f64, |v: f64| v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_float16_converts_like_half() {
        for bits in 0..=u16::MAX {
            let ours = f16_to_f32(bits);
            let theirs = half::f16::from_bits(bits).to_f32();
            if theirs.is_nan() {
                assert!(ours.is_nan(), "{bits:#x}");
                assert_eq!(
                    ours.is_sign_negative(),
                    theirs.is_sign_negative(),
                    "{bits:#x}"
                );
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{bits:#x}");
            }
        }
    }

    fn narrowed<T: Copy>(
        dtype: DType,
        values: &[T],
        to_bytes: fn(T) -> Vec<u8>,
    ) -> Option<Vec<i8>> {
        let bytes: Vec<u8> = values.iter().flat_map(|&v| to_bytes(v)).collect();
        let shape = vec![values.len() as i64];
        let a = RawArray::narrowed_to_i8(dtype, shape, &bytes).unwrap()?;
        assert_eq!(
            (a.dtype, a.shape.clone(), a.len()),
            (DType::Int8, vec![values.len() as i64], values.len())
        );
        Some(a.typed::<i8>().to_vec())
    }

    #[test]
    fn small_integers_narrow_to_int8_keeping_every_value() {
        let ints = [0i64, 1, 1, -128, 127, 0, 1, 1, 0];
        let expected: Vec<i8> = ints.iter().map(|&v| v as i8).collect();
        let i64s = narrowed(DType::Int64, &ints, |v| v.to_ne_bytes().to_vec());
        assert_eq!(i64s.as_deref(), Some(&expected[..]));
        let i32s = narrowed(DType::Int32, &ints.map(|v| v as i32), |v| {
            v.to_ne_bytes().to_vec()
        });
        assert_eq!(i32s.as_deref(), Some(&expected[..]));
        let f32s = narrowed(DType::Float32, &ints.map(|v| v as f32), |v| {
            v.to_ne_bytes().to_vec()
        });
        assert_eq!(f32s.as_deref(), Some(&expected[..]));
        let f64s = narrowed(DType::Float64, &ints.map(|v| v as f64), |v| {
            v.to_ne_bytes().to_vec()
        });
        assert_eq!(f64s.as_deref(), Some(&expected[..]));
        let u64s = narrowed(DType::UInt64, &[0u64, 1, 127], |v| v.to_ne_bytes().to_vec());
        assert_eq!(u64s.as_deref(), Some(&[0i8, 1, 127][..]));
    }

    #[test]
    fn anything_else_is_not_narrowed() {
        let f64_bytes = |v: f64| v.to_ne_bytes().to_vec();
        assert_eq!(
            narrowed(DType::Int64, &[0i64, 128], |v| v.to_ne_bytes().to_vec()),
            None
        );
        assert_eq!(
            narrowed(DType::Int64, &[-129i64, 0], |v| v.to_ne_bytes().to_vec()),
            None
        );
        assert_eq!(
            narrowed(DType::UInt64, &[u64::MAX], |v| v.to_ne_bytes().to_vec()),
            None
        );
        assert_eq!(
            narrowed(DType::UInt32, &[256u32], |v| v.to_ne_bytes().to_vec()),
            None
        );
        for bad in [0.5, -0.0, f64::NAN, f64::INFINITY, 1e10, -1e-300] {
            assert_eq!(
                narrowed(DType::Float64, &[1.0, bad], f64_bytes),
                None,
                "{bad}"
            );
        }
        // Already one byte: copied as it is.
        assert_eq!(narrowed(DType::UInt8, &[1u8], |v| vec![v]), None);
        assert_eq!(narrowed(DType::Bool, &[1u8], |v| vec![v]), None);
    }

    #[test]
    fn copies_and_converts_every_dtype() {
        let data: Vec<u8> = [1.5f32, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let a = RawArray::copy_from(DType::Float32, vec![3], &data).unwrap();
        let mut out = Vec::new();
        for_each_f64(&a, |v| out.push(v));
        assert_eq!(out, vec![1.5, -2.0, 3.25]);

        let halfs: Vec<u8> = [half::f16::from_f32(0.5), half::f16::from_f32(-65504.0)]
            .iter()
            .flat_map(|v| v.to_bits().to_ne_bytes())
            .collect();
        let a = RawArray::copy_from(DType::Float16, vec![2], &halfs).unwrap();
        let mut out = Vec::new();
        for_each_f64(&a, |v| out.push(v));
        assert_eq!(out, vec![0.5, -65504.0]);

        let bf: Vec<u8> = [half::bf16::from_f32(1e30)]
            .iter()
            .flat_map(|v| v.to_bits().to_ne_bytes())
            .collect();
        let a = RawArray::copy_from(DType::BFloat16, vec![1], &bf).unwrap();
        let mut out = Vec::new();
        for_each_f64(&a, |v| out.push(v));
        assert!(
            (out[0] - 1e30).abs() / 1e30 < 1e-2,
            "bfloat16 keeps its range"
        );
    }

    #[test]
    fn rejects_wrong_byte_count() {
        assert!(RawArray::copy_from(DType::Float64, vec![2], &[0u8; 8]).is_err());
    }
}
