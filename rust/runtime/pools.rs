//! The thread pools that bin histograms (and help copy large snapshots).
//!
//! While the training loop runs, binning uses one thread fewer than the machine has, so
//! the loop's own thread keeps a core. While a caller is blocked in `flush()` or
//! `close()`, its core is idle, so the writer bins that batch on every core.

use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    /// Set on a writer thread while it encodes a batch someone is waiting for.
    static CALLER_WAITING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (on a writer thread) with binning on every core when `caller_waiting`.
pub fn with_caller_waiting<R>(caller_waiting: bool, f: impl FnOnce() -> R) -> R {
    let before = CALLER_WAITING.replace(caller_waiting);
    let result = f();
    CALLER_WAITING.set(before);
    result
}

/// Whether this (writer) thread encodes a batch that a blocked caller waits for.
pub fn caller_waiting() -> bool {
    CALLER_WAITING.get()
}

/// Runs `op` (which may use rayon) on the binning pool, or on the pool of every core when
/// a caller is waiting. After fork() the threads of pools made in the parent are gone,
/// so a forked child uses a pool of its own.
pub fn in_binning_pool<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    if crate::runtime::fork::forked() {
        return match crate::runtime::fork::child_pool() {
            Some(pool) => pool.install(op),
            None => op(), // no threads could start: the current thread's pool, if any
        };
    }
    let pool = if CALLER_WAITING.get() {
        every_core_pool()
    } else {
        binning_pool()
    };
    match pool {
        Some(pool) => pool.install(op),
        None => op(),
    }
}

/// Threads for binning large arrays: one fewer than the machine has, so that the
/// training loop's own thread keeps a core while its histograms are binned.
pub fn binning_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| pool_of(cores().saturating_sub(1).max(1), "bin"))
        .as_ref()
}

/// One thread per core, for batches a blocked caller waits for. Sleeping otherwise.
fn every_core_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| pool_of(cores(), "flush")).as_ref()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pool_of(threads: usize, name: &'static str) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("ferroboard-{name}-{i}"))
        .start_handler(|_| crate::runtime::signals::block_async_signals())
        .build()
        .ok()
}

/// Runs `f` where its parallel work can run: rayon's global pool, or after a fork (whose
/// child lacks the global pool's threads) a pool of the child's own.
pub fn in_this_process_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match crate::runtime::fork::child_pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_caller_gets_every_core() {
        let threads = || in_binning_pool(rayon::current_num_threads);
        assert_eq!(threads(), cores().saturating_sub(1).max(1));
        assert_eq!(with_caller_waiting(true, threads), cores());
        assert_eq!(
            threads(),
            cores().saturating_sub(1).max(1),
            "the flag is restored"
        );
    }
}
