//! Which files a log path holds, in the order tbparse visits them, and reading them in
//! parallel.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use rayon::prelude::*;

use crate::reader::decode::{read_file, FileData, Kinds};

/// One event file: its path, its directory relative to the log path (`""` at the top,
/// `/`-separated) and its name.
#[derive(Debug, Clone)]
pub struct LogFile {
    pub path: PathBuf,
    pub dir: String,
    pub name: String,
}

/// TensorBoard's rule for an event file: "tfevents" in its name.
pub fn is_event_file(name: &str) -> bool {
    name.contains("tfevents")
}

/// The event files under `root` (or `root` itself when it is a file), directory entries
/// visited in sorted name order, depth first.
pub fn list_event_files(root: &Path) -> std::io::Result<Vec<LogFile>> {
    let meta = std::fs::metadata(root)?;
    let mut out = Vec::new();
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(LogFile {
            path: root.to_path_buf(),
            dir: String::new(),
            name,
        });
        return Ok(out);
    }
    let mut visited = Vec::new();
    walk(root, "", &mut out, &mut visited)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Vec<LogFile>,
    visited: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    // A symlink back up the tree would loop forever.
    if let Ok(canonical) = dir.canonicalize() {
        if visited.contains(&canonical) {
            return Ok(());
        }
        visited.push(canonical);
    }
    let mut entries: Vec<(Vec<u8>, PathBuf, String)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name();
            (
                name.as_encoded_bytes().to_vec(),
                e.path(),
                name.to_string_lossy().into_owned(),
            )
        })
        .collect();
    entries.sort();
    for (_, path, name) in entries {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let sub = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            walk(&path, &sub, out, visited)?;
        } else if is_event_file(&name) {
            out.push(LogFile {
                path,
                dir: rel.to_owned(),
                name,
            });
        }
    }
    Ok(())
}

/// Reads every file, in parallel, keeping their order.
pub fn read_files(
    files: &[LogFile],
    kinds: Kinds,
    check_crc: bool,
    progress: Option<Arc<AtomicU64>>,
) -> Vec<FileData> {
    files
        .par_iter()
        .with_max_len(1)
        .map(|f| read_file(&f.path, kinds, check_crc, progress.clone()))
        .collect()
}
