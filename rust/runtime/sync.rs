//! Mutex and condition variable with parking_lot's calling style, built on `std::sync`.
//!
//! parking_lot keeps waiting threads in one process-wide table. After `fork()` the child
//! inherits that table with entries (and possibly a held bucket lock) of the parent's
//! threads, which do not exist there: a child notifying its own, new writer then crashed
//! in `notify_one_slow` (about one fork in thirty in `test_durability.py`). std's futex
//! primitives keep all their state in the object itself, so a child's new writer shares
//! nothing with the parent's threads. Poisoning is ignored: a panicking holder cannot
//! leave the writer's plain counters half-updated in a way the next holder cannot read.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

pub struct Mutex<T>(std::sync::Mutex<T>);

/// A held lock. Always holds the std guard except for the instant a condition variable
/// wait hands it over and takes it back.
pub struct MutexGuard<'a, T>(Option<std::sync::MutexGuard<'a, T>>);

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(guard) => guard,
            None => unreachable!("a MutexGuard is only empty inside Condvar::wait"),
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.0 {
            Some(guard) => guard,
            None => unreachable!("a MutexGuard is only empty inside Condvar::wait"),
        }
    }
}

/// Whether a timed wait ended by its deadline.
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

#[derive(Default)]
pub struct Condvar(std::sync::Condvar);

impl Condvar {
    pub const fn new() -> Self {
        Condvar(std::sync::Condvar::new())
    }

    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    pub fn notify_all(&self) {
        self.0.notify_all();
    }

    pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        if let Some(inner) = guard.0.take() {
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }
    }

    pub fn wait_for<T>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        let mut timed_out = false;
        if let Some(inner) = guard.0.take() {
            let (inner, result) = self
                .0
                .wait_timeout(inner, timeout)
                .unwrap_or_else(|e| e.into_inner());
            timed_out = result.timed_out();
            guard.0 = Some(inner);
        }
        WaitTimeoutResult(timed_out)
    }

    pub fn wait_until<T>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let result = self.wait_for(guard, timeout);
        WaitTimeoutResult(result.timed_out() || Instant::now() >= deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn wait_and_notify_hand_the_lock_back() {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let other = Arc::clone(&pair);
        let t = std::thread::spawn(move || {
            let (m, c) = &*other;
            *m.lock() = 7;
            c.notify_all();
        });
        let (m, c) = &*pair;
        let mut g = m.lock();
        while *g != 7 {
            c.wait_for(&mut g, Duration::from_millis(50));
        }
        assert_eq!(*g, 7);
        drop(g);
        t.join().unwrap();
        let mut g = m.lock();
        assert!(c.wait_for(&mut g, Duration::from_millis(1)).timed_out());
        assert!(c.wait_until(&mut g, Instant::now()).timed_out());
    }
}
