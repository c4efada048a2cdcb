//! Background threads block asynchronous signals.
//!
//! The kernel delivers a process-directed signal (Ctrl-C's SIGINT, SIGTERM, ...) to any
//! thread that does not block it. Python runs its handler whichever thread gets it, but
//! only the main thread's `time.sleep`, `select`, ... are interrupted: when SIGINT landed
//! on a writer or encoder thread, the main thread slept on and KeyboardInterrupt came
//! seconds late (`test_t03_sigint_keeps_every_event`, about one run in six). Every thread
//! the core starts therefore blocks them, so they reach the main thread. Signals a thread
//! raises itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT) stay unblocked.

/// Blocks asynchronous signals in the calling thread. Call first thing in a new thread.
pub fn block_async_signals() {
    #[cfg(unix)]
    // SAFETY: sigset_t is plain data initialized by sigfillset before use; the calls only
    // change the calling thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for sync_signal in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGABRT,
        ] {
            libc::sigdelset(&mut set, sync_signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// rayon's global pool, configured so that its threads block asynchronous signals too.
/// Does nothing if the global pool already exists.
pub fn configure_global_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| block_async_signals())
        .build_global();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn blocked_in_the_thread_only() {
        let blocked_in_thread = std::thread::spawn(|| {
            block_async_signals();
            current_mask_has(libc::SIGINT)
        })
        .join()
        .unwrap();
        assert!(blocked_in_thread);
        assert!(!current_mask_has(libc::SIGINT) || cfg!(miri));
    }

    fn current_mask_has(signal: i32) -> bool {
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            libc::sigismember(&set, signal) == 1
        }
    }
}
