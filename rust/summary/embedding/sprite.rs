//! `sprite.png`: the label images in a square grid.

use super::*;

/// Pixel bytes of label images: floats (torch's [0, 1] convention) are scaled by 255,
/// clipped and truncated as torch does; integers are taken as 0-255 pixel values and
/// clipped (torch multiplies those by 255 too, which saturates them: a documented
/// deviation); booleans become 0 or 255.
pub(crate) fn to_pixels(img: &RawArray) -> Vec<u8> {
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
            .map(|&v| float(crate::summary::raw_array::bf16_to_f64(v)))
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
        crate::summary::limits::check_png_size(
            "label_img (the sprite)",
            side,
            side,
            3,
            crate::summary::limits::MAX_EVENT_BYTES,
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
