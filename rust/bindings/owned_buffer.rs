//! `OwnedBuffer`: a vector of numbers built in Rust, owned by a Python object that exposes
//! it through the buffer protocol, so that `numpy.frombuffer` wraps it as a writable array
//! without a copy (the array keeps the object, and so the memory, alive).

use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;

/// The element types an `OwnedBuffer` can hold (to free the vector with its own layout).
#[derive(Clone, Copy)]
pub enum Elem {
    F64,
    I64,
    U32,
}

/// A vector's element type that `OwnedBuffer::new` accepts.
pub trait Element: Copy {
    const ELEM: Elem;
}
impl Element for f64 {
    const ELEM: Elem = Elem::F64;
}
impl Element for i64 {
    const ELEM: Elem = Elem::I64;
}
impl Element for u32 {
    const ELEM: Elem = Elem::U32;
}

/// Numbers handed over from Rust; Python reads and writes them through the buffer protocol.
#[pyclass(name = "OwnedBuffer", module = "ferroboard._core", frozen)]
pub struct PyOwnedBuffer {
    // The parts of a `Vec` given up by Rust: from here on only Python (through the buffers
    // this object exports) touches the memory, and `drop` frees it.
    ptr: *mut c_void,
    len: usize,
    cap: usize,
    elem: Elem,
}

// The memory is owned by this object alone and Rust never reads it after construction;
// Python serialises access to the object itself.
unsafe impl Send for PyOwnedBuffer {}
unsafe impl Sync for PyOwnedBuffer {}

impl PyOwnedBuffer {
    pub fn new<T: Element>(v: Vec<T>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        PyOwnedBuffer {
            ptr: v.as_mut_ptr() as *mut c_void,
            len: v.len(),
            cap: v.capacity(),
            elem: T::ELEM,
        }
    }

    fn item_size(&self) -> usize {
        match self.elem {
            Elem::F64 | Elem::I64 => 8,
            Elem::U32 => 4,
        }
    }
}

impl Drop for PyOwnedBuffer {
    fn drop(&mut self) {
        let (ptr, len, cap) = (self.ptr, self.len, self.cap);
        // SAFETY: the parts come from a `Vec` of this element type given up in `new` and
        // are freed once; every exported buffer holds a reference to this object, so none
        // is alive now.
        unsafe {
            match self.elem {
                Elem::F64 => drop(Vec::from_raw_parts(ptr as *mut f64, len, cap)),
                Elem::I64 => drop(Vec::from_raw_parts(ptr as *mut i64, len, cap)),
                Elem::U32 => drop(Vec::from_raw_parts(ptr as *mut u32, len, cap)),
            }
        }
        // A big buffer freed (a table column the frame no longer needs) goes back to the
        // system now, not when the allocator next trims its heap.
        if cap * self.item_size() >= 1 << 20 {
            crate::reader::table::trim_heap();
        }
    }
}

#[pymethods]
impl PyOwnedBuffer {
    /// The number of elements.
    fn __len__(&self) -> usize {
        self.len
    }

    /// A writable, one-dimensional buffer of the elements' bytes (format `B`, as
    /// `bytearray`; `numpy.frombuffer` is given the dtype).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (ptr, bytes) = {
            let me = slf.get();
            (me.ptr, (me.len * me.item_size()) as ffi::Py_ssize_t)
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
