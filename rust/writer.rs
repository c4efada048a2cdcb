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

use crate::sync::{Condvar, Mutex};

use crate::error::FerroError;
use crate::event_file::{EventFile, FileStatus};
use crate::fallible;
use crate::faults::Action;
use crate::faults::{Faults, Op};
use crate::fork;
use crate::job::{Job, Tag};
use crate::limits::MAX_EVENT_BYTES;
use crate::pools;
use crate::snapshot_pool;
use crate::tf_record::{append_record_with, FRAME_OVERHEAD};

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
}

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
        fork::install();
        // Absolute, so that a later chdir neither misplaces a new file nor makes the
        // file look deleted.
        if let Ok(dir) = std::path::absolute(&config.dir) {
            config.dir = dir;
        }
        let file =
            EventFile::create_with_header(&config.dir, &config.filename_suffix, None, &mut faults)
                .map_err(|(e, path)| FerroError::Io {
                    path,
                    lost: 0,
                    source: e,
                })?;
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
        });
        let worker_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ferroboard-writer".into())
            .spawn(move || {
                crate::signals::block_async_signals();
                Worker::new(&worker_shared, file, faults).run()
            })
            .map_err(|e| FerroError::Worker {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        exit::register(&shared);
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

    /// Returns once every job accepted before the call is written and fsync'd.
    pub fn flush(&self) -> Result<(), FerroError> {
        self.check_process()?;
        let mut st = self.shared.state.lock();
        let target = st.accepted;
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
        self.check_process()?;
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
                        path: st.path.clone(),
                        kind: std::io::ErrorKind::Other,
                        os_code: None,
                        message: "the writer thread panicked".into(),
                        lost: st.accepted - st.synced,
                    });
                }
            }
        }
        let st = self.shared.state.lock();
        match &st.error {
            Some(err) => Err(sticky(err)),
            None => Ok(()),
        }
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

/// Tells waiters when the worker returns, and marks the writer failed if the worker
/// unwinds, so no caller waits for it.
struct ExitGuard<'a>(&'a Shared);

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
        st.pending_bytes = 0;
        self.0.progress.notify_all();
    }
}

/// Why the worker stopped writing: the error and the file (or directory) it concerns.
struct Failure {
    error: std::io::Error,
    path: PathBuf,
    /// Whether data already written may not be durable (fsync failed).
    unsynced_lost: bool,
}

