//! Media methods of `EventWriter`: images, videos and audio. Each validates the layout
//! against the array's shape, copies the array and enqueues; conversion and encoding
//! run on the worker (`crate::summary::image`, `crate::summary::video`, `crate::summary::audio`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::arrays::{copy_array, shape_of};
use super::event_writer::{text_arg, PyEventWriter};
use crate::summary::audio::AudioJob;
use crate::summary::boxes::{draw_boxes, Boxes};
use crate::summary::image::{shape_text, ImageJob, ImageLayout};
use crate::summary::job::JobKind;
use crate::summary::limits::{check_gif_size, check_png_size};
use crate::summary::png::encode_png;
use crate::summary::raw_array::RawArray;
use crate::summary::video::{VideoJob, VideoLayout};

/// Adds the module-level media functions to `ferroboard._core`.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_encode_png, m)?)?;
    m.add_function(wrap_pyfunction!(py_draw_boxes, m)?)?;
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
    let raw = copy_array(py, pixels, "u1", "pixels")?;
    let (h, w, c) = image_size(&raw)?;
    // Parallel strips must use a pool whose threads exist in this (possibly forked) process.
    let png = py.detach(|| {
        crate::runtime::pools::in_this_process_pool(|| {
            encode_png(raw.bytes(), w as u32, h as u32, c as u8)
        })
    })?;
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
    let raw = copy_array(py, pixels, "u1", "pixels")?;
    let (h, w, c) = image_size(&raw)?;
    let coords = copy_array(py, boxes, "f8", "boxes")?;
    if coords.shape.len() != 2 || coords.shape[1] != 4 {
        return Err(PyValueError::new_err(format!(
            "boxes must have shape (N, 4), got {}",
            shape_text(&coords.shape)
        )));
    }
    let boxes = Boxes {
        coords: coords
            .typed::<f64>()
            .chunks_exact(4)
            .map(|b| [b[0], b[1], b[2], b[3]])
            .collect(),
        labels,
    };
    let mut out = crate::runtime::fallible::to_vec(raw.bytes(), "the copy of pixels")?;
    draw_boxes(&mut out, w as usize, h as usize, c as usize, &boxes);
    Ok(PyBytes::new(py, &out))
}

/// Height, width and channels of an `(H, W)` or `(H, W, C)` image of 1 to 4 channels.
fn image_size(raw: &RawArray) -> PyResult<(i64, i64, i64)> {
    let (h, w, c) = match raw.shape.as_slice() {
        [h, w] => (*h, *w, 1),
        [h, w, c] => (*h, *w, *c),
        other => {
            return Err(PyValueError::new_err(format!(
                "pixels must be (H, W) or (H, W, C), got shape {}",
                shape_text(other)
            )))
        }
    };
    if !(1..=4).contains(&c)
        || h <= 0
        || w <= 0
        || h > i64::from(u32::MAX)
        || w > i64::from(u32::MAX)
    {
        return Err(PyValueError::new_err(format!(
            "pixels must have 1 to 4 channels and at least one pixel, got shape {}",
            shape_text(&raw.shape)
        )));
    }
    Ok((h, w, c))
}

