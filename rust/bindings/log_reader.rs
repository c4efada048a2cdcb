//! Reading logs: the files of a log path read into Rust columns (`LogData`), handed to
//! Python as bytes that numpy wraps without per-row objects, and an iterator over the
//! decoded events of one file (`EventIterator`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prost::Message;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::error::FerroError;
use crate::format::proto::{summary_value::Value, DataType, Event, EventWhat, TensorProto};
use crate::reader::csv::{write_csv as write_columns, Column};
use crate::reader::decode::{FileData, HistRow, Kinds, Rows};

use super::owned_buffer::PyOwnedBuffer;
use crate::reader::scan::{Damage, RecordScanner};
use crate::reader::table::{scalar_table, trim_heap};
use crate::reader::walk::{list_event_files, read_files, LogFile};

/// `v` as the bytes of a little-endian array (numpy's `frombuffer` reads it back).
fn le_bytes<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    v: &[T],
    to: fn(T) -> [u8; N],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, v.len() * N, |buf| {
        for (chunk, &x) in buf.chunks_exact_mut(N).zip(v) {
            chunk.copy_from_slice(&to(x));
        }
        Ok(())
    })
}

fn f64s<'py>(py: Python<'py>, v: &[f64]) -> PyResult<Bound<'py, PyBytes>> {
    le_bytes(py, v, f64::to_le_bytes)
}
fn i64s<'py>(py: Python<'py>, v: &[i64]) -> PyResult<Bound<'py, PyBytes>> {
    le_bytes(py, v, i64::to_le_bytes)
}
fn u32s<'py>(py: Python<'py>, v: &[u32]) -> PyResult<Bound<'py, PyBytes>> {
    le_bytes(py, v, u32::to_le_bytes)
}

fn kinds_from(names: &[String]) -> Result<Kinds, FerroError> {
    let mut k = Kinds::default();
    for n in names {
        match n.as_str() {
            "scalars" => k.scalars = true,
            "tensors" => k.tensors = true,
            "histograms" => k.histograms = true,
            "images" => k.images = true,
            "audio" => k.audio = true,
            other => {
                return Err(FerroError::InvalidArgument(format!(
                    "kinds: unknown kind {other:?}"
                )))
            }
        }
    }
    Ok(k)
}

