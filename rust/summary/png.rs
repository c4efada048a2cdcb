//! PNG encoding with a fast deflate: the images, figures and sprites of every summary.
//!
//! The encoder is built for speed at Pillow's file size:
//! - rows are filtered with the same adaptive heuristic as Pillow and libpng (per row,
//!   the filter whose output has the smallest sum of absolute signed bytes);
//! - the filtered rows are cut into strips that are compressed in parallel by zlib-rs
//!   (pure Rust, SIMD), each strip primed with the last 32 KiB of the one before it, so
//!   the stream compresses almost as well as one made in a single pass (as pigz does);
//! - each strip picks its method from its bytes: one that looks random (order-0 entropy
//!   near 8 bits/byte, like noise) is stored, since deflate cannot shrink it and
//!   searching it for matches is the slowest thing deflate does; a noisy one (a photo)
//!   is Huffman-coded without match search when a sample shows that matches would save
//!   under 5 %; anything else (figures, flat areas, repeated tiles) gets full deflate.

use rayon::prelude::*;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Status, Strategy};

use crate::error::FerroError;
use crate::runtime::fallible;

/// Filtered bytes per strip compressed on its own (a multiple of whole rows).
const STRIP_BYTES: usize = 256 * 1024;
/// deflate's window: each strip is primed with this much of the previous strip.
const WINDOW: usize = 32 * 1024;
/// zlib-rs compression level of full deflate (Pillow uses zlib's default, 6; zlib-rs's
/// 5 is within 2 % of it on figures and flat images, and faster).
const LEVEL: i32 = 5;
/// Strips with at least this order-0 entropy (bits per byte) are stored, not deflated.
const STORE_ENTROPY_BITS: f64 = 7.9;
/// Below this entropy, matches always pay: full deflate without sampling.
const SAMPLE_ENTROPY_BITS: f64 = 2.5;
/// Bytes of a strip compressed both ways to choose between Huffman-only and deflate.
const SAMPLE_BYTES: usize = 16 * 1024;

/// How one strip is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Stored,
    HuffmanOnly,
    Deflate,
}

/// Encodes row-major HWC `u8` pixels as an 8-bit PNG: `channels` 1 = gray,
/// 2 = gray + alpha, 3 = RGB, 4 = RGBA.
pub fn encode_png(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: u8,
) -> Result<Vec<u8>, FerroError> {
    let color_type: u8 = match channels {
        1 => 0,
        2 => 4,
        3 => 2,
        4 => 6,
        other => {
            return Err(FerroError::InvalidArgument(format!(
                "PNG images have 1, 2, 3 or 4 channels, got {other}"
            )))
        }
    };
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(FerroError::InvalidArgument(format!(
            "cannot encode a PNG of {height}x{width} pixels"
        )));
    }
    let stride = width as usize * channels as usize;
    let expected = stride * height as usize;
    if pixels.len() != expected {
        return Err(FerroError::InvalidArgument(format!(
            "a {height}x{width}x{channels} PNG needs {expected} bytes, got {}",
            pixels.len()
        )));
    }

    let filtered = filter_rows(pixels, stride, channels as usize)?;
    let idat = zlib_stream(&filtered)?;
    drop(filtered);

    // Chunk headers: 12 bytes per IDAT chunk of up to 2^31 - 1 bytes, plus the rest.
    let framing = 64 + 12 * (idat.len() / i32::MAX as usize + 1);
    let mut out = fallible::with_capacity(idat.len() + framing, "the PNG file")?;
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = [0u8; 13];
    ihdr[0..4].copy_from_slice(&width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&height.to_be_bytes());
    ihdr[8] = 8; // bit depth
    ihdr[9] = color_type;
    // compression 0 (deflate), filter method 0 (adaptive), interlace 0 (none)
    write_chunk(&mut out, b"IHDR", &ihdr);
    // One IDAT chunk holds at most 2^31 - 1 bytes.
    for part in idat.chunks(i32::MAX as usize) {
        write_chunk(&mut out, b"IDAT", part);
    }
    write_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = zlib_rs::crc32::crc32(0, &out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Every row prefixed by its filter type and filtered by it (PNG filter method 0).
fn filter_rows(pixels: &[u8], stride: usize, bpp: usize) -> Result<Vec<u8>, FerroError> {
    let rows = pixels.len() / stride;
    let mut out = fallible::zeroed::<u8>(rows * (stride + 1), "the PNG's filtered rows")?;
    let rows_per_task = (STRIP_BYTES / (stride + 1)).max(1);
    out.par_chunks_mut(rows_per_task * (stride + 1))
        .enumerate()
        .for_each(|(task, dst)| {
            let first = task * rows_per_task;
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { filter_task_avx2(pixels, stride, bpp, first, dst) };
                return;
            }
            filter_task(pixels, stride, bpp, first, dst);
        });
    Ok(out)
}

