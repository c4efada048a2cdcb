//! Module functions that run one piece of the encoders now, for `ferroboard.summary`'s
//! helpers, tests and benchmarks: PNG encoding, box drawing, torch's `compute_curve`.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::arrays::copy_array;
use super::arrays::PyDType;
use super::summaries::pr_curve_encoder;
use crate::runtime::pools::in_this_process_pool;
use crate::summary::boxes::{draw_boxes, Boxes};
use crate::summary::image::pixels_size;
use crate::summary::png::encode_png;
use crate::summary::pr_curve::compute_curve;
use crate::summary::raw_array::DType;

/// Adds the module-level media functions to `ferroboard._core`.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_encode_png, m)?)?;
    m.add_function(wrap_pyfunction!(py_draw_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(compute_pr_curve, m)?)?;
    Ok(())
}

/// PNG bytes of a C-contiguous uint8 array `(H, W)` or `(H, W, C)` with C in 1..=4,
/// encoded now (without the GIL) by the encoder the writer uses.
#[pyfunction]
#[pyo3(name = "encode_png")]
fn py_encode_png<'py>(
    py: Python<'py>,
    pixels: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let raw = copy_array(py, pixels, DType::UInt8, "pixels")?;
    let (h, w, c) = pixels_size(&raw.shape)?;
    // Parallel strips must use a pool whose threads exist in this (possibly forked) process.
    let png = py
        .detach(|| in_this_process_pool(|| encode_png(raw.bytes(), w as u32, h as u32, c as u8)))?;
    Ok(PyBytes::new(py, &png))
}

/// torch's `summary.draw_boxes`: a copy of the uint8 `(H, W)` or `(H, W, C)` `pixels`
/// with `boxes` (float64 `(N, 4)`: x_min, y_min, x_max, y_max) drawn as
/// `add_image_with_boxes` draws them.
#[pyfunction]
#[pyo3(name = "draw_boxes", signature = (pixels, boxes, labels=None))]
fn py_draw_boxes<'py>(
    py: Python<'py>,
    pixels: &Bound<'py, PyAny>,
    boxes: &Bound<'py, PyAny>,
    labels: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let raw = copy_array(py, pixels, DType::UInt8, "pixels")?;
    let (h, w, c) = pixels_size(&raw.shape)?;
    let boxes = Boxes::exact(&copy_array(py, boxes, DType::Float64, "boxes")?, labels)?;
    let mut out = crate::runtime::fallible::to_vec(raw.bytes(), "the copy of pixels")?;
    draw_boxes(&mut out, w, h, c, &boxes);
    Ok(PyBytes::new(py, &out))
}

/// torch's `compute_curve` as a flat list of 6 * T float64 values.
#[pyfunction]
#[pyo3(signature = (labels, labels_dtype, predictions, predictions_dtype, num_thresholds=127, weights=None, weight=1.0))]
#[allow(clippy::too_many_arguments)]
fn compute_pr_curve(
    py: Python<'_>,
    labels: &Bound<'_, PyAny>,
    labels_dtype: PyDType,
    predictions: &Bound<'_, PyAny>,
    predictions_dtype: PyDType,
    num_thresholds: i64,
    weights: Option<(Bound<'_, PyAny>, PyDType)>,
    weight: f64,
) -> PyResult<Vec<f64>> {
    let enc = pr_curve_encoder(
        py,
        String::new(),
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
