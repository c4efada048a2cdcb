//! `tensors.tsv` and `tensors.bytes`: the embedding matrix as text rows or raw float32.

use super::*;

/// Appends Python's `str(x.item())` of element `i` of `array`.
pub(crate) fn push_element(out: &mut Vec<u8>, array: &RawArray, i: usize) {
    match array.dtype {
        DType::Float32 => push_py_float(out, f64::from(array.typed::<f32>()[i])),
        DType::Float64 => push_py_float(out, array.typed::<f64>()[i]),
        DType::Float16 => {
            push_py_float(out, half::f16::from_bits(array.typed::<u16>()[i]).to_f64())
        }
        DType::BFloat16 => push_py_float(
            out,
            crate::summary::raw_array::bf16_to_f64(array.typed::<u16>()[i]),
        ),
        DType::Bool => out.extend_from_slice(if array.typed::<u8>()[i] != 0 {
            b"True"
        } else {
            b"False"
        }),
        DType::Int8 => push_i64(out, i64::from(array.typed::<i8>()[i])),
        DType::Int16 => push_i64(out, i64::from(array.typed::<i16>()[i])),
        DType::Int32 => push_i64(out, i64::from(array.typed::<i32>()[i])),
        DType::Int64 => push_i64(out, array.typed::<i64>()[i]),
        DType::UInt8 => push_u64(out, u64::from(array.typed::<u8>()[i])),
        DType::UInt16 => push_u64(out, u64::from(array.typed::<u16>()[i])),
        DType::UInt32 => push_u64(out, u64::from(array.typed::<u32>()[i])),
        DType::UInt64 => push_u64(out, array.typed::<u64>()[i]),
    }
}

/// `(rows, columns)` of a 2-D matrix.
pub(crate) fn matrix_dims(mat: &RawArray) -> (usize, usize) {
    match mat.shape.as_slice() {
        [n, d] => (*n as usize, *d as usize),
        _ => (0, 0),
    }
}

/// Writes torch's `tensors.tsv` text for rows `start..end`.
pub(crate) fn tsv_rows(mat: &RawArray, start: usize, end: usize) -> std::io::Result<Vec<u8>> {
    let (_, d) = matrix_dims(mat);
    // A row may be long (one row of 1e8 columns): running out of memory for it is an
    // error of this embedding, not the end of the process.
    let mut out = fallible::with_capacity((end - start).saturating_mul(d.max(1)) * 20, "TSV rows")
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::OutOfMemory, e.to_string()))?;
    // One loop per element type, so that the type is not matched per element.
    macro_rules! rows {
        ($t:ty, $push:expr) => {{
            let values = &mat.typed::<$t>()[start * d..end * d];
            for row in values.chunks_exact(d.max(1)) {
                for (c, &v) in row.iter().enumerate() {
                    if c > 0 {
                        out.push(b'\t');
                    }
                    $push(&mut out, v);
                }
                out.push(b'\n');
            }
        }};
    }
    if d == 0 {
        out.extend(std::iter::repeat_n(b'\n', end - start));
        return Ok(out);
    }
    match mat.dtype {
        DType::Float32 => rows!(f32, |o: &mut Vec<u8>, v: f32| push_py_float(
            o,
            f64::from(v)
        )),
        DType::Float64 => rows!(f64, push_py_float),
        _ => {
            for r in start..end {
                for c in 0..d {
                    if c > 0 {
                        out.push(b'\t');
                    }
                    push_element(&mut out, mat, r * d + c);
                }
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}

/// Streams torch's TSV to `sink`, formatting blocks of rows in parallel.
pub fn write_tsv(mat: &RawArray, sink: &mut impl std::io::Write) -> std::io::Result<()> {
    let (n, _) = matrix_dims(mat);
    for block in (0..n).step_by(TSV_ROWS_PER_WRITE) {
        let block_end = (block + TSV_ROWS_PER_WRITE).min(n);
        let parts: Vec<Vec<u8>> = (block..block_end)
            .step_by(TSV_ROWS_PER_TASK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| tsv_rows(mat, s, (s + TSV_ROWS_PER_TASK).min(block_end)))
            .collect::<std::io::Result<_>>()?;
        for part in parts {
            sink.write_all(&part)?;
        }
    }
    Ok(())
}

/// The whole TSV as bytes (tests and small matrices).
pub fn tsv_bytes(mat: &RawArray) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_tsv(mat, &mut out);
    out
}

/// Raw little-endian float32 bytes of `mat`.
pub fn binary_bytes(mat: &RawArray) -> Result<Vec<u8>, FerroError> {
    let mut out = fallible::with_capacity(mat.len() * 4, "tensors.bytes")?;
    crate::summary::raw_array::for_each_f64(mat, |v| {
        out.extend_from_slice(&(v as f32).to_le_bytes())
    });
    Ok(out)
}

/// Whether TensorBoard reads [`binary_bytes`] of `mat` as binary: its projector tries
/// UTF-8 TSV first and falls back to binary only on a `UnicodeDecodeError`, so the bytes
/// before the first newline must not be valid UTF-8. Typical data fails UTF-8 within a
/// few bytes; degenerate data (all zeros, small integers) may not, and is written as
/// TSV instead. Scans only as far as needed.
pub fn binary_readable(mat: &RawArray) -> bool {
    let mut buf: Vec<u8> = Vec::new();
    for i in 0..mat.len() {
        buf.extend_from_slice(&(element_f64(mat, i) as f32).to_le_bytes());
        if buf.len().is_multiple_of(256) {
            if let Some(verdict) = first_line_invalid(&buf, false) {
                return verdict;
            }
        }
    }
    first_line_invalid(&buf, true).unwrap_or(false)
}

/// Some(true) if the first line of `buf` is certainly not UTF-8, Some(false) if it
/// certainly is, None if more bytes are needed.
pub(crate) fn first_line_invalid(buf: &[u8], at_end: bool) -> Option<bool> {
    let newline = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..newline.unwrap_or(buf.len())];
    match std::str::from_utf8(line) {
        Ok(_) => (newline.is_some() || at_end).then_some(false),
        // An incomplete sequence is an error once the line or the file ends there.
        Err(e) => (e.error_len().is_some() || newline.is_some() || at_end).then_some(true),
    }
}

pub(crate) fn element_f64(array: &RawArray, i: usize) -> f64 {
    match array.dtype {
        DType::Float32 => f64::from(array.typed::<f32>()[i]),
        DType::Float64 => array.typed::<f64>()[i],
        DType::Float16 => half::f16::from_bits(array.typed::<u16>()[i]).to_f64(),
        DType::BFloat16 => crate::summary::raw_array::bf16_to_f64(array.typed::<u16>()[i]),
        DType::Bool | DType::UInt8 => f64::from(array.typed::<u8>()[i]),
        DType::Int8 => f64::from(array.typed::<i8>()[i]),
        DType::Int16 => f64::from(array.typed::<i16>()[i]),
        DType::Int32 => f64::from(array.typed::<i32>()[i]),
        DType::Int64 => array.typed::<i64>()[i] as f64,
        DType::UInt16 => f64::from(array.typed::<u16>()[i]),
        DType::UInt32 => f64::from(array.typed::<u32>()[i]),
        DType::UInt64 => array.typed::<u64>()[i] as f64,
    }
}