#[pymethods]
impl PyEventWriter {
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
        dtype: &str,
        dataformats: &str,
        step: Option<i64>,
        walltime: Option<f64>,
        rescale: f64,
        boxes: Option<&Bound<'_, PyAny>>,
        labels: Option<Vec<String>>,
        drop_alpha: bool,
        arg_name: &str,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        // Everything that follows from the shape is checked before the copy.
        let shape = shape_of(img_tensor, arg_name)?;
        let layout = if drop_alpha {
            ImageLayout::parse_dropping_alpha(dataformats, &shape, arg_name)?
        } else {
            ImageLayout::parse(dataformats, &shape, arg_name)?
        };
        if !(rescale.is_finite() && rescale > 0.0) {
            return Err(PyValueError::new_err(format!(
                "rescale must be a positive number, got {rescale}"
            )));
        }
        let (h, w) = ImageJob::scaled_size(&layout, rescale);
        if h == 0 || w == 0 || h > i32::MAX as usize || w > i32::MAX as usize {
            let (oh, ow) = layout.out_size();
            return Err(PyValueError::new_err(format!(
                "rescale={rescale} turns the {oh}x{ow} image into {h}x{w} pixels"
            )));
        }
        // Sizes the worker would allocate, checked before anything is queued: the
        // image (or grid) before `rescale`, then after it.
        let limit = self.max_event_bytes();
        let (oh, ow) = layout.out_size();
        let grid_arg = if layout.n > 1 {
            "img_tensor (the grid)"
        } else {
            arg_name
        };
        check_png_size(grid_arg, ow, oh, layout.out_channels, limit)?;
        check_png_size("rescale", w, h, layout.out_channels, limit)?;
        let pixels = copy_array(py, img_tensor, dtype, arg_name)?;
        if pixels.shape != shape {
            return Err(PyValueError::new_err(format!(
                "{arg_name} changed shape while it was read"
            )));
        }
        let boxes = match boxes {
            None => None,
            Some(b) => {
                let raw = copy_array(py, b, "f8", "box_tensor")?;
                let n = match raw.shape.as_slice() {
                    [n, 4] => *n as usize,
                    [4] => 1,
                    [0] => 0,
                    other => {
                        return Err(PyValueError::new_err(format!(
                        "box_tensor must have shape (N, 4) (x_min, y_min, x_max, y_max), got {}",
                        shape_text(other)
                    )))
                    }
                };
                let coords = raw
                    .typed::<f64>()
                    .chunks_exact(4)
                    .take(n)
                    .map(|c| [c[0], c[1], c[2], c[3]])
                    .collect();
                // torch drops labels whose count differs from the boxes'.
                let labels = labels.filter(|l| l.len() == n);
                Some(Boxes { coords, labels })
            }
        };
        let job = ImageJob {
            tag,
            pixels,
            layout,
            rescale,
            boxes,
        };
        self.submit(py, step, walltime, JobKind::Values(Box::new(job)))
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
        dtype: &str,
        dataformats: &str,
        fps: f64,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        if !(fps.is_finite() && fps > 0.0) {
            return Err(PyValueError::new_err(format!(
                "fps must be a positive number, got {fps}"
            )));
        }
        // The GIF's size follows from the shape: checked before the copy.
        let shape = shape_of(vid_tensor, "vid_tensor")?;
        let layout = VideoLayout::parse(dataformats, &shape, "vid_tensor")?;
        let (h, w) = layout.frame_size();
        check_gif_size("vid_tensor", layout.frames, w, h, self.max_event_bytes())?;
        let frames = copy_array(py, vid_tensor, dtype, "vid_tensor")?;
        if frames.shape != shape {
            return Err(PyValueError::new_err(
                "vid_tensor changed shape while it was read",
            ));
        }
        let job = VideoJob {
            tag,
            frames,
            layout,
            fps,
        };
        self.submit(py, step, walltime, JobKind::Values(Box::new(job)))
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
        dtype: &str,
        sample_rate: f64,
        step: Option<i64>,
        walltime: Option<f64>,
    ) -> PyResult<()> {
        let tag = text_arg(tag, "tag")?.into_owned();
        if !(sample_rate.is_finite() && sample_rate.round_ties_even() >= 1.0 && sample_rate < 4.3e9)
        {
            return Err(PyValueError::new_err(format!(
                "sample_rate must be a positive number of samples per second, got {sample_rate}"
            )));
        }
        let samples = copy_array(py, snd_tensor, dtype, "snd_tensor")?;
        let shape = samples.shape.clone();
        let squeezed: Vec<i64> = shape.iter().copied().filter(|&d| d != 1).collect();
        let channels = match squeezed.as_slice() {
            _ if samples.is_empty() => {
                return Err(PyValueError::new_err(format!(
                    "snd_tensor has no samples: shape {}",
                    shape_text(&shape)
                )))
            }
            [] | [_] => 1,
            [_, 2] => 2,
            _ => {
                return Err(PyValueError::new_err(format!(
                "snd_tensor must be (L,) or (1, L) for mono, or (L, 2) for stereo, got shape {}",
                shape_text(&shape)
            )))
            }
        };
        let job = AudioJob {
            tag,
            samples,
            channels,
            sample_rate,
        };
        self.submit(py, step, walltime, JobKind::Values(Box::new(job)))
    }
}
