//! Images: `dataformats` layouts, torch's scaling to `u8`, the grid of `add_images`,
//! boxes, PIL-compatible Lanczos rescaling, then PNG. All of it runs on the worker.
//!
//! torch's pipeline (`summary.image`, `_utils.convert_to_HWC`, `make_grid`,
//! `make_image`) is reproduced step for step; scaling is element-wise, so it is fused
//! with the layout change into one pass over the caller's array.

use rayon::prelude::*;

use crate::error::FerroError;
use crate::format::proto::{summary_value, SummaryImage, SummaryValue};
use crate::runtime::fallible;
use crate::summary::boxes::{draw_boxes, Boxes};
use crate::summary::job::ValueEncoder;
use crate::summary::limits::check_png_size;
use crate::summary::png::encode_png;
use crate::summary::raw_array::{DType, RawArray};

/// Columns of torch's `make_grid`.
pub const GRID_COLUMNS: usize = 8;

/// Where the image axes are in the caller's array, checked against its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    /// Images in the grid (1 for a single image).
    pub n: usize,
    pub height: usize,
    pub width: usize,
    /// Channels in the array (1 for `HW`).
    pub channels: usize,
    /// Element strides of the N, H, W and C axes.
    strides: [usize; 4],
    /// Grid columns and rows (1 x 1 for a single image).
    pub columns: usize,
    pub rows: usize,
    /// Channels written: gray becomes RGB as in torch; figures lose their alpha.
    pub out_channels: usize,
}

impl ImageLayout {
    /// Parses torch's `dataformats` (any case, any order of `NCHW`, `HWC` or `HW`) for
    /// an array of `shape`. Errors name `arg` and `dataformats`, and give the shape.
    pub fn parse(dataformats: &str, shape: &[i64], arg: &str) -> Result<ImageLayout, FerroError> {
        Self::parse_with(dataformats, shape, arg, false)
    }

    /// Like [`ImageLayout::parse`] for an RGBA rendering whose alpha is dropped
    /// (`add_figure`): the array must have 4 channels and 3 are written.
    pub fn parse_dropping_alpha(
        dataformats: &str,
        shape: &[i64],
        arg: &str,
    ) -> Result<ImageLayout, FerroError> {
        Self::parse_with(dataformats, shape, arg, true)
    }