/// [`filter_task`] compiled for AVX2 (the filters and their costs vectorize twice as
/// wide as with the baseline SSE2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn filter_task_avx2(pixels: &[u8], stride: usize, bpp: usize, first: usize, dst: &mut [u8]) {
    filter_task(pixels, stride, bpp, first, dst)
}

/// Filters the rows from `first` into `dst` (whole filtered rows).
#[inline(always)]
fn filter_task(pixels: &[u8], stride: usize, bpp: usize, first: usize, dst: &mut [u8]) {
    let mut scratch = FilterScratch::new(stride);
    for (i, dst_row) in dst.chunks_exact_mut(stride + 1).enumerate() {
        let y = first + i;
        let row = &pixels[y * stride..(y + 1) * stride];
        let prev = (y > 0).then(|| &pixels[(y - 1) * stride..y * stride]);
        scratch.filter_row(row, prev, bpp, dst_row);
    }
}

struct FilterScratch {
    zeros: Vec<u8>,
}

impl FilterScratch {
    fn new(stride: usize) -> Self {
        FilterScratch {
            zeros: vec![0u8; stride],
        }
    }

    /// Filters `row` with the filter whose output bytes, read as signed, have the
    /// smallest sum of absolute values (ties go to the simpler filter).
    #[inline(always)]
    fn filter_row(&mut self, row: &[u8], prev: Option<&[u8]>, bpp: usize, dst: &mut [u8]) {
        let up = prev.unwrap_or(&self.zeros);
        let (kind_byte, out) = dst.split_at_mut(1);
        let costs = [
            cost_with(row, up, 0, Filter::None),
            cost_with(row, up, bpp, Filter::Sub),
            cost_with(row, up, bpp, Filter::Up),
            cost_with(row, up, bpp, Filter::Avg),
            cost_with(row, up, bpp, Filter::Paeth),
        ];
        let mut best = 0;
        for kind in 1..5 {
            if costs[kind] < costs[best] {
                best = kind;
            }
        }
        kind_byte[0] = best as u8;
        match best {
            0 => out.copy_from_slice(row),
            1 => apply(row, up, bpp, out, Filter::Sub),
            2 => apply(row, up, bpp, out, Filter::Up),
            3 => apply(row, up, bpp, out, Filter::Avg),
            _ => apply(row, up, bpp, out, Filter::Paeth),
        }
    }
}

#[derive(Clone, Copy)]
enum Filter {
    None,
    Sub,
    Up,
    Avg,
    Paeth,
}

/// The filtered byte at `x` given left `a`, up `b` and up-left `c` neighbours.
#[inline(always)]
fn filtered(kind: Filter, x: u8, a: u8, b: u8, c: u8) -> u8 {
    match kind {
        Filter::None => x,
        Filter::Sub => x.wrapping_sub(a),
        Filter::Up => x.wrapping_sub(b),
        Filter::Avg => x.wrapping_sub(((u16::from(a) + u16::from(b)) >> 1) as u8),
        Filter::Paeth => x.wrapping_sub(paeth(a, b, c)),
    }
}

