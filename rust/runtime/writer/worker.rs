//! The worker thread: takes batches off the queue, encodes them, appends whole records,
//! fsyncs on schedule and on flush, and turns write failures into the sticky error.

use super::*;

/// Tells waiters when the worker returns, and marks the writer failed if the worker
/// unwinds, so no caller waits for it.
pub(super) struct ExitGuard<'a>(&'a Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        st.worker_done = true;
        if !std::thread::panicking() {
            self.0.progress.notify_all();
            return;
        }
        if st.error.is_none() {
            st.error = Some(StickyError {
                path: st.path.clone(),
                kind: std::io::ErrorKind::Other,
                os_code: None,
                message: "the writer thread panicked".into(),
                lost: st.accepted - st.synced,
            });
        }
        st.queue.clear();
        st.reserved.clear();
        st.pending_bytes = 0;
        self.0.progress.notify_all();
    }
}

/// Why the worker stopped writing: the error and the file (or directory) it concerns.
pub(super) struct Failure {
    error: std::io::Error,
    path: PathBuf,
    /// Whether data already written may not be durable (fsync failed).
    unsynced_lost: bool,
}

pub(super) struct Worker<'a> {
    shared: &'a Shared,
    /// The event file, or a remote writer's current staging segment.
    file: EventFile,
    faults: Faults,
    flush_every: Duration,
    last_sync: Instant,
    /// A remote writer's segments and publishes (None for a local log dir).
    remote: Option<Segments>,
}

