//! Embeddings for TensorBoard's projector (`add_embedding`): tensor files, metadata,
//! sprite image and `projector_config.pbtxt`, written by a background thread.
//!
//! Files, as torch writes them, under `{logdir}/{step:05d}/{tag}/`:
//! - `tensors.tsv`: one row per point, each value as Python's `str(x.item())` (so a
//!   float32 0.1 is written `0.10000000149011612`), tab-separated;
//! - or, on request, `tensors.bytes`: raw little-endian float32 with `tensor_shape` in
//!   the config, which TensorBoard's projector reads when the file is not UTF-8 text
//!   (5x smaller, and written and loaded orders of magnitude faster);
//! - `metadata.tsv` (prepared by the caller: it calls `str()` on Python objects);
//! - `sprite.png`: the label images in a square grid, encoded with [`crate::png`].
//!
//! `{logdir}/projector_config.pbtxt` is rewritten (atomically) after each embedding and
//! lists every embedding this writer has added, in protobuf text format.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf, MAIN_SEPARATOR_STR};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::sync::{Condvar, Mutex};
use rayon::prelude::*;

use crate::error::FerroError;
use crate::fallible;
use crate::png::encode_png;
use crate::raw_array::{DType, RawArray};

pub const CONFIG_FILE: &str = "projector_config.pbtxt";
/// Rows formatted per parallel task when writing TSV.
const TSV_ROWS_PER_TASK: usize = 256;
/// Rows formatted before they are written out (bounds the text held in memory).
const TSV_ROWS_PER_WRITE: usize = 16_384;
/// Sprites wider than this are not shown by the projector (lanpa/tensorboardX#516).
pub const MAX_SPRITE_SIDE: usize = 8192;

// -- Python's float repr ------------------------------------------------------------------

/// Appends `repr(x)` as Python writes it: the shortest digits that round-trip (ties to
/// even, as Ryu and Python's dtoa both choose), in fixed notation when the decimal
/// exponent is in [-4, 16), otherwise as `d.ddde±XX`.
pub fn push_py_float(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x.abs()).as_bytes();
    if x < 0.0 {
        out.push(b'-');
    }
    // Ryu writes fixed notation for decimal exponents in (-5, 21] and "1.2345e-7"
    // otherwise. Where Python also writes fixed notation (exponents in (-4, 16]), the
    // text is the same: "123.45", "123.0", "0.000123".
    let point = text.iter().position(|&c| c == b'.');
    if let Some(p) = point {
        let no_exp = !text[p..].contains(&b'e');
        if no_exp && p <= 16 && !text.starts_with(b"0.0000") {
            out.extend_from_slice(text);
            return;
        }
    }
    // Otherwise take Ryu's digits and exponent and lay them out as Python does.
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e') {
        Some(p) => (&text[..p], parse_exp(&text[p + 1..])),
        None => (text, 0),
    };
    let int_len = mantissa
        .iter()
        .position(|&c| c == b'.')
        .unwrap_or(mantissa.len()) as i32;
    let mut digits = [0u8; 32];
    let mut n = 0;
    let mut leading_zeros = 0i32;
    for &c in mantissa {
        if c == b'.' {
            continue;
        }
        if n == 0 && c == b'0' {
            leading_zeros += 1;
            continue;
        }
        if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    // Python's `decpt`: the value is 0.DIGITS x 10^decpt.
    let decpt = int_len + exp - leading_zeros;
    if !(-4 < decpt && decpt <= 16) {
        let e = decpt - 1;
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let e = e.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        push_u64(out, u64::from(e));
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(digits);
    } else {
        let point = decpt as usize;
        if point >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', point - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..point]);
            out.push(b'.');
            out.extend_from_slice(&digits[point..]);
        }
    }
}

