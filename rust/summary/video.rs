//! Videos: torch's `_prepare_video` grid and scaling, encoded as an animated GIF.
//!
//! torch pads the batch with black clips up to a power of two, lays the clips out in
//! `2^floor((bit_length(N) - 1) / 2)` rows, scales (uint8 via float32 / 255) and hands
//! the frames to moviepy, which writes a looping GIF with `1000 / fps` ms per frame.
//! Here each frame is quantized to its own palette: exactly when it has at most 256
//! colours (lossless), otherwise by median cut refined with k-means.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::error::FerroError;
use crate::format::proto::SummaryValue;
use crate::summary::image::{gather_scaled, image_value, shape_text, ImageLayout, Scaling};
use crate::summary::job::ValueEncoder;
use crate::summary::limits::check_gif_size;
use crate::summary::raw_array::RawArray;

/// Where the N, T, C, H and W axes are in a caller's 5-D array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoLayout {
    pub clips: usize,
    pub frames: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Element strides of N, T, C, H, W.
    strides: [usize; 5],
    pub rows: usize,
    pub columns: usize,
}

impl VideoLayout {
    /// tensorboardX's `dataformats` (a permutation of `NTCHW`, any case) for `shape`.
    pub fn parse(dataformats: &str, shape: &[i64], arg: &str) -> Result<VideoLayout, FerroError> {
        let shape_str = shape_text(shape);
        let fmt = dataformats.to_ascii_uppercase();
        let bad = |why: &str| {
            FerroError::InvalidArgument(format!(
                "dataformats='{dataformats}' does not fit {arg} of shape {shape_str}: {why}"
            ))
        };
        let mut letters: Vec<u8> = fmt.bytes().collect();
        letters.sort_unstable();
        if letters != b"CHNTW" {
            return Err(bad(
                "expected a permutation of NTCHW (e.g. 'NTCHW', 'NTHWC')",
            ));
        }
        if shape.len() != 5 {
            return Err(bad(&format!(
                "a video is 5-D (clips, frames, channels, height, width); the array has {} dimension(s)",
                shape.len()
            )));
        }
        if shape.iter().any(|&d| d <= 0) {
            return Err(FerroError::InvalidArgument(format!(
                "{arg} has no pixels: shape {shape_str}"
            )));
        }
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let mut by_axis = [1usize; 5];
        for i in (0..4).rev() {
            by_axis[i] = by_axis[i + 1] * dims[i + 1];
        }
        let axis = |letter: u8| fmt.bytes().position(|b| b == letter).unwrap_or(0);
        let size = |letter: u8| dims[axis(letter)];
        let stride = |letter: u8| by_axis[axis(letter)];
        let channels = size(b'C');
        if ![1, 3, 4].contains(&channels) {
            return Err(bad(&format!(
                "{channels} channels; a video frame has 1, 3 or 4 (C is the axis at position {})",
                axis(b'C')
            )));
        }
        let clips = size(b'N');
        let padded = clips.next_power_of_two();
        let bit_length = usize::BITS - clips.leading_zeros();
        let rows = 1usize << ((bit_length - 1) / 2);
        let columns = padded / rows;
        let layout = VideoLayout {
            clips,
            frames: size(b'T'),
            channels,
            height: size(b'H'),
            width: size(b'W'),
            strides: [
                stride(b'N'),
                stride(b'T'),
                stride(b'C'),
                stride(b'H'),
                stride(b'W'),
            ],
            rows,
            columns,
        };
        let (h, w) = layout.frame_size();
        if h > usize::from(u16::MAX) || w > usize::from(u16::MAX) {
            return Err(bad(&format!(
                "a GIF frame is at most 65535x65535 pixels; the grid would be {h}x{w}"
            )));
        }
        Ok(layout)
    }

    /// Height and width of one grid frame.
    pub fn frame_size(&self) -> (usize, usize) {
        (self.rows * self.height, self.columns * self.width)
    }

    /// The grid of frame `t` as an image layout (gray replicated, alpha dropped).
    fn frame_layout(&self) -> ImageLayout {
        let [sn, _, sc, sh, sw] = self.strides;
        ImageLayout::grid(
            self.clips,
            self.height,
            self.width,
            self.channels,
            [sn, sh, sw, sc],
            self.columns,
            self.rows,
            3,
        )
    }
}

/// A video summary (`add_video`).
pub struct VideoJob {
    tag: String,
    frames: RawArray,
    layout: VideoLayout,
    fps: f64,
}

