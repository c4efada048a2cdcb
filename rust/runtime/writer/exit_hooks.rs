//! The last line of G4 (every accepted event saved at exit): at `exit()`, after Python's
//! own atexit hook has closed the writers it knows, whatever writer of this process is
//! still open (made by an atexit hook that ran later, fed by a daemon thread, or kept
//! alive by an uncollected reference cycle) is drained and closed. The wait is bounded,
//! so exit never hangs on a stuck disk.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::Shared;
use crate::runtime::fork;

/// How long the exit hook waits, in all, for writers to drain.
const EXIT_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The writers of one process. A forked child starts a fresh registry instead of
/// using its parent's, whose lock may have been held by a thread the child lacks.
struct Registry {
    generation: u64,
    live: Mutex<Vec<Weak<Shared>>>,
}

/// This process's registry. Registries are never freed (one per fork generation
/// that opens a writer), so references to them stay valid.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(std::ptr::null_mut());

fn registry() -> &'static Registry {
    let generation = fork::generation();
    let current = REGISTRY.load(Ordering::Acquire);
    // SAFETY: non-null pointers in REGISTRY come from `Box::into_raw` and are never
    // freed.
    if let Some(registry) = unsafe { current.as_ref() } {
        if registry.generation == generation {
            return registry;
        }
    }
    let fresh = Box::into_raw(Box::new(Registry {
        generation,
        live: Mutex::new(Vec::new()),
    }));
    match REGISTRY.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published; never freed.
        Ok(_) => unsafe { &*fresh },
        Err(winner) => {
            // Another thread of this process published its registry first.
            // SAFETY: `fresh` was never published; `winner` is never freed.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*winner }
        }
    }
}

fn lock(live: &Mutex<Vec<Weak<Shared>>>) -> MutexGuard<'_, Vec<Weak<Shared>>> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn register(shared: &Arc<Shared>) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: registers a plain C callback without arguments.
        unsafe {
            libc::atexit(close_all_at_exit);
        }
    });
    let mut live = lock(&registry().live);
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(shared));
}

extern "C" fn close_all_at_exit() {
    let deadline = Instant::now() + EXIT_DRAIN_LIMIT;
    let registry = registry();
    // Bounded: a thread of this process registering a writer holds it for a moment.
    let live = loop {
        match registry.live.try_lock() {
            Ok(live) => break live,
            Err(std::sync::TryLockError::Poisoned(e)) => break e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(std::sync::TryLockError::WouldBlock) => return,
        }
    };
    let writers: Vec<Arc<Shared>> = live.iter().filter_map(Weak::upgrade).collect();
    drop(live);
    let generation = fork::generation();
    for shared in writers.iter().filter(|s| s.generation == generation) {
        let mut st = shared.state.lock();
        if !st.closing && st.error.is_none() {
            st.cancel_reserved(shared, "closed at exit");
        }
        st.closing = true;
        st.parked = false;
        shared.work.notify_one();
    }
    for shared in writers.iter().filter(|s| s.generation == generation) {
        let mut st = shared.state.lock();
        while !st.worker_done {
            if shared.progress.wait_until(&mut st, deadline).timed_out() {
                return;
            }
        }
    }
    // Remote writers: their last publishes were queued when their workers finished.
    // What is not stored by the deadline stays in the staging directory.
    for shared in writers.iter().filter(|s| s.generation == generation) {
        if let Some(target) = &shared.remote {
            if target.wait_idle(deadline).is_err() {
                eprintln!(
                    "ferroboard: {} not fully uploaded at exit; run `python -m ferroboard.sync {}`",
                    target.dir.url,
                    target.staging.display()
                );
            }
        }
    }
}