type DamageRow = (u64, &'static str, u64);

fn damage_list(d: &[Damage]) -> Vec<DamageRow> {
    d.iter()
        .map(|d| (d.offset, d.kind.as_str(), d.skipped))
        .collect()
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> FerroError {
    FerroError::Io {
        path: path.to_path_buf(),
        lost: 0,
        source: e,
    }
}

/// Every event file under a log path, read.
#[pyclass(name = "LogData", module = "ferroboard._core", frozen)]
pub struct PyLogData {
    files: Vec<LogFile>,
    data: Vec<FileData>,
    /// Each file's scalars, moved out of `data`: `scalar_table(release=True)` frees their
    /// columns once the table holds them (docs/reader.md, "Memory").
    scalars: Mutex<Vec<ScalarSlot>>,
    /// Each file's histogram bucket limits and counts, moved out of `data` into objects
    /// numpy wraps without a copy.
    hist_buffers: Vec<(Py<PyOwnedBuffer>, Py<PyOwnedBuffer>)>,
}

/// One file's scalar rows; `released`: the columns were freed (only `order` is left).
#[derive(Default)]
struct ScalarSlot {
    rows: Rows<f64>,
    released: bool,
}

/// Bytes read so far by the `read_log` calls given this counter (for a progress bar).
#[pyclass(name = "ReadProgress", module = "ferroboard._core", frozen)]
pub struct PyReadProgress {
    bytes: Arc<AtomicU64>,
}

#[pymethods]
impl PyReadProgress {
    #[new]
    fn new() -> Self {
        PyReadProgress {
            bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    #[getter]
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Reads the event files under `path` (or the file `path`), in parallel, keeping the
/// `kinds` of rows named; `light`: without their payloads (tensors, images and audio
/// empty, histograms without buckets, plugin contents empty), for a listing.
#[pyfunction]
#[pyo3(signature = (path, kinds, check_crc = true, progress = None, light = false))]
pub fn read_log(
    py: Python<'_>,
    path: PathBuf,
    kinds: Vec<String>,
    check_crc: bool,
    progress: Option<&PyReadProgress>,
    light: bool,
) -> PyResult<PyLogData> {
    let mut kinds = kinds_from(&kinds)?;
    kinds.light = light;
    let counter = progress.map(|p| p.bytes.clone());
    let result = py.detach(|| {
        list_event_files(&path).map(|files| {
            let data = read_files(&files, kinds, check_crc, counter);
            (files, data)
        })
    });
    let (files, mut data) = result.map_err(|e| io_error(&path, e))?;
    // The framing buffers and payloads of the reading threads are free now.
    trim_heap();
    let mut hist_buffers = Vec::with_capacity(data.len());
    let mut scalars = Vec::with_capacity(data.len());
    for d in &mut data {
        scalars.push(ScalarSlot {
            rows: std::mem::take(&mut d.scalars),
            released: false,
        });
        let limits = PyOwnedBuffer::new(std::mem::take(&mut d.hist_limits));
        let counts = PyOwnedBuffer::new(std::mem::take(&mut d.hist_counts));
        hist_buffers.push((Py::new(py, limits)?, Py::new(py, counts)?));
    }
    Ok(PyLogData {
        files,
        data,
        scalars: Mutex::new(scalars),
        hist_buffers,
    })
}

impl PyLogData {
    fn get(&self, i: usize) -> PyResult<&FileData> {
        self.data.get(i).ok_or_else(|| {
            FerroError::InvalidArgument(format!("file index {i} out of range")).into()
        })
    }

    fn scalar_slots(&self) -> Result<std::sync::MutexGuard<'_, Vec<ScalarSlot>>, FerroError> {
        self.scalars.lock().map_err(|_| {
            FerroError::InvalidArgument("scalars: an earlier read of them failed".into())
        })
    }
}

fn released_error(i: usize) -> FerroError {
    FerroError::InvalidArgument(format!(
        "the scalars of file index {i} were released by scalar_table(release=True)"
    ))
}

type FileInfo = (
    String,
    String,
    String,
    u64,
    u64,
    Vec<DamageRow>,
    Vec<u64>,
    Option<String>,
    Option<f64>,
    Option<f64>,
);

type ImageRow<'py> = (i64, f64, u32, i32, i32, i32, Bound<'py, PyBytes>);
type AudioRow<'py> = (i64, f64, u32, f64, i64, i64, String, Bound<'py, PyBytes>);
type TensorRow<'py> = (
    i64,
    f64,
    u32,
    i32,
    Vec<i64>,
    Bound<'py, PyBytes>,
    Vec<Bound<'py, PyBytes>>,
);

#[pymethods]
impl PyLogData {
    fn __len__(&self) -> usize {
        self.files.len()
    }

    /// `(path, dir, name, bytes, records, damage, undecodable, error, first_wall,
    /// last_wall)` of file `i`; damage is a list of `(offset, kind, skipped_bytes)`.
    fn file(&self, i: usize) -> PyResult<FileInfo> {
        let d = self.get(i)?;
        let f = &self.files[i];
        Ok((
            f.path.to_string_lossy().into_owned(),
            f.dir.clone(),
            f.name.clone(),
            d.bytes,
            d.records,
            damage_list(&d.damage),
            d.undecodable.clone(),
            d.error.clone(),
            d.first_wall,
            d.last_wall,
        ))
    }

    /// The tag names of file `i` (the ids the row columns hold).
    fn tags(&self, i: usize) -> PyResult<Vec<String>> {
        Ok(self.get(i)?.tags.clone())
    }

    /// `(tag_id, plugin_name, content)` of the first metadata of each tag of file `i`.
    fn plugins<'py>(
        &self,
        py: Python<'py>,
        i: usize,
    ) -> PyResult<Vec<(u32, String, Bound<'py, PyBytes>)>> {
        Ok(self
            .get(i)?
            .plugins
            .iter()
            .map(|p| (p.tag, p.plugin.clone(), PyBytes::new(py, &p.content)))
            .collect())
    }

    /// The scalars of the files `indices` as one table sorted like tbparse's:
    /// `(step, value, wall, tag, dir, name, tags, dirs, names)`, the first six as
    /// `OwnedBuffer`s of int64, float64, float64 and uint32 codes into the three sorted
    /// name lists (moved to Python, not copied). `release`: the per-file columns of those
    /// files are freed once the table holds them (later `scalars(i)` or `scalar_table`
    /// calls on them raise), so that a read does not hold the scalars twice.
    #[pyo3(signature = (indices, by_dir, by_name, release = false))]
    fn scalar_table<'py>(
        &self,
        py: Python<'py>,
        indices: Vec<usize>,
        by_dir: bool,
        by_name: bool,
        release: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        for &i in &indices {
            self.get(i)?;
        }
        let t = py.detach(|| -> Result<_, FerroError> {
            let mut slots = self.scalar_slots()?;
            let mut seen = vec![false; slots.len()];
            for &i in &indices {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(FerroError::InvalidArgument(format!(
                        "indices: file index {i} given twice"
                    )));
                }
                if slots[i].released {
                    return Err(released_error(i));
                }
            }
            let mut free: Vec<Option<&mut ScalarSlot>> = slots.iter_mut().map(Some).collect();
            let mut files = Vec::with_capacity(indices.len());
            for &i in &indices {
                if let Some(slot) = free[i].take() {
                    slot.released = release;
                    files.push((&mut slot.rows, self.data[i].tags.as_slice()));
                }
            }
            let where_: Vec<&LogFile> = indices.iter().map(|&i| &self.files[i]).collect();
            let table = scalar_table(&mut files, &where_, by_dir, by_name, release);
            Ok(table)
        })?;
        let owned = |b: PyOwnedBuffer| Bound::new(py, b).map(Bound::into_any);
        let items: Vec<Bound<'py, PyAny>> = vec![
            owned(PyOwnedBuffer::new(t.step))?,
            owned(PyOwnedBuffer::new(t.value))?,
            owned(PyOwnedBuffer::new(t.wall))?,
            owned(PyOwnedBuffer::new(t.tag))?,
            owned(PyOwnedBuffer::new(t.dir))?,
            owned(PyOwnedBuffer::new(t.name))?,
            PyList::new(py, &t.tags)?.into_any(),
            PyList::new(py, &t.dirs)?.into_any(),
            PyList::new(py, &t.names)?.into_any(),
        ];
        PyTuple::new(py, items)
    }

    /// The scalars of file `i` in file order grouped by tag: `(step, wall, value, tag,
    /// order)`, `order` the tag ids in first-appearance order.
    fn scalars<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyTuple>> {
        self.get(i)?;
        let slots = self.scalar_slots()?;
        if slots[i].released {
            return Err(released_error(i).into());
        }
        let r = &slots[i].rows;
        let items: Vec<Bound<'py, PyAny>> = vec![
            i64s(py, &r.step)?.into_any(),
            f64s(py, &r.wall)?.into_any(),
            f64s(py, &r.item)?.into_any(),
            u32s(py, &r.tag)?.into_any(),
            PyList::new(py, &r.order)?.into_any(),
        ];
        PyTuple::new(py, items)
    }

    /// The tag ids of file `i`'s scalars in first-appearance order (kept after release).
    fn scalar_order(&self, i: usize) -> PyResult<Vec<u32>> {
        self.get(i)?;
        Ok(self.scalar_slots()?[i].rows.order.clone())
    }

    /// Histograms of file `i`: a dict of bytes columns `step, wall, tag, min, max, num,
    /// sum, sum_squares, start, end` (uint64: row `r`'s buckets are `[start[r], end[r])`
    /// of the flat buffers), `limits` and `counts` (the flat buffers, writable `OwnedBuffer`s
    /// shared by every call) and the list `order`.
    fn histograms<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.get(i)?.histograms;
        let (limits, counts) = &self.hist_buffers[i];
        let d = PyDict::new(py);
        let col = |f: fn(&HistRow) -> f64| -> Vec<f64> { r.item.iter().map(f).collect() };
        let start: Vec<u64> = r.item.iter().map(|h| h.start as u64).collect();
        let end: Vec<u64> = r.item.iter().map(|h| (h.start + h.len) as u64).collect();
        d.set_item("step", i64s(py, &r.step)?)?;
        d.set_item("wall", f64s(py, &r.wall)?)?;
        d.set_item("tag", u32s(py, &r.tag)?)?;
        d.set_item("min", f64s(py, &col(|h| h.min))?)?;
        d.set_item("max", f64s(py, &col(|h| h.max))?)?;
        d.set_item("num", f64s(py, &col(|h| h.num))?)?;
        d.set_item("sum", f64s(py, &col(|h| h.sum))?)?;
        d.set_item("sum_squares", f64s(py, &col(|h| h.sum_squares))?)?;
        d.set_item("start", le_bytes(py, &start, u64::to_le_bytes)?)?;
        d.set_item("end", le_bytes(py, &end, u64::to_le_bytes)?)?;
        d.set_item("limits", limits.clone_ref(py))?;
        d.set_item("counts", counts.clone_ref(py))?;
        d.set_item("order", r.order.clone())?;
        Ok(d)
    }

    /// Tensors of file `i`: `(rows, order)`, each row `(step, wall, tag, dtype, shape,
    /// data, strings)` with `data` the values as little-endian bytes of the dtype.
    fn tensors<'py>(&self, py: Python<'py>, i: usize) -> PyResult<(Vec<TensorRow<'py>>, Vec<u32>)> {
        let r = &self.get(i)?.tensors;
        let mut rows = Vec::with_capacity(r.len());
        for k in 0..r.len() {
            rows.push(tensor_row(py, r, k)?);
        }
        Ok((rows, r.order.clone()))
    }

    /// Images of file `i`: `(rows, order)`, each row `(step, wall, tag, width, height,
    /// colorspace, encoded)`.
    fn images<'py>(&self, py: Python<'py>, i: usize) -> PyResult<(Vec<ImageRow<'py>>, Vec<u32>)> {
        let r = &self.get(i)?.images;
        let rows = (0..r.len())
            .map(|k| {
                let img = &r.item[k];
                (
                    r.step[k],
                    r.wall[k],
                    r.tag[k],
                    img.width,
                    img.height,
                    img.colorspace,
                    PyBytes::new(py, &img.encoded_image_string),
                )
            })
            .collect();
        Ok((rows, r.order.clone()))
    }

    /// Audio of file `i`: `(rows, order)`, each row `(step, wall, tag, sample_rate,
    /// length_frames, num_channels, content_type, encoded)`.
    fn audio<'py>(&self, py: Python<'py>, i: usize) -> PyResult<(Vec<AudioRow<'py>>, Vec<u32>)> {
        let r = &self.get(i)?.audio;
        let rows = (0..r.len())
            .map(|k| {
                let a = &r.item[k];
                (
                    r.step[k],
                    r.wall[k],
                    r.tag[k],
                    f64::from(a.sample_rate),
                    a.length_frames,
                    a.num_channels,
                    a.content_type.clone(),
                    PyBytes::new(py, &a.encoded_audio_string),
                )
            })
            .collect();
        Ok((rows, r.order.clone()))
    }
}

