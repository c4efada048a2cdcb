//! `tensorboard/compat/proto/event.proto`.

use super::summary::Summary;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "EventWhat", tags = "3, 4, 5, 6, 7, 8, 9")]
    pub what: Option<EventWhat>,
    #[prost(message, optional, tag = "10")]
    pub source_metadata: Option<SourceMetadata>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventWhat {
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// A serialized `GraphDef`.
    #[prost(bytes, tag = "4")]
    GraphDef(Vec<u8>),
    #[prost(message, tag = "5")]
    Summary(Summary),
    #[prost(message, tag = "6")]
    LogMessage(LogMessage),
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
    #[prost(message, tag = "8")]
    TaggedRunMetadata(TaggedRunMetadata),
    #[prost(bytes, tag = "9")]
    MetaGraphDef(Vec<u8>),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SourceMetadata {
    #[prost(string, tag = "1")]
    pub writer: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogMessage {
    #[prost(int32, tag = "1")]
    pub level: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionLog {
    #[prost(enumeration = "SessionStatus", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub checkpoint_path: String,
    #[prost(string, tag = "3")]
    pub msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SessionStatus {
    StatusUnspecified = 0,
    Start = 1,
    Stop = 2,
    Checkpoint = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TaggedRunMetadata {
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A serialized `RunMetadata`.
    #[prost(bytes, tag = "2")]
    pub run_metadata: Vec<u8>,
}
