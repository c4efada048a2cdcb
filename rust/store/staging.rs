//! The local staging directory of a remote writer: where its segments are written (with
//! the same framing and fsync as a local event file) before they are uploaded.
//!
//! Layout: `{root}/{host}.{pid}.{n}.{secs}/` per writer, holding the segment files under
//! their object names and a sidecar file with the URL, so `python -m ferroboard.sync`
//! can upload what a killed process left behind. The root is `FERROBOARD_STAGING_DIR`,
//! else `{tempdir}/ferroboard-{uid}`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The sidecar's name: one line, the URL of the log directory.
pub const SIDECAR: &str = "ferroboard-upload.url";

/// The staging root of this process.
pub fn root() -> PathBuf {
    match std::env::var_os("FERROBOARD_STAGING_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join(format!("ferroboard-{}", user_id())),
    }
}

#[cfg(unix)]
fn user_id() -> u32 {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

/// The fixed part of a writer's segment names, `events.out.tfevents.{secs}.{host}.{pid}.{n}`:
/// segment `i` is `{base}.{i:06}{suffix}`, so names sort in write order within a writer
/// (the index is on every segment, the user's suffix last).
pub fn segment_name(base: &str, index: u32, suffix: &str) -> String {
    format!("{base}.{index:06}{suffix}")
}

/// Creates this writer's staging directory and its sidecar (written and fsync'd before
/// any segment exists, so a leftover segment always has its URL next to it).
pub fn create_writer_dir(root: &Path, writer: &str, url: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(root)?;
    let dir = root.join(writer);
    std::fs::create_dir(&dir)?;
    let mut sidecar = std::fs::File::create(dir.join(SIDECAR))?;
    sidecar.write_all(url.as_bytes())?;
    sidecar.write_all(b"\n")?;
    sidecar.sync_all()?;
    Ok(dir)
}

/// The URL a staging directory uploads to, or None when `dir` is not one.
pub fn read_sidecar(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(SIDECAR)).ok()?;
    let url = text.trim_end_matches('\n');
    (!url.is_empty()).then(|| url.to_owned())
}

/// Every file a staging directory holds for the store (segments, embedding files), as
/// (path, object name relative to the log dir), in name (= write) order.
pub fn files(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_owned(), String::new())];
    while let Some((folder, relative)) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue; // not a name this writer made
            };
            let object = if relative.is_empty() {
                name.clone()
            } else {
                format!("{relative}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((entry.path(), object));
            } else if kind.is_file() && !(relative.is_empty() && name == SIDECAR) {
                out.push((entry.path(), object));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Whether an object name is an event file (a segment) rather than another file.
pub fn is_segment(object: &str) -> bool {
    object
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("events.out.tfevents."))
}

/// Removes a staging directory once everything in it is stored.
pub fn remove(dir: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_in_write_order_with_the_suffix_last() {
        let names: Vec<String> = [0, 1, 9, 10, 100_000]
            .iter()
            .map(|i| segment_name("events.out.tfevents.0000000001.h.1.0", *i, ".v2"))
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names[1].ends_with(".000001.v2"), "{}", names[1]);
    }
}
