//! Plugin payloads carried in `SummaryMetadata.plugin_data.content`.

use std::collections::BTreeMap;

/// `tensorboard/plugins/text/plugin_data.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TextPluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
}

/// `tensorboard/plugins/scalar/plugin_data.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScalarPluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
}

/// `tensorboard/plugins/pr_curve/plugin_data.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PrCurvePluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(uint32, tag = "2")]
    pub num_thresholds: u32,
}

/// `tensorboard/plugins/mesh/plugin_data.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MeshPluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(int32, tag = "3")]
    pub content_type: i32,
    #[prost(string, tag = "5")]
    pub json_config: String,
    #[prost(int32, repeated, tag = "6")]
    pub shape: Vec<i32>,
    #[prost(uint32, tag = "7")]
    pub components: u32,
}

/// `tensorboard/plugins/custom_scalar/layout.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Layout {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(message, repeated, tag = "2")]
    pub category: Vec<Category>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Category {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(message, repeated, tag = "2")]
    pub chart: Vec<Chart>,
    #[prost(bool, tag = "3")]
    pub closed: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Chart {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(oneof = "chart::Content", tags = "2, 3")]
    pub content: Option<chart::Content>,
}

pub mod chart {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Content {
        #[prost(message, tag = "2")]
        Multiline(super::MultilineChartContent),
        #[prost(message, tag = "3")]
        Margin(super::MarginChartContent),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MultilineChartContent {
    #[prost(string, repeated, tag = "1")]
    pub tag: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MarginChartContent {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<MarginSeries>,
}

/// `MarginChartContent.Series`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MarginSeries {
    #[prost(string, tag = "1")]
    pub value: String,
    #[prost(string, tag = "2")]
    pub lower: String,
    #[prost(string, tag = "3")]
    pub upper: String,
}

/// `tensorboard/plugins/hparams/plugin_data.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(oneof = "hparams_plugin_data::Data", tags = "2, 3, 4")]
    pub data: Option<hparams_plugin_data::Data>,
}

pub mod hparams_plugin_data {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        #[prost(message, tag = "2")]
        Experiment(super::Experiment),
        #[prost(message, tag = "3")]
        SessionStartInfo(super::SessionStartInfo),
        #[prost(message, tag = "4")]
        SessionEndInfo(super::SessionEndInfo),
    }
}

/// `tensorboard/plugins/hparams/api.proto` `Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(string, tag = "2")]
    pub user: String,
    #[prost(double, tag = "3")]
    pub time_created_secs: f64,
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
    #[prost(string, tag = "6")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(int32, tag = "4")]
    pub r#type: i32,
    #[prost(oneof = "h_param_info::Domain", tags = "5, 6")]
    pub domain: Option<h_param_info::Domain>,
    #[prost(bool, tag = "7")]
    pub differs: bool,
}

pub mod h_param_info {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Domain {
        #[prost(message, tag = "5")]
        DomainDiscrete(super::PbListValue),
        #[prost(message, tag = "6")]
        DomainInterval(super::Interval),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Interval {
    #[prost(double, tag = "1")]
    pub min_value: f64,
    #[prost(double, tag = "2")]
    pub max_value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    #[prost(string, tag = "1")]
    pub group: String,
    #[prost(string, tag = "2")]
    pub tag: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
    #[prost(string, tag = "3")]
    pub display_name: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(int32, tag = "5")]
    pub dataset_type: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, PbValue>,
    #[prost(string, tag = "2")]
    pub model_uri: String,
    #[prost(string, tag = "3")]
    pub monitor_url: String,
    #[prost(string, tag = "4")]
    pub group_name: String,
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    #[prost(int32, tag = "1")]
    pub status: i32,
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `google.protobuf.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PbValue {
    #[prost(oneof = "pb_value::Kind", tags = "1, 2, 3, 4, 6")]
    pub kind: Option<pb_value::Kind>,
}

pub mod pb_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(int32, tag = "1")]
        NullValue(i32),
        #[prost(double, tag = "2")]
        NumberValue(f64),
        #[prost(string, tag = "3")]
        StringValue(String),
        #[prost(bool, tag = "4")]
        BoolValue(bool),
        #[prost(message, tag = "6")]
        ListValue(super::PbListValue),
    }
}

/// `google.protobuf.ListValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PbListValue {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<PbValue>,
}
