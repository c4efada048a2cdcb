//! The thread pools that bin histograms (and help copy large snapshots).
//!
//! While the training loop runs, binning uses one thread fewer than the machine has, so
//! the loop's own thread keeps a core, and its threads run at a lower scheduling
//! priority (nice 10 by default, see [`BackgroundPriority`]), so that they take less of
//! the cores the training threads use. While a caller is blocked in `flush()` or `close()`, its
//! core is idle, so the writer bins that batch on every core, at normal priority: the
//! caller waits for it.

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
    POOL.get_or_init(|| {
        let priority = BackgroundPriority::from_env();
        pool_of(cores().saturating_sub(1).max(1), "bin", priority)
    })
    .as_ref()
}

/// One thread per core, for batches a blocked caller waits for. Sleeping otherwise.
fn every_core_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| pool_of(cores(), "flush", BackgroundPriority::Normal))
        .as_ref()
}

/// How the binning threads are scheduled while training runs, per thread (Linux; other
/// systems run them at normal priority). `FERROBOARD_BINNING_PRIORITY` chooses; why the
/// default is `Nice` is in docs/performance.md (`Idle` starves on a busy machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackgroundPriority {
    /// Like every other thread.
    Normal,
    /// `nice` 10 above the process's own (at most 19): about a tenth of a normal
    /// thread's share of a contended core.
    Nice,
    /// `SCHED_BATCH`: normal share, but never preempts a running thread on wakeup.
    Batch,
    /// `SCHED_IDLE`: runs when a core has nothing else to run (plus a trickle, so it
    /// never starves outright).
    Idle,
}

impl BackgroundPriority {
    pub const DEFAULT: BackgroundPriority = BackgroundPriority::Nice;

    /// From `FERROBOARD_BINNING_PRIORITY` (normal, nice, batch or idle), else the default.
    pub fn from_env() -> BackgroundPriority {
        match std::env::var("FERROBOARD_BINNING_PRIORITY").as_deref() {
            Ok("normal") => BackgroundPriority::Normal,
            Ok("nice") => BackgroundPriority::Nice,
            Ok("batch") => BackgroundPriority::Batch,
            Ok("idle") => BackgroundPriority::Idle,
            _ => BackgroundPriority::DEFAULT,
        }
    }

    /// Applies to the calling thread only. Best effort: a refusal leaves it as it was.
    pub fn apply_to_current_thread(self) {
        #[cfg(target_os = "linux")]
        {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: plain system calls on the calling thread (pid 0 / its own tid)
            // with a valid sched_param.
            unsafe {
                match self {
                    BackgroundPriority::Normal => {}
                    BackgroundPriority::Nice => {
                        // Linux applies a nice value per thread, by thread id. Relative to
                        // the thread's own: a process started under `nice -n 15` must not get
                        // binning threads more favoured than its training (as root, an
                        // absolute 10 would be).
                        let tid = libc::gettid() as libc::id_t;
                        let own = libc::getpriority(libc::PRIO_PROCESS, tid);
                        libc::setpriority(libc::PRIO_PROCESS, tid, (own + NICE_STEP).min(19));
                    }
                    BackgroundPriority::Batch => {
                        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
                    }
                    BackgroundPriority::Idle => {
                        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
                    }
                }
            }
        }
    }
}

/// How much nicer than the process the `nice` setting makes the binning threads.
#[cfg(target_os = "linux")]
const NICE_STEP: i32 = 10;

/// Threads that bin for this (writer) thread now: the pool `in_binning_pool` would use.
pub fn binning_threads() -> usize {
    in_binning_pool(rayon::current_num_threads)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pool_of(
    threads: usize,
    name: &'static str,
    priority: BackgroundPriority,
) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("ferroboard-{name}-{i}"))
        .start_handler(move |_| {
            crate::runtime::signals::block_async_signals();
            priority.apply_to_current_thread();
        })
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

    /// The nice value of the calling thread: the process's, for a thread the harness
    /// started (the tests may run under `nice`).
    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        // SAFETY: a plain query of the calling thread.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    /// The scheduling policy of the calling thread.
    #[cfg(target_os = "linux")]
    fn policy() -> i32 {
        // SAFETY: a plain query of the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn each_priority_is_applied_to_the_pool_threads_only() {
        for (priority, expected) in [
            (BackgroundPriority::Normal, libc::SCHED_OTHER),
            (BackgroundPriority::Nice, libc::SCHED_OTHER),
            (BackgroundPriority::Batch, libc::SCHED_BATCH),
            (BackgroundPriority::Idle, libc::SCHED_IDLE),
        ] {
            let pool = pool_of(1, "test", priority).expect("a thread starts");
            assert_eq!(pool.install(policy), expected, "{priority:?}");
            // SAFETY: plain queries of the calling thread.
            let nice = pool.install(|| unsafe {
                libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
            });
            let expected_nice = if priority == BackgroundPriority::Nice {
                (own_nice() + NICE_STEP).min(19)
            } else {
                own_nice()
            };
            assert_eq!(nice, expected_nice, "{priority:?}");
        }
        assert_eq!(
            policy(),
            libc::SCHED_OTHER,
            "the calling thread is untouched"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn binning_threads_follow_the_setting_and_flush_threads_do_not() {
        let binning = in_binning_pool(policy);
        let expected = match BackgroundPriority::from_env() {
            BackgroundPriority::Idle => libc::SCHED_IDLE,
            BackgroundPriority::Batch => libc::SCHED_BATCH,
            _ => libc::SCHED_OTHER,
        };
        assert_eq!(binning, expected);
        // SAFETY: plain queries of the calling thread.
        let nice =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        if BackgroundPriority::from_env() == BackgroundPriority::Nice {
            assert_eq!(in_binning_pool(nice), (own_nice() + NICE_STEP).min(19));
        }
        assert_eq!(
            with_caller_waiting(true, || in_binning_pool(nice)),
            own_nice()
        );
        assert_eq!(
            with_caller_waiting(true, || in_binning_pool(policy)),
            libc::SCHED_OTHER
        );
        // A thread started by the test harness itself is untouched.
        assert_eq!(policy(), libc::SCHED_OTHER);
    }
}
