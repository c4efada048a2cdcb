//! The background writer: a queue of jobs bounded by bytes, one worker thread that
//! encodes them and appends whole records to the event file in acceptance order, flush
//! barriers with fsync, and an error that sticks once the file cannot be written.
//!
//! Waking a sleeping thread costs a system call (~1-2 µs), more than a whole `add_scalar`
//! should, so callers wake the worker only when it is parked with nothing to do, when a
//! job is large, when `max_queue` jobs are waiting, or on flush/close. Otherwise the
//! worker collects what arrived every `BATCH_WINDOW`, which bounds how stale the file can
//! be without any flush: accepted events reach the OS within one window plus the time to
//! encode what is ahead of them (plus at most `MAX_BURST_DEFER` while a burst of large
//! snapshots is still arriving), so a killed process loses only that.
//!
//! Reliability rules the worker keeps (docs/architecture.md, G1-G9):
//! * a failed or short write is cut back to the last whole record, and nothing is ever
//!   written after it: the error sticks, every later call raises it (naming the file and
//!   the number of accepted events not saved), blocked callers wake up, and `close()`
//!   releases the thread and the file;
//! * after each write the file is checked to still be at its path; if it was deleted
//!   (or its directory was), the batch is written again to a new file with a header, and
//!   the caller is warned; if it was moved, later batches go to a new file;
//! * an event that fails to encode, panics its encoder or would be 2 GiB or more is
//!   dropped and reported, never written;
//! * a writer inherited through `fork()` never touches its lock or thread in the child.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::runtime::sync::{Condvar, Mutex};

use crate::error::FerroError;
use crate::format::event_file::{EventFile, FileStatus};
use crate::format::tf_record::{append_record_with, FRAME_OVERHEAD};
use crate::runtime::fallible;
use crate::runtime::faults::Action;
use crate::runtime::faults::{Faults, Op};
use crate::runtime::fork;
use crate::runtime::pools;
use crate::runtime::snapshot_pool;
use crate::store::segments::Segments;
use crate::store::uploader::{wait_uploaded, Target};
use crate::store::RemoteConfig;
use crate::summary::job::{Job, Tag};
use crate::summary::limits::MAX_EVENT_BYTES;

/// How long accepted events may wait before the worker writes them to the OS.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Jobs at least this large wake the worker at once: their encoding should start early.
const LARGE_JOB_BYTES: usize = 1 << 16;
/// A caller that handed over a large job this recently is likely still in a burst (one
/// histogram per parameter, say); the worker waits for it to finish.
const BURST_QUIET: Duration = Duration::from_millis(5);
/// The longest the worker holds back for a burst, so a steady stream cannot stall it,
/// and accepted events still reach the OS within ~50 ms (G3 in docs/architecture.md).
const MAX_BURST_DEFER: Duration = Duration::from_millis(30);

/// Default byte budget for accepted-but-unwritten work before callers block (exported to
/// Python as `_core.DEFAULT_MAX_PENDING_BYTES`, so it is defined once).
pub const DEFAULT_MAX_PENDING_BYTES: usize = 1 << 30;

#[derive(Clone, Debug)]
pub struct WriterConfig {
    pub dir: PathBuf,
    pub filename_suffix: String,
    /// Waiting jobs that make the caller wake the worker (torch's and tensorboardX's queue size).
    pub max_queue: usize,
    /// Longest time written data may stay without fsync.
    pub flush_secs: f64,
    /// Bytes of accepted but unwritten work above which callers block.
    pub max_pending_bytes: usize,
    /// Where the records go when the log dir is a URL: `dir` is then unused, records
    /// are staged locally and uploaded (`crate::store`).
    pub remote: Option<RemoteConfig>,
}

/// What went wrong, kept so every later call can report it.
#[derive(Clone, Debug)]
struct StickyError {
    path: PathBuf,
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
    /// When the last job of `LARGE_JOB_BYTES` or more was accepted.
    last_large_accept: Option<Instant>,
    /// The worker waits for a burst of large jobs to end: only a half-full budget,
    /// flush or close wake it.
    deferring: bool,
    error: Option<StickyError>,
    /// The file being written (it changes when the old one was deleted or moved).
    path: PathBuf,
    /// Warnings for the caller: the file was replaced, an event was dropped.
    notices: Vec<String>,
    /// Accepted events the worker left out (encoding failed, out of memory, too
    /// large); each was also reported by a notice. Counted in `written`: they are done.
    dropped: u64,
    /// The worker thread has returned.
    worker_done: bool,
    /// Slots reserved for values that arrive later, and the jobs accepted behind them.
    reserved: Reserved,
    /// Reserved slots given up without an event (device errors, close before the
    /// values came); each was counted in `written` and reported.
    cancelled: u64,
}