fn tensor_shape(t: &TensorProto) -> Vec<i64> {
    t.tensor_shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.size).collect())
        .unwrap_or_default()
}

fn tensor_row<'py>(py: Python<'py>, r: &Rows<TensorProto>, k: usize) -> PyResult<TensorRow<'py>> {
    let t = &r.item[k];
    let strings = t.string_val.iter().map(|s| PyBytes::new(py, s)).collect();
    Ok((
        r.step[k],
        r.wall[k],
        r.tag[k],
        t.dtype,
        tensor_shape(t),
        tensor_bytes(py, t)?,
        strings,
    ))
}

/// The values of a tensor as the little-endian bytes of its numpy dtype.
fn tensor_bytes<'py>(py: Python<'py>, t: &TensorProto) -> PyResult<Bound<'py, PyBytes>> {
    if !t.tensor_content.is_empty() {
        return Ok(PyBytes::new(py, &t.tensor_content));
    }
    let dtype = DataType::try_from(t.dtype).unwrap_or(DataType::DtInvalid);
    match dtype {
        DataType::DtFloat => le_bytes(py, &t.float_val, f32::to_le_bytes),
        DataType::DtComplex64 => le_bytes(py, &t.scomplex_val, f32::to_le_bytes),
        DataType::DtDouble => f64s(py, &t.double_val),
        DataType::DtComplex128 => f64s(py, &t.dcomplex_val),
        DataType::DtInt32 | DataType::DtQint32 => le_bytes(py, &t.int_val, i32::to_le_bytes),
        DataType::DtInt16 | DataType::DtQint16 => {
            le_bytes(py, &t.int_val, |x| (x as i16).to_le_bytes())
        }
        DataType::DtUint16 | DataType::DtQuint16 => {
            le_bytes(py, &t.int_val, |x| (x as u16).to_le_bytes())
        }
        DataType::DtInt8 | DataType::DtQint8 | DataType::DtUint8 | DataType::DtQuint8 => {
            le_bytes(py, &t.int_val, |x| [x as u8])
        }
        DataType::DtInt64 => i64s(py, &t.int64_val),
        DataType::DtBool => le_bytes(py, &t.bool_val, |x| [u8::from(x)]),
        DataType::DtHalf | DataType::DtBfloat16 => {
            le_bytes(py, &t.half_val, |x| (x as u16).to_le_bytes())
        }
        DataType::DtUint32 => le_bytes(py, &t.uint32_val, u32::to_le_bytes),
        DataType::DtUint64 => le_bytes(py, &t.uint64_val, u64::to_le_bytes),
        _ => Ok(PyBytes::new(py, b"")),
    }
}

