//! Plugin summaries (PR curves, meshes, custom scalars, hparams), graphs and embeddings.
//!
//! Each plugin has a function that validates and copies its inputs into a
//! `PendingSummary` (an encoder not yet run). `EventWriter.add_pending` queues it for the
//! worker; `PendingSummary.serialize` runs it at once, for `ferroboard.summary`'s
//! functions, which return Summary protos.

use parking_lot::Mutex;
use prost::Message;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::arrays::{copy_array, copy_small_integers};
use super::event_writer::{histogram_bins, raw_histogram, text_arg, PyEventWriter};
use crate::error::FerroError;
use crate::format::proto::{Event, EventWhat, Summary, SummaryValue};
use crate::runtime::embedding_writer::EmbeddingWriter;
use crate::runtime::pools::in_this_process_pool;
use crate::summary::custom_scalars::{ChartSpec, LayoutEncoder};
use crate::summary::embedding::{EmbeddingInfo, EmbeddingJob, SpriteLayout};
use crate::summary::graph::{graph_events, AttrSpec, NodeSpec};
use crate::summary::hparams::{hparams_encoders, HParam, HValue};
use crate::summary::job::{HistogramJob, Job, JobKind, ValueEncoder};
use crate::summary::mesh::{MeshContent, MeshEncoder};
use crate::summary::pr_curve::{compute_curve, PrCurveEncoder, PrCurveRawEncoder, Weights};
use crate::summary::raw_array::RawArray;

/// A summary whose values are computed when it is written (or serialized).
#[pyclass(name = "PendingSummary", module = "ferroboard._core", frozen)]
pub struct PyPendingSummary {
    encoder: Mutex<Option<Box<dyn ValueEncoder>>>,
}

impl PyPendingSummary {
    fn new(encoder: Box<dyn ValueEncoder>) -> Self {
        PyPendingSummary {
            encoder: Mutex::new(Some(encoder)),
        }
    }

    fn take(&self) -> PyResult<Box<dyn ValueEncoder>> {
        self.encoder
            .lock()
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this PendingSummary was already used"))
    }
}

#[pymethods]
impl PyPendingSummary {
    /// The serialized `Summary` (computed now, without the GIL).
    fn serialize<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let encoder = self.take()?;
        let bytes = py.detach(|| {
            in_this_process_pool(|| -> Result<Vec<u8>, FerroError> {
                Ok(Summary {
                    value: encoder.encode()?,
                }
                .encode_to_vec())
            })
        })?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Any core job kind as a value encoder (for `ferroboard.summary`'s scalar, text,
/// histogram and tensor functions): encodes the job's Event and takes its values.
struct JobKindEncoder(JobKind);

impl ValueEncoder for JobKindEncoder {
    fn tag(&self) -> &str {
        self.0.tag()
    }

    fn cost(&self) -> usize {
        64 + match &self.0 {
            JobKind::Histogram(h) => h.values.nbytes(),
            JobKind::Tensor(t) => t.values.nbytes(),
            JobKind::HistogramRaw(h) => 16 * h.1.bucket.len(),
            JobKind::Text { text, .. } => text.len(),
            _ => 0,
        }
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let bytes = Job {
            step: None,
            wall_time: 0.0,
            kind: self.0,
        }
        .encode()?;
        let event = Event::decode(bytes.as_slice())
            .map_err(|e| FerroError::InvalidArgument(format!("internal encoding error: {e}")))?;
        match event.what {
            Some(EventWhat::Summary(s)) => Ok(s.value),
            _ => Ok(Vec::new()),
        }
    }
}

/// A graph node from Python: `(name, op, inputs, [(key, kind, value)])`.
type NodeArg<'py> = (
    String,
    String,
    Vec<String>,
    Vec<(String, String, Bound<'py, PyAny>)>,
);
/// A custom-scalars category: `(title, [(chart title, is_margin, tags)])`.
type CategoryArg = (String, Vec<(String, bool, Vec<String>)>);

fn pending(encoder: impl ValueEncoder + 'static) -> PyPendingSummary {
    PyPendingSummary::new(Box::new(encoder))
}

#[pymethods]
impl PyEventWriter {
    /// Queues a `PendingSummary` as one event.
    #[pyo3(signature = (summary, step=None, walltime=None))]
    fn add_pending(
        &self,
        py: Python<'_>,
        summary: &PyPendingSummary,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let encoder = summary.take()?;
        self.submit(py, step, walltime, JobKind::Values(encoder))
    }

    /// Queues a graph: `nodes` are `(name, op, inputs, [(key, kind, value)])` with kind
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
                let spec = match kind.as_str() {
                    "s" => AttrSpec::S(value.extract::<Vec<u8>>()?),
                    "type" => AttrSpec::Type(value.extract::<i32>()?),
                    "shape" => AttrSpec::Shape(value.extract::<Vec<i64>>()?),
                    "shapes" => AttrSpec::ShapeList(value.extract::<Vec<Vec<i64>>>()?),
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "unknown attribute kind {other:?} for node {name:?}"
                        )))
                    }
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
        let walltime = Some(walltime.unwrap_or_else(crate::format::event_file::now_secs));
        for event in graph_events(&specs, run_metadata) {
            self.submit(py, None, walltime, JobKind::Event(Box::new(event)))?;
        }
        Ok(())
    }
}

