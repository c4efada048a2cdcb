//! The background writer: a queue of jobs bounded by bytes, one worker thread that
//! encodes them and appends whole records to the event file in acceptance order, flush
//! barriers with fsync, and an error that sticks once the file cannot be written.
//!
//! Waking a sleeping thread costs a system call (~1-2 µs), more than a whole `add_scalar`
//! should, so callers wake the worker only when it is parked with nothing to do, when a
//! job is large, when `max_queue` jobs are waiting, or on flush/close. Otherwise the
//! worker collects what arrived every `BATCH_WINDOW`, which bounds how stale the file can
//! be without any flush.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::FerroError;
use crate::event_file::{now_secs, EventFile};
use crate::job::Job;
use crate::tf_record::append_record_with;

/// How long accepted events may wait before the worker writes them to the OS.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Jobs at least this large wake the worker at once: their encoding should start early.
const LARGE_JOB_BYTES: usize = 1 << 16;

#[derive(Clone, Debug)]
pub struct WriterConfig {
    pub dir: PathBuf,
    pub filename_suffix: String,
    /// Waiting jobs that make the caller wake the worker (the anchors' queue size).
    pub max_queue: usize,
    /// Longest time written data may stay without fsync.
    pub flush_secs: f64,
    /// Bytes of accepted but unwritten work above which callers block.
    pub max_pending_bytes: usize,
}

/// What went wrong, kept so every later call can report it.
#[derive(Clone, Debug)]
struct StickyError {
    kind: std::io::ErrorKind,
    os_code: Option<i32>,
    message: String,
    lost: u64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    pending_bytes: usize,
    /// Jobs accepted, written to the file, and covered by the last fsync.
    accepted: u64,
    written: u64,
    synced: u64,
    /// Highest `accepted` count a caller asked to be made durable.
    flush_target: u64,
    closing: bool,
    /// The worker sleeps without a timeout; the next job must wake it.
    parked: bool,
    error: Option<StickyError>,
}

struct Shared {
    state: Mutex<State>,
    /// Signals the worker: work, flush or close.
    work: Condvar,
    /// Signals callers: space freed, flush done, worker exited.
    progress: Condvar,
    path: PathBuf,
    config: WriterConfig,
}

