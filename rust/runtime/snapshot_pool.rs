//! Recycles the large buffers that hold snapshots of callers' arrays.
//!
//! Copying a parameter into fresh memory costs a page fault (and the kernel zeroing the
//! page) for every page touched, which doubles the cost of the copy: 25 ms instead of
//! 13 ms for ResNet-50's 102 MB of parameters on the development machine. A training
//! loop logs the same tensors step after step, so the worker hands each snapshot buffer
//! back here once it is encoded, and the next copy of a similar size reuses it: memory
//! that is already mapped, written at memory speed.
//!
//! Bounded: at most `MAX_CACHED_BYTES` are kept (a buffer that does not fit is freed,
//! so that a cycle of snapshots larger than the pool still reuses its first part), and a
//! buffer unused for `MAX_IDLE` is freed: by the next pool operation, or by an idle
//! writer thread (`release_idle`). Never blocks: only `try_lock`, so contention, or a
//! `fork()` while another thread held the lock, just means a fresh allocation.
//! (`MADV_FREE` on cached buffers was tried instead of freeing them: it made reusing
//! them cost a third more on the ResNet-50 step, and kept them counted in RSS.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Smaller buffers come from malloc's own free lists cheaply enough. Larger ones glibc
/// maps afresh or trims off its heap when they are freed (its thresholds start at
/// 128 KiB), so they fault again on the next copy: a PR curve of 1e5 points spent half
/// its time in page faults before these were kept too.
pub const MIN_POOLED_BYTES: usize = 64 << 10;
/// Most memory kept for reuse (ResNet-50's parameters are 102 MB).
pub const MAX_CACHED_BYTES: usize = 512 << 20;
/// A cached buffer unused this long is freed. Long enough to span the interval between
/// logging steps of a typical run: on the development machine a ResNet-50 step copied
/// into fresh memory took 50-100 ms on the caller instead of 16 ms.
pub const MAX_IDLE: Duration = Duration::from_secs(600);

struct Pool {
    /// Free buffers (length 0) and when each was cached, oldest first.
    free: Vec<(Vec<u64>, Instant)>,
    /// Their capacity in bytes, in all.
    bytes: usize,
    max_bytes: usize,
    max_idle: Duration,
}

impl Pool {
    const fn new(max_bytes: usize, max_idle: Duration) -> Pool {
        Pool {
            free: Vec::new(),
            bytes: 0,
            max_bytes,
            max_idle,
        }
    }

    /// The smallest cached buffer with room for `words` words, and at most twice that,
    /// so a small array never pins a huge buffer.
    fn take(&mut self, words: usize) -> Option<Vec<u64>> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, (b, _))| b.capacity() >= words && b.capacity() / 2 <= words)
            .min_by_key(|(_, (b, _))| b.capacity())
            .map(|(i, _)| i)?;
        let (buffer, _) = self.free.remove(best);
        self.bytes -= capacity_bytes(&buffer);
        Some(buffer)
    }

    /// Whether `take(words)` would hand a buffer back.
    fn has_buffer_for(&self, words: usize) -> bool {
        self.free
            .iter()
            .any(|(b, _)| b.capacity() >= words && b.capacity() / 2 <= words)
    }

    /// Keeps `buffer` (empty) if it fits; returns what is to be freed (stale buffers,
    /// and `buffer` itself when it does not fit), so the caller frees it unlocked.
    fn keep(&mut self, buffer: Vec<u64>, now: Instant) -> Vec<Vec<u64>> {
        let mut freed = self.release_idle(now);
        let bytes = capacity_bytes(&buffer);
        if self.bytes + bytes > self.max_bytes {
            freed.push(buffer);
        } else {
            self.bytes += bytes;
            self.free.push((buffer, now));
        }
        freed
    }

    /// Removes the buffers unused for `max_idle`.
    fn release_idle(&mut self, now: Instant) -> Vec<Vec<u64>> {
        let max_idle = self.max_idle;
        let mut freed = Vec::new();
        let mut kept = Vec::with_capacity(self.free.len());
        for (buffer, since) in self.free.drain(..) {
            if now.saturating_duration_since(since) >= max_idle {
                freed.push(buffer);
            } else {
                kept.push((buffer, since));
            }
        }
        self.free = kept;
        self.bytes -= freed.iter().map(capacity_bytes).sum::<usize>();
        freed
    }

    /// When the oldest cached buffer becomes stale, if any is cached.
    fn next_release(&self) -> Option<Instant> {
        self.free
            .iter()
            .map(|(_, since)| *since + self.max_idle)
            .min()
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new(MAX_CACHED_BYTES, MAX_IDLE));