// -- PR curves ---------------------------------------------------------------------------

fn pr_encoder(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    labels: (&Bound<'_, PyAny>, &str),
    predictions: (&Bound<'_, PyAny>, &str),
    num_thresholds: i64,
    weights: Option<(&Bound<'_, PyAny>, &str)>,
    weight: f64,
) -> PyResult<PrCurveEncoder> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let labels = copy_small_integers(py, labels.0, labels.1, "labels")?;
    let predictions = copy_array(py, predictions.0, predictions.1, "predictions")?;
    let weights = match weights {
        Some((w, code)) => Weights::PerElement(copy_array(py, w, code, "weights")?),
        None => Weights::Scalar(weight),
    };
    Ok(PrCurveEncoder::new(
        tag,
        labels,
        predictions,
        weights,
        num_thresholds,
    )?)
}

/// `add_pr_curve`'s summary: labels and predictions are C-contiguous arrays with their
/// dtype codes; `weights` an array with its code, or None to use the scalar `weight`.
#[pyfunction]
#[pyo3(signature = (tag, labels, labels_dtype, predictions, predictions_dtype, num_thresholds=127, weights=None, weight=1.0))]
#[allow(clippy::too_many_arguments)]
pub fn pr_curve_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    labels: &Bound<'_, PyAny>,
    labels_dtype: &str,
    predictions: &Bound<'_, PyAny>,
    predictions_dtype: &str,
    num_thresholds: i64,
    weights: Option<(Bound<'_, PyAny>, String)>,
    weight: f64,
) -> PyResult<PyPendingSummary> {
    let weights = weights.as_ref().map(|(w, c)| (w, c.as_str()));
    let enc = pr_encoder(
        py,
        tag,
        (labels, labels_dtype),
        (predictions, predictions_dtype),
        num_thresholds,
        weights,
        weight,
    )?;
    Ok(pending(enc))
}

/// torch's `compute_curve` as a flat list of 6 * T float64 values.
#[pyfunction]
#[pyo3(signature = (labels, labels_dtype, predictions, predictions_dtype, num_thresholds=127, weights=None, weight=1.0))]
#[allow(clippy::too_many_arguments)]
pub fn compute_pr_curve(
    py: Python<'_>,
    labels: &Bound<'_, PyAny>,
    labels_dtype: &str,
    predictions: &Bound<'_, PyAny>,
    predictions_dtype: &str,
    num_thresholds: i64,
    weights: Option<(Bound<'_, PyAny>, String)>,
    weight: f64,
) -> PyResult<Vec<f64>> {
    let tag = PyString::new(py, "");
    let weights = weights.as_ref().map(|(w, c)| (w, c.as_str()));
    let enc = pr_encoder(
        py,
        &tag,
        (labels, labels_dtype),
        (predictions, predictions_dtype),
        num_thresholds,
        weights,
        weight,
    )?;
    Ok(py.detach(|| {
        in_this_process_pool(|| {
            compute_curve(
                &enc.labels,
                &enc.predictions,
                &enc.weights,
                enc.num_thresholds,
            )
        })
    }))
}

/// `add_pr_curve_raw`'s summary: six `(array, dtype)` rows of equal length.
#[pyfunction]
#[pyo3(signature = (tag, rows, num_thresholds=127))]
pub fn pr_curve_raw_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    rows: Vec<(Bound<'_, PyAny>, String)>,
    num_thresholds: i64,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    const NAMES: [&str; 6] = [
        "true_positive_counts",
        "false_positive_counts",
        "true_negative_counts",
        "false_negative_counts",
        "precision",
        "recall",
    ];
    if rows.len() != 6 {
        return Err(PyValueError::new_err(format!(
            "a raw PR curve needs 6 rows, got {}",
            rows.len()
        )));
    }
    let mut copied: Vec<RawArray> = Vec::with_capacity(6);
    for ((array, code), name) in rows.iter().zip(NAMES) {
        copied.push(copy_array(py, array, code, name)?);
    }
    let rows: [RawArray; 6] = copied
        .try_into()
        .map_err(|_| PyValueError::new_err("a raw PR curve needs 6 rows"))?;
    Ok(pending(PrCurveRawEncoder::new(tag, rows, num_thresholds)?))
}

// -- mesh, custom scalars, hparams -------------------------------------------------------

/// `add_mesh`'s summary: `parts` are `(content_type, array, dtype)` with content type 1
/// (vertices), 2 (faces) or 3 (colors).
#[pyfunction]
#[pyo3(signature = (tag, parts, json_config, display_name="", description=""))]
pub fn mesh_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    parts: Vec<(i32, Bound<'_, PyAny>, String)>,
    json_config: &Bound<'_, PyString>,
    display_name: &str,
    description: &str,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let json_config = text_arg(json_config, "config_dict")?.into_owned();
    let mut copied = Vec::with_capacity(parts.len());
    for (code, array, dtype) in &parts {
        let content = MeshContent::from_code(*code)?;
        copied.push((content, copy_array(py, array, dtype, content.argument())?));
    }
    Ok(pending(MeshEncoder::new(
        tag,
        copied,
        json_config,
        display_name.to_owned(),
        description.to_owned(),
    )?))
}

/// `add_custom_scalars`'s summary: `[(category, [(title, is_margin, tags)])]`.
#[pyfunction]
pub fn custom_scalars_summary(layout: Vec<CategoryArg>) -> PyResult<PyPendingSummary> {
    let categories = layout
        .into_iter()
        .map(|(title, charts)| {
            (
                title,
                charts
                    .into_iter()
                    .map(|(title, margin, tags)| ChartSpec {
                        title,
                        margin,
                        tags,
                    })
                    .collect(),
            )
        })
        .collect();
    Ok(pending(LayoutEncoder::new(categories)?))
}

/// A hyperparameter value the Python layer has normalized to bool, str or float.
#[derive(FromPyObject)]
pub enum HValueArg {
    Bool(bool),
    Str(String),
    Number(f64),
}

impl From<HValueArg> for HValue {
    fn from(v: HValueArg) -> HValue {
        match v {
            HValueArg::Bool(b) => HValue::Bool(b),
            HValueArg::Str(s) => HValue::Str(s),
            HValueArg::Number(n) => HValue::Number(n),
        }
    }
}

/// The three hparams summaries (experiment, session start, session end).
#[pyfunction]
pub fn hparams_summaries(
    hparams: Vec<(String, HValueArg, Option<Vec<HValueArg>>)>,
    metrics: Vec<String>,
) -> PyResult<(PyPendingSummary, PyPendingSummary, PyPendingSummary)> {
    let hparams = hparams
        .into_iter()
        .map(|(name, value, domain)| HParam {
            name,
            value: value.into(),
            domain: domain.map(|d| d.into_iter().map(HValue::from).collect()),
        })
        .collect();
    let [exp, start, end] = hparams_encoders(hparams, metrics)?;
    Ok((pending(exp), pending(start), pending(end)))
}

// -- the core kinds, for ferroboard.summary ------------------------------------------------

#[pyfunction]
#[pyo3(signature = (tag, value, new_style=false, double_precision=false))]
pub fn scalar_summary(
    tag: &Bound<'_, PyString>,
    value: f64,
    new_style: bool,
    double_precision: bool,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    Ok(pending(JobKindEncoder(JobKind::Scalar {
        tag: tag.into(),
        value,
        new_style,
        double_precision,
    })))
}

#[pyfunction]
pub fn text_summary(
    tag: &Bound<'_, PyString>,
    text: &Bound<'_, PyString>,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let text = text_arg(text, "text_string")?.into_owned();
    Ok(pending(JobKindEncoder(JobKind::Text { tag, text })))
}

/// `edges` None means torch's default ("tensorflow") edges.
#[pyfunction]
#[pyo3(signature = (tag, values, dtype, edges=None, max_bins=None))]
pub fn histogram_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: &str,
    edges: Option<&Bound<'_, PyAny>>,
    max_bins: Option<usize>,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let values = copy_array(py, values, dtype, "values")?;
    if values.is_empty() {
        return Err(PyValueError::new_err("values: the input has no element"));
    }
    let bins = histogram_bins(py, edges)?;
    Ok(pending(JobKindEncoder(JobKind::Histogram(Box::new(
        HistogramJob {
            tag,
            values,
            bins,
            max_bins,
        },
    )))))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn histogram_raw_summary(
    tag: &Bound<'_, PyString>,
    min: f64,
    max: f64,
    num: f64,
    sum: f64,
    sum_squares: f64,
    bucket_limits: Vec<f64>,
    bucket_counts: Vec<f64>,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let stats = [min, max, num, sum, sum_squares];
    let proto = raw_histogram(stats, bucket_limits, bucket_counts)?;
    Ok(pending(JobKindEncoder(JobKind::HistogramRaw(Box::new((
        tag, proto,
    ))))))
}

/// `complex`: `values` are float32/float64 (real, imaginary) pairs on a last axis of 2
/// (as `EventWriter.add_tensor` takes them).
#[pyfunction]
#[pyo3(signature = (tag, values, dtype, complex=false))]
pub fn tensor_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: &str,
    complex: bool,
) -> PyResult<PyPendingSummary> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let values = copy_array(py, values, dtype, "tensor")?;
    let job = crate::summary::job::TensorJob {
        tag,
        values,
        complex,
    };
    Ok(pending(JobKindEncoder(JobKind::Tensor(Box::new(job)))))
}

// -- embeddings ----------------------------------------------------------------------------

/// `ferroboard._core.EmbeddingWriter`: writes projector files on its own thread.
#[pyclass(name = "EmbeddingWriter", module = "ferroboard._core", frozen)]
pub struct PyEmbeddingWriter {
    inner: EmbeddingWriter,
}

#[pymethods]
impl PyEmbeddingWriter {
    #[new]
    #[pyo3(signature = (max_pending_bytes=1 << 30))]
    fn new(max_pending_bytes: usize) -> PyResult<Self> {
        Ok(PyEmbeddingWriter {
            inner: EmbeddingWriter::start(max_pending_bytes)?,
        })
    }

    /// Queues one embedding and returns its config entry. `subdir` (relative to
    /// `logdir`, already created) holds its files; `mat` is a C-contiguous (N, D) array;
    /// `metadata` the whole metadata.tsv; `label_img` an (N, C, H, W) array with its dtype
    /// code; `config` the entries of the embeddings before this one (this writer's
    /// `projector_config.pbtxt` is rewritten with them and the new entry).
    #[pyo3(signature = (logdir, subdir, tensor_name, mat, mat_dtype, binary=false, metadata=None, label_img=None, config=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        py: Python<'_>,
        logdir: std::path::PathBuf,
        subdir: String,
        tensor_name: String,
        mat: &Bound<'_, PyAny>,
        mat_dtype: &str,
        binary: bool,
        metadata: Option<Vec<u8>>,
        label_img: Option<(Bound<'_, PyAny>, String)>,
        config: Vec<InfoTuple>,
    ) -> PyResult<InfoTuple> {
        let mat = copy_array(py, mat, mat_dtype, "mat")?;
        if mat.shape.len() != 2 {
            return Err(PyValueError::new_err(format!(
                "mat must be 2-D (N, D), got shape {:?}",
                mat.shape
            )));
        }
        let n = mat.shape[0];
        let label_img = match label_img {
            None => None,
            Some((img, code)) => {
                let img = copy_array(py, &img, &code, "label_img")?;
                let layout = SpriteLayout::new(&img.shape)?;
                if layout.n as i64 != n {
                    return Err(PyValueError::new_err(format!(
                        "label_img must have one image per data point: {} images for {n} \
                         points",
                        layout.n
                    )));
                }
                Some((img, layout))
            }
        };
        let info = EmbeddingJob::plan(
            &subdir,
            tensor_name,
            &mat,
            binary,
            metadata.is_some(),
            label_img.as_ref().map(|(_, l)| l),
        );
        let mut infos: Vec<EmbeddingInfo> = config.into_iter().map(info_from_tuple).collect();
        infos.push(info.clone());
        let job = EmbeddingJob {
            dir: logdir.join(&subdir),
            logdir,
            mat,
            metadata,
            label_img,
            info: info.clone(),
            config: infos,
        };
        py.detach(|| self.inner.submit(job))?;
        Ok(info_to_tuple(info))
    }

    /// Returns when every queued embedding is written; raises the first failure.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.inner.wait())?)
    }

    /// Waits and stops the thread. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.inner.close())?)
    }
}

