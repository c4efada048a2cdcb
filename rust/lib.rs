//! ferroboard's core: TensorBoard event files written on background threads.
//!
//! Pure Rust modules do the work; `bindings` is the only place that knows Python.

pub mod error;
pub mod event_file;
pub mod histogram;
pub mod job;
pub mod masked_crc;
pub mod proto;
pub mod raw_array;
pub mod tf_record;
pub mod writer;

mod bindings;
