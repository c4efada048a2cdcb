//! The uploader: one thread per process that publishes staged segments to their stores,
//! one whole-object PUT at a time, in the order writers asked for them.
//!
//! It owns the process's only tokio runtime (a current-thread one: object_store is
//! async), so neither the caller nor a writer's worker ever waits on the network. A
//! failed publish is retried, with backoff, until it succeeds or its writer gives up
//! (`close_timeout`); publishes queued behind it wait, so a writer's objects appear in
//! order and an object never changes after a later one exists. After `fork()` the child
//! starts its own uploader: the parent's thread and runtime do not exist there.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::url::RemoteDir;
use crate::error::FerroError;
use crate::runtime::fork;
use crate::runtime::sync::{Condvar, Mutex};

/// First and longest pause between two attempts of a failed publish.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// Part size of the multipart upload of a record larger than a segment.
const PART_BYTES: usize = 16 << 20;

/// What one writer's publishes go to, and how far they got.
pub struct Target {
    pub dir: RemoteDir,
    /// The writer's staging directory (named in errors; removed once all is stored).
    pub staging: PathBuf,
    store: Arc<dyn ObjectStore>,
    state: Mutex<TargetState>,
    progress: Condvar,
}

#[derive(Default)]
struct TargetState {
    /// Publishes handed to the uploader and not finished (done, replaced or dropped).
    queued: usize,
    /// Events (records after each segment's header) written to staging segments.
    staged: u64,
    /// Events in the store, through the last successful publish.
    stored: u64,
    /// Why the last attempt failed; cleared by a success.
    failure: Option<String>,
    /// The writer stopped waiting: its remaining publishes are dropped, the staging
    /// files kept for `ferroboard.sync`.
    abandoned: bool,
}

impl Target {
    pub fn new(dir: RemoteDir, staging: PathBuf, store: Arc<dyn ObjectStore>) -> Arc<Target> {
        Arc::new(Target {
            dir,
            staging,
            store,
            state: Mutex::new(TargetState::default()),
            progress: Condvar::new(),
        })
    }

    /// Events written to staging segments so far.
    pub fn set_staged(&self, events: u64) {
        self.state.lock().staged = events;
    }

    /// (events staged, events in the store).
    pub fn counts(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.staged, st.stored)
    }

    /// Waits until every queued publish is finished, at most until `deadline`. Returns
    /// the events stored, or, when time ran out, gives up the remaining publishes and
    /// returns the last upload error (or that time ran out).
    pub fn wait_idle(&self, deadline: Instant) -> Result<u64, String> {
        let mut st = self.state.lock();
        while st.queued > 0 {
            if self.progress.wait_until(&mut st, deadline).timed_out() && st.queued > 0 {
                st.abandoned = true;
                return Err(st
                    .failure
                    .clone()
                    .unwrap_or_else(|| "the upload did not finish in time".into()));
            }
        }
        Ok(st.stored)
    }

    /// The last upload error, if the last attempt failed.
    pub fn failure(&self) -> Option<String> {
        self.state.lock().failure.clone()
    }

    fn abandoned(&self) -> bool {
        self.state.lock().abandoned
    }

    fn finish(&self, stored: Option<u64>) {
        let mut st = self.state.lock();
        st.queued = st.queued.saturating_sub(1);
        if let Some(n) = stored {
            st.stored = st.stored.max(n);
            st.failure = None;
        }
        self.progress.notify_all();
    }

    fn failed(&self, why: String) {
        self.state.lock().failure = Some(why);
    }
}

/// What a publish uploads.
pub enum Source {
    /// The first `len` bytes (whole records) of a staging segment, read through its own
    /// handle when the upload starts (a deleted staging file is still read).
    Segment { file: Arc<File>, len: u64 },
    /// A whole file's bytes (embedding files, the projector config).
    Bytes(Vec<u8>),
}

/// Waits until the store holds every item (event or file) staged for `target`, then
/// removes its staging directory. Past `deadline`, or when a publish failed for good, the
/// error names the URL, the staging directory (kept, for `python -m ferroboard.sync`)
/// and how many accepted `unit`s are not in the store.
pub fn wait_uploaded(
    target: &Target,
    deadline: Instant,
    unit: &'static str,
) -> Result<(), FerroError> {
    let waited = target.wait_idle(deadline);
    let (staged, stored) = target.counts();
    if waited.is_ok() && stored >= staged {
        // Everything is in the store; a staging directory that cannot be removed only
        // costs disk space (a later sync would upload the same objects again).
        let _ = super::staging::remove(&target.staging);
        return Ok(());
    }
    let reason = match waited {
        Err(why) => why,
        Ok(_) => target
            .failure()
            .unwrap_or_else(|| "not every upload succeeded".into()),
    };
    Err(FerroError::Upload {
        url: target.dir.url.clone(),
        staging: target.staging.clone(),
        lost: staged.saturating_sub(stored),
        unit,
        reason,
    })
}

