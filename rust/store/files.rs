//! Files other than event records under a URL log dir (embedding tensors, metadata,
//! sprites, the projector config): each is staged locally by its writer and then goes to
//! the store as one whole-object PUT through the process's uploader.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::staging;
use super::uploader::{self, wait_uploaded, Publish, Source, Target};
use super::RemoteConfig;
use crate::error::FerroError;
use crate::format::event_file;
use crate::runtime::sync::Mutex;

pub struct RemoteFiles {
    target: Arc<Target>,
    close_timeout: Duration,
    /// Files handed to the uploader so far.
    submitted: Mutex<u64>,
}

impl RemoteFiles {
    /// Checks the store's configuration (no network I/O) and creates the staging
    /// directory where the files are written before they are uploaded.
    pub fn open(remote: &RemoteConfig) -> Result<RemoteFiles, FerroError> {
        let store = remote.dir.build_store()?;
        let root = staging::root();
        let writer = format!(
            "{}.{}.{}.{}.files",
            event_file::host_name(),
            std::process::id(),
            event_file::next_file_number(),
            event_file::now_secs() as u64
        );
        let dir = staging::create_writer_dir(&root, &writer, &remote.dir.url).map_err(|e| {
            FerroError::Io {
                path: root.clone(),
                lost: 0,
                source: e,
            }
        })?;
        Ok(RemoteFiles {
            target: Target::new(remote.dir.clone(), dir, store),
            close_timeout: remote.close_timeout,
            submitted: Mutex::new(0),
        })
    }

    /// The local directory the files are written to (relative paths = object names).
    pub fn staging(&self) -> &Path {
        &self.target.staging
    }

    /// Uploads `data` as object `name` (relative to the log dir), in the background.
    pub fn put(&self, name: &str, data: Vec<u8>) -> Result<(), FerroError> {
        self.target.dir.object(name)?;
        let mut submitted = self.submitted.lock();
        *submitted += 1;
        self.target.set_staged(*submitted);
        uploader::submit(Publish {
            target: Arc::clone(&self.target),
            source: Source::Bytes(data),
            name: name.to_owned(),
            events_through: *submitted,
            multipart: false,
        })
    }

    /// Returns once the store holds every file put so far (then removes the staging
    /// directory), or raises after `timeout` (default: the close_timeout).
    pub fn close(&self, timeout: Option<Duration>) -> Result<(), FerroError> {
        let deadline = Instant::now() + timeout.unwrap_or(self.close_timeout);
        wait_uploaded(&self.target, deadline, "file")
    }
}