/// An `EmbeddingInfo` in Python: `(tensor_name, metadata_path, tensor_shape,
/// sprite_image_path, sprite_single_image_dim, tensor_path)`; empty strings and lists
/// for fields not set.
type InfoTuple = (String, String, Vec<u64>, String, Vec<u64>, String);

fn info_to_tuple(i: EmbeddingInfo) -> InfoTuple {
    let (sprite_path, dims) = match i.sprite {
        Some((p, d)) => (p, d.to_vec()),
        None => (String::new(), Vec::new()),
    };
    (
        i.tensor_name,
        i.metadata_path,
        i.tensor_shape,
        sprite_path,
        dims,
        i.tensor_path,
    )
}

fn info_from_tuple(t: InfoTuple) -> EmbeddingInfo {
    let (tensor_name, metadata_path, tensor_shape, sprite_path, dims, tensor_path) = t;
    let sprite = if sprite_path.is_empty() && dims.is_empty() {
        None
    } else {
        let w = dims.first().copied().unwrap_or(0);
        let h = dims.get(1).copied().unwrap_or(0);
        Some((sprite_path, [w, h]))
    };
    EmbeddingInfo {
        tensor_name,
        metadata_path,
        tensor_shape,
        sprite,
        tensor_path,
    }
}

/// `projector_config.pbtxt` text for config entries (for tests and tools).
#[pyfunction]
pub fn projector_config_text(config: Vec<InfoTuple>) -> String {
    let infos: Vec<EmbeddingInfo> = config.into_iter().map(info_from_tuple).collect();
    crate::summary::embedding::projector_config_text(&infos)
}

