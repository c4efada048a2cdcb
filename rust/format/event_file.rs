//! One event file on disk: its name, exclusive creation, header record, writes and fsync.
//!
//! "Where the bytes go" lives here alone, so a remote sink (S3/GCS staging) can later
//! replace it without touching the writer.
//!
//! The file only ever holds whole records: each write appends whole records at the end of
//! the last one, and a write that fails part-way is cut back to that boundary, so nothing
//! is ever appended after a torn record (readers stop at the first bad record and would
//! never see what follows it).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::format::proto::{Event, EventWhat, SessionLog, SessionStatus, SourceMetadata};
use crate::format::tf_record::append_record;
use crate::runtime::faults::{Action, Faults, Op};

/// torch's process-wide writer counter (`_global_uid`), the last part of a file name.
static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The file version of the first event (and of `purge_step`'s marker).
const FILE_VERSION: &str = "brain.Event:2";

/// The writer name torch records in each file's first event.
pub const SOURCE_WRITER: &str = "tensorboard.summary.writer.event_file_writer";

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// torch's `purge_step` markers: a file-version event and a SessionLog START, both at
/// `step`, which make TensorBoard hide older events with larger steps.
pub fn purge_markers(step: i64) -> [Event; 2] {
    let version = Event {
        step,
        what: Some(EventWhat::FileVersion(FILE_VERSION.into())),
        ..Default::default()
    };
    let start = Event {
        step,
        what: Some(EventWhat::SessionLog(SessionLog {
            status: SessionStatus::Start as i32,
            ..Default::default()
        })),
        ..Default::default()
    };
    [version, start]
}

/// The next value of the writer counter in file names.
pub fn next_file_number() -> u64 {
    FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
}

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether the file is still where it was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// The path still names this file.
    Present,
    /// The file was deleted (or its directory was): what is written to it is lost.
    Deleted,
    /// The file was renamed, or its name now belongs to another file; ours still exists.
    Moved,
}

pub struct EventFile {
    path: PathBuf,
    file: File,
    /// The seconds field of the name.
    secs: u64,
    /// Bytes of whole records in the file: where the next record goes.
    len: u64,
    /// Device and inode of the file as created.
    id: (u64, u64),
}

fn injected(errno: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(errno)
}

impl EventFile {
    /// Creates `events.out.tfevents.{secs:010}.{host}.{pid}.{n}{suffix}` in `dir`
    /// (creating `dir`), never truncating an existing file: a name that exists already
    /// gets the next counter value.
    pub fn create(dir: &Path, suffix: &str) -> std::io::Result<EventFile> {
        EventFile::create_after(dir, suffix, None, &mut Faults::none())
    }

