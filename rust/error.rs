//! Typed errors of the core; `bindings::errors` turns them into Python exceptions.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FerroError {
    /// A caller's argument is wrong; becomes `ValueError`.
    #[error("{0}")]
    InvalidArgument(String),

    /// Writing the event file failed; becomes `OSError` naming the file and, once
    /// events were accepted, how many of them were not saved.
    #[error("{path}: {source}{}", lost_clause(*lost))]
    Io {
        path: PathBuf,
        lost: u64,
        #[source]
        source: std::io::Error,
    },

    /// The writer was closed; the Python layer opens a new file instead.
    #[error("the event writer for {0} is closed")]
    Closed(PathBuf),

    /// A writer inherited through `fork()`: its worker does not exist in this process.
    #[error(
        "the event writer for {path} was created in process {pid}; after fork() a child \
         must open its own writer"
    )]
    Forked { path: PathBuf, pid: u32 },

    /// Memory ran out for a buffer of `bytes` bytes (see `fallible`): `MemoryError` on
    /// the caller; on the writer thread, that one event is dropped and reported.
    #[error("out of memory: {what} needs {bytes} bytes")]
    OutOfMemory { what: String, bytes: usize },

    /// A string argument Rust cannot hold (a lone surrogate); becomes `ValueError`.
    #[error("{arg} must be valid Unicode (no lone surrogates), got {repr}")]
    NotUnicode { arg: String, repr: String },

    /// An argument that does not export a C-contiguous buffer; becomes `ValueError`.
    #[error("{arg}: expected a C-contiguous array, got {type_name}")]
    NotContiguous { arg: String, type_name: String },

    /// A summary encoder was queued or serialized twice; becomes `RuntimeError`.
    #[error("this summary was already written or serialized")]
    AlreadyUsed,

    /// A remote writer's close: the store does not hold every accepted event. Becomes
    /// `OSError`; the staging directory is kept for `python -m ferroboard.sync`.
    #[error(
        "{url}: {lost} accepted {unit}(s) not stored ({reason}); they are kept in \
         {0}: upload them with `python -m ferroboard.sync {0}`",
        staging.display()
    )]
    Upload {
        url: String,
        staging: PathBuf,
        lost: u64,
        /// What `lost` counts: "event" or "file".
        unit: &'static str,
        reason: String,
    },

    /// The background thread could not be started or has died unexpectedly.
    #[error("the background writer thread for {path} failed: {reason}")]
    Worker { path: PathBuf, reason: String },
}

/// " (N accepted event(s) not saved)", or nothing when no event was lost (an error
/// opening a file, before anything was accepted).
fn lost_clause(lost: u64) -> String {
    if lost == 0 {
        String::new()
    } else {
        format!(" ({lost} accepted event(s) not saved)")
    }
}