type NamedValue<'py> = (String, Bound<'py, PyAny>);

/// The hyperparameters of an hparams plugin's `session_start_info` content, as
/// `(name, value)` in name order (`None` when the content is something else).
#[pyfunction]
pub fn hparams_session_start<'py>(
    py: Python<'py>,
    content: &[u8],
) -> PyResult<Option<Vec<NamedValue<'py>>>> {
    use crate::format::proto::plugins::{
        hparams_plugin_data::Data, pb_value::Kind, HParamsPluginData, PbValue,
    };
    let Ok(data) = HParamsPluginData::decode(content) else {
        return Ok(None);
    };
    let Some(Data::SessionStartInfo(ssi)) = data.data else {
        return Ok(None);
    };
    fn convert<'py>(py: Python<'py>, v: &PbValue) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &v.kind {
            Some(Kind::NumberValue(x)) => x.into_pyobject(py)?.into_any(),
            Some(Kind::StringValue(s)) => s.into_pyobject(py)?.into_any(),
            Some(Kind::BoolValue(b)) => b.into_pyobject(py)?.to_owned().into_any(),
            Some(Kind::ListValue(l)) => {
                let items = l
                    .values
                    .iter()
                    .map(|x| convert(py, x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            Some(Kind::NullValue(_)) | None => py.None().into_bound(py),
        })
    }
    let mut out = Vec::with_capacity(ssi.hparams.len());
    for (k, v) in &ssi.hparams {
        out.push((k.clone(), convert(py, v)?));
    }
    Ok(Some(out))
}

