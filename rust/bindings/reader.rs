//! Reading event files back (strict TFRecord parsing), for tests and future tools.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::format::tf_record::{read_records as parse, ReadStop};

/// Returns `(records, status)` for the file at `path`: every whole record's payload in
/// order and `"clean"`, `"torn_tail@OFFSET"` or `"corrupt@OFFSET: WHAT"`.
#[pyfunction]
pub fn read_records(
    py: Python<'_>,
    path: std::path::PathBuf,
) -> PyResult<(Vec<Py<PyBytes>>, String)> {
    let data = py.detach(|| std::fs::read(&path)).map_err(|e| {
        PyErr::from(crate::error::FerroError::Io {
            path: path.clone(),
            lost: 0,
            source: e,
        })
    })?;
    let (records, stop) = parse(&data);
    let status = match stop {
        ReadStop::Clean => "clean".to_owned(),
        ReadStop::TornTail { offset } => format!("torn_tail@{offset}"),
        ReadStop::Corrupt { offset, what } => format!("corrupt@{offset}: {what}"),
    };
    let payloads = records
        .iter()
        .map(|r| PyBytes::new(py, r).unbind())
        .collect();
    Ok((payloads, status))
}

/// torch's default ("tensorflow") histogram edges as the core computes them.
#[pyfunction]
pub fn default_bucket_edges() -> Vec<f64> {
    crate::summary::histogram::default_edges().edges().to_vec()
}

/// Raises `ValueError` naming `arg` when a histogram of `count` buckets could make an
/// event of 2 GiB or more: called before numpy computes any edge.
#[pyfunction]
pub fn check_histogram_buckets(arg: &str, count: u128) -> PyResult<()> {
    Ok(crate::summary::limits::check_bucket_count(
        arg,
        count,
        0,
        crate::summary::limits::MAX_EVENT_BYTES,
    )?)
}
