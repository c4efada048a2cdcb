//! `ferroboard._core.EventWriter`: one event file and its background worker. Every
//! method of the class is here; each builds its job with the builders of `summaries.rs`
//! (or the core's event constructors) and queues it.

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::arrays::text_arg;
use super::arrays::PyDType;
use super::summaries::{self, PySummaryEncoder};
use crate::format::event_file::purge_markers;
use crate::format::proto::{check_serialized, Event, Summary};
use crate::runtime::writer::{EventWriter, WriterConfig, DEFAULT_MAX_PENDING_BYTES};
use crate::summary::graph::{graph_events, serialized_graph_events, AttrKind, AttrSpec, NodeSpec};
use crate::summary::job::{checked_wall_time, Job, JobKind};

/// Default bound of a remote writer's `close()`, in seconds.
pub const DEFAULT_CLOSE_TIMEOUT_SECS: f64 = crate::store::DEFAULT_CLOSE_TIMEOUT.as_secs_f64();

#[pyclass(name = "EventWriter", module = "ferroboard._core", frozen)]
pub struct PyEventWriter {
    inner: EventWriter,
}

/// A graph node from Python: `(name, op, inputs, [(key, kind, value)])`.
type NodeArg<'py> = (
    String,
    String,
    Vec<String>,
    Vec<(String, String, Bound<'py, PyAny>)>,
);

impl PyEventWriter {
    /// Enqueues `kind`; blocks (without the GIL) only while the byte budget is full.
    fn submit(
        &self,
        py: Python<'_>,
        step: Option<i64>,
        walltime: Option<f64>,
        kind: JobKind,
    ) -> PyResult<()> {
        let job = Job::new(step, walltime, kind)?;
        // No poison record: an event protocol buffers cannot read is never queued.
        crate::summary::limits::check_job(&job, self.inner.max_event_bytes())?;
        match self.inner.try_submit(job)? {
            None => {}
            Some(job) => py.detach(|| self.inner.submit_blocking(job))?,
        }
        self.warn_notices(py)
    }

    /// Queues `events` with one wall time (now when None).
    fn submit_events(
        &self,
        py: Python<'_>,
        events: Vec<Event>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let walltime = Some(checked_wall_time(walltime)?);
        for event in events {
            self.submit(py, None, walltime, JobKind::Event(Box::new(event)))?;
        }
        Ok(())
    }

