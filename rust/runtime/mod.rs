//! Everything that runs: the caller-side writer API, the worker thread that encodes and
//! writes, exit hooks, thread pools, snapshot buffers, fork and signal handling, fault
//! injection. See docs/architecture.md for the threads and what they promise.

pub mod cold_binning;
pub mod embedding_writer;
pub mod fallible;
pub mod faults;
pub mod fork;
pub mod parallel_copy;
pub mod pools;
pub mod signals;
pub mod snapshot_pool;
pub mod sync;
pub mod writer;
