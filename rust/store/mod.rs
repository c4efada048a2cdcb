//! Object-store log directories (`s3://`, `gs://`, `az://`, `memory://`): records are
//! staged in local segment files by the writer's worker, exactly as a local event file
//! is written, and published as whole objects by one uploader thread per process.
//! docs/storage.md describes the naming, sealing and what flush and close promise.

pub mod files;
pub mod recover;
pub mod segments;
pub mod staging;
pub mod uploader;
pub mod url;

use std::time::Duration;

use crate::error::FerroError;

/// How long a remote writer's `close()` waits for the store by default.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(120);

/// A writer's remote log directory and how long its `close()` waits for the store.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    pub dir: url::RemoteDir,
    pub close_timeout: Duration,
}

/// `close(timeout=...)`: None (the writer's close_timeout) or seconds, at least 0.
pub fn timeout_arg(seconds: Option<f64>) -> Result<Option<Duration>, FerroError> {
    match seconds {
        None => Ok(None),
        Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(Duration::from_secs_f64(t))),
        Some(t) => Err(FerroError::InvalidArgument(format!(
            "timeout must be a non-negative number of seconds, got {t}"
        ))),
    }
}

impl RemoteConfig {
    /// The remote configuration of `log_dir` when it is a URL; None for a local path.
    pub fn for_log_dir(
        log_dir: &str,
        options: Vec<(String, String)>,
        close_timeout_secs: f64,
    ) -> Result<Option<RemoteConfig>, FerroError> {
        if !url::looks_like_url(log_dir) {
            if !options.is_empty() {
                return Err(FerroError::InvalidArgument(format!(
                    "storage_options are for URL log dirs (s3://...); log_dir={log_dir:?} is a \
                     local path"
                )));
            }
            return Ok(None);
        }
        if !(close_timeout_secs.is_finite() && close_timeout_secs > 0.0) {
            return Err(FerroError::InvalidArgument(format!(
                "close_timeout must be a positive number of seconds, got {close_timeout_secs}"
            )));
        }
        Ok(Some(RemoteConfig {
            dir: url::RemoteDir::parse(log_dir, options)?,
            close_timeout: Duration::from_secs_f64(close_timeout_secs),
        }))
    }
}

#[cfg(test)]
mod tests;
