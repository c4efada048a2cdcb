//! Functions over remote log directories: `ferroboard.sync` and listing or reading the
//! objects of a run (tools and tests). Each blocks, without the GIL, on its own runtime.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::FerroError;
use crate::store::files::RemoteFiles;
use crate::store::{recover, RemoteConfig};

/// `ferroboard._core.RemoteFiles`: files (embeddings, projector config) written under a
/// URL log dir, staged locally and uploaded whole in the background.
#[pyclass(name = "RemoteFiles", module = "ferroboard._core", frozen)]
pub struct PyRemoteFiles {
    inner: RemoteFiles,
}

#[pymethods]
impl PyRemoteFiles {
    #[new]
    #[pyo3(signature = (url, storage_options=None, close_timeout=crate::store::DEFAULT_CLOSE_TIMEOUT.as_secs_f64()))]
    fn new(
        url: &str,
        storage_options: Option<Vec<(String, String)>>,
        close_timeout: f64,
    ) -> PyResult<Self> {
        let remote =
            RemoteConfig::for_log_dir(url, storage_options.unwrap_or_default(), close_timeout)?
                .ok_or_else(|| {
                    FerroError::InvalidArgument(format!("url must be a URL, got {url:?}"))
                })?;
        Ok(PyRemoteFiles {
            inner: RemoteFiles::open(&remote)?,
        })
    }

    /// The local directory where the files are written before upload.
    #[getter]
    fn staging(&self) -> std::path::PathBuf {
        self.inner.staging().to_owned()
    }

    /// Uploads `data` as `name` (relative to the URL) in the background.
    fn put(&self, name: &str, data: &[u8]) -> PyResult<()> {
        Ok(self.inner.put(name, data.to_vec())?)
    }

    /// Waits until every file put so far is stored (at most `timeout` seconds).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = crate::store::timeout_arg(timeout)?;
        Ok(py.detach(|| self.inner.close(timeout))?)
    }
}

/// Uploads the segments left in a staging directory (or a staging root); returns
/// (directories completed, objects uploaded, bytes uploaded).
#[pyfunction]
#[pyo3(signature = (staging_dir, storage_options=None))]
fn sync_staging(
    py: Python<'_>,
    staging_dir: std::path::PathBuf,
    storage_options: Option<Vec<(String, String)>>,
) -> PyResult<(u64, u64, u64)> {
    let options = storage_options.unwrap_or_default();
    let report = py.detach(|| recover::sync(&staging_dir, &options))?;
    Ok((report.dirs, report.objects, report.bytes))
}

/// The objects directly in a remote log dir, as (name, size) in name order.
#[pyfunction]
#[pyo3(signature = (url, storage_options=None))]
fn list_objects(
    py: Python<'_>,
    url: String,
    storage_options: Option<Vec<(String, String)>>,
) -> PyResult<Vec<(String, u64)>> {
    let options = storage_options.unwrap_or_default();
    Ok(py.detach(|| recover::list(&url, &options))?)
}

/// The bytes of object `name` in a remote log dir.
#[pyfunction]
#[pyo3(signature = (url, name, storage_options=None))]
fn read_object<'py>(
    py: Python<'py>,
    url: String,
    name: String,
    storage_options: Option<Vec<(String, String)>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let options = storage_options.unwrap_or_default();
    let data = py.detach(|| recover::read(&url, &options, &name))?;
    Ok(PyBytes::new(py, &data))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRemoteFiles>()?;
    m.add_function(wrap_pyfunction!(sync_staging, m)?)?;
    m.add_function(wrap_pyfunction!(list_objects, m)?)?;
    m.add_function(wrap_pyfunction!(read_object, m)?)?;
    m.add("STORE_SCHEMES", crate::store::url::SCHEMES.to_vec())?;
    m.add(
        "DEFAULT_CLOSE_TIMEOUT",
        crate::store::DEFAULT_CLOSE_TIMEOUT.as_secs_f64(),
    )?;
    Ok(())
}
