//! One builder per summary kind: extract the arguments, copy the arrays, call the kind's
//! validating constructor in `crate::summary`. A builder's `SummaryJob` has two ways
//! out: `EventWriter.add_*` queues it (`event_writer.rs`), or the module function of the
//! same kind wraps it in a `SummaryEncoder` whose `serialize()` gives the `Summary`
//! bytes `ferroboard.summary` returns.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::arrays::PyDType;
use super::arrays::{
    copy_array, copy_small_integers, read_array, shape_of, snapshot_error, text_arg,
};
use crate::error::FerroError;
use crate::format::proto::HistogramProto;
use crate::runtime::cold_binning::{bin_in_place_if_cold, bins_in_place};
use crate::runtime::pools::in_this_process_pool;
use crate::runtime::sync::Mutex;
use crate::summary::audio::AudioJob;
use crate::summary::boxes::Boxes;
use crate::summary::custom_scalars::{ChartSpec, LayoutEncoder};
use crate::summary::histogram::{raw_histogram, Bins, CountsJob};
use crate::summary::hparams::{hparams_encoders, HParam, HValue};
use crate::summary::image::{ImageJob, ImagePlan};
use crate::summary::job::{HistogramJob, SummaryJob, SummaryPart, Tag, TensorJob};
use crate::summary::limits::MAX_EVENT_BYTES;
use crate::summary::mesh::{MeshContent, MeshEncoder};
use crate::summary::pr_curve::{PrCurveEncoder, PrCurveRawEncoder, Weights, RAW_ROW_NAMES};
use crate::summary::raw_array::{check_size, DType, RawArray};
use crate::summary::video::VideoJob;

// -- builders ------------------------------------------------------------------------------

pub(super) fn scalar(
    tag: &Bound<'_, PyString>,
    value: f64,
    new_style: bool,
    double_precision: bool,
) -> PyResult<SummaryJob> {
    let tag = Tag::from(text_arg(tag, "tag")?.as_ref());
    Ok(SummaryJob::scalar(tag, value, new_style, double_precision))
}

pub(super) fn text(tag: &Bound<'_, PyString>, text: &Bound<'_, PyString>) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let text = text_arg(text, "text_string")?.into_owned();
    Ok(SummaryJob::text(tag, text))
}

/// `edges`: None for torch's default edges, else a float64 array (copied fallibly: a
/// MemoryError, never an abort, when it does not fit).
pub(super) fn histogram(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: PyDType,
    edges: Option<&Bound<'_, PyAny>>,
    max_bins: Option<usize>,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let bins = histogram_bins(py, edges)?;
    let dtype = DType::from(dtype);
    // Binning in place blocks on the binning threads: only ever without the GIL.
    let in_place = |bytes: &[u8]| bins_in_place(dtype, bytes);
    let read = read_array(
        py,
        values,
        dtype,
        "values",
        in_place,
        |dtype, shape, bytes, gil_released| {
            check_size(dtype, &shape, bytes)?;
            // Where a copy would go into fresh memory, binning in place costs less.
            if gil_released {
                if let Some(proto) = bin_in_place_if_cold(dtype, bytes, &bins, max_bins)? {
                    return Ok(Histogram::Binned(proto));
                }
            }
            let copied = RawArray::copy_from(dtype, shape, bytes);
            Ok(Histogram::Copied(
                copied.map_err(|e| snapshot_error(e, "values"))?,
            ))
        },
    )?;
    Ok(match read {
        Histogram::Copied(values) => {
            SummaryJob::histogram(HistogramJob::new(tag, values, bins, max_bins)?)
        }
        Histogram::Binned(proto) => SummaryJob::histogram_raw(tag, proto),
    })
}

/// What a histogram call took from the caller's array.
enum Histogram {
    /// A snapshot, binned later in the background.
    Copied(RawArray),
    /// The finished histogram (see `runtime::cold_binning`).
    Binned(HistogramProto),
}

/// `bins` of the histogram methods: torch's default edges (None) or checked edges.
fn histogram_bins(py: Python<'_>, edges: Option<&Bound<'_, PyAny>>) -> PyResult<Bins> {
    Ok(match edges {
        None => Bins::Default,
        Some(edges) => {
            let edges = copy_array(py, edges, DType::Float64, "bins")?;
            Bins::explicit(crate::runtime::fallible::to_vec(
                edges.typed::<f64>(),
                "bins",
            )?)?
        }
    })
}

