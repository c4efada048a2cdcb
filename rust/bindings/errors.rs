//! The one place where core errors become Python exceptions.

use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

use crate::error::FerroError;

impl From<FerroError> for PyErr {
    fn from(err: FerroError) -> PyErr {
        match &err {
            FerroError::InvalidArgument(_)
            | FerroError::NotUnicode { .. }
            | FerroError::NotContiguous { .. } => PyValueError::new_err(err.to_string()),
            FerroError::AlreadyUsed => PyRuntimeError::new_err(err.to_string()),
            FerroError::Io { source, .. } => match source.raw_os_error() {
                // OSError(errno, message, filename) lets Python pick the subclass
                // (FileNotFoundError, PermissionError, ...) and keeps `.filename`.
                Some(code) => {
                    let filename = match &err {
                        FerroError::Io { path, .. } => path.display().to_string(),
                        _ => String::new(),
                    };
                    PyOSError::new_err((code, err.to_string(), filename))
                }
                // A path the OS cannot take (an embedded NUL): the argument is wrong.
                None if source.kind() == std::io::ErrorKind::InvalidInput => {
                    PyValueError::new_err(err.to_string())
                }
                None => PyOSError::new_err(err.to_string()),
            },
            FerroError::Upload { .. } => PyOSError::new_err(err.to_string()),
            FerroError::OutOfMemory { .. } => PyMemoryError::new_err(err.to_string()),
            FerroError::Closed(_) => PyRuntimeError::new_err(err.to_string()),
            FerroError::Forked { .. } => PyRuntimeError::new_err(err.to_string()),
            FerroError::Worker { .. } => PyRuntimeError::new_err(err.to_string()),
        }
    }
}
