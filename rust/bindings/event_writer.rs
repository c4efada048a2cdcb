//! `ferroboard._core.EventWriter`: one event file and its background worker.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::arrays::copy_array;
use crate::format::event_file::now_secs;
use crate::format::proto::{Event, EventWhat, HistogramProto, SessionLog, SessionStatus};
use crate::runtime::writer::{EventWriter, WriterConfig};
use crate::summary::histogram::Bins;
use crate::summary::job::{HistogramJob, Job, JobKind, Tag, TensorJob};

/// Default byte budget for accepted-but-unwritten work before callers block (exported to
/// Python as `_core.DEFAULT_MAX_PENDING_BYTES`, so it is defined once).
pub const DEFAULT_MAX_PENDING_BYTES: usize = 1 << 30;

#[pyclass(name = "EventWriter", module = "ferroboard._core", frozen)]
pub struct PyEventWriter {
    inner: EventWriter,
}

pub(crate) fn text_arg<'a>(
    value: &'a Bound<'_, PyString>,
    name: &str,
) -> PyResult<std::borrow::Cow<'a, str>> {
    value.to_cow().map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be valid Unicode (no lone surrogates), got {}",
            value.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })
}

fn wall_time(walltime: Option<f64>) -> PyResult<f64> {
    match walltime {
        None => Ok(now_secs()),
        Some(w) if w.is_finite() => Ok(w),
        Some(w) => Err(PyValueError::new_err(format!(
            "walltime must be a finite number of seconds, got {w}"
        ))),
    }
}

/// `add_histogram`'s bins: torch's default edges (None) or checked explicit edges,
/// a float64 array (copied fallibly: a MemoryError, never an abort, when it does not fit).
pub(crate) fn histogram_bins(py: Python<'_>, edges: Option<&Bound<'_, PyAny>>) -> PyResult<Bins> {
    let Some(edges) = edges else {
        return Ok(Bins::Default);
    };
    let e = crate::runtime::fallible::to_vec(
        copy_array(py, edges, "f8", "bins")?.typed::<f64>(),
        "bins",
    )?;
    if e.len() < 2 || e.iter().any(|v| v.is_nan()) || e.windows(2).any(|w| w[0] > w[1]) {
        return Err(PyValueError::new_err(
            "bins must increase monotonically and have at least 2 edges",
        ));
    }
    Ok(Bins::Edges(e))
}

/// `add_histogram_raw`'s proto from `[min, max, num, sum, sum_squares]` and buckets.
pub(crate) fn raw_histogram(
    stats: [f64; 5],
    bucket_limits: Vec<f64>,
    bucket_counts: Vec<f64>,
) -> PyResult<HistogramProto> {
    if bucket_limits.len() != bucket_counts.len() {
        return Err(PyValueError::new_err(format!(
            "len(bucket_limits) != len(bucket_counts): {} != {}",
            bucket_limits.len(),
            bucket_counts.len()
        )));
    }
    let [min, max, num, sum, sum_squares] = stats;
    Ok(HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limit: bucket_limits,
        bucket: bucket_counts,
    })
}

impl PyEventWriter {
    /// Events of this many bytes or more are rejected (2 GiB; lower in tests).
    pub(crate) fn max_event_bytes(&self) -> usize {
        self.inner.max_event_bytes()
    }

    /// Enqueues `kind`; blocks (without the GIL) only while the byte budget is full.
    /// Other binding modules add their `#[pymethods]` blocks on top of this.
    pub(crate) fn submit(
        &self,
        py: Python<'_>,
        step: Option<i64>,
        walltime: Option<f64>,
        kind: JobKind,
    ) -> PyResult<()> {
        let job = Job {
            step,
            wall_time: wall_time(walltime)?,
            kind,
        };
        // No poison record: an event protocol buffers cannot read is never queued.
        crate::summary::limits::check_job(&job, self.inner.max_event_bytes())?;
        match self.inner.try_submit(job)? {
            None => {}
            Some(job) => py.detach(|| self.inner.submit_blocking(job))?,
        }
        self.warn_notices(py)
    }