/// A histogram counted elsewhere (on a GPU): slot counts, statistics, edges.
pub(super) fn histogram_counts(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    counts: &Bound<'_, PyAny>,
    stats: [f64; 6],
    edges: Option<&Bound<'_, PyAny>>,
    max_bins: Option<usize>,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let counts = copy_array(py, counts, DType::Float64, "counts")?;
    let bins = histogram_bins(py, edges)?;
    let job = CountsJob::new(tag, counts.typed::<f64>(), stats, bins, max_bins)?;
    Ok(SummaryJob::values(Box::new(job)))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn histogram_raw(
    tag: &Bound<'_, PyString>,
    min: f64,
    max: f64,
    num: f64,
    sum: f64,
    sum_squares: f64,
    bucket_limits: Vec<f64>,
    bucket_counts: Vec<f64>,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let stats = [min, max, num, sum, sum_squares];
    let proto = raw_histogram(stats, bucket_limits, bucket_counts)?;
    Ok(SummaryJob::histogram_raw(tag, proto))
}

/// `complex`: `values` are float32/float64 (real, imaginary) pairs on a last axis of 2.
pub(super) fn tensor(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: PyDType,
    complex: bool,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let values = copy_array(py, values, dtype, "tensor")?;
    Ok(SummaryJob::tensor(TensorJob {
        tag,
        values,
        complex,
    }))
}

/// An image or a grid; `limit` is the largest event of the writer it is for.
#[allow(clippy::too_many_arguments)]
pub(super) fn image(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    img_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    dataformats: &str,
    rescale: f64,
    boxes: Option<&Bound<'_, PyAny>>,
    labels: Option<Vec<String>>,
    drop_alpha: bool,
    arg_name: &str,
    limit: usize,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    // Everything that follows from the shape is checked before the copy.
    let shape = shape_of(img_tensor, arg_name)?;
    let plan = ImagePlan::new(dataformats, shape, arg_name, drop_alpha, rescale, limit)?;
    let pixels = copy_array(py, img_tensor, dtype, arg_name)?;
    let boxes = match boxes {
        None => None,
        Some(b) => Some(Boxes::for_image(
            &copy_array(py, b, DType::Float64, "box_tensor")?,
            labels,
        )?),
    };
    let job = ImageJob::new(tag, plan, pixels, boxes)?;
    Ok(SummaryJob::values(Box::new(job)))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn video(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    vid_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    dataformats: &str,
    fps: f64,
    limit: usize,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    // The GIF's size follows from the shape: checked before the copy.
    let shape = shape_of(vid_tensor, "vid_tensor")?;
    let layout = VideoJob::plan(dataformats, &shape, fps, limit)?;
    let frames = copy_array(py, vid_tensor, dtype, "vid_tensor")?;
    let job = VideoJob::new(tag, layout, &shape, frames, fps)?;
    Ok(SummaryJob::values(Box::new(job)))
}

pub(super) fn audio(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    snd_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    sample_rate: f64,
) -> PyResult<SummaryJob> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let samples = copy_array(py, snd_tensor, dtype, "snd_tensor")?;
    let job = AudioJob::new(tag, samples, sample_rate)?;
    Ok(SummaryJob::values(Box::new(job)))
}

/// An array argument with its dtype code.
type ArrayArg<'py> = (Bound<'py, PyAny>, PyDType);

