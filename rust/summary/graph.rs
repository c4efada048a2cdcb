//! Model graphs (`add_graph`, `add_onnx_graph`): a `GraphDef` event and, for traced
//! PyTorch models, torch's `RunMetadata` event tagged "step1".
//!
//! The Python layer walks the traced (or ONNX) graph and hands over plain node
//! descriptions; this module turns them into protos.

use prost::Message;

use crate::error::FerroError;

use crate::format::proto::graph::{
    attr_value, AttrValue, DeviceStepStats, GraphDef, ListValue, NodeDef, RunMetadata, StepStats,
    VersionDef,
};
use crate::format::proto::{Event, EventWhat, TaggedRunMetadata, TensorShapeProto};

/// The `GraphDef.versions.producer` torch and tensorboardX write.
pub const PRODUCER_VERSION: i32 = 22;
/// torch's tag of the run-metadata event (tensorboardX writes "profiler").
pub const RUN_METADATA_TAG: &str = "step1";

/// The kinds of attribute value the Python layer sends, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    S,
    Type,
    Shape,
    ShapeList,
}

impl AttrKind {
    /// `"s"`, `"type"`, `"shape"` or `"shapes"`; `node` names the node in the error.
    pub fn from_name(kind: &str, node: &str) -> Result<AttrKind, FerroError> {
        Ok(match kind {
            "s" => AttrKind::S,
            "type" => AttrKind::Type,
            "shape" => AttrKind::Shape,
            "shapes" => AttrKind::ShapeList,
            other => {
                return Err(FerroError::InvalidArgument(format!(
                    "unknown attribute kind {other:?} for node {node:?}"
                )))
            }
        })
    }
}

/// One `NodeDef.attr` entry.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrSpec {
    /// `s`: bytes (torch's stringified JIT attributes, ONNX parameters).
    S(Vec<u8>),
    /// `type`: a DataType number (ONNX element types are passed through as torch does).
    Type(i32),
    /// `shape`.
    Shape(Vec<i64>),
    /// `list { shape }` (torch's `_output_shapes`).
    ShapeList(Vec<Vec<i64>>),
}

impl AttrSpec {
    fn to_proto(&self) -> AttrValue {
        let value = match self {
            AttrSpec::S(s) => attr_value::Value::S(s.clone()),
            AttrSpec::Type(t) => attr_value::Value::Type(*t),
            AttrSpec::Shape(dims) => attr_value::Value::Shape(TensorShapeProto::from_dims(dims)),
            AttrSpec::ShapeList(shapes) => attr_value::Value::List(ListValue {
                shape: shapes
                    .iter()
                    .map(|d| TensorShapeProto::from_dims(d))
                    .collect(),
                ..Default::default()
            }),
        };
        AttrValue { value: Some(value) }
    }
}

/// A node as the Python layer describes it.
pub struct NodeSpec {
    pub name: String,
    pub op: String,
    pub input: Vec<String>,
    pub attr: Vec<(String, AttrSpec)>,
}

pub fn graph_def(nodes: &[NodeSpec]) -> GraphDef {
    GraphDef {
        node: nodes
            .iter()
            .map(|n| NodeDef {
                name: n.name.clone(),
                op: n.op.clone(),
                input: n.input.clone(),
                device: String::new(),
                attr: n
                    .attr
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_proto()))
                    .collect(),
            })
            .collect(),
        versions: Some(VersionDef {
            producer: PRODUCER_VERSION,
            ..Default::default()
        }),
    }
}

/// torch's run metadata: one empty device entry for "/device:CPU:0".
pub fn cpu_run_metadata() -> RunMetadata {
    RunMetadata {
        step_stats: Some(StepStats {
            dev_stats: vec![DeviceStepStats {
                device: "/device:CPU:0".to_owned(),
                node_stats: Vec::new(),
            }],
        }),
    }
}

/// The events of one graph: `graph_def`, then (if asked) the tagged run metadata. Their
/// wall time is set when the writer takes them.
pub fn graph_events(nodes: &[NodeSpec], with_run_metadata: bool) -> Vec<Event> {
    let mut events = vec![Event {
        what: Some(EventWhat::GraphDef(graph_def(nodes).encode_to_vec())),
        ..Default::default()
    }];
    if with_run_metadata {
        events.push(Event {
            what: Some(EventWhat::TaggedRunMetadata(TaggedRunMetadata {
                tag: RUN_METADATA_TAG.to_owned(),
                run_metadata: cpu_run_metadata().encode_to_vec(),
            })),
            ..Default::default()
        });
    }
    events
}

/// torch's `FileWriter.add_graph` of protos built elsewhere: an event holding the
/// serialized `GraphDef`, then (if given) the serialized `RunMetadata` tagged "step1".
pub fn serialized_graph_events(graph_def: Vec<u8>, run_metadata: Option<Vec<u8>>) -> Vec<Event> {
    let mut events = vec![Event {
        what: Some(EventWhat::GraphDef(graph_def)),
        ..Default::default()
    }];
    if let Some(run_metadata) = run_metadata {
        events.push(Event {
            what: Some(EventWhat::TaggedRunMetadata(TaggedRunMetadata {
                tag: RUN_METADATA_TAG.to_owned(),
                run_metadata,
            })),
            ..Default::default()
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_round_trips() {
        let nodes = vec![NodeSpec {
            name: "input/x".into(),
            op: "IO Node".into(),
            input: vec![],
            attr: vec![
                ("attr".into(), AttrSpec::S(Vec::new())),
                (
                    "_output_shapes".into(),
                    AttrSpec::ShapeList(vec![vec![2, 3]]),
                ),
            ],
        }];
        let events = graph_events(&nodes, true);
        assert_eq!(events.len(), 2);
        let Some(EventWhat::GraphDef(bytes)) = &events[0].what else {
            panic!("no graph")
        };
        let g = GraphDef::decode(bytes.as_slice()).unwrap();
        assert_eq!(g.node[0].name, "input/x");
        assert_eq!(g.versions.unwrap().producer, 22);
        assert_eq!(g.node[0].attr.len(), 2);
    }
}