fn parse_exp(text: &[u8]) -> i32 {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c.wrapping_sub(b'0')));
    if negative {
        -value
    } else {
        value
    }
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends Python's `str(x.item())` of element `i` of `array`.
fn push_element(out: &mut Vec<u8>, array: &RawArray, i: usize) {
    match array.dtype {
        DType::Float32 => push_py_float(out, f64::from(array.typed::<f32>()[i])),
        DType::Float64 => push_py_float(out, array.typed::<f64>()[i]),
        DType::Float16 => {
            push_py_float(out, half::f16::from_bits(array.typed::<u16>()[i]).to_f64())
        }
        DType::BFloat16 => {
            push_py_float(out, half::bf16::from_bits(array.typed::<u16>()[i]).to_f64())
        }
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
fn matrix_dims(mat: &RawArray) -> (usize, usize) {
    match mat.shape.as_slice() {
        [n, d] => (*n as usize, *d as usize),
        _ => (0, 0),
    }
}

/// Writes torch's `tensors.tsv` text for rows `start..end`.
fn tsv_rows(mat: &RawArray, start: usize, end: usize) -> std::io::Result<Vec<u8>> {
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
    crate::raw_array::for_each_f64(mat, |v| out.extend_from_slice(&(v as f32).to_le_bytes()));
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
fn first_line_invalid(buf: &[u8], at_end: bool) -> Option<bool> {
    let newline = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..newline.unwrap_or(buf.len())];
    match std::str::from_utf8(line) {
        Ok(_) => (newline.is_some() || at_end).then_some(false),
        // An incomplete sequence is an error once the line or the file ends there.
        Err(e) => (e.error_len().is_some() || newline.is_some() || at_end).then_some(true),
    }
}

fn element_f64(array: &RawArray, i: usize) -> f64 {
    match array.dtype {
        DType::Float32 => f64::from(array.typed::<f32>()[i]),
        DType::Float64 => array.typed::<f64>()[i],
        DType::Float16 => half::f16::from_bits(array.typed::<u16>()[i]).to_f64(),
        DType::BFloat16 => half::bf16::from_bits(array.typed::<u16>()[i]).to_f64(),
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

// -- sprite -------------------------------------------------------------------------------

/// Pixel bytes of label images: floats (torch's [0, 1] convention) are scaled by 255,
/// clipped and truncated as torch does; integers are taken as 0-255 pixel values and
/// clipped (torch multiplies those by 255 too, which saturates them: a documented
/// deviation); booleans become 0 or 255.
fn to_pixels(img: &RawArray) -> Vec<u8> {
    fn float(v: f64) -> u8 {
        (v * 255.0).clamp(0.0, 255.0) as u8
    }
    fn int(v: i64) -> u8 {
        v.clamp(0, 255) as u8
    }
    match img.dtype {
        DType::UInt8 => img.typed::<u8>().to_vec(),
        DType::Bool => img
            .typed::<u8>()
            .iter()
            .map(|&v| if v != 0 { 255 } else { 0 })
            .collect(),
        DType::Float32 => img
            .typed::<f32>()
            .par_iter()
            .map(|&v| float(f64::from(v)))
            .collect(),
        DType::Float64 => img.typed::<f64>().par_iter().map(|&v| float(v)).collect(),
        DType::Float16 => img
            .typed::<u16>()
            .par_iter()
            .map(|&v| float(half::f16::from_bits(v).to_f64()))
            .collect(),
        DType::BFloat16 => img
            .typed::<u16>()
            .par_iter()
            .map(|&v| float(half::bf16::from_bits(v).to_f64()))
            .collect(),
        DType::Int8 => img.typed::<i8>().iter().map(|&v| int(v.into())).collect(),
        DType::Int16 => img.typed::<i16>().iter().map(|&v| int(v.into())).collect(),
        DType::Int32 => img.typed::<i32>().iter().map(|&v| int(v.into())).collect(),
        DType::Int64 => img.typed::<i64>().iter().map(|&v| int(v)).collect(),
        DType::UInt16 => img.typed::<u16>().iter().map(|&v| int(v.into())).collect(),
        DType::UInt32 => img.typed::<u32>().iter().map(|&v| int(v.into())).collect(),
        DType::UInt64 => img
            .typed::<u64>()
            .iter()
            .map(|&v| v.min(255) as u8)
            .collect(),
    }
}

/// Geometry of torch's sprite: `cols = min(N, ceil(sqrt(N)))` images per row, padded
/// with black to a square of side `cols * W` (or `rows * H` if that is larger: torch
/// fails there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpriteLayout {
    pub n: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub cols: usize,
    pub rows: usize,
    pub side: usize,
}

impl SpriteLayout {
    /// Checks an `(N, C, H, W)` shape with C in {1, 3}.
    pub fn new(shape: &[i64]) -> Result<SpriteLayout, FerroError> {
        let [n, c, h, w] = match shape {
            [n, c, h, w] => [*n, *c, *h, *w].map(|v| v.max(0) as usize),
            _ => {
                return Err(FerroError::InvalidArgument(format!(
                    "label_img must have shape (N, C, H, W), got {shape:?}"
                )))
            }
        };
        if c != 1 && c != 3 {
            return Err(FerroError::InvalidArgument(format!(
                "label_img must have 1 or 3 channels (shape (N, C, H, W)), got shape {shape:?}"
            )));
        }
        if n == 0 || h == 0 || w == 0 {
            return Err(FerroError::InvalidArgument(format!(
                "label_img has no pixels: shape {shape:?}"
            )));
        }
        let cols = ((n as f64).sqrt().ceil() as usize).clamp(1, n);
        let rows = n.div_ceil(cols);
        let side = cols.saturating_mul(w).max(rows.saturating_mul(h));
        // The square pads: (2, 1, 50000, 1) makes a 50000x50000 sprite from 100 KB.
        crate::limits::check_png_size(
            "label_img (the sprite)",
            side,
            side,
            3,
            crate::limits::MAX_EVENT_BYTES,
        )?;
        Ok(SpriteLayout {
            n,
            channels: c,
            height: h,
            width: w,
            cols,
            rows,
            side,
        })
    }
}

/// The sprite as RGB pixels, `side x side`.
pub fn sprite_pixels(img: &RawArray, layout: &SpriteLayout) -> Result<Vec<u8>, FerroError> {
    let SpriteLayout {
        n,
        channels,
        height: h,
        width: w,
        cols,
        side,
        ..
    } = *layout;
    let src = to_pixels(img);
    let mut out = fallible::zeroed::<u8>(side * side * 3, "the sprite's pixels")?;
    out.par_chunks_mut(side * 3)
        .enumerate()
        .for_each(|(y, row)| {
            let (grid_row, iy) = (y / h, y % h);
            for col in 0..cols {
                let i = grid_row * cols + col;
                if i >= n {
                    break;
                }
                for x in 0..w {
                    let dst = (col * w + x) * 3;
                    for ch in 0..3 {
                        let sc = if channels == 1 { 0 } else { ch };
                        row[dst + ch] = src[((i * channels + sc) * h + iy) * w + x];
                    }
                }
            }
        });
    Ok(out)
}

pub fn sprite_png(img: &RawArray, layout: &SpriteLayout) -> Result<Vec<u8>, FerroError> {
    let pixels = sprite_pixels(img, layout)?;
    encode_png(&pixels, layout.side as u32, layout.side as u32, 3)
}

// -- projector config ---------------------------------------------------------------------

/// `projector_config.proto` `EmbeddingInfo`, as far as writers fill it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmbeddingInfo {
    pub tensor_name: String,
    pub metadata_path: String,
    pub tensor_shape: Vec<u64>,
    /// `sprite.image_path` and `sprite.single_image_dim` ([W, H]).
    pub sprite: Option<(String, [u64; 2])>,
    pub tensor_path: String,
}

/// protobuf's text-format string escaping, as Python's `text_format.MessageToString`
/// does it by default (`as_utf8=True`): `\n \r \t \" \' \\`, other ASCII control
/// characters as 3-digit octal escapes, everything else (UTF-8 included) as is.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            _ => out.push(c),
        }
    }
}