impl VideoJob {
    /// Everything that follows from the shape and `fps`, checked before the copy: the
    /// layout and the GIF's size (`limit`: the writer's largest event).
    pub fn plan(
        dataformats: &str,
        shape: &[i64],
        fps: f64,
        limit: usize,
    ) -> Result<VideoLayout, FerroError> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(FerroError::InvalidArgument(format!(
                "fps must be a positive number, got {fps}"
            )));
        }
        let layout = VideoLayout::parse(dataformats, shape, "vid_tensor")?;
        let (h, w) = layout.frame_size();
        check_gif_size("vid_tensor", layout.frames, w, h, limit)?;
        Ok(layout)
    }

    /// `frames`: the copy of the array of `shape` that `layout` was planned for.
    pub fn new(
        tag: String,
        layout: VideoLayout,
        shape: &[i64],
        frames: RawArray,
        fps: f64,
    ) -> Result<VideoJob, FerroError> {
        if frames.shape != shape {
            return Err(FerroError::InvalidArgument(
                "vid_tensor changed shape while it was read".into(),
            ));
        }
        Ok(VideoJob {
            tag,
            frames,
            layout,
            fps,
        })
    }
}

impl ValueEncoder for VideoJob {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len() + self.frames.nbytes()
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let layout = &self.layout;
        let (height, width) = layout.frame_size();
        let grid = layout.frame_layout();
        let t_stride = layout.strides[1];
        let frames: Vec<Vec<u8>> = (0..layout.frames)
            .into_par_iter()
            .map(|t| gather_scaled(&self.frames, &grid, Scaling::Video, t * t_stride))
            .collect::<Result<_, FerroError>>()?;
        let gif = encode_gif(&frames, width, height, self.fps)?;
        Ok(vec![image_value(
            self.tag,
            height,
            width,
            layout.channels,
            gif,
        )])
    }
}

/// GIF frame delay in centiseconds: Pillow's `int(1000 / fps / 10)`, at least 1
/// (browsers treat 0 as "as slow as 10 cs").
pub fn frame_delay_cs(fps: f64) -> u16 {
    let cs = (100.0 / fps).floor();
    if cs.is_finite() {
        cs.clamp(1.0, f64::from(u16::MAX)) as u16
    } else {
        u16::MAX
    }
}

/// A looping animated GIF of RGB `frames` (each `width * height * 3` bytes).
pub fn encode_gif(
    frames: &[Vec<u8>],
    width: usize,
    height: usize,
    fps: f64,
) -> Result<Vec<u8>, FerroError> {
    let gif_error =
        |e: gif::EncodingError| FerroError::InvalidArgument(format!("GIF encoding failed: {e}"));
    let (w, h) = (
        u16::try_from(width).map_err(|_| too_large(width, height))?,
        u16::try_from(height).map_err(|_| too_large(width, height))?,
    );
    let delay = frame_delay_cs(fps);
    let quantized: Vec<(Vec<u8>, Vec<u8>)> = frames.par_iter().map(|f| quantize(f)).collect();
    // LZW codes of at most 12 bits per index in sub-blocks of 255 bytes, plus palettes
    // and frame headers: with this much room (reserved, mostly never touched), encoding
    // does not grow the buffer.
    let indices: usize = quantized.iter().map(|(i, _)| i.len()).sum();
    let mut out = crate::runtime::fallible::with_capacity(
        indices / 5 * 8 + 1024 * (quantized.len() + 1),
        "the GIF file",
    )?;
    let mut encoder = gif::Encoder::new(&mut out, w, h, &[]).map_err(gif_error)?;
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .map_err(gif_error)?;
    for (indices, palette) in quantized {
        let frame = gif::Frame {
            width: w,
            height: h,
            delay,
            buffer: Cow::Owned(indices),
            palette: Some(palette),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).map_err(gif_error)?;
    }
    encoder.into_inner().map_err(gif_error)?;
    Ok(out)
}

fn too_large(width: usize, height: usize) -> FerroError {
    FerroError::InvalidArgument(format!(
        "a GIF frame is at most 65535x65535 pixels, got {height}x{width}"
    ))
}

/// Palette indices and an RGB palette for one RGB frame: exact when the frame has at
/// most 256 colours, [`median_cut`]'s otherwise.
pub fn quantize(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let key = |p: &[u8]| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
    let mut exact: HashMap<u32, u8> = HashMap::new();
    let mut palette = Vec::new();
    let mut overflow = false;
    for p in rgb.chunks_exact(3) {
        let k = key(p);
        if exact.contains_key(&k) {
            continue;
        }
        if exact.len() == 256 {
            overflow = true;
            break;
        }
        exact.insert(k, exact.len() as u8);
        palette.extend_from_slice(p);
    }
    if !overflow {
        let indices = rgb
            .chunks_exact(3)
            .map(|p| exact.get(&key(p)).copied().unwrap_or(0))
            .collect();
        if palette.is_empty() {
            palette.extend_from_slice(&[0, 0, 0]);
        }
        return (indices, palette);
    }
    median_cut(rgb)
}