/// The decoded events of one file, one at a time.
#[pyclass(name = "EventIterator", module = "ferroboard._core")]
pub struct PyEventIterator {
    scanner: RecordScanner,
    path: PathBuf,
}

/// An iterator over the decoded events of the event file `path`.
#[pyfunction]
#[pyo3(signature = (path, check_crc = true))]
pub fn iter_events(path: PathBuf, check_crc: bool) -> PyResult<PyEventIterator> {
    let scanner = RecordScanner::open(&path, check_crc).map_err(|e| io_error(&path, e))?;
    Ok(PyEventIterator { scanner, path })
}

type EventTuple<'py> = (u64, f64, i64, &'static str, Bound<'py, PyAny>);

fn summary_value<'py>(
    py: Python<'py>,
    v: Option<Value>,
) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    Ok(match v {
        Some(Value::SimpleValue(x)) => ("scalar", f64::from(x).into_pyobject(py)?.into_any()),
        Some(Value::Histo(h)) => {
            let d = PyDict::new(py);
            d.set_item("min", h.min)?;
            d.set_item("max", h.max)?;
            d.set_item("num", h.num)?;
            d.set_item("sum", h.sum)?;
            d.set_item("sum_squares", h.sum_squares)?;
            d.set_item("limits", f64s(py, &h.bucket_limit)?)?;
            d.set_item("counts", f64s(py, &h.bucket)?)?;
            ("histogram", d.into_any())
        }
        Some(Value::Image(img)) => (
            "image",
            (
                img.width,
                img.height,
                img.colorspace,
                PyBytes::new(py, &img.encoded_image_string),
            )
                .into_pyobject(py)?
                .into_any(),
        ),
        Some(Value::Audio(a)) => (
            "audio",
            (
                f64::from(a.sample_rate),
                a.num_channels,
                a.length_frames,
                a.content_type,
                PyBytes::new(py, &a.encoded_audio_string),
            )
                .into_pyobject(py)?
                .into_any(),
        ),
        Some(Value::Tensor(t)) => {
            let strings: Vec<Bound<'py, PyBytes>> =
                t.string_val.iter().map(|s| PyBytes::new(py, s)).collect();
            (
                "tensor",
                (t.dtype, tensor_shape(&t), tensor_bytes(py, &t)?, strings)
                    .into_pyobject(py)?
                    .into_any(),
            )
        }
        Some(Value::ObsoleteOldStyleHistogram(b)) => {
            ("obsolete_histogram", PyBytes::new(py, &b).into_any())
        }
        None => ("none", py.None().into_bound(py)),
    })
}

