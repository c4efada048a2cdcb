//! ferroboard's core: TensorBoard event files written on background threads.
//!
//! Pure Rust modules do the work; `bindings` is the only place that knows Python.

pub mod audio;
pub mod boxes;
pub mod custom_scalars;
pub mod embedding;
pub mod error;
pub mod event_file;
pub mod fallible;
pub mod faults;
pub mod fork;
pub mod graph;
pub mod histogram;
pub mod histogram_f32;
pub mod hparams;
pub mod image;
pub mod job;
pub mod limits;
pub mod masked_crc;
pub mod mesh;
pub mod parallel_copy;
pub mod png;
pub mod pools;
pub mod pr_curve;
pub mod proto;
pub mod raw_array;
pub mod signals;
pub mod snapshot_pool;
pub mod sync;
pub mod tf_record;
pub mod video;
pub mod writer;

mod bindings;