/// Histogram resolution of the palette search: 5 bits per channel.
const HIST_BITS: u32 = 5;
/// Resolution of the pixel-to-palette lookup table: 6 bits per channel.
const MAP_BITS: u32 = 6;
/// Lloyd (k-means) passes that refine the median-cut palette.
const KMEANS_PASSES: usize = 3;

/// One occupied histogram cell: pixel count and channel sums (so means are exact).
#[derive(Clone, Copy)]
struct Cell {
    count: f64,
    sum: [f64; 3],
    /// `sum / count`, cached once the histogram is complete.
    mean: [f64; 3],
}

impl Cell {
    const EMPTY: Cell = Cell {
        count: 0.0,
        sum: [0.0; 3],
        mean: [0.0; 3],
    };

    fn average(&self) -> [f64; 3] {
        self.sum.map(|s| s / self.count)
    }
}

/// A 256-colour palette by median cut (Heckbert, as Pillow's default quantizer) over a
/// 15-bit histogram, splitting the box with the largest squared error along its widest
/// channel at the weighted median, refined by k-means; pixels map to the nearest entry.
fn median_cut(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { median_cut_avx2(rgb) };
    }
    median_cut_body(rgb)
}

/// [`median_cut`] compiled for AVX2: the nearest-colour searches vectorize (SSE2 has
/// no 32-bit multiply).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn median_cut_avx2(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    median_cut_body(rgb)
}

/// The occupied cells of the 15-bit histogram of `rgb`, with exact channel sums.
#[inline(always)]
fn histogram(rgb: &[u8]) -> Vec<Cell> {
    let shift = 8 - HIST_BITS;
    let cell_of = |p: &[u8]| {
        (usize::from(p[0] >> shift) << (2 * HIST_BITS))
            | (usize::from(p[1] >> shift) << HIST_BITS)
            | usize::from(p[2] >> shift)
    };
    let mut cells = Vec::new();
    let pixels = rgb.len() / 3;
    if pixels < (1 << (3 * HIST_BITS)) / 2 {
        // Small frames: sorting the pixels by cell beats clearing a 32768-cell table.
        let mut keyed: Vec<(u16, u32)> = rgb
            .chunks_exact(3)
            .enumerate()
            .map(|(i, p)| (cell_of(p) as u16, i as u32))
            .collect();
        keyed.sort_unstable();
        for run in keyed.chunk_by(|a, b| a.0 == b.0) {
            let mut cell = Cell::EMPTY;
            for &(_, i) in run {
                let p = &rgb[i as usize * 3..i as usize * 3 + 3];
                cell.count += 1.0;
                for (s, &v) in cell.sum.iter_mut().zip(p) {
                    *s += f64::from(v);
                }
            }
            cells.push(cell);
        }
    } else {
        let mut counts = vec![0u32; 1 << (3 * HIST_BITS)];
        let mut sums = vec![[0u64; 3]; 1 << (3 * HIST_BITS)];
        for p in rgb.chunks_exact(3) {
            let k = cell_of(p);
            counts[k] += 1;
            for (s, &v) in sums[k].iter_mut().zip(p) {
                *s += u64::from(v);
            }
        }
        for (&count, sum) in counts.iter().zip(&sums) {
            if count > 0 {
                cells.push(Cell {
                    count: f64::from(count),
                    sum: sum.map(|v| v as f64),
                    mean: [0.0; 3],
                });
            }
        }
    }
    for c in &mut cells {
        c.mean = c.average();
    }
    cells
}