    pub(crate) fn parse_with(
        dataformats: &str,
        shape: &[i64],
        arg: &str,
        drop_alpha: bool,
    ) -> Result<ImageLayout, FerroError> {
        let shape_text = shape_text(shape);
        let fmt = dataformats.to_ascii_uppercase();
        let bad = |why: String| {
            FerroError::InvalidArgument(format!(
                "dataformats='{dataformats}' does not fit {arg} of shape {shape_text}: {why}"
            ))
        };
        let letters: &[u8] = match fmt.len() {
            4 => b"NCHW",
            3 => b"HWC",
            2 => b"HW",
            _ => {
                return Err(bad(
                    "expected a permutation of NCHW, HWC or HW (e.g. 'CHW', 'HWC', 'HW', 'NCHW', 'NHWC')"
                        .into(),
                ))
            }
        };
        let mut sorted: Vec<u8> = fmt.bytes().collect();
        sorted.sort_unstable();
        let mut want = letters.to_vec();
        want.sort_unstable();
        if sorted != want {
            return Err(bad(format!(
                "a {}-letter format must use each of {} once",
                letters.len(),
                String::from_utf8_lossy(letters)
            )));
        }
        if shape.len() != fmt.len() {
            return Err(bad(format!(
                "{} dimension(s) named but the array has {}",
                fmt.len(),
                shape.len()
            )));
        }
        if shape.iter().any(|&d| d <= 0) {
            return Err(FerroError::InvalidArgument(format!(
                "{arg} has no pixels: shape {shape_text}"
            )));
        }
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let mut strides_by_axis = vec![1usize; dims.len()];
        for i in (0..dims.len().saturating_sub(1)).rev() {
            strides_by_axis[i] = strides_by_axis[i + 1] * dims[i + 1];
        }
        let axis = |letter: u8| fmt.bytes().position(|b| b == letter);
        let size = |letter: u8| axis(letter).map_or(1, |a| dims[a]);
        let stride = |letter: u8| axis(letter).map_or(0, |a| strides_by_axis[a]);

        let (n, height, width, channels) = (size(b'N'), size(b'H'), size(b'W'), size(b'C'));
        let allowed: &[usize] = match fmt.len() {
            4 => &[1, 3, 4],
            3 => &[1, 2, 3, 4],
            _ => &[1],
        };
        if !allowed.contains(&channels) {
            return Err(bad(format!(
                "{channels} channels; a {}-D image has {} (C is the axis at position {} of {fmt:?})",
                fmt.len(),
                join_or(allowed),
                axis(b'C').unwrap_or(0)
            )));
        }
        let mut out_channels = if channels == 1 { 3 } else { channels };
        if drop_alpha {
            if channels != 4 {
                return Err(bad(format!(
                    "an RGBA rendering has 4 channels, got {channels}"
                )));
            }
            out_channels = 3;
        }
        let columns = n.min(GRID_COLUMNS);
        let rows = n.div_ceil(columns);
        let layout = ImageLayout {
            n,
            height,
            width,
            channels,
            strides: [stride(b'N'), stride(b'H'), stride(b'W'), stride(b'C')],
            columns,
            rows,
            out_channels,
        };
        let (h, w) = layout.out_size();
        if h > i32::MAX as usize || w > i32::MAX as usize {
            return Err(bad(format!("the image would be {h}x{w} pixels")));
        }
        Ok(layout)
    }

    /// A grid of `n` images of `height` x `width` x `channels` elements found at the
    /// given element strides (N, H, W, C), `columns` wide.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grid(
        n: usize,
        height: usize,
        width: usize,
        channels: usize,
        strides: [usize; 4],
        columns: usize,
        rows: usize,
        out_channels: usize,
    ) -> ImageLayout {
        ImageLayout {
            n,
            height,
            width,
            channels,
            strides,
            columns,
            rows,
            out_channels,
        }
    }

    /// Height and width of the written image (the whole grid).
    pub fn out_size(&self) -> (usize, usize) {
        (self.rows * self.height, self.columns * self.width)
    }
}

fn join_or(values: &[usize]) -> String {
    let parts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => parts.join(""),
    }
}