/// Sum of absolute signed filtered bytes of `row` under `kind`, without writing them.
#[inline(always)]
fn cost_with(row: &[u8], up: &[u8], bpp: usize, kind: Filter) -> u64 {
    let bpp = bpp.min(row.len());
    let n = row.len() - bpp;
    let head: u64 = row[..bpp]
        .iter()
        .zip(&up[..bpp])
        .map(|(&x, &b)| u64::from((filtered(kind, x, 0, b, 0) as i8).unsigned_abs()))
        .sum();
    let mut total = head;
    let (x, b, a, c) = (&row[bpp..], &up[bpp..], &row[..n], &up[..n]);
    // u32 partial sums of short runs vectorize; 8192 * 128 cannot overflow.
    for (((x, a), b), c) in x
        .chunks(8192)
        .zip(a.chunks(8192))
        .zip(b.chunks(8192))
        .zip(c.chunks(8192))
    {
        let part: u32 = x
            .iter()
            .zip(a)
            .zip(b)
            .zip(c)
            .map(|(((&x, &a), &b), &c)| {
                u32::from((filtered(kind, x, a, b, c) as i8).unsigned_abs())
            })
            .sum();
        total += u64::from(part);
    }
    total
}

#[inline(always)]
fn apply(row: &[u8], up: &[u8], bpp: usize, out: &mut [u8], kind: Filter) {
    let bpp = bpp.min(row.len());
    let n = row.len() - bpp;
    let (head, tail) = out.split_at_mut(bpp);
    for ((o, &x), &b) in head.iter_mut().zip(&row[..bpp]).zip(&up[..bpp]) {
        *o = filtered(kind, x, 0, b, 0);
    }
    let (x, b, a, c) = (&row[bpp..], &up[bpp..], &row[..n], &up[..n]);
    for ((((o, &x), &a), &b), &c) in tail.iter_mut().zip(x).zip(a).zip(b).zip(c) {
        *o = filtered(kind, x, a, b, c);
    }
}

#[cfg(test)]
fn filter_sub(row: &[u8], bpp: usize, out: &mut [u8]) {
    apply(row, row, bpp, out, Filter::Sub)
}

#[cfg(test)]
fn filter_up(row: &[u8], up: &[u8], out: &mut [u8]) {
    apply(row, up, 1, out, Filter::Up)
}

#[cfg(test)]
fn filter_avg(row: &[u8], up: &[u8], bpp: usize, out: &mut [u8]) {
    apply(row, up, bpp, out, Filter::Avg)
}

/// Paeth's predictor, written without branches so that it vectorizes.
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a16, b16, c16) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (b16 - c16).abs();
    let pb = (a16 - c16).abs();
    let pc = (a16 + b16 - 2 * c16).abs();
    let b_or_c = if pb <= pc { b } else { c };
    if pa <= pb && pa <= pc {
        a
    } else {
        b_or_c
    }
}

/// A zlib stream (header, deflate data, Adler-32) of `data`, compressed in strips.
fn zlib_stream(data: &[u8]) -> Result<Vec<u8>, FerroError> {
    let strips: Vec<&[u8]> = data.chunks(STRIP_BYTES).collect();
    let last = strips.len().saturating_sub(1);
    let parts: Vec<(Vec<u8>, u32)> = strips
        .par_iter()
        .enumerate()
        .map(|(i, strip)| {
            let dictionary = if i == 0 {
                &[][..]
            } else {
                let start = i * STRIP_BYTES;
                &data[start.saturating_sub(WINDOW)..start]
            };
            let deflated = deflate_strip(strip, dictionary, i == last)?;
            Ok((deflated, zlib_rs::adler32::adler32(1, strip)))
        })
        .collect::<Result<_, FerroError>>()?;

    let total: usize = parts.iter().map(|(p, _)| p.len()).sum();
    let mut out = fallible::with_capacity(total + 8, "the PNG's compressed data")?;
    // CMF: deflate with a 32 KiB window; FLG: level "default", no preset dictionary,
    // check bits making the 16-bit header a multiple of 31.
    out.extend_from_slice(&[0x78, 0x9c]);
    let mut adler = 1u32;
    for ((deflated, strip_adler), strip) in parts.iter().zip(&strips) {
        out.extend_from_slice(deflated);
        adler = zlib_rs::adler32::adler32_combine(adler, *strip_adler, strip.len() as u64);
    }
    if data.is_empty() {
        // An empty stream still needs one final block.
        out.extend_from_slice(&[0x03, 0x00]);
    }
    out.extend_from_slice(&adler.to_be_bytes());
    Ok(out)
}

