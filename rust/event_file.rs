//! One event file on disk: its name, exclusive creation, header record, writes and fsync.
//!
//! "Where the bytes go" lives here alone, so a remote sink (S3/GCS staging) can later
//! replace it without touching the writer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::proto::{Event, EventWhat, SourceMetadata};
use crate::tf_record::append_record;

/// torch's process-wide writer counter (`_global_uid`), the last part of a file name.
static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The writer name torch records in each file's first event.
pub const SOURCE_WRITER: &str = "tensorboard.summary.writer.event_file_writer";

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

pub struct EventFile {
    path: PathBuf,
    file: File,
}

impl EventFile {
    /// Creates `events.out.tfevents.{secs:010}.{host}.{pid}.{n}{suffix}` in `dir`
    /// (creating `dir`), never truncating an existing file: a name that exists already
    /// gets the next counter value.
    pub fn create(dir: &Path, suffix: &str) -> std::io::Result<EventFile> {
        std::fs::create_dir_all(dir)?;
        let secs = now_secs() as u64;
        let host = host_name();
        let pid = std::process::id();
        loop {
            let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("events.out.tfevents.{secs:010}.{host}.{pid}.{n}{suffix}");
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(EventFile { path, file }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first record torch writes: file version and the writer's name.
    pub fn header_record(wall_time: f64) -> Vec<u8> {
        let event = Event {
            wall_time,
            step: 0,
            what: Some(EventWhat::FileVersion("brain.Event:2".into())),
            source_metadata: Some(SourceMetadata {
                writer: SOURCE_WRITER.into(),
            }),
        };
        let mut out = Vec::new();
        append_record(&mut out, &event.encode_to_vec());
        out
    }

    /// Writes whole framed records with one `write_all`.
    pub fn write(&mut self, framed: &[u8]) -> std::io::Result<()> {
        self.file.write_all(framed)
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}
