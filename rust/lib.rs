//! ferroboard's core: TensorBoard event files written on background threads.
//!
//! Layers, bottom up: `format` (bytes on disk), `summary` (one encoder per kind),
//! `runtime` (threads, queues, exit, fork), `reader` (event files back into columns),
//! `store` (object-store log directories), and `bindings`, the only place that knows
//! Python. docs/architecture.md walks through them.

pub mod error;
pub mod format;
pub mod reader;
pub mod runtime;
pub mod store;
pub mod summary;

mod bindings;