impl<'a> Worker<'a> {
    pub(super) fn new(
        shared: &'a Shared,
        file: EventFile,
        faults: Faults,
        remote: Option<Segments>,
    ) -> Worker<'a> {
        Worker {
            shared,
            file,
            faults,
            flush_every: Duration::from_secs_f64(shared.config.flush_secs.clamp(0.001, 1e6)),
            last_sync: Instant::now(),
            remote,
        }
    }

    pub(super) fn run(mut self) {
        let shared = self.shared;
        let _guard = ExitGuard(shared);
        // The default edges' tables (~1 ms, once per process), before the first
        // histogram waits for them. (The binning threads start with the first large
        // histogram: started here, they would outlive every writer, and a process must
        // end with the threads it had before its writers.)
        let _ = crate::summary::histogram::try_default_edges();
        let mut buffer: Vec<u8> = Vec::new();
        let mut batch: VecDeque<Job> = VecDeque::new();
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let (closing, flush_target, backlog) = self.take_batch(&mut batch);

            buffer.clear();
            let mut cost = 0usize;
            let count = batch.len() as u64;
            for job in &batch {
                cost += job.cost();
            }
            // A caller blocked in flush()/close() leaves its core free for binning.
            // The binning threads yield to training (pools.rs); a backlog of half the
            // memory budget must not wait for idle cores, so it gets every core too.
            let caller_waiting = closing || flush_target > 0 || backlog;
            let faults = &mut self.faults;
            let lost = pools::with_caller_waiting(caller_waiting, || match fork::child_pool() {
                // In a forked child, parallel encoders must not use the parent's pools.
                Some(pool) => pool.install(|| {
                    encode_batch(
                        &mut batch,
                        &mut buffer,
                        &mut dropped,
                        shared.max_event_bytes,
                        faults,
                    )
                }),
                None => encode_batch(
                    &mut batch,
                    &mut buffer,
                    &mut dropped,
                    shared.max_event_bytes,
                    faults,
                ),
            });

            let mut result = if buffer.is_empty() {
                Ok(())
            } else {
                self.write_batch(&buffer)
            };
            let want_sync = flush_target > 0 || closing || self.sync_due();
            let mut synced_now = false;
            if result.is_ok() && want_sync {
                result = self.sync();
                synced_now = result.is_ok();
            }
            if result.is_ok() {
                result = self.publish(flush_target > 0, closing);
            }

            let mut st = shared.state.lock();
            st.pending_bytes = st.pending_bytes.saturating_sub(cost);
            st.dropped += lost;
            for message in dropped.drain(..) {
                shared.notify(&mut st, message);
            }
            match result {
                Ok(()) => {
                    st.written += count;
                    if synced_now {
                        st.synced = st.written;
                    }
                    if self.remote.is_some() && st.path != self.file.path() {
                        st.path = self.file.path().to_owned(); // a new segment
                    }
                }
                Err(failure) => {
                    let lost = if failure.unsynced_lost {
                        st.accepted - st.synced
                    } else {
                        st.accepted - st.written
                    };
                    st.error = Some(StickyError {
                        path: failure.path,
                        kind: failure.error.kind(),
                        os_code: failure.error.raw_os_error(),
                        message: failure.error.to_string(),
                        lost,
                    });
                    st.queue.clear();
                    st.reserved.clear();
                    st.pending_bytes = 0;
                    shared.progress.notify_all();
                    return; // drops the file: its descriptor is released at once
                }
            }
            let done = st.closing && st.queue.is_empty() && st.synced == st.accepted;
            if done && !closing && self.remote.is_some() {
                // close() came while this iteration ran: the last publish is still due.
                drop(st);
                let result = self.publish(false, true);
                st = shared.state.lock();
                if let Err(failure) = result {
                    st.error = Some(StickyError {
                        path: failure.path,
                        kind: failure.error.kind(),
                        os_code: failure.error.raw_os_error(),
                        message: failure.error.to_string(),
                        lost: 0,
                    });
                }
            }
            shared.progress.notify_all();
            if done {
                return;
            }
        }
    }

    fn sync_due(&self) -> bool {
        self.last_sync.elapsed() >= self.flush_every
    }

    /// Waits for work and moves the queue into `batch`. Returns whether the writer is
    /// closing, the flush target if one is pending (0 otherwise), and whether accepted
    /// but unwritten work fills half the memory budget.
    fn take_batch(&mut self, batch: &mut VecDeque<Job>) -> (bool, u64, bool) {
        let shared = self.shared;
        let mut st = shared.state.lock();
        let mut polled = false;
        loop {
            if !st.queue.is_empty() || st.closing || st.flush_target > st.synced {
                break;
            }
            let until_sync = (st.written > st.synced)
                .then(|| self.flush_every.saturating_sub(self.last_sync.elapsed()));
            if until_sync == Some(Duration::ZERO) {
                break; // periodic fsync (flush_secs)
            }
            let until_publish = self.remote.as_ref().and_then(Segments::until_due);
            if until_publish == Some(Duration::ZERO) {
                break; // a remote writer's publish
            }
            let until_sync = until_sync.into_iter().chain(until_publish).min();
            if !polled {
                // Callers may still be adding: look again after one window instead of
                // making each of them wake us.
                let window = until_sync.map_or(BATCH_WINDOW, |d| d.min(BATCH_WINDOW));
                let _ = shared.work.wait_for(&mut st, window);
                polled = true;
            } else {
                // Idle: the next job wakes us (`parked`), or the fsync deadline does, or
                // the time to free snapshot buffers no one reused.
                st.parked = true;
                let pool_due = snapshot_pool::next_release();
                let until_pool = pool_due.map(|t| t.saturating_duration_since(Instant::now()));
                match until_sync.into_iter().chain(until_pool).min() {
                    Some(d) => {
                        let _ = shared.work.wait_for(&mut st, d);
                    }
                    None => shared.work.wait(&mut st),
                }
                st.parked = false;
                if pool_due.is_some_and(|t| Instant::now() >= t) {
                    drop(st); // callers need not wait while memory is unmapped
                    snapshot_pool::release_idle();
                    st = shared.state.lock();
                }
            }
        }
        // While the caller is still handing over large snapshots, encoding them now would
        // take CPU and memory bandwidth from its copies (on a 2-core machine, the
        // all-parameter histograms of a ResNet-50 took twice as long): wait for the burst
        // to end, unless the budget is half used or someone flushes or closes.
        let defer_until = Instant::now() + MAX_BURST_DEFER;
        loop {
            let urgent = st.closing
                || st.flush_target > st.synced
                || st.queue.is_empty()
                || st.pending_bytes * 2 >= shared.config.max_pending_bytes;
            let since_large = st.last_large_accept.map(|t| t.elapsed());
            let now = Instant::now();
            match since_large {
                Some(quiet) if !urgent && quiet < BURST_QUIET && now < defer_until => {
                    st.deferring = true;
                    let _ = shared
                        .work
                        .wait_for(&mut st, (BURST_QUIET - quiet).min(defer_until - now));
                    st.deferring = false;
                }
                _ => break,
            }
        }
        // Test builds only: `hold@lock` makes the worker sleep here, holding its lock.
        let _ = self.faults.next(Op::Lock);
        // Swap rather than drain: O(1) under the lock however long the queue is.
        std::mem::swap(batch, &mut st.queue);
        let flush_target = if st.flush_target > st.synced {
            st.flush_target
        } else {
            0
        };
        let backlog = st.pending_bytes * 2 >= shared.config.max_pending_bytes;
        (st.closing, flush_target, backlog)
    }

    /// A remote writer: asks for the publishes that are due (all of them at close).
    fn publish(&mut self, flushed: bool, closing: bool) -> Result<(), Failure> {
        let Some(remote) = self.remote.as_mut() else {
            return Ok(());
        };
        if flushed {
            remote.request();
        }
        let result = if closing {
            remote.finish(&self.file)
        } else {
            remote.publish_if_due(&self.file)
        };
        result.map_err(|error| Failure {
            error,
            path: self.file.path().to_owned(),
            unsynced_lost: false,
        })
    }

    /// Writes whole records; afterwards makes sure they are in the file at its path.
    fn write_batch(&mut self, records: &[u8]) -> Result<(), Failure> {
        if let Some(remote) = self.remote.as_mut() {
            // Staging segments are the writer's own files, read through open handles:
            // no deleted-or-moved check, segments change only by sealing.
            return remote
                .write(&mut self.file, records, &mut self.faults)
                .map_err(|(error, path)| Failure {
                    error,
                    path,
                    unsynced_lost: false,
                });
        }
        self.file
            .write(records, &mut self.faults)
            .map_err(|error| Failure {
                error,
                path: self.file.path().to_owned(),
                unsynced_lost: false,
            })?;
        match self.file.status() {
            FileStatus::Present => Ok(()),
            FileStatus::Deleted => {
                // The batch went to a file no one can see: write it again, to a new one.
                self.replace_file("was deleted", false)?;
                self.file
                    .write(records, &mut self.faults)
                    .map_err(|error| Failure {
                        error,
                        path: self.file.path().to_owned(),
                        unsynced_lost: false,
                    })
            }
            FileStatus::Moved => {
                // The batch is in the moved file, which readers can still find.
                self.replace_file("was moved or replaced", true)
            }
        }
    }

    /// Starts a new file (with its header) in the log directory, creating the directory
    /// again if it was deleted, and tells the caller.
    fn replace_file(&mut self, what_happened: &str, sync_old: bool) -> Result<(), Failure> {
        let old = self.file.path().to_owned();
        if sync_old {
            // A moved file is still read: its data must be durable before later data
            // is (a reader takes the new file only after the old one).
            let _ = self.file.sync(&mut self.faults);
        }
        let config = &self.shared.config;
        let file = EventFile::create_with_header(
            &config.dir,
            &config.filename_suffix,
            Some(self.file.secs()),
            &mut self.faults,
        )
        .map_err(|(error, path)| Failure {
            error,
            path,
            unsynced_lost: false,
        })?;
        let message = format!(
            "ferroboard: event file {} {what_happened}; writing continues in {}",
            old.display(),
            file.path().display()
        );
        self.file = file;
        let mut st = self.shared.state.lock();
        st.path = self.file.path().to_owned();
        self.shared.notify(&mut st, message);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Failure> {
        let result = self.file.sync(&mut self.faults);
        self.last_sync = Instant::now();
        result.map_err(|error| Failure {
            error,
            path: self.file.path().to_owned(),
            unsynced_lost: true,
        })
    }
}

