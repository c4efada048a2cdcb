//! One module per summary kind: validation of the caller's data and encoding into
//! `Summary` protos. Pure functions of their input; no threads, no files, no Python.
//! `job` is the closed set of kinds a writer queues; `raw_array` is the caller's copied
//! array; `limits` are the size limits checked before anything is queued.

pub mod audio;
pub mod boxes;
pub mod custom_scalars;
pub mod embedding;
pub mod graph;
pub mod histogram;
#[cfg(target_arch = "x86_64")]
pub mod histogram_avx512;
pub mod histogram_f32;
pub mod hparams;
pub mod image;
pub mod job;
pub mod limits;
pub mod mesh;
pub mod pairwise;
pub mod png;
pub mod pr_curve;
pub mod raw_array;
pub mod video;