/// Chooses how to compress `strip` (see the module documentation).
fn choose_method(strip: &[u8]) -> Result<Method, FerroError> {
    let entropy = entropy_bits(strip);
    if entropy >= STORE_ENTROPY_BITS {
        return Ok(Method::Stored);
    }
    if entropy < SAMPLE_ENTROPY_BITS {
        return Ok(Method::Deflate);
    }
    let start = (strip.len() / 2).saturating_sub(SAMPLE_BYTES / 2);
    let sample = &strip[start..(start + SAMPLE_BYTES).min(strip.len())];
    let huffman = deflate_raw(sample, &[], true, Method::HuffmanOnly)?.len();
    let matched = deflate_raw(sample, &[], true, Method::Deflate)?.len();
    Ok(if matched * 100 < huffman * 95 {
        Method::Deflate
    } else {
        Method::HuffmanOnly
    })
}

/// Raw deflate of one strip: byte-aligned (sync flush) unless `is_last`, which ends the
/// stream with a final block.
fn deflate_strip(strip: &[u8], dictionary: &[u8], is_last: bool) -> Result<Vec<u8>, FerroError> {
    match choose_method(strip)? {
        Method::Stored => Ok(stored_blocks(strip, is_last)),
        method => deflate_raw(strip, dictionary, is_last, method),
    }
}

fn deflate_raw(
    data: &[u8],
    dictionary: &[u8],
    is_last: bool,
    method: Method,
) -> Result<Vec<u8>, FerroError> {
    let mut config = DeflateConfig::new(LEVEL);
    config.window_bits = -15; // raw deflate: the zlib header and checksum are ours
    if method == Method::HuffmanOnly {
        config.strategy = Strategy::HuffmanOnly;
    }
    let mut deflate = Deflate::new_with_config(config);
    if !dictionary.is_empty() && method == Method::Deflate {
        deflate
            .set_dictionary(dictionary)
            .map_err(|e| deflate_error(e.as_str()))?;
    }
    let flush = if is_last {
        DeflateFlush::Finish
    } else {
        DeflateFlush::SyncFlush
    };
    // deflate's worst case: stored blocks plus a few bytes per 16 KiB.
    let mut out = fallible::zeroed::<u8>(data.len() + data.len() / 1000 + 64, "a PNG strip")?;
    let status = deflate
        .compress(data, &mut out, flush)
        .map_err(|e| deflate_error(e.as_str()))?;
    let done = match flush {
        DeflateFlush::Finish => status == Status::StreamEnd,
        _ => deflate.total_in() == data.len() as u64,
    };
    if !done {
        return Err(deflate_error("output buffer too small"));
    }
    out.truncate(deflate.total_out() as usize);
    Ok(out)
}