fn push_string_field(out: &mut String, indent: &str, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    out.push_str(indent);
    out.push_str(name);
    out.push_str(": \"");
    push_escaped(out, value);
    out.push_str("\"\n");
}

/// `text_format.MessageToString(ProjectorConfig(embeddings=infos))`.
pub fn projector_config_text(infos: &[EmbeddingInfo]) -> String {
    let mut out = String::new();
    for info in infos {
        out.push_str("embeddings {\n");
        push_string_field(&mut out, "  ", "tensor_name", &info.tensor_name);
        push_string_field(&mut out, "  ", "metadata_path", &info.metadata_path);
        for d in &info.tensor_shape {
            let _ = writeln!(out, "  tensor_shape: {d}");
        }
        if let Some((path, dims)) = &info.sprite {
            out.push_str("  sprite {\n");
            push_string_field(&mut out, "    ", "image_path", path);
            for d in dims {
                let _ = writeln!(out, "    single_image_dim: {d}");
            }
            out.push_str("  }\n");
        }
        push_string_field(&mut out, "  ", "tensor_path", &info.tensor_path);
        out.push_str("}\n");
    }
    out
}

// -- jobs and the background thread -------------------------------------------------------

/// One `add_embedding` call, validated and copied by the caller.
pub struct EmbeddingJob {
    /// `{logdir}/{subdir}`, created by the caller.
    pub dir: PathBuf,
    pub logdir: PathBuf,
    /// `(N, D)`.
    pub mat: RawArray,
    /// The whole `metadata.tsv`.
    pub metadata: Option<Vec<u8>>,
    pub label_img: Option<(RawArray, SpriteLayout)>,
    /// This embedding's config entry (its tensor file decided by [`EmbeddingJob::plan`]).
    pub info: EmbeddingInfo,
    /// Every entry of the config to write afterwards, this one last.
    pub config: Vec<EmbeddingInfo>,
}