    /// Turns the writer's notices (file replaced, event dropped) into Python warnings.
    #[inline]
    fn warn_notices(&self, py: Python<'_>) -> PyResult<()> {
        if !self.inner.has_notices() {
            return Ok(());
        }
        let category = py.get_type::<pyo3::exceptions::PyRuntimeWarning>();
        for notice in self.inner.take_notices() {
            let message = std::ffi::CString::new(notice.replace('\0', " ")).unwrap_or_default();
            // stacklevel 2: the caller of the SummaryWriter method that noticed it.
            PyErr::warn(py, &category, &message, 2)?;
        }
        Ok(())
    }
}

/// Rejects serialized protos that readers would reject: they must parse, and every
/// string field must be valid UTF-8 (TensorBoard's Python reader raises on one that is
/// not, and rustboard drops the rest of the file).
fn check_proto<M: prost::Message + Default>(bytes: &[u8], name: &str) -> PyResult<()> {
    M::decode(bytes).map(|_| ()).map_err(|e| {
        PyValueError::new_err(format!(
            "{name}: not a valid serialized protocol buffer of that type ({e}); nothing \
             was written"
        ))
    })
}

#[pymethods]
impl PyEventWriter {
    #[new]
    #[pyo3(signature = (logdir, filename_suffix="", max_queue=10, flush_secs=120.0, max_pending_bytes=DEFAULT_MAX_PENDING_BYTES))]
    fn new(
        py: Python<'_>,
        logdir: &Bound<'_, PyString>,
        filename_suffix: &str,
        max_queue: usize,
        flush_secs: f64,
        max_pending_bytes: usize,
    ) -> PyResult<Self> {
        // Checked here rather than extracted as PathBuf: a lone surrogate must become a
        // ValueError naming the argument, never a panic.
        let logdir = std::path::PathBuf::from(text_arg(logdir, "log_dir")?.into_owned());
        if flush_secs.is_nan() || flush_secs <= 0.0 {
            return Err(PyValueError::new_err(format!(
                "flush_secs must be a positive number, got {flush_secs}"
            )));
        }
        let config = WriterConfig {
            dir: logdir,
            filename_suffix: filename_suffix.to_owned(),
            max_queue,
            flush_secs,
            max_pending_bytes,
        };
        let inner = py.detach(|| EventWriter::open(config))?;
        Ok(PyEventWriter { inner })
    }

    /// Path of the event file.
    #[getter]
    fn path(&self) -> std::ffi::OsString {
        // A str (as os.fsdecode gives), like torch's; it changes if the file was replaced.
        self.inner.path().into_os_string()
    }