/// `data` as stored (uncompressed) deflate blocks of at most 65535 bytes.
fn stored_blocks(data: &[u8], is_last: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 65535 + 1));
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        out.push(u8::from(is_last));
        out.extend_from_slice(&[0, 0, 0xff, 0xff]);
        return out;
    }
    while let Some(block) = blocks.next() {
        let final_block = is_last && blocks.peek().is_none();
        out.push(u8::from(final_block)); // BFINAL, BTYPE = 00 (stored), padding
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// Order-0 entropy of `data` in bits per byte (8 for uniformly random bytes), estimated
/// from one 1 KiB block in four when `data` is large (64 K samples leave the estimate
/// within 0.01 bit of the whole strip's).
fn entropy_bits(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    const BLOCK: usize = 1024;
    let step = if data.len() >= 16 * BLOCK { 4 } else { 1 };
    // Four interleaved tables avoid store-to-load stalls on runs of equal bytes.
    let mut counts = [[0u32; 256]; 4];
    let mut n = 0usize;
    for block in data.chunks(BLOCK).step_by(step) {
        n += block.len();
        let mut quads = block.chunks_exact(4);
        for q in &mut quads {
            counts[0][q[0] as usize] += 1;
            counts[1][q[1] as usize] += 1;
            counts[2][q[2] as usize] += 1;
            counts[3][q[3] as usize] += 1;
        }
        for &b in quads.remainder() {
            counts[0][b as usize] += 1;
        }
    }
    let n = n as f64;
    (0..256)
        .map(|i| f64::from(counts[0][i] + counts[1][i] + counts[2][i] + counts[3][i]))
        .filter(|&c| c > 0.0)
        .map(|c| {
            let p = c / n;
            -p * p.log2()
        })
        .sum()
}

fn deflate_error(reason: &str) -> FerroError {
    FerroError::InvalidArgument(format!("PNG deflate failed: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    fn pattern(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Half smooth ramp, half noise: exercises every filter and both paths.
                if (i / 4096) % 2 == 0 {
                    (i % 251) as u8
                } else {
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_every_channel_count() {
        for channels in [1u8, 2, 3, 4] {
            for (w, h) in [(1u32, 1u32), (37, 11), (1, 300), (700, 500)] {
                let pixels = pattern((w * h * u32::from(channels)) as usize, w + h);
                let bytes = encode_png(&pixels, w, h, channels).unwrap();
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
                let (info, decoded) = decode(&bytes);
                assert_eq!((info.width, info.height), (w, h));
                assert_eq!(decoded, pixels, "{channels} channels, {w}x{h}");
            }
        }
    }

    #[test]
    fn noise_is_stored_and_smooth_data_compressed() {
        let (w, h) = (512u32, 512u32);
        let noise = pattern((w * h * 3) as usize, 9)
            .iter()
            .enumerate()
            .map(|(i, &b)| b ^ (i as u8).wrapping_mul(31))
            .collect::<Vec<_>>();
        let bytes = encode_png(&noise, w, h, 3).unwrap();
        assert!(bytes.len() < noise.len() + noise.len() / 100 + 200);
        assert_eq!(decode(&bytes).1, noise);

        let smooth: Vec<u8> = (0..w * h * 3).map(|i| ((i / 3) % w / 2) as u8).collect();
        let bytes = encode_png(&smooth, w, h, 3).unwrap();
        assert!(bytes.len() < smooth.len() / 50, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).1, smooth);
    }

    #[test]
    fn filters_match_the_png_definitions() {
        // Paeth's predictor, from the PNG specification's reference code.
        assert_eq!(paeth(10, 20, 10), 20);
        assert_eq!(paeth(20, 10, 10), 20);
        assert_eq!(paeth(10, 10, 20), 10);
        assert_eq!(paeth(0, 255, 128), 128);
        let row = [10u8, 20, 30, 40];
        let up = [5u8, 5, 50, 50];
        let mut out = [0u8; 4];
        filter_sub(&row, 2, &mut out);
        assert_eq!(out, [10, 20, 20, 20]);
        filter_up(&row, &up, &mut out);
        assert_eq!(out, [5, 15, 236, 246]);
        filter_avg(&row, &up, 2, &mut out);
        assert_eq!(out, [8, 18, 0, 5]);
    }

    #[test]
    fn entropy_of_uniform_and_constant_data() {
        let uniform: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!((entropy_bits(&uniform) - 8.0).abs() < 1e-9);
        assert_eq!(entropy_bits(&[7u8; 100]), 0.0);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(encode_png(&[0; 5], 2, 1, 3).is_err());
        assert!(encode_png(&[0; 5], 5, 1, 5).is_err());
        assert!(encode_png(&[], 0, 0, 3).is_err());
    }
}