impl EmbeddingJob {
    /// The config entry of an embedding in `subdir` (relative to the logdir), with a
    /// binary tensor file only if asked and readable as such.
    pub fn plan(
        subdir: &str,
        tensor_name: String,
        mat: &RawArray,
        binary: bool,
        has_metadata: bool,
        sprite: Option<&SpriteLayout>,
    ) -> EmbeddingInfo {
        let rel = |name: &str| format!("{subdir}{MAIN_SEPARATOR_STR}{name}");
        let (n, d) = matrix_dims(mat);
        let binary = binary && binary_readable(mat);
        EmbeddingInfo {
            tensor_name,
            metadata_path: if has_metadata {
                rel("metadata.tsv")
            } else {
                String::new()
            },
            tensor_shape: if binary {
                vec![n as u64, d as u64]
            } else {
                Vec::new()
            },
            sprite: sprite.map(|l| (rel("sprite.png"), [l.width as u64, l.height as u64])),
            tensor_path: rel(if binary {
                "tensors.bytes"
            } else {
                "tensors.tsv"
            }),
        }
    }

    pub fn cost(&self) -> usize {
        self.mat.nbytes()
            + self.metadata.as_ref().map_or(0, Vec::len)
            + self.label_img.as_ref().map_or(0, |(a, _)| a.nbytes())
    }