    /// Gives reserved slot `slot` its event (its step and wall time are the reserved
    /// ones, docs/gpu.md). Never blocks: the values were computed while the caller went on.
    fn fill_slot(&self, py: Python<'_>, slot: u64, kind: JobKind) -> PyResult<()> {
        let job = Job::new(None, Some(0.0), kind)?;
        crate::summary::limits::check_job(&job, self.inner.max_event_bytes())?;
        self.inner.fill(slot, job)?;
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

/// `walltime` checked as every queued event's is (finite), for callers that must know
/// before they create anything (`add_scalars`' sub-runs, `use_metadata`).
#[pyfunction]
pub(super) fn checked_walltime(walltime: f64) -> PyResult<f64> {
    Ok(checked_wall_time(Some(walltime))?)
}

#[pymethods]
impl PyEventWriter {
    #[new]
    /// A `logdir` that is a URL (`s3://bucket/run`, ...) is written through the store
    /// named by its scheme, configured by the environment and `storage_options`.
    #[pyo3(signature = (logdir, filename_suffix="", max_queue=10, flush_secs=120.0, max_pending_bytes=DEFAULT_MAX_PENDING_BYTES, storage_options=None, close_timeout=DEFAULT_CLOSE_TIMEOUT_SECS))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        logdir: &Bound<'_, PyString>,
        filename_suffix: &str,
        max_queue: usize,
        flush_secs: f64,
        max_pending_bytes: usize,
        storage_options: Option<Vec<(String, String)>>,
        close_timeout: f64,
    ) -> PyResult<Self> {
        // Checked here rather than extracted as PathBuf: a lone surrogate must become a
        // ValueError naming the argument, never a panic.
        let logdir = text_arg(logdir, "log_dir")?.into_owned();
        let remote = crate::store::RemoteConfig::for_log_dir(
            &logdir,
            storage_options.unwrap_or_default(),
            close_timeout,
        )?;
        let config = WriterConfig {
            dir: std::path::PathBuf::from(logdir),
            filename_suffix: filename_suffix.to_owned(),
            max_queue,
            flush_secs,
            max_pending_bytes,
            remote,
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
        let job = summaries::scalar(tag, value, new_style, double_precision)?;
        self.submit(py, step, walltime, job.into_kind())
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
        let job = summaries::text(tag, text)?;
        self.submit(py, step, walltime, job.into_kind())
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
        dtype: PyDType,
        edges: Option<&Bound<'_, PyAny>>,
        max_bins: Option<usize>,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let job = summaries::histogram(py, tag, values, dtype, edges, max_bins)?;
        self.submit(py, step, walltime, job.into_kind())
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
        let job = summaries::histogram_raw(
            tag,
            min,
            max,
            num,
            sum,
            sum_squares,
            bucket_limits,
            bucket_counts,
        )?;
        self.submit(py, step, walltime, job.into_kind())
    }

    /// `complex`: `values` are float32/float64 (real, imaginary) pairs on a last axis of 2.
    #[pyo3(signature = (tag, values, dtype, step=None, walltime=None, complex=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_tensor(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        values: &Bound<'_, PyAny>,
        dtype: PyDType,
        step: Option<i64>,
        walltime: Option<f64>,
        complex: bool,
    ) -> PyResult<()> {
        let job = summaries::tensor(py, tag, values, dtype, complex)?;
        self.submit(py, step, walltime, job.into_kind())
    }

    /// An image or a grid of images. `img_tensor` is C-contiguous with element type
    /// `dtype`; `dataformats` names its axes (`CHW`, `HWC`, `HW`, `NCHW`, ... any
    /// order). `boxes`: float64 `(N, 4)` (x_min, y_min, x_max, y_max), drawn in red
    /// with `labels` (one per box). `drop_alpha`: the array is an RGBA rendering whose
    /// alpha is not written (figures).
    #[pyo3(signature = (tag, img_tensor, dtype, dataformats="CHW", step=None, walltime=None, rescale=1.0, boxes=None, labels=None, drop_alpha=false, arg_name="img_tensor"))]
    #[allow(clippy::too_many_arguments)]
    fn add_image(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        img_tensor: &Bound<'_, PyAny>,
        dtype: PyDType,
        dataformats: &str,
        step: Option<i64>,
        walltime: Option<f64>,
        rescale: f64,
        boxes: Option<&Bound<'_, PyAny>>,
        labels: Option<Vec<String>>,
        drop_alpha: bool,
        arg_name: &str,
    ) -> PyResult<()> {
        let job = summaries::image(
            py,
            tag,
            img_tensor,
            dtype,
            dataformats,
            rescale,
            boxes,
            labels,
            drop_alpha,
            arg_name,
            self.inner.max_event_bytes(),
        )?;
        self.submit(py, step, walltime, job.into_kind())
    }

    /// A video as an animated GIF: `vid_tensor` is 5-D with axes named by
    /// `dataformats` (a permutation of NTCHW).
    #[pyo3(signature = (tag, vid_tensor, dtype, dataformats="NTCHW", fps=4.0, step=None, walltime=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_video(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        vid_tensor: &Bound<'_, PyAny>,
        dtype: PyDType,
        dataformats: &str,
        fps: f64,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let limit = self.inner.max_event_bytes();
        let job = summaries::video(py, tag, vid_tensor, dtype, dataformats, fps, limit)?;
        self.submit(py, step, walltime, job.into_kind())
    }

