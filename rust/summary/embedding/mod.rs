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
//! - `sprite.png`: the label images in a square grid, encoded with [`crate::summary::png`].
//!
//! `{logdir}/projector_config.pbtxt` is rewritten (atomically) after each embedding and
//! lists every embedding this writer has added, in protobuf text format.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf, MAIN_SEPARATOR_STR};

use rayon::prelude::*;

use crate::error::FerroError;
use crate::runtime::fallible;
use crate::summary::png::encode_png;
use crate::summary::raw_array::{DType, RawArray};

pub const CONFIG_FILE: &str = "projector_config.pbtxt";
/// Rows formatted per parallel task when writing TSV.
const TSV_ROWS_PER_TASK: usize = 256;
/// Rows formatted before they are written out (bounds the text held in memory).
const TSV_ROWS_PER_WRITE: usize = 16_384;
/// Sprites wider than this are not shown by the projector (lanpa/tensorboardX#516).
pub const MAX_SPRITE_SIDE: usize = 8192;

mod config;
mod float_repr;
mod job;
mod sprite;
#[cfg(test)]
mod tests;
mod tsv;

pub use config::*;
pub use float_repr::*;
pub use job::*;
pub use sprite::*;
pub use tsv::*;