#[inline(always)]
fn median_cut_body(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut cells = histogram(rgb);

    // Boxes are ranges of `cells`, re-sorted along the split channel.
    let mut boxes: Vec<(usize, usize, f64)> = vec![(0, cells.len(), box_error(&cells))];
    while boxes.len() < 256 {
        let Some((at, _)) = boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| b.1 - b.0 > 1)
            .max_by(|a, b| a.1 .2.total_cmp(&b.1 .2))
        else {
            break;
        };
        let (start, end, _) = boxes.swap_remove(at);
        let part = &mut cells[start..end];
        let channel = widest_channel(part);
        part.sort_unstable_by(|a, b| a.mean[channel].total_cmp(&b.mean[channel]));
        let total: f64 = part.iter().map(|c| c.count).sum();
        let mut seen = 0.0;
        let mut split = 1;
        for (i, c) in part.iter().enumerate().take(part.len() - 1) {
            seen += c.count;
            split = i + 1;
            if seen >= total / 2.0 {
                break;
            }
        }
        let mid = start + split;
        boxes.push((start, mid, box_error(&cells[start..mid])));
        boxes.push((mid, end, box_error(&cells[mid..end])));
    }
    let mut palette: Vec<[f64; 3]> = boxes
        .iter()
        .map(|&(s, e, _)| mean_of(&cells[s..e]))
        .collect();

    for _ in 0..KMEANS_PASSES {
        let mut sums = vec![Cell::EMPTY; palette.len()];
        let search = Search::new(&palette);
        for c in &cells {
            let k = search.nearest(c.mean);
            sums[k].count += c.count;
            for (s, v) in sums[k].sum.iter_mut().zip(c.sum) {
                *s += v;
            }
        }
        for (entry, s) in palette.iter_mut().zip(&sums) {
            if s.count > 0.0 {
                *entry = s.average();
            }
        }
    }

    let entries: Vec<[u8; 3]> = palette
        .iter()
        .map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8))
        .collect();
    let rounded: Vec<[f64; 3]> = entries.iter().map(|c| c.map(f64::from)).collect();
    let search = Search::new(&rounded);
    let pixels = rgb.len() / 3;
    let indices = if pixels < (1 << (3 * MAP_BITS)) / 8 {
        // Small frames: each pixel's own nearest entry costs less than the table.
        rgb.chunks_exact(3)
            .map(|p| search.nearest([p[0], p[1], p[2]].map(f64::from)) as u8)
            .collect()
    } else {
        let map_shift = 8 - MAP_BITS;
        let mut table = vec![u16::MAX; 1 << (3 * MAP_BITS)];
        rgb.chunks_exact(3)
            .map(|p| {
                let cell = (usize::from(p[0] >> map_shift) << (2 * MAP_BITS))
                    | (usize::from(p[1] >> map_shift) << MAP_BITS)
                    | usize::from(p[2] >> map_shift);
                if table[cell] == u16::MAX {
                    // The centre of the lookup cell stands for every colour in it.
                    let half = f64::from(1u8 << map_shift) / 2.0;
                    let centre = [p[0], p[1], p[2]]
                        .map(|v| f64::from((v >> map_shift) << map_shift) + half - 0.5);
                    table[cell] = search.nearest(centre) as u16;
                }
                table[cell] as u8
            })
            .collect()
    };
    (indices, entries.iter().flatten().copied().collect())
}

fn mean_of(cells: &[Cell]) -> [f64; 3] {
    let mut total = Cell::EMPTY;
    for c in cells {
        total.count += c.count;
        for (s, v) in total.sum.iter_mut().zip(c.sum) {
            *s += v;
        }
    }
    total.average()
}

/// Squared error of a box around its mean, weighted by pixel counts.
fn box_error(cells: &[Cell]) -> f64 {
    let mean = mean_of(cells);
    cells
        .iter()
        .map(|c| {
            let m = c.mean;
            c.count * (0..3).map(|k| (m[k] - mean[k]).powi(2)).sum::<f64>()
        })
        .sum()
}

