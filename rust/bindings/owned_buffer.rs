//! `F64Buffer`: a vector of doubles built in Rust, owned by a Python object that exposes it
//! through the buffer protocol, so that `numpy.frombuffer` wraps it as a writable array
//! without a copy (the array keeps the object, and so the memory, alive).

use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;

/// Doubles handed over from Rust; Python reads and writes them through the buffer protocol.
#[pyclass(name = "F64Buffer", module = "ferroboard._core", frozen)]
pub struct PyF64Buffer {
    // The parts of a `Vec<f64>` given up by Rust: from here on only Python (through the
    // buffers this object exports) touches the memory, and `drop` frees it.
    ptr: *mut f64,
    len: usize,
    cap: usize,
}

// The memory is owned by this object alone and Rust never reads it after construction;
// Python serialises access to the object itself.
unsafe impl Send for PyF64Buffer {}
unsafe impl Sync for PyF64Buffer {}

impl PyF64Buffer {
    pub fn new(v: Vec<f64>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        PyF64Buffer {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }
}

impl Drop for PyF64Buffer {
    fn drop(&mut self) {
        // SAFETY: the parts come from a `Vec<f64>` given up in `new` and are freed once;
        // every exported buffer holds a reference to this object, so none is alive now.
        drop(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) });
    }
}

#[pymethods]
impl PyF64Buffer {
    fn __len__(&self) -> usize {
        self.len
    }

    /// A writable, one-dimensional buffer of `len * 8` bytes (format `B`, as `bytearray`).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (ptr, bytes) = {
            let me = slf.get();
            (me.ptr as *mut c_void, (me.len * 8) as ffi::Py_ssize_t)
        };
        // SAFETY: `view` is the struct CPython asks us to fill; `ptr` points to `bytes`
        // bytes that live as long as `slf`, which `PyBuffer_FillInfo` stores in the view
        // with a new reference.
        let rc = unsafe { ffi::PyBuffer_FillInfo(view, slf.as_ptr(), ptr, bytes, 0, flags) };
        if rc == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}
