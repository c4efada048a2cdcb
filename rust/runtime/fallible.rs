//! Allocations that fail with an error instead of ending the process.
//!
//! Rust's global allocator aborts the whole process when an allocation fails
//! (`handle_alloc_error`): one image rescaled too far, or a worker left with little
//! memory, would take the training run and every queued event with it. Every buffer
//! whose size follows from a caller's input or arguments is therefore allocated here,
//! with `try_reserve_exact` (or `alloc_zeroed`), and running out of memory becomes
//! [`FerroError::OutOfMemory`]: `MemoryError` on the calling thread, a dropped event
//! (with a `RuntimeWarning`) on the writer thread. Small, fixed-size allocations stay
//! ordinary: making every allocation fallible is not possible in stable Rust.
//!
//! Test builds can force the next fallible allocation of one thread to fail
//! ([`arm_for_test`]), which is how `oom@encode:N` (see `faults`) drops
//! exactly the N-th event.

use crate::error::FerroError;
use crate::summary::raw_array::Plain;

/// The error for `bytes` bytes that could not be allocated for `what`.
pub fn out_of_memory(what: &str, bytes: usize) -> FerroError {
    FerroError::OutOfMemory {
        what: what.to_owned(),
        bytes,
    }
}

/// An empty vector with room for exactly `capacity` elements.
pub fn with_capacity<T>(capacity: usize, what: &str) -> Result<Vec<T>, FerroError> {
    let mut v = Vec::new();
    reserve_exact(&mut v, capacity, what)?;
    Ok(v)
}

/// `len` zeroed elements (`calloc`: pages the kernel zeroes stay untouched until used).
pub fn zeroed<T: Plain>(len: usize, what: &str) -> Result<Vec<T>, FerroError> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    injected(what, bytes)?;
    if len == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| out_of_memory(what, bytes))?;
    // SAFETY: the layout has a non-zero size (checked above).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(out_of_memory(what, bytes));
    }
    // SAFETY: allocated by the global allocator with `Layout::array::<T>(len)`, which is
    // the layout a `Vec<T>` of capacity `len` uses; zero bytes are a valid `T` for every
    // `Plain` type, so all `len` elements are initialized.
    Ok(unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, len) })
}

/// `len` copies of `value`.
pub fn filled<T: Clone>(len: usize, value: T, what: &str) -> Result<Vec<T>, FerroError> {
    let mut v = with_capacity(len, what)?;
    v.resize(len, value);
    Ok(v)
}

/// A copy of `src`.
pub fn to_vec<T: Clone>(src: &[T], what: &str) -> Result<Vec<T>, FerroError> {
    let mut v = with_capacity(src.len(), what)?;
    v.extend_from_slice(src);
    Ok(v)
}

/// The items of an iterator of known length (`len` is a capacity hint that must be
/// exact or larger, so that collecting never grows the vector again).
pub fn collect<T>(
    len: usize,
    items: impl IntoIterator<Item = T>,
    what: &str,
) -> Result<Vec<T>, FerroError> {
    let mut v = with_capacity(len, what)?;
    v.extend(items);
    Ok(v)
}

/// Room for `additional` more elements, exactly.
pub fn reserve_exact<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<(), FerroError> {
    let bytes = additional.saturating_mul(std::mem::size_of::<T>());
    injected(what, bytes)?;
    v.try_reserve_exact(additional)
        .map_err(|_| out_of_memory(what, bytes))
}

/// Room for `additional` more elements, growing geometrically when that fits (a buffer
/// appended to again and again) and exactly when only that does.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<(), FerroError> {
    let bytes = additional.saturating_mul(std::mem::size_of::<T>());
    injected(what, bytes)?;
    if v.try_reserve(additional).is_ok() {
        return Ok(());
    }
    v.try_reserve_exact(additional)
        .map_err(|_| out_of_memory(what, bytes))
}

#[cfg(any(test, feature = "fault-injection"))]
mod injection {
    use std::cell::Cell;

    thread_local! {
        static FAIL_NEXT: Cell<bool> = const { Cell::new(false) };
    }

    pub fn arm(on: bool) {
        FAIL_NEXT.set(on);
    }

    pub fn take() -> bool {
        FAIL_NEXT.replace(false)
    }
}

/// Test builds only: the next fallible allocation on this thread fails (`on`), or no
/// longer will (`!on`). Returns whether a failure was still armed (nothing on this
/// thread allocated fallibly since it was armed).
#[cfg(any(test, feature = "fault-injection"))]
pub fn arm_for_test(on: bool) -> bool {
    let was = injection::take();
    injection::arm(on);
    was
}

/// Production builds: nothing to arm.
#[cfg(not(any(test, feature = "fault-injection")))]
#[inline(always)]
pub fn arm_for_test(_on: bool) -> bool {
    false
}

#[cfg(any(test, feature = "fault-injection"))]
#[inline]
fn injected(what: &str, bytes: usize) -> Result<(), FerroError> {
    if injection::take() {
        return Err(out_of_memory(what, bytes));
    }
    Ok(())
}

#[cfg(not(any(test, feature = "fault-injection")))]
#[inline(always)]
fn injected(_what: &str, _bytes: usize) -> Result<(), FerroError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        let huge = usize::MAX / 2;
        for err in [
            with_capacity::<u8>(huge, "pixels").unwrap_err(),
            zeroed::<u64>(huge, "slots").unwrap_err(),
            filled(huge, 0u16, "frame").unwrap_err(),
        ] {
            match err {
                FerroError::OutOfMemory { what, bytes } => {
                    assert!(!what.is_empty());
                    assert!(bytes >= huge, "{bytes}");
                }
                other => panic!("{other}"),
            }
        }
        let mut v = vec![1u8; 10];
        assert!(reserve(&mut v, huge, "batch").is_err());
        assert_eq!(
            v,
            vec![1u8; 10],
            "a failed reservation leaves the vector as it was"
        );
    }

    #[test]
    fn buffers_are_what_they_claim() {
        assert_eq!(zeroed::<u32>(5, "x").unwrap(), vec![0; 5]);
        assert_eq!(filled(3, 7u8, "x").unwrap(), vec![7, 7, 7]);
        assert_eq!(to_vec(&[1.5, 2.5], "x").unwrap(), vec![1.5, 2.5]);
        assert_eq!(collect(3, 0..3, "x").unwrap(), vec![0, 1, 2]);
        assert!(zeroed::<u8>(0, "x").unwrap().is_empty());
    }

    #[test]
    fn an_injected_failure_hits_the_next_allocation_of_this_thread_only() {
        arm_for_test(true);
        let other = std::thread::spawn(|| with_capacity::<u8>(10, "other").is_ok());
        assert!(other.join().unwrap());
        let err = with_capacity::<u8>(10, "mine").unwrap_err().to_string();
        assert!(err.contains("mine"), "{err}");
        assert!(with_capacity::<u8>(10, "again").is_ok(), "only once");
        assert!(!arm_for_test(false));
    }
}
