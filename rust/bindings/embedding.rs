//! `ferroboard._core.EmbeddingWriter` (projector files on their own thread) and the
//! embedding file formats as functions, for tests and tools.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::arrays::copy_array;
use super::arrays::PyDType;
use crate::runtime::embedding_writer::EmbeddingWriter;
use crate::runtime::pools::in_this_process_pool;
use crate::runtime::writer::DEFAULT_MAX_PENDING_BYTES;
use crate::summary::embedding::{EmbeddingInfo, EmbeddingJob, SpriteLayout};

#[pyclass(name = "EmbeddingWriter", module = "ferroboard._core", frozen)]
pub struct PyEmbeddingWriter {
    inner: EmbeddingWriter,
}

#[pymethods]
impl PyEmbeddingWriter {
    #[new]
    #[pyo3(signature = (max_pending_bytes=DEFAULT_MAX_PENDING_BYTES))]
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
        mat_dtype: PyDType,
        binary: bool,
        metadata: Option<Vec<u8>>,
        label_img: Option<(Bound<'_, PyAny>, PyDType)>,
        config: Vec<InfoTuple>,
    ) -> PyResult<InfoTuple> {
        let mat = copy_array(py, mat, mat_dtype, "mat")?;
        EmbeddingJob::check_mat(&mat)?;
        let label_img = match label_img {
            None => None,
            Some((img, code)) => {
                let img = copy_array(py, &img, code, "label_img")?;
                let layout = EmbeddingJob::sprite_layout(&mat, &img)?;
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
fn projector_config_text(config: Vec<InfoTuple>) -> String {
    let infos: Vec<EmbeddingInfo> = config.into_iter().map(info_from_tuple).collect();
    crate::summary::embedding::projector_config_text(&infos)
}

/// torch's `tensors.tsv` text of a 2-D array (for tests and tools).
#[pyfunction]
fn embedding_tsv<'py>(
    py: Python<'py>,
    mat: &Bound<'py, PyAny>,
    dtype: PyDType,
) -> PyResult<Bound<'py, PyBytes>> {
    let mat = copy_array(py, mat, dtype, "mat")?;
    EmbeddingJob::check_mat(&mat)?;
    let text = py.detach(|| in_this_process_pool(|| crate::summary::embedding::tsv_bytes(&mat)));
    Ok(PyBytes::new(py, &text))
}

/// The sprite of `label_img` as PNG bytes (for tests and tools).
#[pyfunction]
fn sprite_png(
    py: Python<'_>,
    label_img: &Bound<'_, PyAny>,
    dtype: PyDType,
) -> PyResult<Py<PyBytes>> {
    let img = copy_array(py, label_img, dtype, "label_img")?;
    let layout = SpriteLayout::new(&img.shape)?;
    let png = py
        .detach(|| in_this_process_pool(|| crate::summary::embedding::sprite_png(&img, &layout)))?;
    Ok(PyBytes::new(py, &png).unbind())
}

/// Raises what `EmbeddingWriter.submit` raises for label images of `shape` (rank,
/// channels, no pixels, a sprite too large to encode), from the shape alone: the CUDA
/// path checks this at the call, before the pixels have arrived.
#[pyfunction]
fn check_label_img_shape(shape: Vec<i64>) -> PyResult<()> {
    SpriteLayout::new(&shape)?;
    Ok(())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEmbeddingWriter>()?;
    m.add_function(wrap_pyfunction!(check_label_img_shape, m)?)?;
    m.add_function(wrap_pyfunction!(sprite_png, m)?)?;
    m.add_function(wrap_pyfunction!(projector_config_text, m)?)?;
    m.add_function(wrap_pyfunction!(embedding_tsv, m)?)?;
    Ok(())
}