/// The copied inputs of a PR curve (also what `compute_pr_curve` computes from).
pub(super) fn pr_curve_encoder(
    py: Python<'_>,
    tag: String,
    labels: (&Bound<'_, PyAny>, PyDType),
    predictions: (&Bound<'_, PyAny>, PyDType),
    num_thresholds: i64,
    weights: Option<ArrayArg<'_>>,
    weight: f64,
) -> PyResult<PrCurveEncoder> {
    let labels = copy_small_integers(py, labels.0, labels.1, "labels")?;
    let predictions = copy_array(py, predictions.0, predictions.1, "predictions")?;
    let weights = match weights {
        Some((w, code)) => Weights::PerElement(copy_array(py, &w, code, "weights")?),
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

/// A custom-scalars category: `(title, [(chart title, is_margin, tags)])`.
type CategoryArg = (String, Vec<(String, bool, Vec<String>)>);

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

// -- the encoder object and the module functions --------------------------------------------

/// A summary built and validated, not encoded yet: `EventWriter.add_encoder` queues it,
/// `serialize()` encodes it now. Either uses it up.
#[pyclass(name = "SummaryEncoder", module = "ferroboard._core", frozen)]
pub struct PySummaryEncoder {
    job: Mutex<Option<SummaryJob>>,
}

impl PySummaryEncoder {
    fn new(job: SummaryJob) -> Self {
        PySummaryEncoder {
            job: Mutex::new(Some(job)),
        }
    }

    pub(super) fn take(&self) -> Result<SummaryJob, FerroError> {
        self.job.lock().take().ok_or(FerroError::AlreadyUsed)
    }
}

#[pymethods]
impl PySummaryEncoder {
    /// The serialized `Summary`, or with `part` "image"/"histogram" the `Summary.Image`
    /// or `HistogramProto` of its first value (computed now, without the GIL).
    #[pyo3(signature = (part="summary"))]
    fn serialize<'py>(&self, py: Python<'py>, part: &str) -> PyResult<Bound<'py, PyBytes>> {
        let part = SummaryPart::from_name(part)?;
        let job = self.take()?;
        let bytes = py.detach(|| in_this_process_pool(|| job.serialize(part)))?;
        Ok(PyBytes::new(py, &bytes))
    }
}

fn encoder(job: SummaryJob) -> PySummaryEncoder {
    PySummaryEncoder::new(job)
}

#[pyfunction]
#[pyo3(signature = (tag, value, new_style=false, double_precision=false))]
fn scalar_summary(
    tag: &Bound<'_, PyString>,
    value: f64,
    new_style: bool,
    double_precision: bool,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(scalar(tag, value, new_style, double_precision)?))
}

#[pyfunction]
fn text_summary(
    tag: &Bound<'_, PyString>,
    text: &Bound<'_, PyString>,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(self::text(tag, text)?))
}

#[pyfunction]
#[pyo3(signature = (tag, values, dtype, edges=None, max_bins=None))]
fn histogram_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: PyDType,
    edges: Option<&Bound<'_, PyAny>>,
    max_bins: Option<usize>,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(histogram(py, tag, values, dtype, edges, max_bins)?))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn histogram_raw_summary(
    tag: &Bound<'_, PyString>,
    min: f64,
    max: f64,
    num: f64,
    sum: f64,
    sum_squares: f64,
    bucket_limits: Vec<f64>,
    bucket_counts: Vec<f64>,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(histogram_raw(
        tag,
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limits,
        bucket_counts,
    )?))
}

#[pyfunction]
#[pyo3(signature = (tag, values, dtype, complex=false))]
fn tensor_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    values: &Bound<'_, PyAny>,
    dtype: PyDType,
    complex: bool,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(tensor(py, tag, values, dtype, complex)?))
}

#[pyfunction]
#[pyo3(signature = (tag, img_tensor, dtype, dataformats="CHW", rescale=1.0, boxes=None, labels=None, drop_alpha=false, arg_name="img_tensor"))]
#[allow(clippy::too_many_arguments)]
fn image_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    img_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    dataformats: &str,
    rescale: f64,
    boxes: Option<&Bound<'_, PyAny>>,
    labels: Option<Vec<String>>,
    drop_alpha: bool,
    arg_name: &str,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(image(
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
        MAX_EVENT_BYTES,
    )?))
}

#[pyfunction]
#[pyo3(signature = (tag, vid_tensor, dtype, dataformats="NTCHW", fps=4.0))]
fn video_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    vid_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    dataformats: &str,
    fps: f64,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(video(
        py,
        tag,
        vid_tensor,
        dtype,
        dataformats,
        fps,
        MAX_EVENT_BYTES,
    )?))
}

#[pyfunction]
#[pyo3(signature = (tag, snd_tensor, dtype, sample_rate=44100.0))]
fn audio_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    snd_tensor: &Bound<'_, PyAny>,
    dtype: PyDType,
    sample_rate: f64,
) -> PyResult<PySummaryEncoder> {
    Ok(encoder(audio(py, tag, snd_tensor, dtype, sample_rate)?))
}

/// `add_pr_curve`'s summary: labels and predictions are C-contiguous arrays with their
/// dtype codes; `weights` an array with its code, or None to use the scalar `weight`.
#[pyfunction]
#[pyo3(signature = (tag, labels, labels_dtype, predictions, predictions_dtype, num_thresholds=127, weights=None, weight=1.0))]
#[allow(clippy::too_many_arguments)]
fn pr_curve_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    labels: &Bound<'_, PyAny>,
    labels_dtype: PyDType,
    predictions: &Bound<'_, PyAny>,
    predictions_dtype: PyDType,
    num_thresholds: i64,
    weights: Option<ArrayArg<'_>>,
    weight: f64,
) -> PyResult<PySummaryEncoder> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let enc = pr_curve_encoder(
        py,
        tag,
        (labels, labels_dtype),
        (predictions, predictions_dtype),
        num_thresholds,
        weights,
        weight,
    )?;
    Ok(encoder(SummaryJob::values(Box::new(enc))))
}