/// `(2, 3, 4)` as Python prints a shape.
pub fn shape_text(shape: &[i64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How elements become bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// torch's images: `uint8` kept; anything else `clip(float32(x) * 255, 0, 255)`,
    /// truncated.
    Image,
    /// torch's videos: like `Image`, except that `uint8` first becomes
    /// `float32(x) / 255` (so a few values come back one lower, as in torch).
    Video,
}

/// torch's conversion of one value (already widened to f32) to a byte.
#[inline(always)]
fn f32_to_byte(v: f32) -> u8 {
    // numpy's clip keeps NaN, and NaN cast to uint8 gives 0 on every platform torch
    // supports; `as u8` saturates and maps NaN to 0.
    (v * 255.0).clamp(0.0, 255.0) as u8
}

fn byte_table(f: impl Fn(u8) -> u8) -> [u8; 256] {
    std::array::from_fn(|i| f(i as u8))
}

/// HWC bytes of `array` laid out by `layout`: torch's `convert_to_HWC` (grid included)
/// followed by its scaling to `uint8`.
pub fn to_hwc_bytes(
    array: &RawArray,
    layout: &ImageLayout,
    scaling: Scaling,
) -> Result<Vec<u8>, FerroError> {
    gather_scaled(array, layout, scaling, 0)
}

/// Like [`to_hwc_bytes`] for the sub-array whose element 0 is at `offset` (one frame
/// of a video).
pub(crate) fn gather_scaled(
    array: &RawArray,
    layout: &ImageLayout,
    scaling: Scaling,
    offset: usize,
) -> Result<Vec<u8>, FerroError> {
    macro_rules! with {
        ($t:ty, $conv:expr) => {
            gather(array.typed::<$t>(), offset, layout, $conv)
        };
    }
    match array.dtype {
        DType::UInt8 => match scaling {
            Scaling::Image => with!(u8, |v: u8| v),
            Scaling::Video => {
                let table = byte_table(|v| f32_to_byte(f32::from(v) / 255.0));
                with!(u8, |v: u8| table[v as usize])
            }
        },
        DType::Bool => {
            let table = byte_table(|v| f32_to_byte(if v != 0 { 1.0 } else { 0.0 }));
            with!(u8, |v: u8| table[v as usize])
        }
        DType::Int8 => {
            let table = byte_table(|v| f32_to_byte(f32::from(v as i8)));
            with!(u8, |v: u8| table[v as usize])
        }
        DType::Int16 => with!(i16, |v: i16| f32_to_byte(f32::from(v))),
        DType::UInt16 => with!(u16, |v: u16| f32_to_byte(f32::from(v))),
        DType::Int32 => with!(i32, |v: i32| f32_to_byte(v as f32)),
        DType::UInt32 => with!(u32, |v: u32| f32_to_byte(v as f32)),
        DType::Int64 => with!(i64, |v: i64| f32_to_byte(v as f32)),
        DType::UInt64 => with!(u64, |v: u64| f32_to_byte(v as f32)),
        DType::Float16 => with!(u16, |v: u16| f32_to_byte(half::f16::from_bits(v).to_f32())),
        DType::BFloat16 => with!(u16, |v: u16| f32_to_byte(
            crate::summary::raw_array::bf16_to_f32(v)
        )),
        DType::Float32 => with!(f32, f32_to_byte),
        // numpy's astype(float32) rounds to nearest, as `as f32` does.
        DType::Float64 => with!(f64, |v: f64| f32_to_byte(v as f32)),
    }
}

/// One pass over the output: each row of the grid gathers its pixels from the images
/// that meet it, converting each element with `conv`. Cells past the last image stay 0.
fn gather<T: Copy + Sync>(
    src: &[T],
    offset: usize,
    layout: &ImageLayout,
    conv: impl Fn(T) -> u8 + Sync,
) -> Result<Vec<u8>, FerroError> {
    let (out_h, out_w) = layout.out_size();
    let co = layout.out_channels;
    let (h, w, c) = (layout.height, layout.width, layout.channels);
    let [sn, sh, sw, sc] = layout.strides;
    let mut out = fallible::zeroed::<u8>(out_h * out_w * co, "the image's pixels")?;
    let row_len = out_w * co;
    let fill_row = |r: usize, dst_row: &mut [u8]| {
        let (gy, y) = (r / h, r % h);
        for gx in 0..layout.columns {
            let i = gy * layout.columns + gx;
            if i >= layout.n {
                break;
            }
            let dst = &mut dst_row[gx * w * co..(gx + 1) * w * co];
            let base = offset + i * sn + y * sh;
            if c == co && sc == 1 && sw == c {
                // Interleaved rows with every channel kept: a straight conversion.
                for (d, &s) in dst.iter_mut().zip(&src[base..base + w * c]) {
                    *d = conv(s);
                }
            } else if c == 1 {
                for (x, px) in dst.chunks_exact_mut(co).enumerate() {
                    px.fill(conv(src[base + x * sw]));
                }
            } else if sw == 1 {
                // Planar rows (CHW): one slice per kept channel.
                for k in 0..co {
                    let plane = &src[base + k * sc..base + k * sc + w];
                    for (px, &s) in dst.chunks_exact_mut(co).zip(plane) {
                        px[k] = conv(s);
                    }
                }
            } else {
                for (x, px) in dst.chunks_exact_mut(co).enumerate() {
                    for (k, p) in px.iter_mut().enumerate() {
                        *p = conv(src[base + x * sw + k * sc]);
                    }
                }
            }
        }
    };
    if out.len() >= 1 << 18 {
        out.par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(r, row)| fill_row(r, row));
    } else {
        for (r, row) in out.chunks_mut(row_len).enumerate() {
            fill_row(r, row);
        }
    }
    Ok(out)
}

