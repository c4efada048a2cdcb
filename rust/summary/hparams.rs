//! Hyperparameters (`add_hparams`): the three metadata-only values of TensorBoard's
//! hparams plugin (experiment, session start, session end).
//!
//! Booleans are stored as `bool_value` with type `DATA_TYPE_BOOL` (tensorboardX and
//! TensorBoard do this; torch stores them as numbers because its `int` check comes first).

use prost::Message;

use crate::error::FerroError;
use crate::format::proto::plugins::{
    h_param_info, hparams_plugin_data, pb_value, Experiment, HParamInfo, HParamsPluginData,
    MetricInfo, MetricName, PbListValue, PbValue, SessionEndInfo, SessionStartInfo,
};
use crate::format::proto::{SummaryMetadata, SummaryValue};
use crate::summary::job::ValueEncoder;

pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
pub const SESSION_END_INFO_TAG: &str = "_hparams_/session_end_info";

/// `api.proto` `DataType`.
const DATA_TYPE_STRING: i32 = 1;
const DATA_TYPE_BOOL: i32 = 2;
const DATA_TYPE_FLOAT64: i32 = 3;
/// `api.proto` `Status.STATUS_SUCCESS`.
const STATUS_SUCCESS: i32 = 1;

/// One hyperparameter value (the Python layer has already normalized its type).
#[derive(Clone, Debug, PartialEq)]
pub enum HValue {
    Bool(bool),
    Number(f64),
    Str(String),
}

impl HValue {
    fn data_type(&self) -> i32 {
        match self {
            HValue::Bool(_) => DATA_TYPE_BOOL,
            HValue::Number(_) => DATA_TYPE_FLOAT64,
            HValue::Str(_) => DATA_TYPE_STRING,
        }
    }

    fn to_pb(&self) -> PbValue {
        PbValue {
            kind: Some(match self {
                HValue::Bool(b) => pb_value::Kind::BoolValue(*b),
                HValue::Number(n) => pb_value::Kind::NumberValue(*n),
                HValue::Str(s) => pb_value::Kind::StringValue(s.clone()),
            }),
        }
    }

    fn same_type(&self, other: &HValue) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// A hyperparameter: name, value and optional discrete domain (torch's
/// `hparam_domain_discrete`).
pub struct HParam {
    pub name: String,
    pub value: HValue,
    pub domain: Option<Vec<HValue>>,
}

/// Which of the three values a job writes.
pub enum HParamsEncoder {
    Experiment(Experiment),
    SessionStart(SessionStartInfo),
    SessionEnd,
}

/// The three encoders, in torch's order: experiment, session start, session end.
pub fn hparams_encoders(
    hparams: Vec<HParam>,
    metrics: Vec<String>,
) -> Result<[HParamsEncoder; 3], FerroError> {
    let mut start = SessionStartInfo::default();
    let mut infos = Vec::with_capacity(hparams.len());
    for hp in hparams {
        let domain = match &hp.domain {
            None => None,
            Some(values) => {
                if let Some(bad) = values.iter().find(|v| !v.same_type(&hp.value)) {
                    return Err(FerroError::InvalidArgument(format!(
                        "hparam_domain_discrete[{:?}] must hold values of the same type as \
                         hparam_dict[{:?}] ({:?}), got {bad:?}",
                        hp.name, hp.name, hp.value
                    )));
                }
                Some(h_param_info::Domain::DomainDiscrete(PbListValue {
                    values: values.iter().map(HValue::to_pb).collect(),
                }))
            }
        };
        infos.push(HParamInfo {
            name: hp.name.clone(),
            r#type: hp.value.data_type(),
            domain,
            ..Default::default()
        });
        start.hparams.insert(hp.name, hp.value.to_pb());
    }
    let experiment = Experiment {
        hparam_infos: infos,
        metric_infos: metrics
            .into_iter()
            .map(|tag| MetricInfo {
                name: Some(MetricName {
                    group: String::new(),
                    tag,
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Ok([
        HParamsEncoder::Experiment(experiment),
        HParamsEncoder::SessionStart(start),
        HParamsEncoder::SessionEnd,
    ])
}

impl ValueEncoder for HParamsEncoder {
    fn tag(&self) -> &str {
        match self {
            HParamsEncoder::Experiment(_) => EXPERIMENT_TAG,
            HParamsEncoder::SessionStart(_) => SESSION_START_INFO_TAG,
            HParamsEncoder::SessionEnd => SESSION_END_INFO_TAG,
        }
    }

    fn cost(&self) -> usize {
        match self {
            HParamsEncoder::Experiment(e) => e.encoded_len(),
            HParamsEncoder::SessionStart(s) => s.encoded_len(),
            HParamsEncoder::SessionEnd => 16,
        }
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let (tag, data) = match *self {
            HParamsEncoder::Experiment(e) => {
                (EXPERIMENT_TAG, hparams_plugin_data::Data::Experiment(e))
            }
            HParamsEncoder::SessionStart(s) => (
                SESSION_START_INFO_TAG,
                hparams_plugin_data::Data::SessionStartInfo(s),
            ),
            HParamsEncoder::SessionEnd => (
                SESSION_END_INFO_TAG,
                hparams_plugin_data::Data::SessionEndInfo(SessionEndInfo {
                    status: STATUS_SUCCESS,
                    end_time_secs: 0.0,
                }),
            ),
        };
        let content = HParamsPluginData {
            version: 0,
            data: Some(data),
        }
        .encode_to_vec();
        Ok(vec![SummaryValue {
            tag: tag.to_owned(),
            metadata: Some(SummaryMetadata::for_plugin("hparams", content)),
            ..Default::default()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_three_values_with_bool_as_bool() {
        let [exp, start, end] = hparams_encoders(
            vec![
                HParam {
                    name: "lr".into(),
                    value: HValue::Number(0.1),
                    domain: None,
                },
                HParam {
                    name: "aug".into(),
                    value: HValue::Bool(true),
                    domain: Some(vec![HValue::Bool(true), HValue::Bool(false)]),
                },
            ],
            vec!["acc".into()],
        )
        .unwrap();
        let tags: Vec<String> = [exp, start, end]
            .into_iter()
            .map(|e| Box::new(e).encode().unwrap()[0].tag.clone())
            .collect();
        assert_eq!(
            tags,
            [EXPERIMENT_TAG, SESSION_START_INFO_TAG, SESSION_END_INFO_TAG]
        );
    }

    #[test]
    fn domain_type_must_match() {
        let r = hparams_encoders(
            vec![HParam {
                name: "opt".into(),
                value: HValue::Str("adam".into()),
                domain: Some(vec![HValue::Number(1.0)]),
            }],
            vec![],
        );
        assert!(r.is_err());
    }
}