/// Frames every job of `batch` into `buffer`. A job that fails to encode, runs out of
/// memory, panics, or makes an event of `max_event_bytes` or more is left out and
/// described in `dropped`; the others are written. Returns how many were left out.
fn encode_batch(
    batch: &mut VecDeque<Job>,
    buffer: &mut Vec<u8>,
    dropped: &mut Vec<String>,
    max_event_bytes: usize,
    faults: &mut Faults,
) -> u64 {
    let mut lost = 0;
    for job in batch.drain(..) {
        if job.is_cancelled() {
            continue; // counted as finished; nothing to write
        }
        let start = buffer.len();
        // Only what a report needs, taken before the job is consumed (short tags are
        // stored inline: no allocation).
        let tag = Tag::from(job.tag());
        let step = job.step.unwrap_or(0);
        let about = || format!("(tag {:?}, step {step})", tag.as_str());
        let forced_oom = faults.next(Op::Encode) == Some(Action::OutOfMemory);
        fallible::arm_for_test(forced_oom);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            append_record_with(buffer, |out| job.encode_into(out))
        }));
        if fallible::arm_for_test(false) {
            // Test builds: the event allocated nothing fallibly on this thread; the
            // injected failure still drops it, as a real one there would have.
            buffer.truncate(start);
            lost += 1;
            dropped.push(format!(
                "ferroboard: dropped an event {}: out of memory (injected)",
                about()
            ));
            continue;
        }
        let message = match outcome {
            Ok(Ok(())) => {
                let size = buffer.len() - start - FRAME_OVERHEAD;
                if size < max_event_bytes {
                    continue;
                }
                buffer.truncate(start);
                format!(
                    "ferroboard: dropped an event of {size} bytes {}: events of \
                     {max_event_bytes} bytes or more cannot be read back",
                    about()
                )
            }
            Ok(Err(FerroError::OutOfMemory { what, bytes })) => {
                // `append_record_with` has already cut the partial record away.
                format!(
                    "ferroboard: dropped an event {}: out of memory ({what} needs {bytes} \
                     bytes); the other events are written",
                    about()
                )
            }
            Ok(Err(e)) => format!("ferroboard: dropped an event {}: {e}", about()),
            Err(_) => {
                buffer.truncate(start);
                format!(
                    "ferroboard: dropped an event {}: its encoder panicked",
                    about()
                )
            }
        };
        lost += 1;
        dropped.push(message);
    }
    lost
}