/// The channel with the largest weighted variance.
fn widest_channel(cells: &[Cell]) -> usize {
    let mean = mean_of(cells);
    let var = |k: usize| -> f64 {
        cells
            .iter()
            .map(|c| c.count * (c.mean[k] - mean[k]).powi(2))
            .sum()
    };
    let v = [var(0), var(1), var(2)];
    (0..3).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

/// Nearest-colour search over a palette of at most 256 entries, in integers laid out one
/// channel per array: the distances to all entries, each packed with its index into one
/// key, reduce to the nearest entry with one vectorized `min`.
struct Search {
    channels: [[i32; 256]; 3],
}

impl Search {
    #[inline(always)]
    fn new(palette: &[[f64; 3]]) -> Search {
        // Unused slots sit far outside the RGB cube, so they are never the nearest.
        let mut channels = [[1000i32; 256]; 3];
        for (i, entry) in palette.iter().enumerate().take(256) {
            for k in 0..3 {
                channels[k][i] = entry[k].round().clamp(0.0, 255.0) as i32;
            }
        }
        Search { channels }
    }

    /// Index of the entry closest to `c` (squared Euclidean distance in RGB; ties go to
    /// the lower index).
    #[inline(always)]
    fn nearest(&self, c: [f64; 3]) -> usize {
        let [r, g, b] = c.map(|v| v.round().clamp(0.0, 255.0) as i32);
        // At most 3 * 1000^2 < 2^24, so distance and index fit in one u32.
        let mut best = u32::MAX;
        for i in 0..256 {
            let dr = self.channels[0][i] - r;
            let dg = self.channels[1][i] - g;
            let db = self.channels[2][i] - b;
            let d = (dr * dr + dg * dg + db * db) as u32;
            best = best.min(d << 8 | i as u32);
        }
        (best & 0xff) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::raw_array::DType;

    fn decode_frames(gif_bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(gif_bytes).unwrap();
        let mut frames = Vec::new();
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            let rgb = frame
                .buffer
                .chunks(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            frames.push((frame.delay, rgb));
        }
        frames
    }

    #[test]
    fn grid_rows_and_columns_follow_torch() {
        // (N, rows, columns) as torch's _prepare_video lays them out.
        let cases = [
            (1, 1, 1),
            (2, 1, 2),
            (3, 1, 4),
            (4, 2, 2),
            (5, 2, 4),
            (8, 2, 4),
            (9, 2, 8),
            (16, 4, 4),
            (17, 4, 8),
        ];
        for (n, rows, columns) in cases {
            let l = VideoLayout::parse("NTCHW", &[n, 2, 3, 4, 5], "vid_tensor").unwrap();
            assert_eq!((l.rows, l.columns), (rows, columns), "N = {n}");
        }
        let err = VideoLayout::parse("NTCHW", &[1, 2, 3, 4], "vid_tensor").unwrap_err();
        assert!(err.to_string().contains("(1, 2, 3, 4)"));
        assert!(VideoLayout::parse("NTCHX", &[1, 2, 3, 4, 5], "v").is_err());
        assert!(VideoLayout::parse("NTCHW", &[1, 2, 2, 4, 5], "v").is_err());
    }

    #[test]
    fn few_colours_round_trip_exactly() {
        // 2 clips (1 row, 2 columns), 3 frames, gray, 2x2 each, uint8.
        let values: Vec<u8> = (0..2 * 3 * 4).map(|i| (i * 10) as u8).collect();
        let raw = RawArray::copy_from(DType::UInt8, vec![2, 3, 1, 2, 2], &values).unwrap();
        let layout = VideoLayout::parse("NTCHW", &raw.shape, "v").unwrap();
        let job = Box::new(VideoJob {
            tag: "v".into(),
            frames: raw,
            layout,
            fps: 4.0,
        });
        let value = job.encode().unwrap().remove(0);
        let Some(crate::format::proto::summary_value::Value::Image(img)) = value.value else {
            panic!("no image")
        };
        assert_eq!((img.height, img.width, img.colorspace), (2, 4, 1));
        let frames = decode_frames(&img.encoded_image_string);
        assert_eq!(frames.len(), 3);
        for (t, (delay, rgb)) in frames.iter().enumerate() {
            assert_eq!(*delay, 25);
            // Row 0 of frame t: clip 0's pixels 0, 1 then clip 1's pixels 0, 1.
            let gray: Vec<u8> = rgb.chunks(3).map(|p| p[0]).collect();
            let v = |clip: usize, px: usize| f32_to_video_byte(values[clip * 12 + t * 4 + px]);
            assert_eq!(gray[..4], [v(0, 0), v(0, 1), v(1, 0), v(1, 1)]);
        }
    }

    fn f32_to_video_byte(v: u8) -> u8 {
        ((f32::from(v) / 255.0) * 255.0).clamp(0.0, 255.0) as u8
    }

    #[test]
    fn many_colours_are_quantized_closely() {
        let rgb: Vec<u8> = (0..64 * 64 * 3).map(|i| ((i * 37) % 256) as u8).collect();
        let (indices, palette) = quantize(&rgb);
        assert_eq!(indices.len(), 64 * 64);
        assert_eq!(palette.len(), 256 * 3);
        let err: f64 = rgb
            .chunks(3)
            .zip(&indices)
            .map(|(p, &i)| {
                let q = &palette[i as usize * 3..i as usize * 3 + 3];
                p.iter()
                    .zip(q)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / rgb.len() as f64;
        assert!(err < 24.0, "mean error {err}");
    }

    #[test]
    fn delays_follow_pillow() {
        assert_eq!(frame_delay_cs(4.0), 25);
        assert_eq!(frame_delay_cs(30.0), 3);
        assert_eq!(frame_delay_cs(1000.0), 1);
        assert_eq!(frame_delay_cs(0.0), u16::MAX);
    }
}
