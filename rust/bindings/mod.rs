//! The Python module `ferroboard._core`. PyO3 appears only under this directory.
//!
//! Bindings only extract, copy and call: borrow the caller's data, copy it, call the
//! core's constructor for the job (which validates it and returns `FerroError`, turned
//! into a Python exception in `errors.rs` only), release the GIL when there is something
//! slow to wait for, enqueue.
//!
//! - `arrays`: argument extraction (buffers copied into `RawArray`s, strings);
//! - `summaries`: one builder per summary kind, the `SummaryEncoder` class and the
//!   `*_summary` functions of `ferroboard.summary`;
//! - `event_writer`: the `EventWriter` class (every method in that one file);
//! - `embedding`: the `EmbeddingWriter` class and the projector file formats;
//! - `media`: PNG encoding, box drawing and PR-curve counts run now;
//! - `reader`, `log_reader`: reading event files back; `owned_buffer`: Rust vectors that
//!   numpy wraps without a copy;
//! - `store`: URL log dirs: `ferroboard.sync`, listing and reading objects, `RemoteFiles`.

mod arrays;
mod embedding;
mod errors;
mod event_writer;
mod log_reader;
mod media;
mod owned_buffer;
mod reader;
mod store;
mod summaries;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Before anything can start rayon's global pool: its threads must block Ctrl-C.
    crate::runtime::signals::configure_global_pool();
    m.add_class::<arrays::PyDType>()?;
    m.add_class::<event_writer::PyEventWriter>()?;
    m.add_function(wrap_pyfunction!(event_writer::checked_walltime, m)?)?;
    m.add_function(wrap_pyfunction!(reader::read_records, m)?)?;
    m.add_class::<log_reader::PyLogData>()?;
    m.add_class::<log_reader::PyEventIterator>()?;
    m.add_class::<log_reader::PyReadProgress>()?;
    m.add_class::<owned_buffer::PyOwnedBuffer>()?;
    m.add_function(wrap_pyfunction!(log_reader::write_csv, m)?)?;
    m.add_function(wrap_pyfunction!(log_reader::read_log, m)?)?;
    m.add_function(wrap_pyfunction!(log_reader::iter_events, m)?)?;
    m.add_function(wrap_pyfunction!(log_reader::hparams_session_start, m)?)?;
    m.add_function(wrap_pyfunction!(reader::default_bucket_edges, m)?)?;
    m.add_function(wrap_pyfunction!(reader::check_histogram_buckets, m)?)?;
    m.add("MAX_EVENT_BYTES", crate::summary::limits::MAX_EVENT_BYTES)?;
    m.add(
        "DEFAULT_MAX_PENDING_BYTES",
        crate::runtime::writer::DEFAULT_MAX_PENDING_BYTES,
    )?;
    summaries::register(m)?;
    embedding::register(m)?;
    media::register(m)?;
    store::register(m)?;
    // Whether this build honours FERROBOARD_FAULTS (test builds only; see rust/runtime/faults.rs).
    m.add("FAULT_INJECTION", crate::runtime::faults::ENABLED)?;
    m.add(
        "BATCH_WINDOW_SECS",
        crate::runtime::writer::BATCH_WINDOW.as_secs_f64(),
    )?;
    Ok(())
}