/// One publish: `source` as object `name`, after which the store holds the target's
/// items (events, or files) through `events_through`.
pub struct Publish {
    pub target: Arc<Target>,
    pub source: Source,
    pub name: String,
    pub events_through: u64,
    /// A single record larger than a segment: uploaded once, in parts.
    pub multipart: bool,
}

struct Uploader {
    generation: u64,
    queue: Mutex<VecDeque<Publish>>,
    work: Condvar,
}

/// This process's uploader; one per fork generation, never freed (its thread holds it).
static UPLOADER: AtomicPtr<Uploader> = AtomicPtr::new(std::ptr::null_mut());

fn uploader() -> Result<&'static Uploader, FerroError> {
    let generation = fork::generation();
    let current = UPLOADER.load(Ordering::Acquire);
    // SAFETY: non-null pointers in UPLOADER come from `Box::into_raw` and are never freed.
    if let Some(up) = unsafe { current.as_ref() } {
        if up.generation == generation {
            return Ok(up);
        }
    }
    let fresh = Box::into_raw(Box::new(Uploader {
        generation,
        queue: Mutex::new(VecDeque::new()),
        work: Condvar::new(),
    }));
    match UPLOADER.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            // SAFETY: just published; never freed.
            let up: &'static Uploader = unsafe { &*fresh };
            std::thread::Builder::new()
                .name("ferroboard-upload".into())
                .spawn(move || {
                    crate::runtime::signals::block_async_signals();
                    run(up)
                })
                .map_err(|e| FerroError::Worker {
                    path: PathBuf::from("ferroboard-upload"),
                    reason: e.to_string(),
                })?;
            Ok(up)
        }
        Err(winner) => {
            // SAFETY: `fresh` was never published; `winner` is never freed.
            drop(unsafe { Box::from_raw(fresh) });
            Ok(unsafe { &*winner })
        }
    }
}

/// Hands a publish to the uploader (never waits for the network).
pub fn submit(publish: Publish) -> Result<(), FerroError> {
    let up = uploader()?;
    publish.target.state.lock().queued += 1;
    up.queue.lock().push_back(publish);
    up.work.notify_one();
    Ok(())
}

fn run(up: &'static Uploader) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the upload runtime: {e}"));
    loop {
        let job = {
            let mut queue = up.queue.lock();
            loop {
                match queue.pop_front() {
                    Some(job) => {
                        // A later publish of the same object covers this one.
                        let superseded = !job.multipart
                            && queue.iter().any(|later| {
                                Arc::ptr_eq(&later.target, &job.target) && later.name == job.name
                            });
                        if superseded {
                            job.target.finish(None);
                            continue;
                        }
                        break job;
                    }
                    None => up.work.wait(&mut queue),
                }
            }
        };
        publish_until_done(&runtime, &job);
    }
}

/// Tries `job` until it is stored or its writer gives up.
fn publish_until_done(runtime: &Result<tokio::runtime::Runtime, String>, job: &Publish) {
    let mut pause = RETRY_FIRST;
    loop {
        if job.target.abandoned() {
            job.target.finish(None);
            return;
        }
        let outcome = match runtime {
            Ok(rt) => rt.block_on(attempt(job)),
            Err(e) => Some(Err(e.clone())),
        };
        match outcome {
            Some(Ok(())) => {
                job.target.finish(Some(job.events_through));
                return;
            }
            Some(Err(why)) => job.target.failed(why),
            None => {} // abandoned while in flight
        }
        let until = Instant::now() + pause;
        while Instant::now() < until && !job.target.abandoned() {
            std::thread::sleep(Duration::from_millis(20));
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// One attempt; None when the writer gave up while it was in flight.
async fn attempt(job: &Publish) -> Option<Result<(), String>> {
    let target = &job.target;
    let upload = async {
        let path = target.dir.object(&job.name).map_err(|e| e.to_string())?;
        let data = match &job.source {
            Source::Segment { file, len } => read_prefix(file, *len).map_err(|e| {
                format!("reading {}: {e}", target.staging.join(&job.name).display())
            })?,
            Source::Bytes(bytes) => bytes.clone(),
        };
        put(target.store.as_ref(), &path, data, job.multipart)
            .await
            .map_err(|e| e.to_string())
    };
    let given_up = async {
        while !target.abandoned() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        result = upload => Some(result),
        () = given_up => None,
    }
}

/// One atomic PUT of the whole object, or (for a single oversized record) a multipart
/// upload, which becomes visible as a whole when it completes.
pub async fn put(
    store: &dyn ObjectStore,
    path: &ObjectPath,
    data: Vec<u8>,
    multipart: bool,
) -> object_store::Result<()> {
    if multipart {
        let upload = store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        writer.write(&data);
        writer.finish().await?;
    } else {
        store.put(path, PutPayload::from(data)).await?;
    }
    Ok(())
}

/// The first `len` bytes of `file`.
fn read_prefix(file: &File, len: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("segment too large"))?;
    let mut data = Vec::new();
    data.try_reserve_exact(len)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::OutOfMemory, "segment buffer"))?;
    data.resize(len, 0);
    read_exact_at(file, &mut data)?;
    Ok(data)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, 0)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(buf)
}