/// `add_pr_curve_raw`'s summary: six `(array, dtype)` rows of equal length.
#[pyfunction]
#[pyo3(signature = (tag, rows, num_thresholds=127))]
fn pr_curve_raw_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    rows: Vec<ArrayArg<'_>>,
    num_thresholds: i64,
) -> PyResult<PySummaryEncoder> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let mut copied = Vec::with_capacity(rows.len());
    for (i, (array, code)) in rows.iter().enumerate() {
        let name = RAW_ROW_NAMES.get(i).copied().unwrap_or("rows");
        copied.push(copy_array(py, array, *code, name)?);
    }
    let enc = PrCurveRawEncoder::from_rows(tag, copied, num_thresholds)?;
    Ok(encoder(SummaryJob::values(Box::new(enc))))
}

/// `add_mesh`'s summary: `parts` are `(content_type, array, dtype)` with content type 1
/// (vertices), 2 (faces) or 3 (colors).
#[pyfunction]
#[pyo3(signature = (tag, parts, json_config, display_name="", description=""))]
fn mesh_summary(
    py: Python<'_>,
    tag: &Bound<'_, PyString>,
    parts: Vec<(i32, Bound<'_, PyAny>, PyDType)>,
    json_config: &Bound<'_, PyString>,
    display_name: &str,
    description: &str,
) -> PyResult<PySummaryEncoder> {
    let tag = text_arg(tag, "tag")?.into_owned();
    let json_config = text_arg(json_config, "config_dict")?.into_owned();
    let mut copied = Vec::with_capacity(parts.len());
    for (code, array, dtype) in &parts {
        let content = MeshContent::from_code(*code)?;
        copied.push((content, copy_array(py, array, *dtype, content.argument())?));
    }
    let enc = MeshEncoder::new(
        tag,
        copied,
        json_config,
        display_name.to_owned(),
        description.to_owned(),
    )?;
    Ok(encoder(SummaryJob::values(Box::new(enc))))
}

/// `add_custom_scalars`'s summary: `[(category, [(title, is_margin, tags)])]`.
#[pyfunction]
fn custom_scalars_summary(layout: Vec<CategoryArg>) -> PyResult<PySummaryEncoder> {
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
    let enc = LayoutEncoder::new(categories)?;
    Ok(encoder(SummaryJob::values(Box::new(enc))))
}

/// The three hparams summaries (experiment, session start, session end).
#[pyfunction]
fn hparams_summaries(
    hparams: Vec<(String, HValueArg, Option<Vec<HValueArg>>)>,
    metrics: Vec<String>,
) -> PyResult<(PySummaryEncoder, PySummaryEncoder, PySummaryEncoder)> {
    let hparams = hparams
        .into_iter()
        .map(|(name, value, domain)| HParam {
            name,
            value: value.into(),
            domain: domain.map(|d| d.into_iter().map(HValue::from).collect()),
        })
        .collect();
    let [exp, start, end] = hparams_encoders(hparams, metrics)?;
    Ok((
        encoder(SummaryJob::values(Box::new(exp))),
        encoder(SummaryJob::values(Box::new(start))),
        encoder(SummaryJob::values(Box::new(end))),
    ))
}

/// Registers the encoder class and the module functions.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySummaryEncoder>()?;
    m.add_function(wrap_pyfunction!(scalar_summary, m)?)?;
    m.add_function(wrap_pyfunction!(text_summary, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_summary, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_raw_summary, m)?)?;
    m.add_function(wrap_pyfunction!(tensor_summary, m)?)?;
    m.add_function(wrap_pyfunction!(image_summary, m)?)?;
    m.add_function(wrap_pyfunction!(video_summary, m)?)?;
    m.add_function(wrap_pyfunction!(audio_summary, m)?)?;
    m.add_function(wrap_pyfunction!(pr_curve_summary, m)?)?;
    m.add_function(wrap_pyfunction!(pr_curve_raw_summary, m)?)?;
    m.add_function(wrap_pyfunction!(mesh_summary, m)?)?;
    m.add_function(wrap_pyfunction!(custom_scalars_summary, m)?)?;
    m.add_function(wrap_pyfunction!(hparams_summaries, m)?)?;
    Ok(())
}