impl State {
    /// Gives up every unfilled slot (a close or exit cannot wait for a device) and tells
    /// the caller how many events that cost.
    fn cancel_reserved(&mut self, shared: &Shared, when: &str) {
        let count = self.reserved.cancel_all();
        if count > 0 {
            self.pending_bytes += count as usize * CANCELLED_COST;
            self.cancelled += count;
            let queue = &mut self.queue;
            self.reserved.take_ready(queue);
            shared.notify(
                self,
                format!(
                    "ferroboard: {count} event(s) whose values were still being computed \
                     were not written: the writer was {when} before they arrived"
                ),
            );
        }
    }
}

/// What a cancelled slot counts in the byte budget (`Job::cost` of an empty job).
const CANCELLED_COST: usize = 64;

struct Shared {
    state: Mutex<State>,
    /// Signals the worker: work, flush or close.
    work: Condvar,
    /// Signals callers: space freed, flush done, worker exited.
    progress: Condvar,
    /// Set with `State::notices`, so callers look for them without taking the lock.
    has_notices: AtomicBool,
    config: WriterConfig,
    max_event_bytes: usize,
    /// The fork generation the worker runs in.
    generation: u64,
    /// A remote writer's uploads (None for a local log dir).
    remote: Option<Arc<Target>>,
}

impl Shared {
    fn notify(&self, st: &mut State, message: String) {
        st.notices.push(message);
        self.has_notices.store(true, Ordering::Release);
    }
}

pub struct EventWriter {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The fork generation (`fork::generation`) this writer belongs to.
    generation: u64,
    pid: u32,
    /// The first file's path (for errors raised without taking the lock).
    origin: PathBuf,
}

impl EventWriter {
    /// Creates the event file, writes its header record and starts the worker.
    pub fn open(config: WriterConfig) -> Result<EventWriter, FerroError> {
        EventWriter::open_with_faults(config, Faults::from_env())
    }

