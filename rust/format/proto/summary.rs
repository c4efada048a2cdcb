//! `summary.proto` and `histogram.proto`.

use super::tensor::TensorProto;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "7")]
    pub node_name: String,
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    #[prost(oneof = "summary_value::Value", tags = "2, 3, 4, 5, 6, 8")]
    pub value: Option<summary_value::Value>,
}

pub mod summary_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        #[prost(bytes, tag = "3")]
        ObsoleteOldStyleHistogram(Vec<u8>),
        #[prost(message, tag = "4")]
        Image(super::SummaryImage),
        #[prost(message, tag = "5")]
        Histo(super::HistogramProto),
        #[prost(message, tag = "6")]
        Audio(super::SummaryAudio),
        #[prost(message, tag = "8")]
        Tensor(super::TensorProto),
    }
}

/// `Summary.Image`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryImage {
    #[prost(int32, tag = "1")]
    pub height: i32,
    #[prost(int32, tag = "2")]
    pub width: i32,
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    #[prost(bytes, tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// `Summary.Audio`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryAudio {
    #[prost(float, tag = "1")]
    pub sample_rate: f32,
    #[prost(int64, tag = "2")]
    pub num_channels: i64,
    #[prost(int64, tag = "3")]
    pub length_frames: i64,
    #[prost(bytes, tag = "4")]
    pub encoded_audio_string: Vec<u8>,
    #[prost(string, tag = "5")]
    pub content_type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(string, tag = "3")]
    pub summary_description: String,
    #[prost(enumeration = "DataClass", tag = "4")]
    pub data_class: i32,
}

/// `SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    #[prost(bytes, tag = "2")]
    pub content: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataClass {
    Unknown = 0,
    Scalar = 1,
    Tensor = 2,
    BlobSequence = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    #[prost(double, tag = "1")]
    pub min: f64,
    #[prost(double, tag = "2")]
    pub max: f64,
    #[prost(double, tag = "3")]
    pub num: f64,
    #[prost(double, tag = "4")]
    pub sum: f64,
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

impl SummaryMetadata {
    /// Metadata naming a plugin, as torch attaches it.
    pub fn for_plugin(plugin_name: &str, content: Vec<u8>) -> Self {
        SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: plugin_name.to_owned(),
                content,
            }),
            ..Default::default()
        }
    }
}