fn capacity_bytes(buffer: &Vec<u64>) -> usize {
    buffer.capacity() * 8
}

/// An empty buffer with room for at least `words` words, or `None` when no cached one
/// fits (or the request is small).
pub fn take(words: usize) -> Option<Vec<u64>> {
    if words.saturating_mul(8) < MIN_POOLED_BYTES {
        return None;
    }
    POOL.try_lock().ok()?.take(words)
}

/// Whether a snapshot of `words` words would be copied into a cached buffer now (a busy
/// pool answers no, as `take` would).
pub fn has_buffer_for(words: usize) -> bool {
    if words.saturating_mul(8) < MIN_POOLED_BYTES {
        return false;
    }
    POOL.try_lock().is_ok_and(|pool| pool.has_buffer_for(words))
}

/// Buffers to map for the pool in the background (see `warm`).
struct Warming {
    /// Each request's source (the address of the array it is for) and size in words,
    /// oldest first, until its buffer is cached (or given up).
    pending: Vec<(usize, usize)>,
    /// Whether a thread is mapping them now.
    running: bool,
}

static WARMING: Mutex<Warming> = Mutex::new(Warming {
    pending: Vec::new(),
    running: false,
});

/// Maps a buffer of `words` words with `make` on a background thread and caches it, so
/// that the next snapshot of that size is copied into warm memory: called for a snapshot
/// of the array at address `source` that found no cached buffer and was not copied (see
/// `runtime::cold_binning`).
///
/// Not when the pool, with the buffers already requested, would have no room for it,
/// and not while one is requested for the same array already (a parameter logged again
/// before its buffer is ready, which is always at the same address): the pool does not
/// map more buffers than the arrays use. The address only tells requests apart.
/// The thread maps the requests one at a time and ends when none is left. It is its own
/// thread, not the binning pool, so that binning never queues behind it, and it runs at
/// normal priority: this is the work the first step's copy did on the caller, once per
/// array, and at nice 10 the next steps came before it was done (docs/performance.md).
pub fn warm(source: usize, words: usize, make: fn(usize) -> Option<Vec<u64>>) {
    let bytes = words.saturating_mul(8);
    if bytes < MIN_POOLED_BYTES {
        return;
    }
    let cached = match POOL.try_lock() {
        Ok(pool) => pool.bytes,
        Err(_) => return,
    };
    let Ok(mut warming) = WARMING.try_lock() else {
        return;
    };
    let requested: usize = warming.pending.iter().map(|(_, w)| w * 8).sum();
    let request = (source, words);
    if warming.pending.contains(&request) || cached + requested + bytes > MAX_CACHED_BYTES {
        return;
    }
    warming.pending.push(request);
    if warming.running {
        return;
    }
    let started = std::thread::Builder::new()
        .name("ferroboard-warm".to_owned())
        .spawn(move || warm_pending(make));
    match started {
        Ok(_) => warming.running = true,
        Err(_) => warming.pending.clear(), // no thread: the copies stay cold, nothing else
    }
}

/// The body of the thread `warm` starts.
fn warm_pending(make: fn(usize) -> Option<Vec<u64>>) {
    crate::runtime::signals::block_async_signals();
    loop {
        let words = {
            let mut warming = WARMING.lock().unwrap_or_else(|e| e.into_inner());
            match warming.pending.first() {
                Some(&(_, words)) => words,
                None => {
                    warming.running = false;
                    return;
                }
            }
        };
        if let Some(buffer) = make(words) {
            give_back(buffer);
        }
        WARMING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .remove(0);
    }
}

/// Keeps `buffer` for a later snapshot, or frees it when it is small or the pool busy
/// or full.
pub fn give_back(mut buffer: Vec<u64>) {
    if capacity_bytes(&buffer) < MIN_POOLED_BYTES {
        return;
    }
    buffer.clear();
    let freed = match POOL.try_lock() {
        Ok(mut pool) => pool.keep(buffer, Instant::now()),
        Err(_) => return,
    };
    drop(freed); // unmapped outside the lock
}

/// When the oldest cached buffer becomes stale (`None`: nothing is cached). Writer
/// threads going idle wait until then and call `release_idle`, so cached memory is
/// returned even when nothing is logged any more.
pub fn next_release() -> Option<Instant> {
    POOL.try_lock().ok()?.next_release()
}