    /// [`open`](Self::open) with a fault plan (always empty outside test builds).
    pub fn open_with_faults(
        mut config: WriterConfig,
        mut faults: Faults,
    ) -> Result<EventWriter, FerroError> {
        if config.flush_secs.is_nan() || config.flush_secs <= 0.0 {
            return Err(FerroError::InvalidArgument(format!(
                "flush_secs must be a positive number, got {}",
                config.flush_secs
            )));
        }
        fork::install();
        // Absolute, so that a later chdir neither misplaces a new file nor makes the
        // file look deleted.
        if let Ok(dir) = std::path::absolute(&config.dir) {
            config.dir = dir;
        }
        let (file, segments) = match &config.remote {
            None => {
                let file = EventFile::create_with_header(
                    &config.dir,
                    &config.filename_suffix,
                    None,
                    &mut faults,
                )
                .map_err(|(e, path)| FerroError::Io {
                    path,
                    lost: 0,
                    source: e,
                })?;
                (file, None)
            }
            Some(remote) => {
                let (file, segments) = Segments::open(
                    remote,
                    &config.filename_suffix,
                    config.flush_secs,
                    &mut faults,
                )?;
                (file, Some(segments))
            }
        };
        let remote = segments.as_ref().map(|s| Arc::clone(s.target()));
        let path = file.path().to_owned();
        let max_event_bytes = faults.max_event_bytes().unwrap_or(MAX_EVENT_BYTES);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                path: path.clone(),
                ..State::default()
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            has_notices: AtomicBool::new(false),
            config,
            max_event_bytes,
            generation: fork::generation(),
            remote,
        });
        let worker_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ferroboard-writer".into())
            .spawn(move || {
                crate::runtime::signals::block_async_signals();
                Worker::new(&worker_shared, file, faults, segments).run()
            })
            .map_err(|e| FerroError::Worker {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        exit_hooks::register(&shared);
        Ok(EventWriter {
            shared,
            worker: Mutex::new(Some(handle)),
            generation: fork::generation(),
            pid: std::process::id(),
            origin: path,
        })
    }

    /// The event file being written (a new one after the old one was deleted).
    pub fn path(&self) -> PathBuf {
        if self.check_process().is_err() {
            return self.origin.clone();
        }
        self.shared.state.lock().path.clone()
    }

    /// Events of this many bytes or more must be rejected.
    pub fn max_event_bytes(&self) -> usize {
        self.shared.max_event_bytes
    }

    /// Errors when this writer was inherited through fork: its worker is not here.
    #[inline]
    fn check_process(&self) -> Result<(), FerroError> {
        if fork::generation() == self.generation {
            Ok(())
        } else {
            Err(FerroError::Forked {
                path: self.origin.clone(),
                pid: self.pid,
            })
        }
    }

    /// Accepts a job without blocking, or hands it back when the byte budget is full.
    pub fn try_submit(&self, job: Job) -> Result<Option<Job>, FerroError> {
        self.check_process()?;
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
        self.check_process()?;
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
        if !st.reserved.is_empty() {
            // Behind a slot still waiting for its values: written once it is filled.
            st.reserved.hold(job);
            st.pending_bytes += cost;
            st.accepted += 1;
            return;
        }
        st.queue.push_back(job);
        st.pending_bytes += cost;
        st.accepted += 1;
        let large = cost >= LARGE_JOB_BYTES;
        if large {
            st.last_large_accept = Some(Instant::now());
        }
        let wake = if st.deferring {
            st.pending_bytes * 2 >= self.shared.config.max_pending_bytes
        } else {
            // Edge-triggered on `max_queue`: one wake per batch, not one per call after it.
            st.parked || large || st.queue.len() == self.shared.config.max_queue.max(1)
        };
        if wake {
            st.parked = false;
            st.deferring = false;
            self.shared.work.notify_one();
        }
    }

    fn check_usable(&self, st: &State) -> Result<(), FerroError> {
        if let Some(err) = &st.error {
            return Err(sticky(err));
        }
        if st.closing {
            return Err(FerroError::Closed(st.path.clone()));
        }
        Ok(())
    }

    /// Reserves the next place in file order for an event whose values come later
    /// (`fill`) or never (`cancel`); its step and wall time are fixed now. Never blocks.
    pub fn reserve(&self, step: Option<i64>, wall_time: f64) -> Result<u64, FerroError> {
        self.check_process()?;
        let mut st = self.shared.state.lock();
        self.check_usable(&st)?;
        let seq = st.accepted;
        st.reserved.reserve(seq, step, wall_time);
        st.accepted += 1;
        Ok(seq)
    }

    /// Gives reserved slot `seq` its job; what was waiting behind it may now be written.
    /// Never blocks: the job's bytes count in the budget, which later calls respect.
    pub fn fill(&self, seq: u64, job: Job) -> Result<(), FerroError> {
        self.check_process()?;
        let cost = job.cost();
        let mut st = self.shared.state.lock();
        self.check_usable(&st)?;
        st.reserved.fill(seq, job)?;
        st.pending_bytes += cost;
        self.release_ready(&mut st);
        Ok(())
    }

    /// Gives up reserved slot `seq` (it writes nothing); false if it was not waiting.
    pub fn cancel(&self, seq: u64) -> Result<bool, FerroError> {
        self.check_process()?;
        let mut st = self.shared.state.lock();
        if !st.reserved.cancel(seq) {
            return Ok(false);
        }
        st.pending_bytes += CANCELLED_COST;
        st.cancelled += 1;
        self.release_ready(&mut st);
        Ok(true)
    }

    /// Moves the jobs no longer behind an unfilled slot to the worker's queue.
    fn release_ready(&self, st: &mut State) {
        let queue = &mut st.queue;
        if st.reserved.take_ready(queue) > 0 {
            st.parked = false;
            st.deferring = false;
            self.shared.work.notify_one();
        }
    }

    /// Reserved slots still waiting for their values.
    pub fn unfilled(&self) -> Result<usize, FerroError> {
        self.check_process()?;
        Ok(self.shared.state.lock().reserved.unfilled())
    }

    /// Reserved slots given up so far (each reported when it happened).
    pub fn cancelled(&self) -> Result<u64, FerroError> {
        self.check_process()?;
        Ok(self.shared.state.lock().cancelled)
    }

    /// Returns once every job accepted before the call is written and fsync'd, up to
    /// the first reserved slot still waiting for its values: the caller fills its own
    /// slots first (a slot reserved meanwhile by another thread must not hold it up).
    pub fn flush(&self) -> Result<(), FerroError> {
        self.check_process()?;
        let mut st = self.shared.state.lock();
        let target = st.reserved.first_unfilled().unwrap_or(st.accepted);
        if st.flush_target < target {
            st.flush_target = target;
        }
        loop {
            if let Some(err) = &st.error {
                return Err(sticky(err));
            }
            if st.synced >= target {
                return Ok(());
            }
            st.parked = false;
            self.shared.work.notify_one();
            self.shared.progress.wait(&mut st);
        }
    }

    /// Flushes, stops the worker and closes the file. Idempotent; after a failure it
    /// raises the error (again) and still releases the thread and the file.
    pub fn close(&self) -> Result<(), FerroError> {
        self.close_within(None)
    }

    /// [`close`](Self::close); a remote writer waits for its uploads at most `timeout`
    /// (default: its `close_timeout`).
    pub fn close_within(&self, timeout: Option<Duration>) -> Result<(), FerroError> {
        self.check_process()?;
        {
            let mut st = self.shared.state.lock();
            if !st.closing && st.error.is_none() {
                st.cancel_reserved(&self.shared, "closed");
            }
            st.closing = true;
            st.parked = false;
            self.shared.work.notify_one();
        }
        if let Some(handle) = self.worker.lock().take() {
            if handle.join().is_err() {
                let mut st = self.shared.state.lock();
                if st.error.is_none() {
                    st.error = Some(StickyError {
                        path: st.path.clone(),
                        kind: std::io::ErrorKind::Other,
                        os_code: None,
                        message: "the writer thread panicked".into(),
                        lost: st.accepted - st.synced,
                    });
                }
            }
        }
        if let Some(err) = &self.shared.state.lock().error {
            return Err(sticky(err));
        }
        match (&self.shared.remote, &self.shared.config.remote) {
            (Some(target), Some(remote)) => {
                let deadline = Instant::now() + timeout.unwrap_or(remote.close_timeout);
                // The worker has already asked for the last publish.
                wait_uploaded(target, deadline, "event")
            }
            _ => Ok(()),
        }
    }

    /// The URL of a remote writer's log dir (None for a local one).
    pub fn url(&self) -> Option<String> {
        self.shared.remote.as_ref().map(|t| t.dir.url.clone())
    }

    /// A remote writer: (events staged locally, events in the store).
    pub fn upload_counts(&self) -> Option<(u64, u64)> {
        self.shared.remote.as_ref().map(|t| t.counts())
    }

    /// Jobs accepted so far (for tests and diagnostics).
    pub fn accepted(&self) -> Result<u64, FerroError> {
        self.check_process()?;
        Ok(self.shared.state.lock().accepted)
    }

    /// Accepted events dropped by the worker instead of written (each was warned about).
    pub fn dropped(&self) -> Result<u64, FerroError> {
        self.check_process()?;
        Ok(self.shared.state.lock().dropped)
    }

    /// Whether warnings are waiting (one atomic load: cheap enough for every call).
    #[inline]
    pub fn has_notices(&self) -> bool {
        self.shared.has_notices.load(Ordering::Acquire) && self.check_process().is_ok()
    }

    /// Takes the waiting warnings: file replaced after deletion, events dropped.
    pub fn take_notices(&self) -> Vec<String> {
        if self.check_process().is_err() {
            return Vec::new();
        }
        let mut st = self.shared.state.lock();
        self.shared.has_notices.store(false, Ordering::Release);
        std::mem::take(&mut st.notices)
    }
}

fn sticky(err: &StickyError) -> FerroError {
    let source = match err.os_code {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::new(err.kind, err.message.clone()),
    };
    FerroError::Io {
        path: err.path.clone(),
        lost: err.lost,
        source,
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if self.check_process().is_err() {
            // Inherited through fork: the worker does not exist here, and its lock may
            // be held forever. Leave everything as it is (`get_mut` takes no lock).
            if let Some(handle) = self.worker.get_mut().take() {
                std::mem::forget(handle);
            }
            return;
        }
        // Accepted events must never be lost: a writer dropped without close still
        // drains its queue. The error, if any, has nowhere to go.
        let _ = self.close();
    }
}

mod exit_hooks;
mod reserved;
#[cfg(test)]
mod tests;
mod worker;

use reserved::Reserved;

use worker::Worker;
