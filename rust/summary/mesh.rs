//! Meshes and point clouds (`add_mesh`): torch's `{tag}_VERTEX/_FACE/_COLOR` values with
//! `MeshPluginData` metadata, each tensor stored as float32 `[B, N, 3]`.

use prost::Message;

use crate::error::FerroError;
use crate::format::proto::plugins::MeshPluginData;
use crate::format::proto::{
    summary_value, DataType, SummaryMetadata, SummaryValue, TensorProto, TensorShapeProto,
};
use crate::summary::job::ValueEncoder;
use crate::summary::raw_array::{for_each_f64, RawArray};

/// `MeshPluginData.ContentType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshContent {
    Vertex = 1,
    Face = 2,
    Color = 3,
}

impl MeshContent {
    pub fn from_code(code: i32) -> Result<MeshContent, FerroError> {
        match code {
            1 => Ok(MeshContent::Vertex),
            2 => Ok(MeshContent::Face),
            3 => Ok(MeshContent::Color),
            other => Err(FerroError::InvalidArgument(format!(
                "mesh content type must be 1 (vertex), 2 (face) or 3 (color), got {other}"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            MeshContent::Vertex => "VERTEX",
            MeshContent::Face => "FACE",
            MeshContent::Color => "COLOR",
        }
    }

    /// The argument name of `add_mesh`, for error messages.
    pub fn argument(self) -> &'static str {
        match self {
            MeshContent::Vertex => "vertices",
            MeshContent::Face => "faces",
            MeshContent::Color => "colors",
        }
    }
}

pub struct MeshEncoder {
    tag: String,
    /// In torch's order: vertices, faces, colors (only those given).
    parts: Vec<(MeshContent, RawArray)>,
    json_config: String,
    display_name: String,
    description: String,
}

impl MeshEncoder {
    /// Checks that every part is a 3-D `[B, N, 3]` array.
    pub fn new(
        tag: String,
        mut parts: Vec<(MeshContent, RawArray)>,
        json_config: String,
        display_name: String,
        description: String,
    ) -> Result<MeshEncoder, FerroError> {
        if !parts.iter().any(|(c, _)| *c == MeshContent::Vertex) {
            return Err(FerroError::InvalidArgument(
                "vertices are required".to_owned(),
            ));
        }
        for (content, array) in &parts {
            if array.shape.len() != 3 || array.shape[2] != 3 {
                return Err(FerroError::InvalidArgument(format!(
                    "{} must have shape (B, N, 3), got {:?}",
                    content.argument(),
                    array.shape
                )));
            }
        }
        parts.sort_by_key(|(c, _)| match c {
            MeshContent::Vertex => 0,
            MeshContent::Face => 1,
            MeshContent::Color => 2,
        });
        Ok(MeshEncoder {
            tag,
            parts,
            json_config,
            display_name,
            description,
        })
    }

    /// TensorBoard's `get_components_bitmask`: OR of `1 << content_type`.
    fn components(&self) -> u32 {
        self.parts
            .iter()
            .fold(0, |acc, (c, _)| acc | (1 << *c as u32))
    }
}

impl ValueEncoder for MeshEncoder {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn cost(&self) -> usize {
        self.tag.len()
            + self.json_config.len()
            + self.parts.iter().map(|(_, a)| a.nbytes()).sum::<usize>()
    }

    fn encode(self: Box<Self>) -> Result<Vec<SummaryValue>, FerroError> {
        let components = self.components();
        let mut values = Vec::with_capacity(self.parts.len());
        for (content, array) in &self.parts {
            let shape: Vec<i32> = array.shape.iter().map(|&d| d as i32).collect();
            let plugin = MeshPluginData {
                version: 0,
                name: self.tag.clone(),
                content_type: *content as i32,
                json_config: self.json_config.clone(),
                shape,
                components,
            };
            let mut float_val = Vec::with_capacity(array.len());
            for_each_f64(array, |v| float_val.push(v as f32));
            values.push(SummaryValue {
                tag: format!("{}_{}", self.tag, content.name()),
                metadata: Some(SummaryMetadata {
                    display_name: self.display_name.clone(),
                    summary_description: self.description.clone(),
                    ..SummaryMetadata::for_plugin("mesh", plugin.encode_to_vec())
                }),
                value: Some(summary_value::Value::Tensor(TensorProto {
                    dtype: DataType::DtFloat as i32,
                    tensor_shape: Some(TensorShapeProto::from_dims(&array.shape)),
                    float_val,
                    ..Default::default()
                })),
                ..Default::default()
            });
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::raw_array::DType;

    fn array(shape: &[i64], values: &[f32]) -> RawArray {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        RawArray::copy_from(DType::Float32, shape.to_vec(), &bytes).unwrap()
    }

    #[test]
    fn tags_order_and_components() {
        let v = array(&[1, 2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let c = array(&[1, 2, 3], &[255.0; 6]);
        let enc = MeshEncoder::new(
            "m".into(),
            vec![(MeshContent::Color, c), (MeshContent::Vertex, v)],
            "{}".into(),
            String::new(),
            String::new(),
        )
        .unwrap();
        let values = Box::new(enc).encode().unwrap();
        let tags: Vec<_> = values.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(tags, ["m_VERTEX", "m_COLOR"]);
        let meta = values[1].metadata.as_ref().unwrap();
        let content = &meta.plugin_data.as_ref().unwrap().content;
        let plugin = MeshPluginData::decode(content.as_slice()).unwrap();
        assert_eq!(plugin.components, (1 << 1) | (1 << 3));
        assert_eq!(plugin.shape, vec![1, 2, 3]);
        assert_eq!(plugin.content_type, 3);
    }

    #[test]
    fn rejects_bad_shapes_and_missing_vertices() {
        let flat = array(&[6], &[0.0; 6]);
        assert!(MeshEncoder::new(
            "m".into(),
            vec![(MeshContent::Vertex, flat)],
            String::new(),
            String::new(),
            String::new()
        )
        .is_err());
        let c = array(&[1, 2, 3], &[0.0; 6]);
        assert!(MeshEncoder::new(
            "m".into(),
            vec![(MeshContent::Color, c)],
            String::new(),
            String::new(),
            String::new()
        )
        .is_err());
    }
}