    /// Like [`create`](Self::create), but when `after_secs` is given the name's seconds
    /// exceed it, so the new name sorts after the previous file's: TensorBoard's Python
    /// loader reads files in name order and never goes back to an earlier name.
    pub fn create_after(
        dir: &Path,
        suffix: &str,
        after_secs: Option<u64>,
        faults: &mut Faults,
    ) -> std::io::Result<EventFile> {
        match faults.next(Op::Open) {
            Some(Action::Fail(errno)) => return Err(injected(errno)),
            Some(Action::Short(_)) => return Err(injected(libc::ENOSPC)),
            Some(Action::Sleep(_) | Action::OutOfMemory) | None => {}
        }
        std::fs::create_dir_all(dir)?;
        let mut secs = now_secs() as u64;
        if let Some(previous) = after_secs {
            secs = secs.max(previous + 1);
        }
        let host = host_name();
        let pid = std::process::id();
        loop {
            let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("events.out.tfevents.{secs:010}.{host}.{pid}.{n}{suffix}");
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let id = file_id(&file.metadata()?);
                    return Ok(EventFile {
                        path,
                        file,
                        secs,
                        len: 0,
                        id,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates a file as [`create_after`](Self::create_after) does and writes its header
    /// record. If the header cannot be written the empty file is removed again.
    pub fn create_with_header(
        dir: &Path,
        suffix: &str,
        after_secs: Option<u64>,
        faults: &mut Faults,
    ) -> Result<EventFile, (std::io::Error, PathBuf)> {
        let mut file = EventFile::create_after(dir, suffix, after_secs, faults)
            .map_err(|e| (e, dir.to_owned()))?;
        // Injected write faults count batches of events only, not headers.
        if let Err(e) = file.write(&EventFile::header_record(now_secs()), &mut Faults::none()) {
            let path = file.path.clone();
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err((e, path));
        }
        Ok(file)
    }

    /// Creates `dir/name` (never an existing file) and writes its header record: a
    /// remote writer's staging segment, named by the writer. If the header cannot be
    /// written the empty file is removed again.
    pub fn create_named_with_header(
        dir: &Path,
        name: &str,
        faults: &mut Faults,
    ) -> Result<EventFile, (std::io::Error, PathBuf)> {
        match faults.next(Op::Open) {
            Some(Action::Fail(errno)) => return Err((injected(errno), dir.to_owned())),
            Some(Action::Short(_)) => return Err((injected(libc::ENOSPC), dir.to_owned())),
            Some(Action::Sleep(_) | Action::OutOfMemory) | None => {}
        }
        let path = dir.join(name);
        let opened = OpenOptions::new().write(true).create_new(true).open(&path);
        let file = opened.map_err(|e| (e, path.clone()))?;
        let id = file_id(&file.metadata().map_err(|e| (e, path.clone()))?);
        let mut file = EventFile {
            path,
            file,
            secs: now_secs() as u64,
            len: 0,
            id,
        };
        if let Err(e) = file.write(&EventFile::header_record(now_secs()), &mut Faults::none()) {
            let path = file.path.clone();
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err((e, path));
        }
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The seconds field of the file's name.
    pub fn secs(&self) -> u64 {
        self.secs
    }

    /// Bytes of whole records written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first record torch writes: file version and the writer's name.
    pub fn header_record(wall_time: f64) -> Vec<u8> {
        let event = Event {
            wall_time,
            step: 0,
            what: Some(EventWhat::FileVersion(FILE_VERSION.into())),
            source_metadata: Some(SourceMetadata {
                writer: SOURCE_WRITER.into(),
            }),
        };
        let mut out = Vec::new();
        append_record(&mut out, &event.encode_to_vec());
        out
    }

    /// Appends whole framed records. On failure the file is cut back to the end of the
    /// last whole record, so a later write never lands after a torn one.
    pub fn write(&mut self, framed: &[u8], faults: &mut Faults) -> std::io::Result<()> {
        let result = self.write_at_end(framed, faults);
        match result {
            Ok(()) => {
                self.len += framed.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Whatever part of the records reached the file is removed again. If even
                // that fails, the error still stops the writer: nothing follows the tail.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    fn write_at_end(&mut self, framed: &[u8], faults: &mut Faults) -> std::io::Result<()> {
        match faults.next(Op::Write) {
            Some(Action::Fail(errno)) => return Err(injected(errno)),
            Some(Action::Short(bytes)) => {
                let part = &framed[..bytes.min(framed.len())];
                write_all_at(&self.file, part, self.len)?;
                return Err(injected(libc::ENOSPC));
            }
            Some(Action::Sleep(_) | Action::OutOfMemory) | None => {}
        }
        write_all_at(&self.file, framed, self.len)
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self, faults: &mut Faults) -> std::io::Result<()> {
        match faults.next(Op::Fsync) {
            Some(Action::Fail(errno)) => return Err(injected(errno)),
            Some(Action::Short(_)) => return Err(injected(libc::EIO)),
            Some(Action::Sleep(_) | Action::OutOfMemory) | None => {}
        }
        self.file.sync_data()
    }

    /// Whether the file is still at its path (one `stat` of the path; one more `fstat`
    /// when it is not). Errors other than "not there" count as present: nothing is
    /// rotated on a guess.
    pub fn status(&self) -> FileStatus {
        match std::fs::metadata(&self.path) {
            Ok(meta) if file_id(&meta) == self.id => FileStatus::Present,
            Ok(_) => self.deleted_or_moved(),
            Err(e) if gone(&e) => self.deleted_or_moved(),
            Err(_) => FileStatus::Present,
        }
    }

    fn deleted_or_moved(&self) -> FileStatus {
        match self.file.metadata() {
            Ok(meta) if links(&meta) == 0 => FileStatus::Deleted,
            Ok(_) => FileStatus::Moved,
            Err(_) => FileStatus::Deleted,
        }
    }
}

fn gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(unix)]
fn links(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn links(_meta: &std::fs::Metadata) -> u64 {
    1
}

/// Writes all of `data` at `offset`: positioned writes need no file cursor, so a failed
/// write leaves nothing to repair but the file's length.
#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(data, offset)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &File, data: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(data)
}