/// Everything that follows from an image's shape and options, checked before its
/// pixels are copied: the layout, `rescale` and the sizes the worker will allocate.
pub struct ImagePlan {
    shape: Vec<i64>,
    arg: String,
    layout: ImageLayout,
    /// The written size after `rescale`.
    scaled: (usize, usize),
}

impl ImagePlan {
    /// `drop_alpha`: the array is an RGBA rendering whose alpha is not written
    /// (figures). `limit`: the writer's largest event.
    pub fn new(
        dataformats: &str,
        shape: Vec<i64>,
        arg: &str,
        drop_alpha: bool,
        rescale: f64,
        limit: usize,
    ) -> Result<ImagePlan, FerroError> {
        let layout = ImageLayout::parse_with(dataformats, &shape, arg, drop_alpha)?;
        if !(rescale.is_finite() && rescale > 0.0) {
            return Err(FerroError::InvalidArgument(format!(
                "rescale must be a positive number, got {rescale}"
            )));
        }
        // torch's `int(h * rescale)`.
        let (oh, ow) = layout.out_size();
        let scale = |v: usize| {
            let s = v as f64 * rescale;
            if s.is_finite() && s > 0.0 {
                s as usize
            } else {
                0
            }
        };
        let (h, w) = (scale(oh), scale(ow));
        if h == 0 || w == 0 || h > i32::MAX as usize || w > i32::MAX as usize {
            return Err(FerroError::InvalidArgument(format!(
                "rescale={rescale} turns the {oh}x{ow} image into {h}x{w} pixels"
            )));
        }
        // The image (or grid) before `rescale`, then after it.
        let grid_arg = if layout.n > 1 {
            "img_tensor (the grid)"
        } else {
            arg
        };
        check_png_size(grid_arg, ow, oh, layout.out_channels, limit)?;
        check_png_size("rescale", w, h, layout.out_channels, limit)?;
        Ok(ImagePlan {
            shape,
            arg: arg.to_owned(),
            layout,
            scaled: (h, w),
        })
    }
}

