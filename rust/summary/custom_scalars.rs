//! Custom-scalar layouts (`add_custom_scalars*`): a serialized `Layout` in a rank-0
//! string tensor tagged `custom_scalars__config__`.

use prost::Message;

use crate::error::FerroError;
use crate::format::proto::plugins::{
    chart, Category, Chart, Layout, MarginChartContent, MarginSeries, MultilineChartContent,
};
use crate::format::proto::{
    summary_value, DataType, SummaryMetadata, SummaryValue, TensorProto, TensorShapeProto,
};
use crate::summary::job::ValueEncoder;

/// The tag TensorBoard's custom-scalars plugin looks for.
pub const CONFIG_TAG: &str = "custom_scalars__config__";

/// One chart: its title, whether it is a margin chart, and its tags.
pub struct ChartSpec {
    pub title: String,
    pub margin: bool,
    pub tags: Vec<String>,
}

pub struct LayoutEncoder {
    layout: Layout,
}

impl LayoutEncoder {
    /// torch's `custom_scalars`: margin charts take exactly three tags (value, lower,
    /// upper); every other kind is a multiline chart.
    pub fn new(categories: Vec<(String, Vec<ChartSpec>)>) -> Result<LayoutEncoder, FerroError> {
        let mut category = Vec::with_capacity(categories.len());
        for (title, charts) in categories {
            let mut chart_protos = Vec::with_capacity(charts.len());
            for spec in charts {
                let content = if spec.margin {
                    let [value, lower, upper]: [String; 3] =
                        spec.tags.try_into().map_err(|tags: Vec<String>| {
                            FerroError::InvalidArgument(format!(
                                "a Margin chart ({title:?} / {:?}) takes exactly 3 tags \
                                 (value, lower, upper), got {}: {tags:?}",
                                spec.title,
                                tags.len()
                            ))
                        })?;
                    chart::Content::Margin(MarginChartContent {
                        series: vec![MarginSeries {
                            value,
                            lower,
                            upper,
                        }],
                    })
                } else {
                    chart::Content::Multiline(MultilineChartContent { tag: spec.tags })
                };
                chart_protos.push(Chart {
                    title: spec.title,
                    content: Some(content),
                });
            }
            category.push(Category {
                title,
                chart: chart_protos,
                closed: false,
            });
        }
        Ok(LayoutEncoder {
            layout: Layout {
                version: 0,
                category,
            },
        })
    }
}

impl ValueEncoder for LayoutEncoder {
    fn tag(&self) -> &str {
        CONFIG_TAG
    }

    fn cost(&self) -> usize {
        self.layout.encoded_len()
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        Ok(vec![SummaryValue {
            tag: CONFIG_TAG.to_owned(),
            metadata: Some(SummaryMetadata::for_plugin("custom_scalars", Vec::new())),
            value: Some(summary_value::Value::Tensor(TensorProto {
                dtype: DataType::DtString as i32,
                tensor_shape: Some(TensorShapeProto::default()),
                string_val: vec![self.layout.encode_to_vec()],
                ..Default::default()
            })),
            ..Default::default()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_needs_three_tags() {
        let bad = vec![(
            "c".to_owned(),
            vec![ChartSpec {
                title: "t".into(),
                margin: true,
                tags: vec!["a".into(), "b".into()],
            }],
        )];
        assert!(LayoutEncoder::new(bad).is_err());
    }

    #[test]
    fn layout_round_trips() {
        let enc = LayoutEncoder::new(vec![(
            "c".to_owned(),
            vec![
                ChartSpec {
                    title: "m".into(),
                    margin: false,
                    tags: vec!["x".into(), "y".into()],
                },
                ChartSpec {
                    title: "g".into(),
                    margin: true,
                    tags: vec!["v".into(), "lo".into(), "hi".into()],
                },
            ],
        )])
        .unwrap();
        let values = Box::new(enc).encode().unwrap();
        let Some(summary_value::Value::Tensor(t)) = &values[0].value else {
            panic!("no tensor")
        };
        let layout = Layout::decode(t.string_val[0].as_slice()).unwrap();
        assert_eq!(layout.category[0].chart.len(), 2);
        assert!(matches!(
            layout.category[0].chart[1].content,
            Some(chart::Content::Margin(_))
        ));
    }
}
