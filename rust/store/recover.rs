//! Blocking store access outside the uploader: `ferroboard.sync` (upload what a killed
//! or timed-out writer left in its staging directory) and listing or reading a remote
//! log directory. Each call runs its own short-lived runtime on the calling thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::staging;
use super::uploader::put;
use super::url::RemoteDir;
use crate::error::FerroError;
use crate::format::tf_record::{read_records, FRAME_OVERHEAD};

fn runtime() -> Result<tokio::runtime::Runtime, FerroError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FerroError::Worker {
            path: PathBuf::from("ferroboard-upload"),
            reason: e.to_string(),
        })
}

fn store_error(url: &str, staging: &Path, e: impl std::fmt::Display) -> FerroError {
    FerroError::Upload {
        url: url.to_owned(),
        staging: staging.to_owned(),
        lost: 0,
        unit: "file",
        reason: e.to_string(),
    }
}

/// What a sync did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    /// Staging directories completed (and removed).
    pub dirs: u64,
    /// Objects uploaded, and their bytes.
    pub objects: u64,
    pub bytes: u64,
}

/// Uploads every segment (and embedding file) left in `path` (a writer's staging directory, or a staging
/// root holding several) under its object name, cut to whole records, then removes the
/// directory. Uploading a segment that is already stored writes the same object again.
pub fn sync(path: &Path, options: &[(String, String)]) -> Result<SyncReport, FerroError> {
    let dirs: Vec<PathBuf> = if staging::read_sidecar(path).is_some() {
        vec![path.to_owned()]
    } else {
        let entries = std::fs::read_dir(path).map_err(|e| FerroError::Io {
            path: path.to_owned(),
            lost: 0,
            source: e,
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| staging::read_sidecar(p).is_some())
            .collect();
        dirs.sort();
        dirs
    };
    let rt = runtime()?;
    let mut report = SyncReport::default();
    for dir in dirs {
        let Some(url) = staging::read_sidecar(&dir) else {
            continue;
        };
        let remote = RemoteDir::parse(&url, options.to_vec())?;
        let store = remote.build_store()?;
        let files = staging::files(&dir).map_err(|e| FerroError::Io {
            path: dir.clone(),
            lost: 0,
            source: e,
        })?;
        for (path, name) in files {
            let mut data = std::fs::read(&path).map_err(|e| FerroError::Io {
                path: path.clone(),
                lost: 0,
                source: e,
            })?;
            let mut multipart = false;
            if staging::is_segment(&name) {
                // A killed writer may leave a torn last record: only whole records go up.
                let (whole, count) = {
                    let (records, _) = read_records(&data);
                    let whole: usize = records.iter().map(|r| r.len() + FRAME_OVERHEAD).sum();
                    (whole, records.len())
                };
                if count < 2 {
                    continue; // a header alone: no event to store
                }
                data.truncate(whole);
                multipart = count == 2 && data.len() as u64 > super::segments::SEGMENT_BYTES;
            }
            let object = remote.object(&name)?;
            let bytes = data.len() as u64;
            rt.block_on(put(store.as_ref(), &object, data, multipart))
                .map_err(|e| store_error(&url, &dir, e))?;
            report.objects += 1;
            report.bytes += bytes;
        }
        staging::remove(&dir).map_err(|e| FerroError::Io {
            path: dir.clone(),
            lost: 0,
            source: e,
        })?;
        report.dirs += 1;
    }
    Ok(report)
}

fn open(
    url: &str,
    options: &[(String, String)],
) -> Result<(RemoteDir, Arc<dyn ObjectStore>), FerroError> {
    let remote = RemoteDir::parse(url, options.to_vec())?;
    let store = remote.build_store()?;
    Ok((remote, store))
}

/// The objects directly in a remote log directory: (name, size), in name order.
pub fn list(url: &str, options: &[(String, String)]) -> Result<Vec<(String, u64)>, FerroError> {
    let (remote, store) = open(url, options)?;
    let prefix: ObjectPath = remote.prefix();
    let listing = runtime()?
        .block_on(store.list_with_delimiter(Some(&prefix)))
        .map_err(|e| store_error(url, Path::new(""), e))?;
    let mut out: Vec<(String, u64)> = listing
        .objects
        .into_iter()
        .filter_map(|o| o.location.filename().map(|n| (n.to_owned(), o.size)))
        .collect();
    out.sort();
    Ok(out)
}

/// The bytes of object `name` in a remote log directory.
pub fn read(url: &str, options: &[(String, String)], name: &str) -> Result<Vec<u8>, FerroError> {
    let (remote, store) = open(url, options)?;
    let object = remote.object(name)?;
    let rt = runtime()?;
    let bytes = rt
        .block_on(async { store.get(&object).await?.bytes().await })
        .map_err(|e| store_error(url, Path::new(""), e))?;
    Ok(bytes.to_vec())
}