struct Worker<'a> {
    shared: &'a Shared,
    file: EventFile,
    faults: Faults,
    flush_every: Duration,
    last_sync: Instant,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared, file: EventFile, faults: Faults) -> Worker<'a> {
        Worker {
            shared,
            file,
            faults,
            flush_every: Duration::from_secs_f64(shared.config.flush_secs.clamp(0.001, 1e6)),
            last_sync: Instant::now(),
        }
    }

    fn run(mut self) {
        let shared = self.shared;
        let _guard = ExitGuard(shared);
        let mut buffer: Vec<u8> = Vec::new();
        let mut batch: VecDeque<Job> = VecDeque::new();
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let (closing, flush_target) = self.take_batch(&mut batch);

            buffer.clear();
            let mut cost = 0usize;
            let count = batch.len() as u64;
            for job in &batch {
                cost += job.cost();
            }
            // A caller blocked in flush()/close() leaves its core free for binning.
            let caller_waiting = closing || flush_target > 0;
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
                    st.pending_bytes = 0;
                    shared.progress.notify_all();
                    return; // drops the file: its descriptor is released at once
                }
            }
            let done = st.closing && st.queue.is_empty() && st.synced == st.accepted;
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
    /// closing and the flush target if one is pending (0 otherwise).
    fn take_batch(&mut self, batch: &mut VecDeque<Job>) -> (bool, u64) {
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
        (st.closing, flush_target)
    }

    /// Writes whole records; afterwards makes sure they are in the file at its path.
    fn write_batch(&mut self, records: &[u8]) -> Result<(), Failure> {
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

/// The last line of G4 (every accepted event saved at exit): at `exit()`, after Python's
/// own atexit hook has closed the writers it knows, whatever writer of this process is
/// still open (made by an atexit hook that ran later, fed by a daemon thread, or kept
/// alive by an uncollected reference cycle) is drained and closed. The wait is bounded,
/// so exit never hangs on a stuck disk.
mod exit {
    use std::sync::atomic::{AtomicPtr, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
    use std::time::{Duration, Instant};

    use super::Shared;
    use crate::fork;

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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobKind;
    use crate::tf_record::{read_records, ReadStop};
    use std::path::Path;

    fn scalar(step: i64) -> Job {
        Job {
            step: Some(step),
            wall_time: 1.0,
            kind: JobKind::Scalar {
                tag: "s".into(),
                value: step as f64,
                new_style: false,
                double_precision: false,
            },
        }
    }

    fn config(dir: &Path) -> WriterConfig {
        WriterConfig {
            dir: dir.to_owned(),
            filename_suffix: String::new(),
            max_queue: 10,
            flush_secs: 120.0,
            max_pending_bytes: 1 << 30,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ferroboard-writer-{name}-{}-{}",
            std::process::id(),
            crate::event_file::now_secs()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open(dir: &Path, faults: &str) -> EventWriter {
        EventWriter::open_with_faults(config(dir), Faults::parse(faults).unwrap()).unwrap()
    }

    /// Steps of every scalar in the file; asserts the file is made of whole records.
    fn steps(path: &Path) -> Vec<i64> {
        use prost::Message;
        let data = std::fs::read(path).unwrap();
        let (records, stop) = read_records(&data);
        assert_eq!(stop, ReadStop::Clean, "{}", path.display());
        let events: Vec<crate::proto::Event> = records
            .iter()
            .map(|r| crate::proto::Event::decode(*r).unwrap())
            .collect();
        assert_eq!(
            events[0].what,
            Some(crate::proto::EventWhat::FileVersion("brain.Event:2".into()))
        );
        events[1..].iter().map(|e| e.step).collect()
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn short_write_is_cut_back_and_the_error_sticks() {
        let dir = temp_dir("short");
        let w = open(&dir, "short@write:2:20");
        for i in 0..5 {
            w.try_submit(scalar(i)).unwrap();
        }
        w.flush().unwrap();
        for i in 5..10 {
            w.try_submit(scalar(i)).unwrap();
        }
        let err = w.flush().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("5 accepted event(s) not saved"), "{text}");
        assert!(text.contains(&w.path().display().to_string()), "{text}");
        // Every later call raises the same error, promptly.
        match w.try_submit(scalar(99)) {
            Err(e) => assert_eq!(e.to_string(), text),
            Ok(_) => panic!("a job was accepted after the failure"),
        }
        assert_eq!(w.flush().unwrap_err().to_string(), text);
        assert_eq!(w.close().unwrap_err().to_string(), text);
        assert_eq!(w.close().unwrap_err().to_string(), text);
        assert_eq!(steps(&w.path()), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn fsync_failure_is_reported_by_flush() {
        let dir = temp_dir("fsync");
        let w = open(&dir, "eio@fsync:2");
        w.try_submit(scalar(0)).unwrap();
        w.flush().unwrap();
        w.try_submit(scalar(1)).unwrap();
        let err = w.flush().unwrap_err();
        assert!(
            matches!(&err, FerroError::Io { source, lost: 1, .. }
            if source.raw_os_error() == Some(libc::EIO)),
            "{err}"
        );
    }

    #[test]
    fn blocked_callers_wake_when_the_worker_dies() {
        let dir = temp_dir("blocked");
        let mut cfg = config(&dir);
        cfg.max_pending_bytes = 1000;
        let w = Arc::new(
            EventWriter::open_with_faults(
                cfg,
                Faults::parse("slow@write:50ms,eio@write:3-").unwrap(),
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        let mut job = scalar(i);
                        job.step = Some(t * 100_000 + i);
                        if w.submit_blocking(job).is_err() {
                            return i;
                        }
                    }
                    -1
                })
            })
            .collect();
        for t in threads {
            let stopped_at = t.join().unwrap();
            assert!(
                stopped_at >= 0,
                "a producer was never told about the failure"
            );
        }
        assert!(w.close().is_err());
    }

    #[test]
    fn deleted_file_is_replaced_and_the_batch_rewritten() {
        let dir = temp_dir("deleted");
        let w = open(&dir, "");
        for i in 0..3 {
            w.try_submit(scalar(i)).unwrap();
        }
        w.flush().unwrap();
        let first = w.path();
        std::fs::remove_file(&first).unwrap();
        for i in 3..6 {
            w.try_submit(scalar(i)).unwrap();
        }
        w.flush().unwrap();
        let second = w.path();
        assert_ne!(first, second);
        assert!(second > first, "the new name must sort after the old one");
        assert!(w.has_notices());
        let notices = w.take_notices();
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0].contains(&first.display().to_string()),
            "{notices:?}"
        );
        w.close().unwrap();
        assert_eq!(steps(&second), vec![3, 4, 5]);
        assert_eq!(files(&dir), vec![second]);
    }

    #[test]
    fn deleted_directory_is_created_again() {
        let dir = temp_dir("rmtree");
        let logdir = dir.join("run");
        let w = open(&logdir, "");
        w.try_submit(scalar(0)).unwrap();
        w.flush().unwrap();
        std::fs::remove_dir_all(&logdir).unwrap();
        w.try_submit(scalar(1)).unwrap();
        w.close().unwrap();
        assert_eq!(steps(&w.path()), vec![1]);
        assert!(w.path().starts_with(&logdir));
    }

    #[test]
    fn moved_file_keeps_its_records_and_later_ones_go_to_a_new_file() {
        let dir = temp_dir("moved");
        let w = open(&dir, "");
        w.try_submit(scalar(0)).unwrap();
        w.flush().unwrap();
        let first = w.path();
        let moved = dir.join("moved.tfevents");
        std::fs::rename(&first, &moved).unwrap();
        w.try_submit(scalar(1)).unwrap();
        w.flush().unwrap();
        w.try_submit(scalar(2)).unwrap();
        w.close().unwrap();
        assert_eq!(steps(&moved), vec![0, 1]);
        assert_eq!(steps(&w.path()), vec![2]);
    }

    #[test]
    fn failed_replacement_is_an_error_naming_the_directory() {
        let dir = temp_dir("noreplace");
        let w = open(&dir, "eio@open:2");
        w.try_submit(scalar(0)).unwrap();
        w.flush().unwrap();
        std::fs::remove_file(w.path()).unwrap();
        w.try_submit(scalar(1)).unwrap();
        let err = w.flush().unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(err.contains("1 accepted event(s) not saved"), "{err}");
    }

    #[test]
    fn events_reach_the_file_within_the_batch_window_after_a_write() {
        // Once something is written but not yet fsync'd, later events must not wait for
        // the fsync deadline (flush_secs) to be written.
        let dir = temp_dir("stale");
        let w = open(&dir, "");
        w.try_submit(scalar(0)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for i in 1..4 {
            w.try_submit(scalar(i)).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(steps(&w.path()), vec![0, 1, 2, 3]);
        w.close().unwrap();
    }

    fn large_histogram(step: i64) -> Job {
        use crate::histogram::Bins;
        use crate::job::HistogramJob;
        use crate::raw_array::{DType, RawArray};
        let values: Vec<u8> = (0..20_000)
            .flat_map(|i| f64::to_ne_bytes(i as f64))
            .collect();
        let values = RawArray::copy_from(DType::Float64, vec![20_000], &values).unwrap();
        assert!(values.nbytes() >= LARGE_JOB_BYTES);
        Job {
            step: Some(step),
            wall_time: 1.0,
            kind: JobKind::Histogram(Box::new(HistogramJob {
                tag: "h".into(),
                values,
                bins: Bins::Default,
                max_bins: None,
            })),
        }
    }

    #[test]
    fn a_burst_that_never_ends_still_reaches_the_file() {
        // The worker holds back while large jobs keep arriving, but only for
        // MAX_BURST_DEFER: a stream with no quiet gap must not starve the file.
        let dir = temp_dir("burst");
        let w = open(&dir, "");
        let start = Instant::now();
        let mut step = 0;
        while start.elapsed() < MAX_BURST_DEFER * 4 {
            assert!(w.try_submit(large_histogram(step)).unwrap().is_none());
            step += 1;
            std::thread::sleep(BURST_QUIET / 4);
        }
        let written = steps(&w.path());
        assert!(
            written.first() == Some(&0),
            "nothing written {:?} after a {:?} burst of {step} large jobs",
            start.elapsed(),
            MAX_BURST_DEFER * 4
        );
        w.close().unwrap();
        assert_eq!(steps(&w.path()), (0..step).collect::<Vec<_>>());
    }

    #[test]
    fn an_idle_writer_frees_snapshot_buffers_no_one_reused() {
        // Other tests share the process-wide pool, but they only add newer buffers: what
        // is checked is that nothing cached before `cached_by` outlives the idle time.
        let max_idle = Duration::from_millis(200);
        snapshot_pool::set_max_idle(max_idle);
        let dir = temp_dir("pool");
        let w = open(&dir, "");
        assert!(w.try_submit(large_histogram(0)).unwrap().is_none());
        w.flush().unwrap(); // encoded: its buffer is back in the pool
        let cached_by = Instant::now();
        assert!(snapshot_pool::next_release_waiting().is_some());
        std::thread::sleep(max_idle * 5);
        let next = snapshot_pool::next_release_waiting();
        assert!(
            next.is_none_or(|t| t > cached_by + max_idle),
            "a buffer cached {:?} ago is still kept",
            next.map(|t| t.elapsed() + max_idle)
        );
        w.close().unwrap();
    }

    #[test]
    fn an_event_that_runs_out_of_memory_is_dropped_and_the_rest_written() {
        let dir = temp_dir("oom");
        let w = open(&dir, "oom@encode:2");
        for i in 0..4 {
            w.try_submit(scalar(i)).unwrap();
        }
        w.close().unwrap();
        assert_eq!(steps(&w.path()), vec![0, 2, 3]);
        assert_eq!(w.dropped().unwrap(), 1);
        let notices = w.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].contains("dropped an event (tag \"s\", step 1)")
                && notices[0].contains("out of memory"),
            "{notices:?}"
        );
    }

    #[test]
    fn oversized_events_are_dropped_and_reported() {
        let dir = temp_dir("oversized");
        let w = open(&dir, "max_event_bytes:50");
        assert_eq!(w.max_event_bytes(), 50);
        let big = Job {
            step: Some(1),
            wall_time: 1.0,
            kind: JobKind::Text {
                tag: "t".into(),
                text: "x".repeat(100),
            },
        };
        w.try_submit(scalar(0)).unwrap();
        w.try_submit(big).unwrap();
        w.try_submit(scalar(2)).unwrap();
        w.close().unwrap();
        assert_eq!(steps(&w.path()), vec![0, 2]);
        let notices = w.take_notices();
        assert!(
            notices.iter().any(|n| n.contains("dropped an event of")),
            "{notices:?}"
        );
    }
}
