//! The on-disk format: TFRecord framing with masked CRC32C, the event file, and the
//! protobuf messages. Knows nothing about summaries, threads or Python.

pub mod event_file;
pub mod masked_crc;
pub mod proto;
pub mod tf_record;