/// Frees the buffers unused for `MAX_IDLE`.
pub fn release_idle() {
    let freed = match POOL.try_lock() {
        Ok(mut pool) => pool.release_idle(Instant::now()),
        Err(_) => return,
    };
    drop(freed); // unmapped outside the lock
}

/// Frees every cached buffer: memory ran out, and a snapshot needs it more.
pub fn release_all() {
    let freed = match POOL.try_lock() {
        Ok(mut pool) => {
            pool.bytes = 0;
            std::mem::take(&mut pool.free)
        }
        Err(_) => return,
    };
    drop(freed); // unmapped outside the lock
}

/// `next_release`, waiting for the lock (tests must not read a busy pool as empty).
#[cfg(test)]
pub(crate) fn next_release_waiting() -> Option<Instant> {
    POOL.lock().ok()?.next_release()
}

/// Shortens `MAX_IDLE`, so that a test can watch an idle writer free the pool.
#[cfg(test)]
pub(crate) fn set_max_idle(max_idle: Duration) {
    if let Ok(mut pool) = POOL.lock() {
        pool.max_idle = max_idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn buffers_are_reused_by_size() {
        let mut pool = Pool::new(1 << 30, MINUTE);
        let buffer: Vec<u64> = Vec::with_capacity(1000);
        let address = buffer.as_ptr();
        assert!(pool.keep(buffer, Instant::now()).is_empty());
        assert_eq!(pool.bytes, 8000);
        // A larger request, and one that would waste more than half, get nothing.
        assert!(pool.take(1001).is_none());
        assert!(pool.take(499).is_none());
        let reused = pool.take(995).expect("the cached buffer fits");
        assert_eq!(reused.as_ptr(), address);
        assert_eq!(pool.bytes, 0);
        assert!(pool.take(995).is_none());
    }

    #[test]
    fn the_smallest_fitting_buffer_is_taken() {
        let mut pool = Pool::new(1 << 30, MINUTE);
        for capacity in [4000, 1500, 1100, 3000] {
            pool.keep(Vec::with_capacity(capacity), Instant::now());
        }
        assert_eq!(pool.take(1000).map(|b| b.capacity()), Some(1100));
        assert_eq!(pool.take(1000).map(|b| b.capacity()), Some(1500));
        assert_eq!(
            pool.take(1000),
            None,
            "3000 and 4000 words waste more than half"
        );
    }

    #[test]
    fn a_full_pool_frees_what_does_not_fit_and_keeps_what_it_has() {
        let mut pool = Pool::new(8 * 2500, MINUTE);
        let now = Instant::now();
        assert!(pool.keep(Vec::with_capacity(1000), now).is_empty());
        assert!(pool.keep(Vec::with_capacity(1200), now).is_empty());
        let freed = pool.keep(Vec::with_capacity(1000), now);
        assert_eq!(
            freed.iter().map(|b| b.capacity()).collect::<Vec<_>>(),
            [1000]
        );
        assert_eq!(pool.bytes, 8 * 2200);
        assert_eq!(pool.take(1000).map(|b| b.capacity()), Some(1000));
        assert_eq!(pool.take(1000).map(|b| b.capacity()), Some(1200));
    }

    #[test]
    fn idle_buffers_are_released_after_max_idle() {
        let mut pool = Pool::new(1 << 30, MINUTE);
        let start = Instant::now();
        pool.keep(Vec::with_capacity(1000), start);
        pool.keep(Vec::with_capacity(2000), start + MINUTE / 2);
        assert_eq!(pool.next_release(), Some(start + MINUTE));
        assert!(pool.release_idle(start + MINUTE / 3).is_empty());
        let freed = pool.release_idle(start + MINUTE);
        assert_eq!(
            freed.iter().map(|b| b.capacity()).collect::<Vec<_>>(),
            [1000]
        );
        assert_eq!(pool.bytes, 8 * 2000);
        assert_eq!(pool.next_release(), Some(start + MINUTE * 3 / 2));
        // Keeping a buffer also sweeps out the stale ones.
        let freed = pool.keep(Vec::with_capacity(500), start + MINUTE * 2);
        assert_eq!(
            freed.iter().map(|b| b.capacity()).collect::<Vec<_>>(),
            [2000]
        );
        assert_eq!(pool.bytes, 8 * 500);
    }

    #[test]
    fn small_requests_bypass_the_pool() {
        assert!(take(16).is_none());
    }
}