    #[pyo3(signature = (tag, value, step=None, walltime=None, new_style=false, double_precision=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_scalar(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        value: f64,
        step: Option<i64>,
        walltime: Option<f64>,
        new_style: bool,
        double_precision: bool,
    ) -> PyResult<()> {
        let tag = Tag::from(text_arg(tag, "tag")?.as_ref());
        self.submit(
            py,
            step,
            walltime,
            JobKind::Scalar {
                tag,
                value,
                new_style,
                double_precision,
            },
        )
    }

    #[pyo3(signature = (tag, text, step=None, walltime=None))]
    fn add_text(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        text: &Bound<'_, PyString>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        let text = text_arg(text, "text_string")?.into_owned();
        self.submit(py, step, walltime, JobKind::Text { tag, text })
    }

    /// `values` is C-contiguous with element type `dtype` (numpy's code without byte
    /// order, or "bf16"); `edges` None means torch's default edges.
    #[pyo3(signature = (tag, values, dtype, edges=None, max_bins=None, step=None, walltime=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_histogram(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        values: &Bound<'_, PyAny>,
        dtype: &str,
        edges: Option<&Bound<'_, PyAny>>,
        max_bins: Option<usize>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        let values = copy_array(py, values, dtype, "values")?;
        if values.is_empty() {
            return Err(PyValueError::new_err("values: the input has no element"));
        }
        let bins = histogram_bins(py, edges)?;
        self.submit(
            py,
            step,
            walltime,
            JobKind::Histogram(Box::new(HistogramJob {
                tag,
                values,
                bins,
                max_bins,
            })),
        )
    }

    #[pyo3(signature = (tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, step=None, walltime=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_histogram_raw(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        min: f64,
        max: f64,
        num: f64,
        sum: f64,
        sum_squares: f64,
        bucket_limits: Vec<f64>,
        bucket_counts: Vec<f64>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        let stats = [min, max, num, sum, sum_squares];
        let proto = raw_histogram(stats, bucket_limits, bucket_counts)?;
        self.submit(
            py,
            step,
            walltime,
            JobKind::HistogramRaw(Box::new((tag, proto))),
        )
    }

    /// `complex`: `values` are float32/float64 (real, imaginary) pairs on a last axis of 2.
    #[pyo3(signature = (tag, values, dtype, step=None, walltime=None, complex=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_tensor(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        values: &Bound<'_, PyAny>,
        dtype: &str,
        step: Option<i64>,
        walltime: Option<f64>,
        complex: bool,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        let values = copy_array(py, values, dtype, "tensor")?;
        let job = TensorJob {
            tag,
            values,
            complex,
        };
        self.submit(py, step, walltime, JobKind::Tensor(Box::new(job)))
    }

    /// A serialized `Summary` proto (from torch's, tensorboardX's or any protobuf).
    #[pyo3(signature = (summary, step=None, walltime=None))]
    fn add_summary_bytes(
        &self,
        py: Python<'_>,
        summary: Vec<u8>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        check_proto::<crate::format::proto::Summary>(&summary, "summary")?;
        self.submit(py, step, walltime, JobKind::SummaryBytes(summary))
    }

    /// A serialized `Event` proto; wall time and (if given) step override its own.
    #[pyo3(signature = (event, step=None, walltime=None))]
    fn add_event_bytes(
        &self,
        py: Python<'_>,
        event: Vec<u8>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        check_proto::<Event>(&event, "event")?;
        self.submit(py, step, walltime, JobKind::EventBytes(event))
    }

    /// torch's `purge_step` markers: a file-version event and a SessionLog START, both
    /// at `step`, which make TensorBoard hide older events with larger steps.
    fn add_purge_markers(&self, py: Python<'_>, step: i64) -> PyResult<()> {
        let version = Event {
            step,
            what: Some(EventWhat::FileVersion("brain.Event:2".into())),
            ..Default::default()
        };
        let start = Event {
            step,
            what: Some(EventWhat::SessionLog(SessionLog {
                status: SessionStatus::Start as i32,
                ..Default::default()
            })),
            ..Default::default()
        };
        self.submit(py, None, None, JobKind::Event(Box::new(version)))?;
        self.submit(py, None, None, JobKind::Event(Box::new(start)))
    }

    /// Returns when every event accepted before the call is written and fsync'd.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.flush())?;
        self.warn_notices(py)
    }

    /// Flushes and stops the worker. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let result = py.detach(|| self.inner.close());
        self.warn_notices(py)?;
        Ok(result?)
    }

    /// Events accepted so far.
    #[getter]
    fn accepted(&self) -> PyResult<u64> {
        Ok(self.inner.accepted()?)
    }

    /// Accepted events the worker dropped instead of writing (out of memory, too large,
    /// failed to encode); each was also reported by a `RuntimeWarning`.
    #[getter]
    fn dropped(&self) -> PyResult<u64> {
        Ok(self.inner.dropped()?)
    }

    /// Events of this many bytes or more are rejected (2 GiB; lower in tests).
    #[getter(max_event_bytes)]
    fn py_max_event_bytes(&self) -> usize {
        self.inner.max_event_bytes()
    }
}
