//! The Python module `ferroboard._core`. PyO3 appears only under this directory.
//!
//! Every method follows the same path: borrow the caller's data, copy it, release the
//! GIL only when there is something slow to wait for, enqueue.

mod arrays;
mod errors;
mod event_writer;
mod media;
mod plugins;
mod reader;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Before anything can start rayon's global pool: its threads must block Ctrl-C.
    crate::runtime::signals::configure_global_pool();
    m.add_class::<event_writer::PyEventWriter>()?;
    m.add_function(wrap_pyfunction!(reader::read_records, m)?)?;
    m.add_function(wrap_pyfunction!(reader::default_bucket_edges, m)?)?;
    m.add_function(wrap_pyfunction!(reader::check_histogram_buckets, m)?)?;
    m.add("MAX_EVENT_BYTES", crate::summary::limits::MAX_EVENT_BYTES)?;
    m.add(
        "DEFAULT_MAX_PENDING_BYTES",
        event_writer::DEFAULT_MAX_PENDING_BYTES,
    )?;
    plugins::register(m)?;
    media::register(m)?;
    // Whether this build honours FERROBOARD_FAULTS (test builds only; see rust/runtime/faults.rs).
    m.add("FAULT_INJECTION", crate::runtime::faults::ENABLED)?;
    m.add(
        "BATCH_WINDOW_SECS",
        crate::runtime::writer::BATCH_WINDOW.as_secs_f64(),
    )?;
    Ok(())
}