#[pymethods]
impl PyEventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// `(offset, wall_time, step, what, value)`: `what` is `"summary"` (value: a list of
    /// `(tag, kind, value, plugin_name)`), `"file_version"`, `"session_log"`,
    /// `"graph_def"`, `"meta_graph_def"`, `"log_message"`, `"tagged_run_metadata"`,
    /// `"none"` or `"undecodable"` (value: the payload).
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<EventTuple<'py>>> {
        let path = self.path.clone();
        let next = self.scanner.next_record().map_err(|e| io_error(&path, e))?;
        let Some((offset, payload)) = next else {
            return Ok(None);
        };
        let event = match Event::decode(payload) {
            Ok(e) => e,
            Err(_) => {
                let raw = PyBytes::new(py, payload).into_any();
                return Ok(Some((offset, 0.0, 0, "undecodable", raw)));
            }
        };
        let (what, value): (&'static str, Bound<'py, PyAny>) = match event.what {
            None => ("none", py.None().into_bound(py)),
            Some(EventWhat::FileVersion(v)) => ("file_version", v.into_pyobject(py)?.into_any()),
            Some(EventWhat::GraphDef(g)) => ("graph_def", PyBytes::new(py, &g).into_any()),
            Some(EventWhat::MetaGraphDef(g)) => ("meta_graph_def", PyBytes::new(py, &g).into_any()),
            Some(EventWhat::LogMessage(m)) => (
                "log_message",
                (m.level, m.message).into_pyobject(py)?.into_any(),
            ),
            Some(EventWhat::TaggedRunMetadata(m)) => (
                "tagged_run_metadata",
                (m.tag, PyBytes::new(py, &m.run_metadata))
                    .into_pyobject(py)?
                    .into_any(),
            ),
            Some(EventWhat::SessionLog(s)) => (
                "session_log",
                (s.status, s.checkpoint_path, s.msg)
                    .into_pyobject(py)?
                    .into_any(),
            ),
            Some(EventWhat::Summary(s)) => {
                let list = PyList::empty(py);
                for v in s.value {
                    let plugin = v
                        .metadata
                        .and_then(|m| m.plugin_data)
                        .map(|p| p.plugin_name)
                        .unwrap_or_default();
                    let tag = if v.tag.is_empty() { v.node_name } else { v.tag };
                    let (kind, value) = summary_value(py, v.value)?;
                    list.append((tag, kind, value, plugin))?;
                }
                ("summary", list.into_any())
            }
        };
        Ok(Some((offset, event.wall_time, event.step, what, value)))
    }

    /// `(offset, kind, skipped_bytes)` of each damaged region met so far.
    #[getter]
    fn damage(&self) -> Vec<DamageRow> {
        damage_list(&self.scanner.damage)
    }
}

/// Writes a CSV file of `columns`, each `(kind, data, names)`: kind `"i64"`, `"f64"`,
/// `"f32"` (float64 values printed as the float32 they were) with `data` the
/// little-endian bytes, or `"names"` with `data` uint32 indices into `names`. Returns the
/// number of rows.
#[pyfunction]
pub fn write_csv(
    py: Python<'_>,
    path: PathBuf,
    header: Vec<String>,
    columns: Vec<(String, Vec<u8>, Vec<String>)>,
) -> PyResult<u64> {
    fn words<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        b.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }
    enum Owned {
        I(Vec<i64>),
        F(Vec<f64>, bool),
        N(Vec<u32>, Vec<String>),
    }
    let mut owned = Vec::with_capacity(columns.len());
    for (kind, data, names) in columns {
        owned.push(match kind.as_str() {
            "i64" => Owned::I(words::<8>(&data).map(i64::from_le_bytes).collect()),
            "f64" | "f32" => Owned::F(
                words::<8>(&data).map(f64::from_le_bytes).collect(),
                kind == "f32",
            ),
            "names" => Owned::N(words::<4>(&data).map(u32::from_le_bytes).collect(), names),
            other => {
                return Err(FerroError::InvalidArgument(format!(
                    "columns: unknown column kind {other:?}"
                ))
                .into())
            }
        });
    }
    let rows = py.detach(|| {
        let cols: Vec<Column<'_>> = owned
            .iter()
            .map(|o| match o {
                Owned::I(v) => Column::I64(v),
                Owned::F(v, false) => Column::F64(v),
                Owned::F(v, true) => Column::F32(v),
                Owned::N(c, n) => Column::Names(c, n),
            })
            .collect();
        write_columns(&path, &header, &cols)
    });
    Ok(rows.map_err(|e| io_error(&path, e))?)
}