/// Height, width and channels of a uint8 `(H, W)` or `(H, W, C)` image of 1 to 4
/// channels (`encode_png` and `draw_boxes` of the Python module).
pub fn pixels_size(shape: &[i64]) -> Result<(usize, usize, usize), FerroError> {
    let (h, w, c) = match shape {
        [h, w] => (*h, *w, 1),
        [h, w, c] => (*h, *w, *c),
        other => {
            return Err(FerroError::InvalidArgument(format!(
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
        return Err(FerroError::InvalidArgument(format!(
            "pixels must have 1 to 4 channels and at least one pixel, got shape {}",
            shape_text(shape)
        )));
    }
    Ok((h as usize, w as usize, c as usize))
}

/// An image summary: what `add_image`, `add_images`, `add_figure` and
/// `add_image_with_boxes` enqueue.
pub struct ImageJob {
    tag: String,
    pixels: RawArray,
    plan: ImagePlan,
    boxes: Option<Boxes>,
}

impl ImageJob {
    /// `pixels`: the copy of the array `plan` was made for.
    pub fn new(
        tag: String,
        plan: ImagePlan,
        pixels: RawArray,
        boxes: Option<Boxes>,
    ) -> Result<ImageJob, FerroError> {
        if pixels.shape != plan.shape {
            return Err(FerroError::InvalidArgument(format!(
                "{} changed shape while it was read",
                plan.arg
            )));
        }
        Ok(ImageJob {
            tag,
            pixels,
            plan,
            boxes,
        })
    }
}

impl ValueEncoder for ImageJob {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len() + self.pixels.nbytes() + self.boxes.as_ref().map_or(0, Boxes::cost)
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let layout = &self.plan.layout;
        let (height, width) = layout.out_size();
        let channels = layout.out_channels;
        let mut pixels = to_hwc_bytes(&self.pixels, layout, Scaling::Image)?;
        if let Some(boxes) = &self.boxes {
            draw_boxes(&mut pixels, width, height, channels, boxes);
        }
        let (out_h, out_w) = self.plan.scaled;
        if (out_h, out_w) != (height, width) {
            pixels = resize_lanczos(&pixels, width, height, channels, out_w, out_h)?;
        }
        let png = encode_png(&pixels, out_w as u32, out_h as u32, channels as u8)?;
        Ok(vec![image_value(self.tag, height, width, channels, png)])
    }
}

/// A `Summary.Value` holding an encoded image (PNG or GIF).
pub fn image_value(
    tag: String,
    height: usize,
    width: usize,
    channels: usize,
    encoded: Vec<u8>,
) -> SummaryValue {
    SummaryValue {
        tag,
        value: Some(summary_value::Value::Image(SummaryImage {
            height: height as i32,
            width: width as i32,
            colorspace: channels as i32,
            encoded_image_string: encoded,
        })),
        ..Default::default()
    }
}

// -- PIL's Lanczos resampling (libImaging/Resample.c), bit for bit --------------------

/// PIL's fixed-point precision for 8-bit images.
const PRECISION_BITS: u32 = 32 - 8 - 2;
const LANCZOS_SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

fn lanczos(x: f64) -> f64 {
    if (-LANCZOS_SUPPORT..LANCZOS_SUPPORT).contains(&x) {
        sinc(x) * sinc(x / LANCZOS_SUPPORT)
    } else {
        0.0
    }
}

/// Per output pixel: first input index, tap count, and fixed-point weights.
struct Coefficients {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

/// `precompute_coeffs` + `normalize_coeffs_8bpc` for an input of `in_size` pixels.
fn coefficients(in_size: usize, out_size: usize) -> Result<Coefficients, FerroError> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = LANCZOS_SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    const WHAT: &str = "the resampling weights";
    let mut bounds = fallible::with_capacity(out_size, WHAT)?;
    let mut weights = fallible::zeroed::<i32>(out_size.saturating_mul(ksize), WHAT)?;
    let mut k = fallible::zeroed::<f64>(ksize, WHAT)?;
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(0) as usize;
        let taps = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(taps) {
            let w = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..(xx + 1) * ksize];
        for (x, out) in row.iter_mut().enumerate().take(taps) {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            *out = if w < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        bounds.push((xmin, taps));
    }
    Ok(Coefficients {
        ksize,
        bounds,
        weights,
    })
}

#[inline(always)]
fn clip8(v: i64) -> u8 {
    let shifted = v >> PRECISION_BITS;
    shifted.clamp(0, 255) as u8
}

/// PIL's `Image.resize(..., LANCZOS)` of an 8-bit image with `channels` per pixel:
/// horizontal pass over the rows the vertical pass needs, then the vertical pass.
/// Images with alpha are resized premultiplied, as PIL does.
pub fn resize_lanczos(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
) -> Result<Vec<u8>, FerroError> {
    const WHAT: &str = "the rescaled image";
    let has_alpha = channels == 2 || channels == 4;
    let premultiplied;
    let src = if has_alpha {
        premultiplied = premultiply(pixels, channels)?;
        &premultiplied[..]
    } else {
        pixels
    };
    let horiz = coefficients(width, out_w)?;
    let vert = coefficients(height, out_h)?;
    let need_h = out_w != width;
    let need_v = out_h != height;
    let c = channels;
    let half = 1i64 << (PRECISION_BITS - 1);

    // Rows the vertical pass reads.
    let first = vert.bounds.first().map_or(0, |b| b.0);
    let last = vert.bounds.last().map_or(height, |b| b.0 + b.1);
    let (tmp, tmp_w, row0) = if need_h {
        let rows = last - first;
        let mut tmp = fallible::zeroed::<u8>(rows * out_w * c, WHAT)?;
        tmp.par_chunks_mut(out_w * c)
            .enumerate()
            .for_each(|(r, dst)| {
                let row = &src[(r + first) * width * c..(r + first + 1) * width * c];
                for (xx, px) in dst.chunks_exact_mut(c).enumerate() {
                    let (xmin, taps) = horiz.bounds[xx];
                    let k = &horiz.weights[xx * horiz.ksize..xx * horiz.ksize + taps];
                    for (ch, p) in px.iter_mut().enumerate() {
                        let mut ss = half;
                        for (x, &kx) in k.iter().enumerate() {
                            ss += i64::from(row[(x + xmin) * c + ch]) * i64::from(kx);
                        }
                        *p = clip8(ss);
                    }
                }
            });
        (tmp, out_w, first)
    } else {
        (fallible::to_vec(src, WHAT)?, width, 0)
    };
    let out = if need_v {
        let mut out = fallible::zeroed::<u8>(out_h * tmp_w * c, WHAT)?;
        out.par_chunks_mut(tmp_w * c)
            .enumerate()
            .for_each(|(yy, dst)| {
                let (ymin, taps) = vert.bounds[yy];
                let k = &vert.weights[yy * vert.ksize..yy * vert.ksize + taps];
                for (i, p) in dst.iter_mut().enumerate() {
                    let mut ss = half;
                    for (y, &ky) in k.iter().enumerate() {
                        let yy_src = y + ymin - row0;
                        ss += i64::from(tmp[yy_src * tmp_w * c + i]) * i64::from(ky);
                    }
                    *p = clip8(ss);
                }
            });
        out
    } else {
        tmp
    };
    if has_alpha {
        unpremultiply(&out, channels)
    } else {
        Ok(out)
    }
}

/// PIL's RGBA -> RGBa (and LA -> La): colour times alpha / 255, rounded.
fn premultiply(pixels: &[u8], channels: usize) -> Result<Vec<u8>, FerroError> {
    let mut out = fallible::to_vec(pixels, "the rescaled image")?;
    for px in out.chunks_exact_mut(channels) {
        let alpha = u32::from(px[channels - 1]);
        for v in &mut px[..channels - 1] {
            let tmp = u32::from(*v) * alpha + 128;
            *v = (((tmp >> 8) + tmp) >> 8) as u8;
        }
    }
    Ok(out)
}

/// PIL's RGBa -> RGBA: colour * 255 / alpha, clipped (alpha 0 and 255 kept as is).
fn unpremultiply(pixels: &[u8], channels: usize) -> Result<Vec<u8>, FerroError> {
    let mut out = fallible::to_vec(pixels, "the rescaled image")?;
    for px in out.chunks_exact_mut(channels) {
        let alpha = u32::from(px[channels - 1]);
        if alpha == 0 || alpha == 255 {
            continue;
        }
        for v in &mut px[..channels - 1] {
            *v = ((255 * u32::from(*v)) / alpha).min(255) as u8;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<T: Copy>(dtype: DType, shape: &[i64], values: &[T]) -> RawArray {
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        };
        RawArray::copy_from(dtype, shape.to_vec(), bytes).unwrap()
    }

    #[test]
    fn parses_layouts_and_rejects_mismatches() {
        let l = ImageLayout::parse("chw", &[3, 4, 5], "img_tensor").unwrap();
        assert_eq!(
            (l.height, l.width, l.channels, l.out_channels),
            (4, 5, 3, 3)
        );
        let l = ImageLayout::parse("HW", &[4, 5], "img_tensor").unwrap();
        assert_eq!((l.channels, l.out_channels), (1, 3));
        let l = ImageLayout::parse("NHWC", &[10, 2, 3, 1], "img_tensor").unwrap();
        assert_eq!((l.columns, l.rows, l.out_size()), (8, 2, (4, 24)));
        for (fmt, shape) in [
            ("CHW", &[3, 4][..]),
            ("CHWC", &[3, 4, 5, 6][..]),
            ("XYZ", &[3, 4, 5][..]),
            ("CHW", &[5, 4, 4][..]),
            ("NCHW", &[2, 2, 4, 4][..]),
            ("CHW", &[3, 0, 4][..]),
        ] {
            let err = ImageLayout::parse(fmt, shape, "img_tensor")
                .unwrap_err()
                .to_string();
            assert!(err.contains("img_tensor"), "{err}");
            assert!(err.contains(&shape_text(shape)), "{err}");
        }
    }

    #[test]
    fn scales_like_torch() {
        let values = [-0.5f32, 0.0, 0.5, 1.0, 1.5, f32::NAN];
        let a = raw(DType::Float32, &[1, 6], &values);
        let l = ImageLayout::parse("HW", &[1, 6], "x").unwrap();
        let out = to_hwc_bytes(&a, &l, Scaling::Image).unwrap();
        let gray: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(gray, vec![0, 0, 127, 255, 255, 0]);
        // uint8 videos go through float32(x) / 255 * 255, which numpy (and IEEE
        // float32) brings back to every original value.
        let all: Vec<u8> = (0..=255u8).collect();
        let a = raw(DType::UInt8, &[1, 256], &all);
        let l = ImageLayout::parse("HW", &[1, 256], "x").unwrap();
        let video: Vec<u8> = to_hwc_bytes(&a, &l, Scaling::Video)
            .unwrap()
            .chunks(3)
            .map(|p| p[0])
            .collect();
        assert_eq!(video, all);
    }

    #[test]
    fn builds_torchs_grid() {
        // 3 gray 1x2 images: one row of three cells, replicated to RGB.
        let a = raw(DType::UInt8, &[3, 1, 1, 2], &[1u8, 2, 3, 4, 5, 6]);
        let l = ImageLayout::parse("NCHW", &[3, 1, 1, 2], "x").unwrap();
        let out = to_hwc_bytes(&a, &l, Scaling::Image).unwrap();
        let gray: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(gray, vec![1, 2, 3, 4, 5, 6]);
        // 9 images: the second row has one image then zeros.
        let values: Vec<u8> = (1..=9).collect();
        let a = raw(DType::UInt8, &[9, 1, 1, 1], &values);
        let l = ImageLayout::parse("NCHW", &[9, 1, 1, 1], "x").unwrap();
        let out = to_hwc_bytes(&a, &l, Scaling::Image).unwrap();
        let gray: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(gray, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn chw_and_hwc_give_the_same_pixels() {
        let (h, w) = (3usize, 5usize);
        let hwc: Vec<u8> = (0..h * w * 3).map(|i| i as u8).collect();
        let mut chw = vec![0u8; hwc.len()];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    chw[c * h * w + y * w + x] = hwc[(y * w + x) * 3 + c];
                }
            }
        }
        let a = raw(DType::UInt8, &[3, 3, 5], &chw);
        let l = ImageLayout::parse("CHW", &[3, 3, 5], "x").unwrap();
        assert_eq!(to_hwc_bytes(&a, &l, Scaling::Image).unwrap(), hwc);
        let a = raw(DType::UInt8, &[3, 5, 3], &hwc);
        let l = ImageLayout::parse("HWC", &[3, 5, 3], "x").unwrap();
        assert_eq!(to_hwc_bytes(&a, &l, Scaling::Image).unwrap(), hwc);
    }

    #[test]
    fn lanczos_keeps_constant_images_and_sizes() {
        let pixels = vec![77u8; 10 * 6 * 3];
        let out = resize_lanczos(&pixels, 10, 6, 3, 25, 3).unwrap();
        assert_eq!(out.len(), 25 * 3 * 3);
        assert!(out.iter().all(|&v| v == 77));
    }
}