/// torch's `tensors.tsv` text of a 2-D array (for tests and tools).
#[pyfunction]
pub fn embedding_tsv<'py>(
    py: Python<'py>,
    mat: &Bound<'py, PyAny>,
    dtype: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let mat = copy_array(py, mat, dtype, "mat")?;
    if mat.shape.len() != 2 {
        return Err(PyValueError::new_err(format!(
            "mat must be 2-D (N, D), got shape {:?}",
            mat.shape
        )));
    }
    let text = py.detach(|| in_this_process_pool(|| crate::summary::embedding::tsv_bytes(&mat)));
    Ok(PyBytes::new(py, &text))
}

/// The sprite of `label_img` as PNG bytes (for tests and tools).
#[pyfunction]
pub fn sprite_png(
    py: Python<'_>,
    label_img: &Bound<'_, PyAny>,
    dtype: &str,
) -> PyResult<Py<PyBytes>> {
    let img = copy_array(py, label_img, dtype, "label_img")?;
    let layout = SpriteLayout::new(&img.shape)?;
    let png = py
        .detach(|| in_this_process_pool(|| crate::summary::embedding::sprite_png(&img, &layout)))?;
    Ok(PyBytes::new(py, &png).unbind())
}

/// Registers this module's classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPendingSummary>()?;
    m.add_class::<PyEmbeddingWriter>()?;
    m.add_function(wrap_pyfunction!(pr_curve_summary, m)?)?;
    m.add_function(wrap_pyfunction!(compute_pr_curve, m)?)?;
    m.add_function(wrap_pyfunction!(pr_curve_raw_summary, m)?)?;
    m.add_function(wrap_pyfunction!(mesh_summary, m)?)?;
    m.add_function(wrap_pyfunction!(custom_scalars_summary, m)?)?;
    m.add_function(wrap_pyfunction!(hparams_summaries, m)?)?;
    m.add_function(wrap_pyfunction!(scalar_summary, m)?)?;
    m.add_function(wrap_pyfunction!(text_summary, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_summary, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_raw_summary, m)?)?;
    m.add_function(wrap_pyfunction!(tensor_summary, m)?)?;
    m.add_function(wrap_pyfunction!(sprite_png, m)?)?;
    m.add_function(wrap_pyfunction!(projector_config_text, m)?)?;
    m.add_function(wrap_pyfunction!(embedding_tsv, m)?)?;
    Ok(())
}
