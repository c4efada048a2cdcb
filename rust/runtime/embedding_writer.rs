//! The embedding thread: one per `SummaryWriter`, writing embeddings in call order under a
//! memory budget, the first failure kept for the caller.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::error::FerroError;
use crate::runtime::sync::{Condvar, Mutex};
use crate::summary::embedding::EmbeddingJob;

#[derive(Default)]
struct State {
    pending: usize,
    pending_bytes: usize,
    /// The first failure since a caller last collected one.
    failure: Option<FerroError>,
}

struct Shared {
    state: Mutex<State>,
    done: Condvar,
    max_pending_bytes: usize,
}

/// One background thread per `SummaryWriter` that writes embeddings in call order.
///
/// Dropping it waits for the queued embeddings. In a forked child (where the thread does
/// not exist and the locks may have been held at fork time) it does nothing at all.
pub struct EmbeddingWriter {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<EmbeddingJob>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The process that started the thread.
    owner_pid: u32,
}

impl EmbeddingWriter {
    pub fn start(max_pending_bytes: usize) -> Result<EmbeddingWriter, FerroError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            max_pending_bytes,
        });
        let (sender, receiver) = mpsc::channel::<EmbeddingJob>();
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("ferroboard-embeddings".into())
            .spawn(move || {
                crate::runtime::signals::block_async_signals();
                work(&worker_shared, &receiver)
            })
            .map_err(|e| FerroError::Worker {
                path: PathBuf::from("<embeddings>"),
                reason: e.to_string(),
            })?;
        Ok(EmbeddingWriter {
            shared,
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            owner_pid: std::process::id(),
        })
    }

    fn foreign(&self) -> bool {
        std::process::id() != self.owner_pid
    }

    /// Queues a job; blocks while the memory budget is exceeded by earlier jobs.
    pub fn submit(&self, job: EmbeddingJob) -> Result<(), FerroError> {
        if self.foreign() {
            return Err(FerroError::Closed(PathBuf::from(
                "<embeddings of the parent process>",
            )));
        }
        let cost = job.cost();
        {
            let mut st = self.shared.state.lock();
            if let Some(failure) = st.failure.take() {
                return Err(failure);
            }
            while st.pending > 0 && st.pending_bytes + cost > self.shared.max_pending_bytes {
                self.shared.done.wait(&mut st);
            }
            st.pending += 1;
            st.pending_bytes += cost;
        }
        let sender = self.sender.lock();
        let sent = match sender.as_ref() {
            Some(s) => s.send(job).is_ok(),
            None => false,
        };
        if !sent {
            let mut st = self.shared.state.lock();
            st.pending -= 1;
            st.pending_bytes -= cost;
            return Err(FerroError::Closed(PathBuf::from("<embeddings>")));
        }
        Ok(())
    }

    /// Returns when every queued embedding is written; raises the first failure since
    /// the last call.
    pub fn wait(&self) -> Result<(), FerroError> {
        if self.foreign() {
            return Ok(());
        }
        let mut st = self.shared.state.lock();
        while st.pending > 0 {
            self.shared.done.wait(&mut st);
        }
        match st.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Waits, then stops the thread. Idempotent.
    pub fn close(&self) -> Result<(), FerroError> {
        if self.foreign() {
            return Ok(());
        }
        let result = self.wait();
        // Every job is done; closing the channel ends the thread, which is not joined:
        // there is nothing left to wait for.
        self.sender.lock().take();
        self.worker.lock().take();
        result
    }
}

impl Drop for EmbeddingWriter {
    fn drop(&mut self) {
        if let Err(err) = self.close() {
            eprintln!("ferroboard: writing embeddings failed: {err}");
        }
    }
}

fn work(shared: &Shared, receiver: &mpsc::Receiver<EmbeddingJob>) {
    while let Ok(job) = receiver.recv() {
        let cost = job.cost();
        let tensor_name = job.info.tensor_name.clone();
        // In a forked child, rayon's global pool has no threads: use one of the child's.
        let result = crate::runtime::pools::in_this_process_pool(|| job.run());
        let mut st = shared.state.lock();
        if let Err(err) = result {
            eprintln!("ferroboard: embedding {tensor_name:?} not saved: {err}");
            if st.failure.is_none() {
                st.failure = Some(err);
            }
        }
        st.pending -= 1;
        st.pending_bytes -= cost;
        shared.done.notify_all();
    }
}