    /// Writes the files of this embedding, then the config.
    pub fn run(self) -> Result<(), FerroError> {
        let dir = &self.dir;
        if let Some(metadata) = &self.metadata {
            write_file(&dir.join("metadata.tsv"), metadata)?;
        }
        if let Some((img, layout)) = &self.label_img {
            let png = sprite_png(img, layout)?;
            write_file(&dir.join("sprite.png"), &png)?;
        }
        if self.info.tensor_shape.is_empty() {
            let path = dir.join("tensors.tsv");
            let file = std::fs::File::create(&path).map_err(|e| io_error(&path, e))?;
            let mut sink = std::io::BufWriter::with_capacity(1 << 20, file);
            write_tsv(&self.mat, &mut sink)
                .and_then(|()| sink.flush())
                .map_err(|e| io_error(&path, e))?;
        } else {
            write_file(&dir.join("tensors.bytes"), &binary_bytes(&self.mat)?)?;
        }
        write_config(&self.logdir, &self.config)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> FerroError {
    FerroError::Io {
        path: path.to_path_buf(),
        lost: 1,
        source,
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), FerroError> {
    std::fs::write(path, bytes).map_err(|e| io_error(path, e))
}

/// Writes `projector_config.pbtxt` through a temporary file and a rename, so that a
/// reader never sees half a config.
pub fn write_config(logdir: &Path, infos: &[EmbeddingInfo]) -> Result<(), FerroError> {
    // Unique per write: several writers (a pickled copy, a forked child) may share the
    // directory, and each rename must move its own file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = logdir.join(CONFIG_FILE);
    let tmp = logdir.join(format!(".{CONFIG_FILE}.{}.{n}.tmp", std::process::id()));
    write_file(&tmp, projector_config_text(infos).as_bytes())?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
}

#[derive(Default)]
struct State {
    pending: usize,
    pending_bytes: usize,
    /// The first failure since a caller last collected one.
    failure: Option<FerroError>,
}

struct Shared {
    state: Mutex<State>,
    done: Condvar,
    max_pending_bytes: usize,
}

/// One background thread per `SummaryWriter` that writes embeddings in call order.
///
/// Dropping it waits for the queued embeddings. In a forked child (where the thread does
/// not exist and the locks may have been held at fork time) it does nothing at all.
pub struct EmbeddingWriter {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<EmbeddingJob>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The process that started the thread.
    owner_pid: u32,
}

impl EmbeddingWriter {
    pub fn start(max_pending_bytes: usize) -> Result<EmbeddingWriter, FerroError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            max_pending_bytes,
        });
        let (sender, receiver) = mpsc::channel::<EmbeddingJob>();
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("ferroboard-embeddings".into())
            .spawn(move || {
                crate::signals::block_async_signals();
                work(&worker_shared, &receiver)
            })
            .map_err(|e| FerroError::Worker {
                path: PathBuf::from("<embeddings>"),
                reason: e.to_string(),
            })?;
        Ok(EmbeddingWriter {
            shared,
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            owner_pid: std::process::id(),
        })
    }

    fn foreign(&self) -> bool {
        std::process::id() != self.owner_pid
    }

    /// Queues a job; blocks while the memory budget is exceeded by earlier jobs.
    pub fn submit(&self, job: EmbeddingJob) -> Result<(), FerroError> {
        if self.foreign() {
            return Err(FerroError::Closed(PathBuf::from(
                "<embeddings of the parent process>",
            )));
        }
        let cost = job.cost();
        {
            let mut st = self.shared.state.lock();
            if let Some(failure) = st.failure.take() {
                return Err(failure);
            }
            while st.pending > 0 && st.pending_bytes + cost > self.shared.max_pending_bytes {
                self.shared.done.wait(&mut st);
            }
            st.pending += 1;
            st.pending_bytes += cost;
        }
        let sender = self.sender.lock();
        let sent = match sender.as_ref() {
            Some(s) => s.send(job).is_ok(),
            None => false,
        };
        if !sent {
            let mut st = self.shared.state.lock();
            st.pending -= 1;
            st.pending_bytes -= cost;
            return Err(FerroError::Closed(PathBuf::from("<embeddings>")));
        }
        Ok(())
    }