    /// Audio as a PCM16 WAV: `(L,)`, `(1, L)` (any size-1 axes) mono, or `(L, 2)`
    /// stereo, values in [-1, 1] (clipped).
    #[pyo3(signature = (tag, snd_tensor, dtype, sample_rate=44100.0, step=None, walltime=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_audio(
        &self,
        py: Python<'_>,
        tag: &Bound<'_, PyString>,
        snd_tensor: &Bound<'_, PyAny>,
        dtype: PyDType,
        sample_rate: f64,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let job = summaries::audio(py, tag, snd_tensor, dtype, sample_rate)?;
        self.submit(py, step, walltime, job.into_kind())
    }

    /// Queues a summary built by one of the module's `*_summary` functions.
    #[pyo3(signature = (encoder, step=None, walltime=None))]
    fn add_encoder(
        &self,
        py: Python<'_>,
        encoder: &PySummaryEncoder,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let job = encoder.take()?;
        self.submit(py, step, walltime, job.into_kind())
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
        check_serialized::<Summary>(&summary, "summary")?;
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
        check_serialized::<Event>(&event, "event")?;
        self.submit(py, step, walltime, JobKind::EventBytes(event))
    }

    /// torch's `purge_step` markers, which make TensorBoard hide older events with
    /// larger steps.
    fn add_purge_markers(&self, py: Python<'_>, step: i64) -> PyResult<()> {
        self.submit_events(py, purge_markers(step).into(), None)
    }

    /// A graph: `nodes` are `(name, op, inputs, [(key, kind, value)])` with kind
    /// "s" (bytes), "type" (int), "shape" (dims) or "shapes" (list of dims). With
    /// `run_metadata`, torch's "step1" RunMetadata event follows the GraphDef event.
    #[pyo3(signature = (nodes, run_metadata=true, walltime=None))]
    fn add_graph_nodes(
        &self,
        py: Python<'_>,
        nodes: Vec<NodeArg<'_>>,
        run_metadata: bool,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let mut specs = Vec::with_capacity(nodes.len());
        for (name, op, input, attrs) in nodes {
            let mut attr = Vec::with_capacity(attrs.len());
            for (key, kind, value) in attrs {
                let spec = match AttrKind::from_name(&kind, &name)? {
                    AttrKind::S => AttrSpec::S(value.extract()?),
                    AttrKind::Type => AttrSpec::Type(value.extract()?),
                    AttrKind::Shape => AttrSpec::Shape(value.extract()?),
                    AttrKind::ShapeList => AttrSpec::ShapeList(value.extract()?),
                };
                attr.push((key, spec));
            }
            specs.push(NodeSpec {
                name,
                op,
                input,
                attr,
            });
        }
        self.submit_events(py, graph_events(&specs, run_metadata), walltime)
    }

    /// A serialized `GraphDef` event and, if given, the serialized `RunMetadata`
    /// tagged "step1" (torch's `FileWriter.add_graph` / `add_onnx_graph`).
    #[pyo3(signature = (graph_def, run_metadata=None, walltime=None))]
    fn add_graph_bytes(
        &self,
        py: Python<'_>,
        graph_def: Vec<u8>,
        run_metadata: Option<Vec<u8>>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let events = serialized_graph_events(graph_def, run_metadata);
        self.submit_events(py, events, walltime)
    }

    /// Reserves the next place in file order for an event whose values come later
    /// (docs/gpu.md); `step` and the wall time (now, unless given) are the event's.
    /// Returns the slot to fill or cancel.
    #[pyo3(signature = (step=None, walltime=None))]
    fn reserve(&self, step: Option<i64>, walltime: Option<f64>) -> PyResult<u64> {
        let wall_time = Job::new(step, walltime, JobKind::Cancelled)?.wall_time;
        Ok(self.inner.reserve(step, wall_time)?)
    }

    /// Fills `slot` with a scalar event.
    #[pyo3(signature = (slot, tag, value, new_style=false, double_precision=false))]
    fn fill_scalar(
        &self,
        py: Python<'_>,
        slot: u64,
        tag: &Bound<'_, PyString>,
        value: f64,
        new_style: bool,
        double_precision: bool,
    ) -> PyResult<()> {
        let job = summaries::scalar(tag, value, new_style, double_precision)?;
        self.fill_slot(py, slot, job.into_kind())
    }

    /// Fills `slot` with the histogram of `values` (binned on the worker, as
    /// `add_histogram` does).
    #[pyo3(signature = (slot, tag, values, dtype, edges=None, max_bins=None))]
    #[allow(clippy::too_many_arguments)]
    fn fill_histogram(
        &self,
        py: Python<'_>,
        slot: u64,
        tag: &Bound<'_, PyString>,
        values: &Bound<'_, PyAny>,
        dtype: PyDType,
        edges: Option<&Bound<'_, PyAny>>,
        max_bins: Option<usize>,
    ) -> PyResult<()> {
        let job = summaries::histogram(py, tag, values, dtype, edges, max_bins)?;
        self.fill_slot(py, slot, job.into_kind())
    }

    /// Fills `slot` with a histogram counted elsewhere: `counts` (float64, whole
    /// numbers) has one slot more than the edges (slot `j`: values with `j` edges at or
    /// below them; values equal to the last edge in the last bucket; NaN in the last
    /// slot), `stats` is `[min, max, num, sum, sum_squares, nan_count]`.
    #[pyo3(signature = (slot, tag, counts, stats, edges=None, max_bins=None))]
    #[allow(clippy::too_many_arguments)]
    fn fill_histogram_counts(
        &self,
        py: Python<'_>,
        slot: u64,
        tag: &Bound<'_, PyString>,
        counts: &Bound<'_, PyAny>,
        stats: [f64; 6],
        edges: Option<&Bound<'_, PyAny>>,
        max_bins: Option<usize>,
    ) -> PyResult<()> {
        let job = summaries::histogram_counts(py, tag, counts, stats, edges, max_bins)?;
        self.fill_slot(py, slot, job.into_kind())
    }

    /// Fills `slot` with a summary built by one of the module's `*_summary` functions
    /// (media, tensors, PR curves, meshes whose values were copied from a GPU).
    fn fill_encoder(&self, py: Python<'_>, slot: u64, encoder: &PySummaryEncoder) -> PyResult<()> {
        let job = encoder.take()?;
        self.fill_slot(py, slot, job.into_kind())
    }

    /// Gives up `slot`: nothing is written for it. False if it was not waiting.
    fn cancel(&self, slot: u64) -> PyResult<bool> {
        Ok(self.inner.cancel(slot)?)
    }

    /// Reserved slots still waiting for their values.
    #[getter]
    fn unfilled(&self) -> PyResult<usize> {
        Ok(self.inner.unfilled()?)
    }

    /// Reserved slots given up so far (each one was reported by a warning).
    #[getter]
    fn cancelled(&self) -> PyResult<u64> {
        Ok(self.inner.cancelled()?)
    }

    /// Returns when every event accepted before the call is written and fsync'd.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.flush())?;
        self.warn_notices(py)
    }

    /// Flushes and stops the worker. Idempotent. A remote writer then waits until the
    /// store holds every event, at most `timeout` seconds (default: its close_timeout).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = crate::store::timeout_arg(timeout)?;
        let result = py.detach(|| self.inner.close_within(timeout));
        self.warn_notices(py)?;
        Ok(result?)
    }

    /// The URL of a remote log dir; None for a local one.
    #[getter]
    fn url(&self) -> Option<String> {
        self.inner.url()
    }

    /// A remote writer's events staged locally and events in the store; None for a
    /// local one.
    #[getter]
    fn upload_counts(&self) -> Option<(u64, u64)> {
        self.inner.upload_counts()
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
    #[getter]
    fn max_event_bytes(&self) -> usize {
        self.inner.max_event_bytes()
    }
}
