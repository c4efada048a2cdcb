//! Protobuf messages of TensorBoard's event files, written as prost derives.
//!
//! They are written by hand rather than generated so that building the wheel needs no
//! `protoc`. Field numbers and types follow TensorBoard 2.21's descriptors
//! (`tensorboard/compat/proto/*.proto` and the plugin `plugin_data.proto` files);
//! package names do not matter on the wire, only numbers and types do.

// Oneofs mirror the protos; boxing variants would only add allocations.
#![allow(clippy::large_enum_variant)]

pub mod event;
pub mod graph;
pub mod plugins;
pub mod summary;
pub mod tensor;

pub use event::*;
pub use summary::*;
pub use tensor::*;

use crate::error::FerroError;

/// Rejects a serialized proto that readers would reject: it must parse as `M`, and every
/// string field must be valid UTF-8 (TensorBoard's Python reader raises on one that is
/// not, and rustboard drops the rest of the file). `name` is the caller's argument.
pub fn check_serialized<M: prost::Message + Default>(
    bytes: &[u8],
    name: &str,
) -> Result<(), FerroError> {
    M::decode(bytes).map(|_| ()).map_err(|e| {
        FerroError::InvalidArgument(format!(
            "{name}: not a valid serialized protocol buffer of that type ({e}); nothing \
             was written"
        ))
    })
}