    /// Returns when every queued embedding is written; raises the first failure since
    /// the last call.
    pub fn wait(&self) -> Result<(), FerroError> {
        if self.foreign() {
            return Ok(());
        }
        let mut st = self.shared.state.lock();
        while st.pending > 0 {
            self.shared.done.wait(&mut st);
        }
        match st.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Waits, then stops the thread. Idempotent.
    pub fn close(&self) -> Result<(), FerroError> {
        if self.foreign() {
            return Ok(());
        }
        let result = self.wait();
        // Every job is done; closing the channel ends the thread, which is not joined:
        // there is nothing left to wait for.
        self.sender.lock().take();
        self.worker.lock().take();
        result
    }
}

/// Runs `f` where its parallel work can run: rayon's global pool, or after a fork (whose
/// child lacks the global pool's threads) a pool of the child's own.
pub fn in_this_process_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match crate::fork::child_pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

impl Drop for EmbeddingWriter {
    fn drop(&mut self) {
        if let Err(err) = self.close() {
            eprintln!("ferroboard: writing embeddings failed: {err}");
        }
    }
}

fn work(shared: &Shared, receiver: &mpsc::Receiver<EmbeddingJob>) {
    while let Ok(job) = receiver.recv() {
        let cost = job.cost();
        let tensor_name = job.info.tensor_name.clone();
        // In a forked child, rayon's global pool has no threads: use one of the child's.
        let result = in_this_process_pool(|| job.run());
        let mut st = shared.state.lock();
        if let Err(err) = result {
            eprintln!("ferroboard: embedding {tensor_name:?} not saved: {err}");
            if st.failure.is_none() {
                st.failure = Some(err);
            }
        }
        st.pending -= 1;
        st.pending_bytes -= cost;
        shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        let mut out = Vec::new();
        push_py_float(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn float_repr_matches_python() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (f64::from(0.1f32), "0.10000000149011612"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (-1e-300, "-1e-300"),
            (5e-324, "5e-324"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (12345.678, "12345.678"),
            // Ties between two shortest candidates go to the even digit, as in Python.
            (f64::from(-843.6153_f32), "-843.6152954101562"),
            (828407142.25, "828407142.25"),
            (1.5e300, "1.5e+300"),
            (0.000123, "0.000123"),
            (9999999999999998.0, "9999999999999998.0"),
        ];
        for &(x, want) in cases {
            assert_eq!(repr(x), want, "repr({x:e})");
        }
    }

    #[test]
    fn tsv_of_ints_and_bools() {
        let bytes: Vec<u8> = [1i32, -2, 3, 40]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let m = RawArray::copy_from(DType::Int32, vec![2, 2], &bytes).unwrap();
        assert_eq!(tsv_bytes(&m), b"1\t-2\n3\t40\n");
        let m = RawArray::copy_from(DType::Bool, vec![1, 2], &[1, 0]).unwrap();
        assert_eq!(tsv_bytes(&m), b"True\tFalse\n");
    }

    #[test]
    fn degenerate_binary_falls_back_to_text() {
        let zeros = RawArray::copy_from(DType::Float32, vec![2, 2], &[0u8; 16]).unwrap();
        assert!(!binary_readable(&zeros));
        let bytes: Vec<u8> = [0.3f32, 0.7, -1.1, 2.9]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let m = RawArray::copy_from(DType::Float32, vec![2, 2], &bytes).unwrap();
        assert!(binary_readable(&m));
        assert_eq!(binary_bytes(&m).unwrap().len(), 16);
    }

    #[test]
    fn sprite_layout_is_torchs() {
        let l = SpriteLayout::new(&[100, 3, 10, 32]).unwrap();
        assert_eq!((l.cols, l.rows, l.side), (10, 10, 320));
        let l = SpriteLayout::new(&[5, 1, 4, 4]).unwrap();
        assert_eq!((l.cols, l.rows, l.side), (3, 2, 12));
        assert!(SpriteLayout::new(&[5, 4, 4, 4]).is_err());
        assert!(SpriteLayout::new(&[5, 4, 4]).is_err());
    }

    #[test]
    fn config_text_format() {
        let infos = vec![EmbeddingInfo {
            tensor_name: "a\"b\u{1}\u{2713}:00000".into(),
            metadata_path: "00000/a/metadata.tsv".into(),
            tensor_shape: vec![],
            sprite: Some(("00000/a/sprite.png".into(), [32, 10])),
            tensor_path: "00000/a/tensors.tsv".into(),
        }];
        assert_eq!(
            projector_config_text(&infos),
            "embeddings {\n  tensor_name: \"a\\\"b\\001\u{2713}:00000\"\n  metadata_path: \
             \"00000/a/metadata.tsv\"\n  sprite {\n    image_path: \"00000/a/sprite.png\"\n    \
             single_image_dim: 32\n    single_image_dim: 10\n  }\n  tensor_path: \
             \"00000/a/tensors.tsv\"\n}\n"
        );
    }
}
