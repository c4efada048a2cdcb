//! Typed errors of the core; `bindings::errors` turns them into Python exceptions.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FerroError {
    /// A caller's argument is wrong; becomes `ValueError`.
    #[error("{0}")]
    InvalidArgument(String),

    /// Writing the event file failed; becomes `OSError` naming the file.
    #[error("{path}: {source} ({lost} accepted event(s) not saved)")]
    Io {
        path: PathBuf,
        lost: u64,
        #[source]
        source: std::io::Error,
    },

    /// The writer was closed; the Python layer opens a new file instead.
    #[error("the event writer for {0} is closed")]
    Closed(PathBuf),

    /// The background thread could not be started or has died unexpectedly.
    #[error("the background writer thread for {path} failed: {reason}")]
    Worker { path: PathBuf, reason: String },
}
