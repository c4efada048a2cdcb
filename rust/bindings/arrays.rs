//! Extracting arguments: a caller's array (anything exporting a C-contiguous buffer)
//! copied into a `RawArray`, and strings Rust can hold.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::error::FerroError;
use crate::summary::raw_array::{DType, RawArray};

/// `value` as UTF-8 (borrowed when Python already holds it so); a lone surrogate is an
/// error naming the argument, never a panic.
pub fn text_arg<'a>(
    value: &'a Bound<'_, PyString>,
    name: &str,
) -> PyResult<std::borrow::Cow<'a, str>> {
    value.to_cow().map_err(|_| {
        FerroError::NotUnicode {
            arg: name.to_owned(),
            repr: value.repr().map(|r| r.to_string()).unwrap_or_default(),
        }
        .into()
    })
}

/// `ferroboard._core.DType`: an array's element type as the Python layer names it, the
/// core's `DType` one for one (torch's bfloat16 travels as its 16-bit words).
#[pyclass(name = "DType", module = "ferroboard._core", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PyDType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float16,
    BFloat16,
    Float32,
    Float64,
}

impl From<PyDType> for DType {
    fn from(d: PyDType) -> DType {
        match d {
            PyDType::Bool => DType::Bool,
            PyDType::Int8 => DType::Int8,
            PyDType::Int16 => DType::Int16,
            PyDType::Int32 => DType::Int32,
            PyDType::Int64 => DType::Int64,
            PyDType::UInt8 => DType::UInt8,
            PyDType::UInt16 => DType::UInt16,
            PyDType::UInt32 => DType::UInt32,
            PyDType::UInt64 => DType::UInt64,
            PyDType::Float16 => DType::Float16,
            PyDType::BFloat16 => DType::BFloat16,
            PyDType::Float32 => DType::Float32,
            PyDType::Float64 => DType::Float64,
        }
    }
}

/// Arrays larger than this are copied (or read) with the GIL released.
const COPY_WITHOUT_GIL_BYTES: usize = 1 << 20;

/// Snapshots `array` (a C-contiguous buffer whose elements are `dtype`).
pub fn copy_array(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    dtype: impl Into<DType>,
    arg_name: &str,
) -> PyResult<RawArray> {
    snapshot_with(py, array, dtype.into(), arg_name, RawArray::copy_from)
}

/// Like [`copy_array`], but an array of small integers (PR-curve labels, of any numeric
/// dtype) is kept as int8: the same values in a fraction of the memory.
pub fn copy_small_integers(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    dtype: impl Into<DType>,
    arg_name: &str,
) -> PyResult<RawArray> {
    snapshot_with(py, array, dtype.into(), arg_name, |dtype, shape, bytes| {
        match RawArray::narrowed_to_i8(dtype, shape.clone(), bytes)? {
            Some(narrowed) => Ok(narrowed),
            None => RawArray::copy_from(dtype, shape, bytes),
        }
    })
}

/// The shape of `array` (a C-contiguous buffer), read without copying anything: sizes
/// that follow from it are checked before memory is spent on the copy.
pub fn shape_of(array: &Bound<'_, PyAny>, arg_name: &str) -> PyResult<Vec<i64>> {
    Ok(BufferView::new(array, arg_name)?.shape())
}

/// Runs `copy` on the bytes of `array`, without the GIL when they are many.
fn snapshot_with(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    dtype: DType,
    arg_name: &str,
    copy: impl Fn(DType, Vec<i64>, &[u8]) -> Result<RawArray, FerroError> + Send,
) -> PyResult<RawArray> {
    read_array(
        py,
        array,
        dtype,
        arg_name,
        |_| false,
        move |dtype, shape, bytes, _| {
            copy(dtype, shape, bytes).map_err(|e| snapshot_error(e, arg_name))
        },
    )
}

/// `e`, from the copy of argument `arg_name`: running out of memory is named after it.
pub fn snapshot_error(e: FerroError, arg_name: &str) -> FerroError {
    match e {
        // A MemoryError naming the argument whose copy did not fit.
        FerroError::OutOfMemory { bytes, .. } => FerroError::OutOfMemory {
            what: format!("the copy of {arg_name}"),
            bytes,
        },
        other => other,
    }
}

/// Runs `read` on the shape and bytes of `array` (a C-contiguous buffer whose elements
/// are `dtype`), without the GIL when they are many or `without_gil` says so (`read`'s
/// last argument tells which). The bytes are borrowed only for the call: `read` must not
/// keep them.
pub fn read_array<R: Send>(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    dtype: DType,
    arg_name: &str,
    without_gil: impl FnOnce(&[u8]) -> bool,
    read: impl FnOnce(DType, Vec<i64>, &[u8], bool) -> Result<R, FerroError> + Send,
) -> PyResult<R> {
    let view = BufferView::new(array, arg_name)?;
    let shape = view.shape();
    let bytes = view.bytes();
    let result = if bytes.len() >= COPY_WITHOUT_GIL_BYTES || without_gil(bytes) {
        // The buffer view keeps the exporter alive and its memory pinned meanwhile.
        let addr = bytes.as_ptr() as usize;
        let len = bytes.len();
        py.detach(move || {
            // SAFETY: the view above outlives this closure and exports `len` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
            read(dtype, shape, bytes, true)
        })
    } else {
        read(dtype, shape, bytes, false)
    };
    Ok(result?)
}

/// An exported buffer, released on drop.
struct BufferView {
    view: ffi::Py_buffer,
}

impl BufferView {
    fn new(obj: &Bound<'_, PyAny>, arg_name: &str) -> PyResult<BufferView> {
        let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::zeroed();
        // SAFETY: `view` is writable storage for one Py_buffer; on success it is filled
        // and later released exactly once in Drop.
        let rc = unsafe {
            ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_C_CONTIGUOUS)
        };
        if rc != 0 {
            let cause = PyErr::fetch(obj.py());
            let err = PyErr::from(FerroError::NotContiguous {
                arg: arg_name.to_owned(),
                type_name: obj
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            });
            err.set_cause(obj.py(), Some(cause));
            return Err(err);
        }
        // SAFETY: PyObject_GetBuffer succeeded, so the struct is initialized.
        Ok(BufferView {
            view: unsafe { view.assume_init() },
        })
    }

    fn shape(&self) -> Vec<i64> {
        let ndim = self.view.ndim.max(0) as usize;
        if self.view.shape.is_null() || ndim == 0 {
            return Vec::new();
        }
        // SAFETY: with PyBUF_ND requested, `shape` points to `ndim` Py_ssize_t values.
        unsafe { std::slice::from_raw_parts(self.view.shape, ndim) }
            .iter()
            .map(|&d| d as i64)
            .collect()
    }

    fn bytes(&self) -> &[u8] {
        if self.view.buf.is_null() || self.view.len <= 0 {
            return &[];
        }
        // SAFETY: a C-contiguous buffer exports `len` readable bytes at `buf`.
        unsafe { std::slice::from_raw_parts(self.view.buf as *const u8, self.view.len as usize) }
    }
}

impl Drop for BufferView {
    fn drop(&mut self) {
        // SAFETY: the view was obtained from PyObject_GetBuffer and is released once;
        // BufferView never leaves the thread holding the GIL.
        unsafe { ffi::PyBuffer_Release(&mut self.view) }
    }
}