pub struct EventWriter {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl EventWriter {
    /// Creates the event file, writes its header record and starts the worker.
    pub fn open(config: WriterConfig) -> Result<EventWriter, FerroError> {
        let mut file = EventFile::create(&config.dir, &config.filename_suffix).map_err(|e| {
            FerroError::Io {
                path: config.dir.clone(),
                lost: 0,
                source: e,
            }
        })?;
        let io_err = |path: &Path, e| FerroError::Io {
            path: path.to_owned(),
            lost: 0,
            source: e,
        };
        file.write(&EventFile::header_record(now_secs()))
            .map_err(|e| io_err(file.path(), e))?;
        let path = file.path().to_owned();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            path: path.clone(),
            config,
        });
        let worker_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ferroboard-writer".into())
            .spawn(move || worker_loop(&worker_shared, file))
            .map_err(|e| FerroError::Worker {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(EventWriter {
            shared,
            worker: Mutex::new(Some(handle)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Accepts a job without blocking, or hands it back when the byte budget is full.
    pub fn try_submit(&self, job: Job) -> Result<Option<Job>, FerroError> {
        let cost = job.cost();
        let mut st = self.shared.state.lock();
        self.check_usable(&st)?;
        if st.pending_bytes + cost > self.shared.config.max_pending_bytes && !st.queue.is_empty() {
            if st.parked {
                st.parked = false;
                self.shared.work.notify_one();
            }
            return Ok(Some(job));
        }
        self.accept(&mut st, job, cost);
        Ok(None)
    }

    /// Accepts a job, waiting while the byte budget is full. Call without the GIL.
    pub fn submit_blocking(&self, job: Job) -> Result<(), FerroError> {
        let cost = job.cost();
        let mut st = self.shared.state.lock();
        loop {
            self.check_usable(&st)?;
            if st.pending_bytes + cost <= self.shared.config.max_pending_bytes
                || st.queue.is_empty()
            {
                self.accept(&mut st, job, cost);
                return Ok(());
            }
            st.parked = false;
            self.shared.work.notify_one();
            self.shared.progress.wait(&mut st);
        }
    }

    fn accept(&self, st: &mut State, job: Job, cost: usize) {
        st.queue.push_back(job);
        st.pending_bytes += cost;
        st.accepted += 1;
        // Edge-triggered on `max_queue`: one wake per batch, not one per call after it.
        let wake = st.parked
            || cost >= LARGE_JOB_BYTES
            || st.queue.len() == self.shared.config.max_queue.max(1);
        if wake {
            st.parked = false;
            self.shared.work.notify_one();
        }
    }

    fn check_usable(&self, st: &State) -> Result<(), FerroError> {
        if let Some(err) = &st.error {
            return Err(self.sticky(err));
        }
        if st.closing {
            return Err(FerroError::Closed(self.shared.path.clone()));
        }
        Ok(())
    }

    fn sticky(&self, err: &StickyError) -> FerroError {
        let source = match err.os_code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(err.kind, err.message.clone()),
        };
        FerroError::Io {
            path: self.shared.path.clone(),
            lost: err.lost,
            source,
        }
    }

    /// Returns once every job accepted before the call is written and fsync'd.
    pub fn flush(&self) -> Result<(), FerroError> {
        let mut st = self.shared.state.lock();
        let target = st.accepted;
        if st.flush_target < target {
            st.flush_target = target;
        }
        loop {
            if let Some(err) = &st.error {
                return Err(self.sticky(err));
            }
            if st.synced >= target {
                return Ok(());
            }
            st.parked = false;
            self.shared.work.notify_one();
            self.shared.progress.wait(&mut st);
        }
    }

    /// Flushes, stops the worker and closes the file. Idempotent.
    pub fn close(&self) -> Result<(), FerroError> {
        {
            let mut st = self.shared.state.lock();
            st.closing = true;
            st.parked = false;
            self.shared.work.notify_one();
        }
        if let Some(handle) = self.worker.lock().take() {
            if handle.join().is_err() {
                let mut st = self.shared.state.lock();
                if st.error.is_none() {
                    st.error = Some(StickyError {
                        kind: std::io::ErrorKind::Other,
                        os_code: None,
                        message: "the writer thread panicked".into(),
                        lost: st.accepted - st.written,
                    });
                }
            }
        }
        let st = self.shared.state.lock();
        match &st.error {
            Some(err) => Err(self.sticky(err)),
            None => Ok(()),
        }
    }

    /// Jobs accepted so far (for tests and diagnostics).
    pub fn accepted(&self) -> u64 {
        self.shared.state.lock().accepted
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        // Accepted events must never be lost: a writer dropped without close still
        // drains its queue. The error, if any, has nowhere to go.
        let _ = self.close();
    }
}

fn worker_loop(shared: &Shared, mut file: EventFile) {
    let flush_every = Duration::from_secs_f64(shared.config.flush_secs.clamp(0.001, 1e6));
    let mut last_sync = Instant::now();
    let mut buffer: Vec<u8> = Vec::new();
    let mut batch: VecDeque<Job> = VecDeque::new();
    loop {
        let (closing, flush_target) = {
            let mut st = shared.state.lock();
            loop {
                let must_sync = st.flush_target > st.synced;
                if !st.queue.is_empty() || st.closing || must_sync {
                    break;
                }
                let unsynced = st.written > st.synced;
                let timeout = if unsynced {
                    flush_every.saturating_sub(last_sync.elapsed())
                } else {
                    BATCH_WINDOW
                };
                let timed_out = shared.work.wait_for(&mut st, timeout).timed_out();
                if timed_out && st.queue.is_empty() {
                    if st.written > st.synced && last_sync.elapsed() >= flush_every {
                        break; // periodic fsync (flush_secs)
                    }
                    if st.written == st.synced {
                        st.parked = true;
                        shared.work.wait(&mut st);
                        st.parked = false;
                    }
                }
            }
            // Swap rather than drain: O(1) under the lock however long the queue is.
            std::mem::swap(&mut batch, &mut st.queue);
            (st.closing, st.flush_target)
        };

        buffer.clear();
        let mut cost = 0usize;
        let count = batch.len() as u64;
        for job in batch.drain(..) {
            cost += job.cost();
            // Arguments are validated on the caller; a job that still fails to encode
            // is reported and skipped rather than stopping the writer.
            if let Err(e) = append_record_with(&mut buffer, |out| job.encode_into(out)) {
                eprintln!(
                    "ferroboard: dropped one event for {}: {e}",
                    shared.path.display()
                );
            }
        }
        let mut result = if buffer.is_empty() {
            Ok(())
        } else {
            file.write(&buffer)
        };
        let want_sync = {
            let st = shared.state.lock();
            flush_target > st.synced || closing || st.flush_target > st.synced
        } || last_sync.elapsed() >= flush_every;
        if result.is_ok() && want_sync {
            result = file.sync();
            last_sync = Instant::now();
        }

        let mut st = shared.state.lock();
        st.pending_bytes = st.pending_bytes.saturating_sub(cost);
        match result {
            Ok(()) => {
                st.written += count;
                if want_sync {
                    st.synced = st.written;
                }
            }
            Err(e) => {
                let lost = st.accepted - st.written;
                st.error = Some(StickyError {
                    kind: e.kind(),
                    os_code: e.raw_os_error(),
                    message: e.to_string(),
                    lost,
                });
                st.queue.clear();
                st.pending_bytes = 0;
                shared.progress.notify_all();
                return;
            }
        }
        let done = st.closing && st.queue.is_empty() && st.synced == st.accepted;
        shared.progress.notify_all();
        if done {
            return;
        }
    }
}
