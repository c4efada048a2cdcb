//! Knowing, without a system call, whether this process is a fork of the one that made
//! an object.
//!
//! After `fork()` only the forking thread exists in the child. A writer inherited from
//! the parent has no worker there, and its mutex may have been held by that worker at
//! the instant of the fork: touching it could block forever. A `pthread_atfork` child
//! handler bumps a generation counter, so every writer compares one relaxed atomic load
//! with the generation it was made in before it touches anything shared.
//!
//! The same goes for rayon's thread pools: a pool made in the parent has no threads in
//! the child, and work handed to it never completes. Code that runs parallel work in a
//! forked child uses [`child_pool`] instead.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Once};

static GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add, nothing else.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Installs the fork handler (once per process; children inherit it).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only does an atomic add, which is allowed in
        // a forked child of a multithreaded process.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// How many forks separate this process from the first one that loaded the core.
#[inline]
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Whether this process is a fork (of a fork...) of the one that loaded the core.
#[inline]
pub fn forked() -> bool {
    generation() != 0
}

/// A rayon pool whose threads exist in this process, for parallel work in a forked
/// child (rayon's global pool, if the parent used it, has no threads here). `None` in
/// the original process, where the global pool is fine, or if threads cannot start.
pub fn child_pool() -> Option<Arc<rayon::ThreadPool>> {
    struct Entry {
        generation: u64,
        pool: Arc<rayon::ThreadPool>,
    }
    // Lock-free, because a lock could have been held by a thread the child lacks.
    // Entries are never freed (one per fork generation that runs parallel work), so a
    // reference read from the cache stays valid.
    static CACHE: AtomicPtr<Entry> = AtomicPtr::new(std::ptr::null_mut());
    if !forked() {
        return None;
    }
    let generation = generation();
    let current = CACHE.load(Ordering::Acquire);
    // SAFETY: non-null pointers in CACHE come from `Box::into_raw` and are never freed.
    if let Some(entry) = unsafe { current.as_ref() } {
        if entry.generation == generation {
            return Some(Arc::clone(&entry.pool));
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ferroboard-child-{i}"))
            .start_handler(|_| crate::runtime::signals::block_async_signals())
            .build()
            .ok()?,
    );
    let entry = Box::into_raw(Box::new(Entry {
        generation,
        pool: Arc::clone(&pool),
    }));
    if CACHE
        .compare_exchange(current, entry, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread cached its pool first; ours is used once and dropped.
        // SAFETY: `entry` was never published, so this is its only owner.
        drop(unsafe { Box::from_raw(entry) });
    }
    Some(pool)
}
